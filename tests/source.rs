//! The source stage against real repositories: local repositories at a revision or work
//! tree, plain folders, and remotes fetched into a cache over `file://` and `git://`.
//! Every repository is made with the `git` CLI in its own temporary folder.

#[path = "source/local.rs"]
mod local;
#[path = "source/remote.rs"]
mod remote;
mod support;
