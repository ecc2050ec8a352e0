//! clawops watch: the daemon that follows a config repository, fetching its branch,
//! planning and applying each new commit, and reporting what it did over HTTP.
//!
//! This module holds the daemon's outward-facing parts: [`status`] (the status document
//! the daemon publishes), [`webhook`] (GitHub webhook verification and parsing),
//! [`metrics`] (Prometheus metrics), [`http`] (the server that exposes all three) and
//! [`memory`] (what the daemon remembers across restarts, and its pure decision per
//! commit). The follow loop itself is a command shell: `commands::watch`.

pub mod http;
pub mod memory;
pub mod metrics;
pub mod status;
pub mod webhook;
