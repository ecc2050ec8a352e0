//! clawops: a declarative GitOps reconciler for fleets of AI agents.
//!
//! The pipeline runs one way, one module per stage: [`source`] (a git snapshot at a
//! revision) → [`spec`] (typed, validated documents) → [`desired`] (one resolved record
//! per agent) → [`observe`] (what a backend reports, read once) → [`plan`] (a pure
//! function of the two) → [`render`] (the plan as text, markdown or JSON) → apply.
//! [`pilot`] derives Pilot setup manifests; [`commands`] holds the thin command shells
//! the binary calls.

pub mod apply;
pub mod backend;
pub mod cli;
pub mod commands;
pub mod desired;
pub mod engine;
pub mod github;
pub mod install;
pub mod notify;
pub mod observe;
pub mod pilot;
pub mod plan;
pub mod printer;
pub mod render;
pub mod schema;
pub mod source;
pub mod spec;
pub mod watch;
