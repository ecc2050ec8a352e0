//! The target rules, one small fleet per rule, with the exact place of every diagnostic.

use super::target;
use crate::desired::test_support::{fleet_files, spec_of};
use crate::spec::config::{BackendKind, HiclawTransport};
use crate::spec::{Diagnostic, Spec};

/// One file `fleet.yaml`, valid on its own.
fn spec(yaml: &str) -> Spec {
    spec_of(&[("fleet.yaml".to_owned(), yaml.to_owned())])
}

fn over_rest(mut spec: Spec) -> Spec {
    spec.config.hiclaw.transport = HiclawTransport::Rest;
    spec
}

/// `<severity> <code> <file>:<line>:<column>` per diagnostic, in the order reported.
fn lines(diagnostics: &[Diagnostic]) -> Vec<String> {
    diagnostics
        .iter()
        .map(|d| {
            format!(
                "{} {} {}:{}:{}",
                d.severity, d.code, d.file, d.line, d.column
            )
        })
        .collect()
}

fn found(spec: &Spec, backend: BackendKind) -> Vec<String> {
    lines(&target(spec, backend))
}

const PLAIN: &str = "\
apiVersion: hiclaw.io/v1beta1
kind: Worker
metadata: {name: plain}
spec: {model: m, env: {GREETING: hello}}
";

#[test]
fn a_plain_fleet_is_fine_on_every_target() {
    let plain = spec(PLAIN);
    for backend in [
        BackendKind::Docker,
        BackendKind::Kubernetes,
        BackendKind::Hiclaw,
    ] {
        assert_eq!(found(&plain, backend), Vec::<String>::new(), "{backend:?}");
    }
    let no_env = spec(&PLAIN.replace(", env: {GREETING: hello}", ""));
    assert_eq!(
        found(&over_rest(no_env), BackendKind::Hiclaw),
        Vec::<String>::new()
    );
}

#[test]
fn hiclaw_refuses_secret_env_values_at_their_key() {
    let files: Vec<(String, String)> = fleet_files()
        .into_iter()
        .filter(|(path, _)| path != "pilot.yaml")
        .collect();
    let spec = spec_of(&files);
    let diagnostics = target(&spec, BackendKind::Hiclaw);
    assert_eq!(
        lines(&diagnostics),
        ["error unsupported-secret-env teams.yaml:19:9"]
    );
    let secret = &diagnostics[0];
    assert!(
        secret
            .message
            .contains("env `API_TOKEN` of worker `alpha-dev` of Team `alpha`")
    );
    let help = secret.help.as_deref().unwrap_or_default();
    assert!(
        help.contains("controller") && help.contains("backend = \"docker\""),
        "{help}"
    );
    assert_eq!(
        found(&spec, BackendKind::Docker)
            .iter()
            .filter(|l| l.starts_with("error"))
            .count(),
        0
    );
}

#[test]
fn hiclaw_refuses_pilot_setups() {
    let spec = spec_of(&fleet_files());
    let diagnostics = target(&spec, BackendKind::Hiclaw);
    let pilot: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.file == "pilot.yaml")
        .collect();
    assert_eq!(
        lines(&pilot.into_iter().cloned().collect::<Vec<_>>()),
        ["error unsupported-kind pilot.yaml:4:9"]
    );
    let refused = diagnostics
        .iter()
        .find(|d| d.file == "pilot.yaml")
        .expect("refused");
    assert!(
        refused
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("docker and kubernetes backends")
    );
}

/// Clawops extensions the controller has no field for, one per line of interest.
const EXTENSIONS: &str = "\
apiVersion: hiclaw.io/v1beta1
kind: Team
metadata: {name: gamma}
spec:
  image: acme/worker:1
  leader:
    name: gamma-lead
    runtime: openclaw
    resources: {limits: {memory: 1Gi}}
  workers:
    - name: gamma-one
      model: m
      containerManaged: false
---
apiVersion: hiclaw.io/v1beta1
kind: Team
metadata: {name: delta}
spec:
  image: acme/worker:1
  leader: {name: delta-lead, image: acme/lead:1}
  workers: [{name: delta-one, model: m, resources: {requests: {cpu: 500m}}}]
---
apiVersion: hiclaw.io/v1beta1
kind: Human
metadata: {name: alice}
spec: {displayName: Alice, permissionLevel: 1}
---
apiVersion: hiclaw.io/v1beta1
kind: DebugWorker
metadata: {name: gamma-debug}
spec:
  target: {type: team, name: gamma}
  accessControl: {allowedUsers: [alice]}
";

#[test]
fn hiclaw_warns_about_extensions_the_controller_has_no_field_for() {
    let diagnostics = target(&spec(EXTENSIONS), BackendKind::Hiclaw);
    assert_eq!(
        lines(&diagnostics),
        [
            // gamma: the Team's image would be the leader's; the leader's runtime and
            // resources; a team worker's containerManaged.
            "warning ignored-extension fleet.yaml:5:10",
            "warning ignored-extension fleet.yaml:8:14",
            "warning ignored-extension fleet.yaml:9:34",
            "warning ignored-extension fleet.yaml:11:13",
            // delta: the leader's own image (the Team's then reaches only the workers); a
            // worker's resources.
            "warning ignored-extension fleet.yaml:20:37",
            "warning ignored-extension fleet.yaml:21:69",
            // The DebugWorker's allowedUsers.
            "warning ignored-extension fleet.yaml:33:34",
        ]
    );
    let messages: Vec<&str> = diagnostics.iter().map(|d| d.message.as_str()).collect();
    assert!(messages[0].contains("`image` of Team `gamma` does not reach its leader `gamma-lead`"));
    assert!(messages[0].contains("workers still get it"));
    assert!(messages[1].contains("`runtime` of leader `gamma-lead`"));
    assert!(messages[2].contains("`resources` of leader `gamma-lead`"));
    assert!(messages[3].contains("`containerManaged` of worker `gamma-one`"));
    assert!(messages[4].contains("`image` of leader `delta-lead`"));
    assert!(messages[6].contains("`accessControl.allowedUsers` of DebugWorker `gamma-debug`"));
    assert!(
        diagnostics
            .iter()
            .all(|d| !d.is_error() && d.help.is_some())
    );
}

/// Every field the REST bodies lack, on every kind of member.
const REST: &str = "\
apiVersion: hiclaw.io/v1beta1
kind: Worker
metadata: {name: solo}
spec:
  model: m
  env: {A: b}
  labels: {tier: gold}
  accessEntries: [{service: ai-gateway}]
  remoteSkills: [{source: nacos://n/s, skills: [{name: x}]}]
---
apiVersion: hiclaw.io/v1beta1
kind: Team
metadata: {name: gamma}
spec:
  leader:
    name: gamma-lead
    env: {B: c}
    labels: {x: y}
    accessEntries: [{service: ai-gateway}]
    remoteSkills: [{source: nacos://n/s}]
  workers:
    - name: gamma-one
      model: m
      labels: {x: y}
---
apiVersion: hiclaw.io/v1beta1
kind: Manager
metadata: {name: default}
spec:
  model: m
  env: {C: d}
  accessEntries: [{service: object-storage}]
---
apiVersion: hiclaw.io/v1beta1
kind: DebugWorker
metadata: {name: gamma-debug}
spec:
  targets: [gamma-one]
  labels: {x: y}
";

#[test]
fn rest_refuses_every_field_its_bodies_lack() {
    let fleet = spec(REST);
    let diagnostics = target(&over_rest(fleet.clone()), BackendKind::Hiclaw);
    assert_eq!(
        lines(&diagnostics),
        [
            // solo: labels and accessEntries at its name, env at its key, remoteSkills at
            // the source.
            "error rest-drops-field fleet.yaml:3:18",
            "error rest-drops-field fleet.yaml:3:18",
            "error rest-drops-field fleet.yaml:6:9",
            "error rest-drops-field fleet.yaml:9:27",
            // The leader: labels at its name, env, remoteSkills (its accessEntries go through).
            "error rest-drops-field fleet.yaml:16:11",
            "error rest-drops-field fleet.yaml:17:11",
            "error rest-drops-field fleet.yaml:20:29",
            // gamma-one's labels.
            "error rest-drops-field fleet.yaml:22:13",
            // The Manager: accessEntries at its name, env.
            "error rest-drops-field fleet.yaml:28:18",
            "error rest-drops-field fleet.yaml:31:9",
            // The DebugWorker: labels, and its read grant on its targets.
            "error rest-drops-field fleet.yaml:36:18",
            "error rest-drops-field fleet.yaml:38:13",
        ]
    );
    let fields: Vec<&str> = diagnostics
        .iter()
        .map(|d| d.message.split('`').nth(1).unwrap_or_default())
        .collect();
    assert_eq!(
        fields,
        [
            "labels",
            "accessEntries",
            "env",
            "remoteSkills",
            "labels",
            "env",
            "remoteSkills",
            "labels",
            "accessEntries",
            "env",
            "labels",
            "gamma-debug"
        ]
    );
    for diagnostic in &diagnostics {
        assert!(diagnostic.message.contains("silently drop"), "{diagnostic}");
        let help = diagnostic.help.as_deref().unwrap_or_default();
        assert!(help.contains("transport = \"kubernetes\""), "{help}");
    }
    assert_eq!(found(&fleet, BackendKind::Hiclaw), Vec::<String>::new());
}

#[test]
fn rest_errors_in_the_example_fleet_are_located() {
    use crate::source::{self, SourceOptions};
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hiclaw-fleet");
    let snapshot = source::read(&SourceOptions::new(folder)).expect("the example is readable");
    let checked = crate::spec::check(&snapshot);
    assert!(checked.is_valid(), "{:#?}", checked.diagnostics);
    let diagnostics = target(&over_rest(checked.spec), BackendKind::Hiclaw);
    assert_eq!(
        lines(&diagnostics),
        [
            // The DebugWorker's read grant on team alpha, then its allowedUsers.
            "error rest-drops-field debug/alpha-debug.yaml:10:11",
            "warning ignored-extension debug/alpha-debug.yaml:12:20",
            // alpha-dev's env: GIT_AUTHOR_NAME.
            "error rest-drops-field teams/alpha.yaml:30:9",
            // scout's env (SCOUT_INTERVAL) and remoteSkills (the source).
            "error rest-drops-field workers/scout.yaml:14:5",
            "error rest-drops-field workers/scout.yaml:16:15",
            // scribe's accessEntries keep no position: its metadata.name.
            "error rest-drops-field workers/scribe.yaml:6:9",
        ]
    );
}

/// Fields only a HiClaw controller realizes.
const CONTROLLER_ONLY: &str = "\
apiVersion: hiclaw.io/v1beta1
kind: Human
metadata: {name: alice}
spec: {displayName: Alice, permissionLevel: 1}
---
apiVersion: hiclaw.io/v1beta1
kind: Team
metadata: {name: gamma}
spec:
  admin: {name: alice}
  peerMentions: false
  channelPolicy: {groupAllowExtra: [ops]}
  leader:
    name: gamma-lead
    heartbeat: {every: 1h}
    workerIdleTimeout: 2h
    mcpServers: [{name: docs, url: http://docs/mcp}]
  workers:
    - name: gamma-one
      model: m
      skills: [coding]
      package: packages/one.zip
      accessEntries: [{service: ai-gateway}]
      channelPolicy: {dmDenyExtra: [bob]}
      remoteSkills: [{source: nacos://n/s}]
---
apiVersion: hiclaw.io/v1beta1
kind: Manager
metadata: {name: default}
spec:
  model: m
  config: {notifyChannel: admin-dm, heartbeatInterval: 10m}
";

#[test]
fn direct_backends_warn_about_fields_only_a_controller_realizes() {
    let fleet = spec(CONTROLLER_ONLY);
    let diagnostics = target(&fleet, BackendKind::Docker);
    let expected = [
        "warning needs-hiclaw-controller fleet.yaml:3:18", // Human alice
        "warning needs-hiclaw-controller fleet.yaml:8:18", // Team channelPolicy
        "warning needs-hiclaw-controller fleet.yaml:8:18", // Team peerMentions
        "warning needs-hiclaw-controller fleet.yaml:10:17", // Team admin (docker only)
        "warning needs-hiclaw-controller fleet.yaml:14:11", // leader mcpServers
        "warning needs-hiclaw-controller fleet.yaml:15:24", // leader heartbeat
        "warning needs-hiclaw-controller fleet.yaml:16:24", // leader workerIdleTimeout
        "warning needs-hiclaw-controller fleet.yaml:19:13", // gamma-one skills
        "warning needs-hiclaw-controller fleet.yaml:19:13", // gamma-one channelPolicy
        "warning needs-hiclaw-controller fleet.yaml:19:13", // gamma-one accessEntries
        "warning needs-hiclaw-controller fleet.yaml:22:16", // gamma-one package
        "warning needs-hiclaw-controller fleet.yaml:25:31", // gamma-one remoteSkills
        "warning needs-hiclaw-controller fleet.yaml:32:56", // Manager config
    ];
    assert_eq!(lines(&diagnostics), expected);
    let named = |field: &str| {
        diagnostics
            .iter()
            .any(|d| d.message.starts_with(&format!("`{field}` of")))
    };
    for field in [
        "skills",
        "remoteSkills",
        "mcpServers",
        "package",
        "channelPolicy",
        "accessEntries",
        "peerMentions",
        "admin",
        "heartbeat",
        "workerIdleTimeout",
        "config",
    ] {
        assert!(named(field), "no warning names `{field}`");
    }
    assert!(
        diagnostics[0]
            .message
            .starts_with("Human `alice` gets no account")
    );
    for diagnostic in &diagnostics {
        assert!(diagnostic.message.contains("docker"), "{diagnostic}");
        assert!(
            diagnostic
                .help
                .as_deref()
                .unwrap_or_default()
                .contains("backend = \"hiclaw\"")
                || diagnostic
                    .help
                    .as_deref()
                    .unwrap_or_default()
                    .contains("\"hiclaw\"")
        );
    }
    // Kubernetes RBAC realizes the admin: no warning for it there.
    let on_kubernetes = found(&fleet, BackendKind::Kubernetes);
    let without_admin: Vec<&str> = expected
        .iter()
        .copied()
        .filter(|line| !line.ends_with(":10:17"))
        .collect();
    assert_eq!(on_kubernetes, without_admin);
}

#[test]
fn direct_backends_warn_about_pilot_agents_and_allowed_users_too() {
    let files = crate::desired::test_support::edited("pilot.yaml", |text| {
        text.replace(
            "agent: {model: pilot-model}\n    - role: hub",
            "agent: {model: pilot-model, skills: [extra]}\n    - role: hub",
        )
    });
    let diagnostics = target(&spec_of(&files), BackendKind::Kubernetes);
    let pilot: Vec<&Diagnostic> = diagnostics
        .iter()
        .filter(|d| d.file == "pilot.yaml")
        .collect();
    assert_eq!(pilot.len(), 1, "{pilot:#?}");
    assert_eq!((pilot[0].line, pilot[0].column), (8, 13));
    assert!(
        pilot[0]
            .help
            .as_deref()
            .unwrap_or_default()
            .contains("Pilot roles are deployed only by")
    );
    let debug = target(&spec(EXTENSIONS), BackendKind::Docker);
    assert!(lines(&debug).contains(&"warning ignored-extension fleet.yaml:33:34".to_owned()));
}
