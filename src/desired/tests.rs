//! Resolution of the test fleet: names, roles, runtimes, images, env, labels, ports,
//! positions and hashes.

use super::test_support::{OTHERS, TEAMS, desired_of, edited, fleet_files};
use super::*;
use crate::spec::hiclaw::{AgentState, ExposeProtocol, Runtime};

fn fleet() -> Desired {
    desired_of(&fleet_files())
}

fn agent<'a>(desired: &'a Desired, member: &str) -> &'a Agent {
    desired
        .agents
        .iter()
        .find(|agent| agent.member == member)
        .unwrap_or_else(|| panic!("no agent {member}"))
}

const IMAGE_SET: &str = "\
apiVersion: clawops.dev/v1alpha1
kind: ImageSet
metadata: {name: stable}
spec:
  runtimes: {openclaw: set/openclaw:2, copaw: set/copaw:2}
  manager: set/manager:2
  debug: set/debug:2
  pullPolicy: Always
";

#[test]
fn every_agent_is_named_after_its_member_with_the_prefix_and_sorted() {
    let desired = fleet();
    let names: Vec<&str> = desired
        .agents
        .iter()
        .map(|agent| agent.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "hiclaw-manager",
            "hiclaw-worker-acme-central",
            "hiclaw-worker-acme-sink",
            "hiclaw-worker-acme-source",
            "hiclaw-worker-alpha-debug",
            "hiclaw-worker-alpha-dev",
            "hiclaw-worker-alpha-lead",
            "hiclaw-worker-alpha-qa",
            "hiclaw-worker-beta-lead",
            "hiclaw-worker-solo",
        ]
    );
    assert_eq!(
        desired
            .agent("hiclaw-manager")
            .map(|agent| agent.member.as_str()),
        Some("default")
    );
    assert_eq!(
        (desired.fleet.as_str(), desired.prefix.as_str()),
        ("fleet", "hiclaw-")
    );
}

#[test]
fn the_fleet_prefix_comes_from_clawops_toml() {
    let files = edited("clawops.toml", |_| {
        "[fleet]\nname = \"acme\"\nprefix = \"ops-\"\n".to_owned()
    });
    let desired = desired_of(&files);
    assert!(desired.agent("ops-manager").is_some());
    assert!(desired.agent("ops-worker-solo").is_some());
    assert_eq!(desired.fleet, "acme");
    assert_eq!(agent(&desired, "solo").labels[FLEET_LABEL], "acme");
}

#[test]
fn roles_groups_and_teams_follow_the_kind() {
    let desired = fleet();
    let cases = [
        ("default", AgentRole::Manager, "manager", None),
        ("alpha-lead", AgentRole::TeamLeader, "alpha", Some("alpha")),
        ("alpha-dev", AgentRole::Worker, "alpha", Some("alpha")),
        ("solo", AgentRole::Standalone, "standalone", None),
        ("alpha-debug", AgentRole::Debug, "debug", None),
        ("acme-central", AgentRole::Pilot, "pilot:relay", None),
    ];
    for (member, role, group, team) in cases {
        let found = agent(&desired, member);
        assert_eq!(
            (found.role, found.group.as_str()),
            (role, group),
            "{member}"
        );
        assert_eq!(found.team.as_deref(), team, "{member}");
    }
    assert_eq!(
        agent(&desired, "acme-central").hostname.as_deref(),
        Some("acme-central")
    );
    assert_eq!(agent(&desired, "alpha-dev").worker_name, "dev-bot");
    assert_eq!(agent(&desired, "alpha-qa").worker_name, "alpha-qa");
}

#[test]
fn runtimes_default_to_copaw_for_leaders_and_openclaw_otherwise() {
    let desired = fleet();
    assert_eq!(agent(&desired, "alpha-lead").runtime, Runtime::Copaw);
    assert_eq!(agent(&desired, "alpha-dev").runtime, Runtime::Openclaw);
    assert_eq!(agent(&desired, "default").runtime, Runtime::Openclaw);
    assert_eq!(agent(&desired, "alpha-debug").runtime, Runtime::Openclaw);
    assert_eq!(agent(&desired, "solo").runtime, Runtime::Hermes);
    let files = edited("teams.yaml", |text| {
        text.replace(
            "name: alpha-lead\n",
            "name: alpha-lead\n    runtime: hermes\n",
        )
    });
    assert_eq!(
        agent(&desired_of(&files), "alpha-lead").runtime,
        Runtime::Hermes
    );
}

#[test]
fn images_fall_back_from_team_to_image_set_to_hiclaw_defaults() {
    let desired = fleet();
    let lead = agent(&desired, "alpha-lead");
    assert_eq!(
        (lead.image.as_str(), lead.image_source),
        (DEFAULT_COPAW_IMAGE, ImageSource::Default)
    );
    assert_eq!(agent(&desired, "default").image, DEFAULT_MANAGER_IMAGE);
    assert_eq!(agent(&desired, "solo").image, DEFAULT_HERMES_IMAGE);
    assert_eq!(
        lead.pull_policy,
        crate::spec::clawops::PullPolicy::IfNotPresent
    );

    let with_set = edited("images.yaml", |_| IMAGE_SET.to_owned());
    let with_set = desired_of(&with_set);
    let cases = [
        ("alpha-lead", "set/copaw:2"),
        ("alpha-dev", "set/openclaw:2"),
        ("default", "set/manager:2"),
        ("alpha-debug", "set/debug:2"),
        ("acme-source", "set/openclaw:2"),
    ];
    for (member, image) in cases {
        let found = agent(&with_set, member);
        assert_eq!(
            (found.image.as_str(), found.image_source),
            (image, ImageSource::ImageSet),
            "{member}"
        );
        assert_eq!(found.pull_policy, crate::spec::clawops::PullPolicy::Always);
    }
    assert_eq!(agent(&with_set, "solo").image, DEFAULT_HERMES_IMAGE);

    let mut files = edited("images.yaml", |_| IMAGE_SET.to_owned());
    for (path, text) in &mut files {
        if path == "teams.yaml" {
            *text = text
                .replace(
                    "  admin: {name: alice}\n",
                    "  admin: {name: alice}\n  image: team/img:3\n",
                )
                .replace(
                    "workerName: dev-bot\n",
                    "workerName: dev-bot\n      image: own/img:4\n",
                )
                .replace("model: qa-model\n", "model: qa-model\n      image: \"\"\n");
        }
    }
    let layered = desired_of(&files);
    let dev = agent(&layered, "alpha-dev");
    assert_eq!(
        (dev.image.as_str(), dev.image_source),
        ("own/img:4", ImageSource::Own)
    );
    let qa = agent(&layered, "alpha-qa");
    assert_eq!(
        (qa.image.as_str(), qa.image_source),
        ("team/img:3", ImageSource::Team)
    );
    assert_eq!(agent(&layered, "beta-lead").image, "set/copaw:2");
}

#[test]
fn state_and_container_management_come_from_the_spec() {
    let desired = fleet();
    assert_eq!(agent(&desired, "alpha-qa").state, AgentState::Sleeping);
    assert_eq!(agent(&desired, "alpha-dev").state, AgentState::Running);
    assert_eq!(agent(&desired, "alpha-debug").state, AgentState::Running);
    assert!(!agent(&desired, "acme-sink").container_managed);
    assert!(agent(&desired, "acme-source").container_managed);
}

#[test]
fn env_holds_hiclaw_variables_that_the_spec_cannot_override() {
    let files = edited("teams.yaml", |text| {
        text.replace(
            "GREETING: hello\n",
            "GREETING: hello\n        HOME: /tmp\n        DB_PASSWORD: plain\n",
        )
    });
    let desired = desired_of(&files);
    let dev = agent(&desired, "alpha-dev");
    let value = |key: &str| dev.env[key].value.as_str();
    assert_eq!(value("HICLAW_WORKER_NAME"), "dev-bot");
    assert_eq!(value("HICLAW_WORKER_CR_NAME"), "alpha-dev");
    assert_eq!(value("HICLAW_CONSOLE_PORT"), "8088");
    assert_eq!(value("HOME"), "/root/hiclaw-fs/agents/dev-bot");
    assert!(!dev.env.contains_key("PILOT_HOSTNAME"));
    let secret = &dev.env["API_TOKEN"];
    assert_eq!(
        (secret.value.as_str(), secret.secret_ref, secret.sensitive),
        ("alpha-token", true, true)
    );
    let greeting = &dev.env["GREETING"];
    assert_eq!((greeting.secret_ref, greeting.sensitive), (false, false));
    let password = &dev.env["DB_PASSWORD"];
    assert_eq!(
        (
            password.value.as_str(),
            password.secret_ref,
            password.sensitive
        ),
        ("plain", false, true)
    );
    let pilot = agent(&desired, "acme-central");
    assert_eq!(pilot.env["PILOT_HOSTNAME"].value, "acme-central");
    assert_eq!(
        pilot.env["HOME"].value,
        "/root/hiclaw-fs/agents/acme-central"
    );
}

#[test]
fn labels_identify_the_agent_over_the_spec_labels() {
    // (A spec label in `hiclaw.io/` or `clawops.dev/` is refused by validation:
    // `reserved-label`.)
    let desired = desired_of(&fleet_files());
    let solo = &agent(&desired, "solo").labels;
    let expected = [
        ("clawops.dev/fleet", "fleet"),
        ("hiclaw.io/role", "standalone"),
        ("hiclaw.io/runtime", "hermes"),
        ("hiclaw.io/worker", "solo"),
        ("tier", "gold"),
        ("zone", "eu"),
    ];
    let actual: Vec<(&str, &str)> = solo
        .iter()
        .map(|(key, value)| (key.as_str(), value.as_str()))
        .collect();
    assert_eq!(actual, expected);
    let dev = &agent(&desired, "alpha-dev").labels;
    assert_eq!(
        (dev[TEAM_LABEL].as_str(), dev[ROLE_LABEL].as_str()),
        ("alpha", "worker")
    );
    let manager = &agent(&desired, "default").labels;
    assert_eq!(
        manager.get(MANAGER_LABEL).map(String::as_str),
        Some("default")
    );
    assert!(!manager.contains_key(WORKER_LABEL) && !manager.contains_key(TEAM_LABEL));
}

#[test]
fn ports_come_from_expose_sorted() {
    let desired = fleet();
    let ports = &agent(&desired, "solo").ports;
    assert_eq!(
        ports,
        &[
            AgentPort {
                port: 8080,
                protocol: ExposeProtocol::Http
            },
            AgentPort {
                port: 9000,
                protocol: ExposeProtocol::Grpc
            },
        ]
    );
}

#[test]
fn debug_workers_mount_every_member_of_their_target_team() {
    let desired = fleet();
    let debug = agent(&desired, "alpha-debug");
    assert_eq!(debug.debug_targets, ["alpha-dev", "alpha-lead", "alpha-qa"]);
    let files = edited("others.yaml", |text| {
        text.replace(
            "target: {type: team, name: alpha}",
            "targets: [solo, beta-lead]",
        )
    });
    assert_eq!(
        agent(&desired_of(&files), "alpha-debug").debug_targets,
        ["beta-lead", "solo"]
    );
    let files = edited("others.yaml", |text| {
        text.replace(
            "target: {type: team, name: alpha}",
            "target: {type: worker, name: solo}",
        )
    });
    assert_eq!(
        agent(&desired_of(&files), "alpha-debug").debug_targets,
        ["solo"]
    );
}

#[test]
fn file_and_line_point_at_the_definition() {
    let desired = fleet();
    let at = |member: &str| {
        let found = agent(&desired, member);
        (found.file.as_str(), found.line)
    };
    assert_eq!(at("alpha-dev"), ("teams.yaml", 14));
    assert_eq!(at("alpha-lead"), ("teams.yaml", 10));
    assert_eq!(at("solo"), ("others.yaml", 4));
    assert_eq!(at("default"), ("others.yaml", 14));
    assert_eq!(at("acme-central"), ("pilot.yaml", 14));
    assert_eq!(at("acme-source"), ("pilot.yaml", 8));
}

/// The same fleet with every mapping's keys written in another order.
fn reordered_teams() -> String {
    TEAMS
        .replace(
            "  description: Builds the product.\n  admin: {name: alice}\n",
            "  admin: {name: alice}\n  description: Builds the product.\n",
        )
        .replace(
            "    name: alpha-lead\n    model: lead-model\n",
            "    model: lead-model\n    name: alpha-lead\n",
        )
        .replace(
            "        API_TOKEN: !secret alpha-token\n        GREETING: hello\n",
            "        GREETING: hello\n        API_TOKEN: !secret alpha-token\n",
        )
        .replace(
            "      workerName: dev-bot\n      model: dev-model\n",
            "      model: dev-model\n      workerName: dev-bot\n",
        )
}

fn hashes(desired: &Desired) -> Vec<(String, String, String)> {
    desired
        .agents
        .iter()
        .map(|agent| {
            (
                agent.name.clone(),
                agent.runtime_hash.clone(),
                agent.config_hash.clone(),
            )
        })
        .collect()
}

#[test]
fn hashes_do_not_depend_on_field_or_map_order() {
    let reordered = reordered_teams();
    assert_ne!(reordered, TEAMS);
    let files = edited("teams.yaml", |_| reordered.clone());
    let others = OTHERS
        .replace("{tier: gold, zone: eu}", "{zone: eu, tier: gold}")
        .replace(
            "  model: solo-model\n  runtime: hermes\n",
            "  runtime: hermes\n  model: solo-model\n",
        );
    let files: Vec<(String, String)> = files
        .into_iter()
        .map(|(path, text)| {
            if path == "others.yaml" {
                (path, others.clone())
            } else {
                (path, text)
            }
        })
        .collect();
    assert_eq!(hashes(&desired_of(&files)), hashes(&fleet()));
    assert_eq!(fleet(), fleet());
}

#[test]
fn runtime_hash_format_is_pinned() {
    // Changing the fingerprint recreates every agent of every fleet: do it on purpose only.
    let files = vec![(
        "worker.yaml".to_owned(),
        "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata: {name: pin}\nspec: {model: m}\n"
            .to_owned(),
    )];
    let desired = desired_of(&files);
    assert_eq!(desired.agents[0].runtime_hash, PINNED_RUNTIME_HASH);
}

/// SHA-256 of `{"image":"higress-registry…/hiclaw-worker:v1.1.2","runtime":"openclaw",
/// "env":{"HICLAW_CONSOLE_PORT":{"value":"8088","secret_ref":false},…},"labels":{…},
/// "ports":[],"package":null,"hostname":null,"pull_policy":"IfNotPresent",
/// "container_managed":true,"debug_targets":[]}`, computed outside clawops.
const PINNED_RUNTIME_HASH: &str =
    "368d7555c85935e301e575030e5be0623af831909d9e03278501d6baa1d5b370";

/// (runtime hash changed, config hash changed) per member, after an edit.
fn changed(files: &[(String, String)]) -> Vec<(String, bool, bool)> {
    let before = fleet();
    let after = desired_of(files);
    before
        .agents
        .iter()
        .zip(&after.agents)
        .map(|(old, new)| {
            assert_eq!(old.name, new.name);
            (
                old.member.clone(),
                old.runtime_hash != new.runtime_hash,
                old.config_hash != new.config_hash,
            )
        })
        .filter(|(_, runtime, config)| *runtime || *config)
        .collect()
}

#[test]
fn a_new_soul_changes_only_the_config_hash() {
    let files = edited("teams.yaml", |text| {
        text.replace(
            "model: qa-model\n",
            "model: qa-model\n      soul: You test.\n",
        )
    });
    assert_eq!(changed(&files), [("alpha-qa".to_owned(), false, true)]);
}

#[test]
fn a_new_env_value_or_image_changes_only_the_runtime_hash() {
    let files = edited("teams.yaml", |text| {
        text.replace("GREETING: hello", "GREETING: bye")
    });
    assert_eq!(changed(&files), [("alpha-dev".to_owned(), true, false)]);
    let files = edited("teams.yaml", |text| {
        text.replace(
            "model: qa-model\n",
            "model: qa-model\n      image: own/qa:1\n",
        )
    });
    assert_eq!(changed(&files), [("alpha-qa".to_owned(), true, false)]);
    let files = edited("teams.yaml", |text| {
        text.replace("API_TOKEN: !secret alpha-token", "API_TOKEN: alpha-token")
    });
    assert_eq!(changed(&files), [("alpha-dev".to_owned(), true, false)]);
}

#[test]
fn state_changes_neither_hash() {
    let files = edited("teams.yaml", |text| {
        text.replace("state: Sleeping", "state: Stopped")
    });
    assert_eq!(changed(&files), []);
    assert_eq!(
        agent(&desired_of(&files), "alpha-qa").state,
        AgentState::Stopped
    );
}
