//! Test support for the `hiclaw` target: what upstream HiClaw accepts.

pub mod crds;
