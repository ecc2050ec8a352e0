//! The `hiclaw` target: a running HiClaw controller, reached through a [`transport`]
//! (minimal wiring; the core is merged separately).

pub mod model;
mod record_file;
pub mod rest;
pub mod transport;
