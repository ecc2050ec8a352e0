//! Names and label keys clawops and HiClaw keep for themselves. A fleet that used them
//! would be mistaken for clawops' own bookkeeping: an agent named `foo--previous` for the
//! set-aside container of `foo`, a `clawops.dev/*` label for the marks that select what
//! clawops may remove, a `hiclaw.io/team` label for membership of a team's network policy.
//! Validation refuses them where they are written. The Docker backend names set-aside
//! containers with [`SET_ASIDE_SUFFIX`]; every object clawops names for itself starts with
//! [`INTERNAL_PREFIX`] (lock, record and seed containers, the Kubernetes Lease and inventories).

/// Suffix of the name of a container set aside by a recreate (Docker).
pub const SET_ASIDE_SUFFIX: &str = "--previous";

/// Prefix of every object clawops names for itself: the apply lock, the record container,
/// the seed helpers, the Kubernetes inventory and Lease. `[fleet] prefix` may not start
/// with it, so no agent's name can be one of them.
pub const INTERNAL_PREFIX: &str = "clawops-";

/// Label namespaces set by clawops and by HiClaw, never by a fleet's `spec.labels`.
pub const LABEL_NAMESPACES: [&str; 2] = ["clawops.dev/", "hiclaw.io/"];

/// The reserved namespace a label key is in, if any.
pub fn reserved_label_namespace(key: &str) -> Option<&'static str> {
    LABEL_NAMESPACES
        .into_iter()
        .find(|namespace| key.starts_with(namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_two_namespaces_are_reserved() {
        assert_eq!(
            reserved_label_namespace("clawops.dev/fleet"),
            Some("clawops.dev/")
        );
        assert_eq!(
            reserved_label_namespace("hiclaw.io/team"),
            Some("hiclaw.io/")
        );
        assert_eq!(reserved_label_namespace("acme.example/hiclaw.io"), None);
        assert_eq!(reserved_label_namespace("tier"), None);
    }
}
