//! The keys both backends record on what they create and read back when they observe:
//! labels on Docker containers and volumes; labels and annotations on Kubernetes objects
//! (there the runtime hash, commit and state are annotations, under the same keys). An
//! agent state is recorded by its name, [`AgentState::as_str`](crate::spec::hiclaw::AgentState::as_str),
//! and read with [`AgentState::from_name`](crate::spec::hiclaw::AgentState::from_name).
//!
//! These strings are on every live fleet: changing one would orphan them. Keys only one
//! backend uses stay in that backend.

/// Label naming the fleet that owns a container, volume, network or object (the desired
/// state puts it among every agent's labels too).
pub use crate::desired::FLEET_LABEL;

/// Label naming the agent a volume or object belongs to (on Kubernetes it selects the
/// agent's pod).
pub const AGENT_LABEL: &str = "clawops.dev/agent";
/// The runtime hash applied (Kubernetes: a pod-template annotation, so only a runtime
/// change rolls the pod).
pub const RUNTIME_HASH_LABEL: &str = "clawops.dev/runtime-hash";
/// The commit applied.
pub const COMMIT_LABEL: &str = "clawops.dev/commit";
/// The agent state applied, by name.
pub const STATE_LABEL: &str = "clawops.dev/state";

#[cfg(test)]
mod tests {
    use crate::spec::hiclaw::AgentState;

    #[test]
    fn the_keys_existing_fleets_carry_do_not_change() {
        assert_eq!(super::FLEET_LABEL, "clawops.dev/fleet");
        assert_eq!(super::AGENT_LABEL, "clawops.dev/agent");
        assert_eq!(super::RUNTIME_HASH_LABEL, "clawops.dev/runtime-hash");
        assert_eq!(super::COMMIT_LABEL, "clawops.dev/commit");
        assert_eq!(super::STATE_LABEL, "clawops.dev/state");
    }

    #[test]
    fn a_recorded_state_reads_back_as_written_in_git() {
        for state in [
            AgentState::Running,
            AgentState::Sleeping,
            AgentState::Stopped,
        ] {
            assert_eq!(AgentState::from_name(state.as_str()), Some(state));
            let in_git = serde_json::to_string(&state).expect("a state serializes");
            assert_eq!(in_git, format!("\"{}\"", state.as_str()));
        }
        assert_eq!(AgentState::from_name("Asleep"), None);
        assert_eq!(AgentState::from_name("running"), None);
    }
}
