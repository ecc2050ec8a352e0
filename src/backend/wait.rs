//! Waiting for something a backend reports: look, and look again at an interval until it
//! is done, it cannot happen, or the deadline passes ([`wait_until`]). Every poll loop of
//! the backends (health gates) and of the lock's holder goes through it, so giving up at
//! the deadline with the last reason seen is written once.

use std::future::Future;
use std::time::{Duration, Instant};

use super::BackendError;

/// What one look found.
#[derive(Debug, PartialEq)]
pub enum Look<T, R = String> {
    /// It is done, with this result.
    Done(T),
    /// It will not happen by waiting: stop at once.
    Failed(R),
    /// Not yet: look again after the interval.
    Waiting(R),
    /// Not yet, and nothing can change before this long (a stability window is running):
    /// look again then instead of after the interval.
    WaitingFor(R, Duration),
}

/// Why [`wait_until`] stopped without a result.
#[derive(Debug)]
pub enum WaitError<R = String> {
    /// A look could not ask the backend.
    Backend(BackendError),
    /// A look found that it will not happen.
    Failed(R),
    /// The deadline passed; the reason the last look gave.
    TimedOut(R),
}

impl<R> WaitError<R> {
    /// The backend error: a look's own, or `give_up` made from the reason for failing or
    /// timing out.
    pub fn into_backend_error(self, give_up: impl FnOnce(R) -> BackendError) -> BackendError {
        match self {
            WaitError::Backend(error) => error,
            WaitError::Failed(reason) | WaitError::TimedOut(reason) => give_up(reason),
        }
    }
}

/// Looks with `look` until it is done or failed, every `interval` (or as long as a
/// [`Look::WaitingFor`] says), and gives up at `deadline` with the last reason. It always
/// looks at least once, and once more at the deadline when a pause ended there.
///
/// `look` is a closure returning a future (`move || async move { … }`) rather than an
/// async closure: the future of an async closure that borrows cannot be proven `Send`
/// inside the backends' boxed futures. State kept between looks goes behind a reference.
pub async fn wait_until<T, R, Found>(
    deadline: Instant,
    interval: Duration,
    mut look: impl FnMut() -> Found,
) -> Result<T, WaitError<R>>
where
    Found: Future<Output = Result<Look<T, R>, BackendError>>,
{
    loop {
        let (reason, pause) = match look().await.map_err(WaitError::Backend)? {
            Look::Done(result) => return Ok(result),
            Look::Failed(reason) => return Err(WaitError::Failed(reason)),
            Look::Waiting(reason) => (reason, interval),
            Look::WaitingFor(reason, pause) => (reason, pause),
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(WaitError::TimedOut(reason));
        }
        tokio::time::sleep(pause.min(left)).await;
    }
}

/// `timeout` from now; a timeout too large to add (a duration of centuries written in git)
/// waits a year instead of overflowing.
pub fn deadline_after(timeout: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(timeout)
        .or_else(|| now.checked_add(Duration::from_secs(365 * 24 * 3600)))
        .unwrap_or(now)
}

/// The health gate's loop for `agent`: [`wait_until`] `timeout` from now, every
/// `interval`, a failure or the deadline becoming [`BackendError::Unhealthy`] with the
/// last reason seen.
pub async fn wait_healthy<Found>(
    agent: &str,
    timeout: Duration,
    interval: Duration,
    look: impl FnMut() -> Found,
) -> Result<(), BackendError>
where
    Found: Future<Output = Result<Look<(), String>, BackendError>>,
{
    wait_until(deadline_after(timeout), interval, look)
        .await
        .map_err(|error| {
            error.into_backend_error(|reason| BackendError::Unhealthy {
                agent: agent.to_owned(),
                seconds: timeout.as_secs(),
                reason,
            })
        })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test]
    async fn it_returns_what_the_look_found_once_done() {
        let looks = AtomicUsize::new(0);
        let deadline = Instant::now() + Duration::from_secs(5);
        let result = wait_until(deadline, Duration::from_millis(1), || async {
            let looks = looks.fetch_add(1, Ordering::SeqCst) + 1;
            Ok(if looks < 3 {
                Look::Waiting(format!("look {looks}"))
            } else {
                Look::Done(looks)
            })
        })
        .await;
        assert_eq!(result.ok(), Some(3));
    }

    #[tokio::test]
    async fn it_gives_up_at_the_deadline_with_the_last_reason() {
        let looks = AtomicUsize::new(0);
        let started = Instant::now();
        let result: Result<(), _> = wait_until(
            started + Duration::from_millis(50),
            Duration::from_millis(10),
            || async {
                let looks = looks.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(Look::Waiting(format!("look {looks}")))
            },
        )
        .await;
        let Err(WaitError::TimedOut(reason)) = result else {
            panic!("expected a timeout, got {result:?}");
        };
        let looks = looks.load(Ordering::SeqCst);
        assert_eq!(reason, format!("look {looks}"));
        assert!(looks >= 2, "{looks} looks");
        assert!(started.elapsed() >= Duration::from_millis(50));
        assert!(started.elapsed() < Duration::from_secs(2));
    }

    #[tokio::test]
    async fn a_failed_look_stops_at_once_and_a_backend_error_passes_through() {
        let deadline = Instant::now() + Duration::from_secs(5);
        let failed: Result<(), _> = wait_until(deadline, Duration::from_secs(1), || async {
            Ok(Look::Failed("CrashLoopBackOff"))
        })
        .await;
        assert!(matches!(failed, Err(WaitError::Failed("CrashLoopBackOff"))));
        let unreachable: Result<(), WaitError> =
            wait_until(deadline, Duration::from_secs(1), || async {
                Err(BackendError::Unavailable { backend: "docker" })
            })
            .await;
        let error = unreachable
            .err()
            .map(|error| error.into_backend_error(|_| unreachable!("not a reason")));
        assert!(matches!(error, Some(BackendError::Unavailable { .. })));
    }

    #[tokio::test]
    async fn waiting_for_a_known_time_replaces_the_interval() {
        let started = Instant::now();
        let looks = AtomicUsize::new(0);
        let result = wait_until(
            started + Duration::from_secs(5),
            Duration::from_secs(60),
            || async {
                let looks = looks.fetch_add(1, Ordering::SeqCst) + 1;
                Ok(if looks == 1 {
                    Look::WaitingFor("stabilizing", Duration::from_millis(20))
                } else {
                    Look::Done(())
                })
            },
        )
        .await;
        assert!(result.is_ok());
        assert!(started.elapsed() < Duration::from_secs(5));
    }
}
