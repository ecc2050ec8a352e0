//! The format reference must document every diagnostic code and every kind; the plan
//! reference every operation and every kind of cause.

use clawops::plan::{Cause, Drift, Op};
use clawops::spec::{Code, Kind};

#[test]
fn the_format_reference_documents_every_code_and_kind() {
    let reference = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/format.md"))
        .expect("docs/format.md");
    let missing_codes: Vec<&str> = Code::ALL
        .iter()
        .map(|code| code.as_str())
        .filter(|code| !reference.contains(&format!("`{code}`")))
        .collect();
    assert!(
        missing_codes.is_empty(),
        "docs/format.md lacks codes {missing_codes:?}"
    );
    let missing_kinds: Vec<&str> = Kind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .filter(|kind| !reference.contains(kind))
        .collect();
    assert!(
        missing_kinds.is_empty(),
        "docs/format.md lacks kinds {missing_kinds:?}"
    );
}

#[test]
fn the_plan_reference_documents_every_operation_and_cause() {
    let reference = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/plan.md"))
        .expect("docs/plan.md");
    let ops = [
        Op::CreateAgent,
        Op::RecreateAgent,
        Op::PushConfig,
        Op::SleepAgent,
        Op::WakeAgent,
        Op::RemoveAgent,
        Op::DeleteAgent,
        Op::KeepAgent,
        Op::WaitHealthy,
        Op::UpdateTeamAccess,
        Op::WriteHuman,
        Op::DeleteHuman,
        Op::BootstrapPilot,
        Op::ConfirmPilotTrust,
    ];
    // A new operation must be added above (and documented): this match stops compiling.
    for op in ops {
        match op {
            Op::CreateAgent
            | Op::RecreateAgent
            | Op::PushConfig
            | Op::SleepAgent
            | Op::WakeAgent
            | Op::RemoveAgent
            | Op::DeleteAgent
            | Op::KeepAgent
            | Op::WaitHealthy
            | Op::UpdateTeamAccess
            | Op::WriteHuman
            | Op::DeleteHuman
            | Op::BootstrapPilot
            | Op::ConfirmPilotTrust => {}
        }
    }
    let text = String::new;
    let causes = [
        Cause::NewAgent,
        Cause::FieldChanged {
            path: text(),
            before: None,
            after: None,
        },
        Cause::SensitiveChanged { path: text() },
        Cause::RuntimeChanged {
            before: text(),
            after: text(),
        },
        Cause::FileChanged {
            path: text(),
            before: None,
            after: None,
        },
        Cause::StateChanged {
            before: clawops::spec::hiclaw::AgentState::Running,
            after: clawops::spec::hiclaw::AgentState::Sleeping,
        },
        Cause::DesiredStopped,
        Cause::GoneFromGit,
        Cause::StaysAsleep,
        Cause::Drift(Drift::StoppedOutsideClawops),
        Cause::NewTeam,
        Cause::TeamPodsChange,
        Cause::HealthGate { timeout_seconds: 0 },
        Cause::PilotBootstrap {
            install: Vec::new(),
            remove: Vec::new(),
            hostname: text(),
        },
        Cause::TrustGate {
            peers: Vec::new(),
            timeout_seconds: 0,
        },
        Cause::PilotLeftToAgent,
    ];
    let drifts = [
        Drift::StoppedOutsideClawops,
        Drift::StartedOutsideClawops,
        Drift::RemovedOutsideClawops,
        Drift::ImageChanged {
            applied: text(),
            running: text(),
        },
        Drift::PodsReplaced,
        Drift::EditedOutsideClawops { fields: Vec::new() },
    ];
    let name = |value: serde_json::Value, tag: &str| {
        let value = if tag.is_empty() {
            value
        } else {
            value[tag].clone()
        };
        value.as_str().unwrap_or_default().to_owned()
    };
    let mut names: Vec<String> = ops
        .iter()
        .map(|op| name(serde_json::to_value(op).expect("op"), ""))
        .collect();
    names.extend(
        causes
            .iter()
            .map(|cause| name(serde_json::to_value(cause).expect("cause"), "kind")),
    );
    names.extend(
        drifts
            .iter()
            .map(|drift| name(serde_json::to_value(drift).expect("drift"), "drift")),
    );
    let missing: Vec<&String> = names
        .iter()
        .filter(|name| name.is_empty() || !reference.contains(&format!("`{name}`")))
        .collect();
    assert!(missing.is_empty(), "docs/plan.md lacks {missing:?}");
}

#[test]
fn the_notifications_reference_documents_every_event() {
    let reference = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/notifications.md"
    ))
    .expect("docs/notifications.md");
    let missing: Vec<&str> = clawops::spec::notify::EventKind::ALL
        .iter()
        .map(|kind| kind.as_str())
        .filter(|name| !reference.contains(&format!("| `{name}` |")))
        .collect();
    assert!(
        missing.is_empty(),
        "docs/notifications.md lacks events {missing:?}"
    );
}
