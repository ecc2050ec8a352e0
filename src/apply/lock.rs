//! Holding the fleet's apply lock: wait for it up to a timeout, renew the lease while the
//! apply runs, release it at the end. The lease and its pace are the backend's
//! ([`crate::backend::lock`]): it outlives a killed apply by at most
//! [`LEASE_SECONDS`].

use std::future::Future;
use std::time::{Duration, Instant};

use crate::backend::lock::{LEASE_SECONDS, RENEW_EVERY, RETRY_EVERY, now, this_process};
use crate::backend::{Backend, BackendError, LockHolder, Look, wait_until};

/// Takes the lock, waiting up to `timeout` while another apply holds it.
pub async fn acquire<B: Backend + ?Sized>(
    backend: &B,
    timeout: Duration,
) -> Result<LockHolder, BackendError> {
    let holder = this_process();
    let holder_ref = &holder;
    let look = move || async move {
        match backend.try_lock(holder_ref).await {
            Ok(()) => Ok(Look::Done(())),
            Err(BackendError::Locked { holder: current }) => {
                tracing::info!(holder = %current, "waiting for the apply lock");
                Ok(Look::Waiting(current))
            }
            Err(error) => Err(error),
        }
    };
    wait_until(Instant::now() + timeout, RETRY_EVERY, look)
        .await
        .map_err(|error| {
            error.into_backend_error(|current| BackendError::Locked { holder: current })
        })?;
    Ok(holder)
}

/// Runs `work` while renewing `holder`'s lease, then releases the lock.
pub async fn hold_while<B: Backend + ?Sized, T>(
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
