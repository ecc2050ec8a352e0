//! The fleet's apply lock as every backend holds it: a lease with a holder ([`LockHolder`])
//! that runs out [`LEASE_SECONDS`] after its last renewal, so an apply that died stops
//! blocking the fleet by itself. The backends store it (Docker in a lock container,
//! Kubernetes in a Lease); the executor takes, renews and releases it at the pace set here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a lease lasts without renewal, in seconds.
pub const LEASE_SECONDS: u64 = 60;
/// How often a held lease is renewed.
pub const RENEW_EVERY: Duration = Duration::from_secs(LEASE_SECONDS / 3);
/// How often an apply waiting for the lock asks again.
pub const RETRY_EVERY: Duration = Duration::from_millis(500);

/// Seconds since the Unix epoch (0 on a clock set before it).
pub fn now() -> u64 {
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

/// Who holds the apply lock of a fleet, and until when (a lease: a holder that died
/// stops renewing it, and it expires by itself).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LockHolder {
    /// Host name of the holder.
    pub host: String,
    /// Process id of the holder.
    pub pid: u32,
    /// When it took the lock (seconds since the Unix epoch).
    pub since: u64,
    /// When the lease runs out unless renewed (seconds since the Unix epoch).
    pub expires: u64,
}

impl LockHolder {
    /// A holder that cannot be read (host `unknown`), its lease running until `expires`.
    pub fn unknown(expires: u64) -> Self {
        Self {
            host: "unknown".to_owned(),
            pid: 0,
            since: 0,
            expires,
        }
    }

    /// Whether this is `other`'s hold: the same host, process and start (the lease's end
    /// moves with every renewal).
    pub fn is(&self, other: &LockHolder) -> bool {
        (self.host.as_str(), self.pid, self.since) == (other.host.as_str(), other.pid, other.since)
    }
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            formatter,
            "host {}, pid {}, since {} (Unix time), lease until {}",
            self.host, self.pid, self.since, self.expires
        )
    }
}
