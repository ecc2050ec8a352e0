//! clawops watch: the daemon that follows a config repository, fetching its branch,
//! planning and applying each new commit, and reporting what it did over HTTP.
//!
//! [`daemon`] is the follow loop (fetch, decide, reconcile through [`crate::engine`]),
//! with [`drift`] between commits, [`retry`] (backoff for failures that are not the
//! commit's fault) and [`progress`] (the rollout in the status). Its outward-facing parts:
//! [`status`] (the status document the daemon publishes), [`webhook`] (GitHub webhook
//! verification and parsing), [`metrics`] (Prometheus metrics), [`http`] (the server that
//! exposes all three, its connections bounded by [`connections`]) and [`memory`] (what the daemon remembers across restarts, and its
//! pure decision per commit). [`settings`] are resolved by the `watch` command; `notices` tells webhooks and
//! GitHub commit statuses what happened (`[notify]`).

pub mod connections;
pub mod daemon;
mod drift;
pub mod http;
pub mod memory;
pub mod metrics;
mod notices;
mod progress;
pub mod retry;
pub mod settings;
pub mod status;
pub mod webhook;
