//! Holding the fleet's apply lock: wait for it up to a timeout, renew the lease while the
//! apply runs, release it at the end (after a panic too). The lease and its pace are the
//! backend's ([`crate::backend::lock`]): it outlives a killed apply by at most
//! [`LEASE_SECONDS`]. A renewal that fails means the lease may be someone else's by now:
//! the lock counts as lost, and the apply starts no further step ([`Held::lost`]).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures_util::FutureExt;

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
    wait_until(
        crate::backend::wait::deadline_after(timeout),
        RETRY_EVERY,
        look,
    )
    .await
    .map_err(|error| {
        error.into_backend_error(|current| BackendError::Locked { holder: current })
    })?;
    Ok(holder)
}

/// The lock as an apply holds it: lost once a renewal failed.
#[derive(Debug, Default)]
pub struct Held {
    lost: AtomicBool,
    /// Why it was lost: the failed renewal's error.
    why: Mutex<Option<BackendError>>,
}

impl Held {
    /// Whether a renewal failed: no new step may start.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// The flag [`crate::apply::apply_held`] reads before starting each step.
    pub fn lost_flag(&self) -> &AtomicBool {
        &self.lost
    }

    /// The failed renewal's error, once lost.
    pub fn take_error(&self) -> Option<BackendError> {
        self.why.lock().ok().and_then(|mut why| why.take())
    }

    fn lose(&self, error: BackendError) {
        if let Ok(mut why) = self.why.lock() {
            why.get_or_insert(error);
        }
        self.lost.store(true, Ordering::SeqCst);
    }
}

/// Runs `work` while renewing `holder`'s lease, then releases the lock — also when `work`
/// panics (the panic then goes on, once the lock is released). A renewal that fails marks
/// `held` lost (see [`Held`]) and renewing stops: `work` is expected to start nothing new
/// once [`Held::lost`] says so.
pub async fn hold_while<B: Backend + ?Sized, T>(
    backend: &B,
    holder: LockHolder,
    held: &Held,
    work: impl Future<Output = T>,
) -> T {
    let renewing = async {
        tokio::pin!(work);
        let mut lease = holder.clone();
        loop {
            tokio::select! {
                result = &mut work => break result,
                () = tokio::time::sleep(RENEW_EVERY), if !held.lost() => {
                    lease.expires = now() + LEASE_SECONDS;
                    if let Err(error) = backend.renew_lock(&lease).await {
                        tracing::warn!(error = %crate::printer::chain(&error), "could not renew the apply lock; it counts as lost: no further step starts");
                        held.lose(error);
                    }
                }
            }
        }
    };
    let result = AssertUnwindSafe(renewing).catch_unwind().await;
    if let Err(error) = backend.unlock(Some(&holder)).await {
        tracing::warn!(error = %error, "could not release the apply lock; it expires by itself");
    }
    match result {
        Ok(result) => result,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
