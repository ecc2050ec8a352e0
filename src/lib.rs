//! clawops: a declarative GitOps reconciler for fleets of AI agents.
//!
//! The pipeline runs one way, one module per stage: [`source`] (a git snapshot at a
//! revision) → [`spec`] (typed, validated documents) → later stages (desired agents,
//! observed state, plan, apply). [`pilot`] derives Pilot setup manifests; [`commands`]
//! holds the thin command shells the binary calls.

pub mod cli;
pub mod commands;
pub mod pilot;
pub mod printer;
pub mod schema;
pub mod source;
pub mod spec;
