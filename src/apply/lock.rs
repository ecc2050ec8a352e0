//! Holding the fleet's apply lock: wait for it up to a timeout, renew the lease while the
//! apply runs, release it at the end. The lease outlives a killed apply by at most
//! [`LEASE_SECONDS`].

use std::future::Future;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::backend::{Backend, BackendError, LockHolder};

/// How long a lease lasts without renewal.
pub const LEASE_SECONDS: u64 = 60;
/// How often a held lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(LEASE_SECONDS / 3);
/// How often a waiting apply asks again.
const RETRY_EVERY: Duration = Duration::from_millis(500);

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// This process as a lock holder, with a fresh lease.
pub fn this_process() -> LockHolder {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".to_owned());
    let since = now();
    LockHolder {
        host,
        pid: std::process::id(),
        since,
        expires: since + LEASE_SECONDS,
    }
}

/// Takes the lock, waiting up to `timeout` while another apply holds it.
pub async fn acquire<B: Backend>(
    backend: &B,
    timeout: Duration,
) -> Result<LockHolder, BackendError> {
    let started = Instant::now();
    let holder = this_process();
    loop {
        match backend.try_lock(&holder).await {
            Ok(()) => return Ok(holder),
            Err(BackendError::Locked { holder: current }) if started.elapsed() < timeout => {
                tracing::info!(holder = %current, "waiting for the apply lock");
                tokio::time::sleep(RETRY_EVERY).await;
            }
            Err(error) => return Err(error),
        }
    }
}

/// Runs `work` while renewing `holder`'s lease, then releases the lock.
pub async fn hold_while<B: Backend, T>(
    backend: &B,
    holder: LockHolder,
    work: impl Future<Output = T>,
) -> T {
    tokio::pin!(work);
    let mut lease = holder.clone();
    let result = loop {
        tokio::select! {
            result = &mut work => break result,
            () = tokio::time::sleep(RENEW_EVERY) => {
                lease.expires = now() + LEASE_SECONDS;
                if let Err(error) = backend.renew_lock(&lease).await {
                    tracing::warn!(error = %error, "could not renew the apply lock");
                }
            }
        }
    };
    if let Err(error) = backend.unlock(Some(&holder)).await {
        tracing::warn!(error = %error, "could not release the apply lock; it expires by itself");
    }
    result
}
