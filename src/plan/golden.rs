//! Golden plan tests: one scenario per test, from the spec text of the test fleet (resolved
//! by the real loader, validator and resolver) and what a backend reports, through the
//! planner to the text plan an operator reads, compared with a reviewed snapshot in
//! `snapshots/`. A change to the planner that changes what an operator is told fails here.

use crate::desired::Desired;
use crate::desired::test_support::{desired_of, edited, fleet_files};
use crate::observe::{Observed, ObservedAgent, ObservedSource, ObservedStatus};
use crate::render::text;
use crate::source::Revision;

use super::{PlanOptions, plan};

/// A fleet's files: path and text.
type Files = Vec<(String, String)>;

/// The commit every scenario's desired state is read from.
const COMMIT: &str = "5e1f0c2a9b8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f";

/// A third team for the rollout scenarios: its own image, a leader and three workers.
const GAMMA: &str = "\
---
apiVersion: hiclaw.io/v1beta1
kind: Team
metadata:
  name: gamma
spec:
  image: registry.example/gamma:v1
  leader: {name: gamma-lead, model: lead-model}
  workers:
    - {name: gamma-one, model: worker-model}
    - {name: gamma-two, model: worker-model}
    - {name: gamma-three, model: worker-model}
";

/// An ImageSet of version `version` for every runtime, the Manager and DebugWorkers.
fn image_set(version: &str) -> String {
    format!(
        "apiVersion: clawops.dev/v1alpha1\n\
         kind: ImageSet\n\
         metadata: {{name: stable}}\n\
         spec:\n  \
         runtimes: {{openclaw: registry.example/openclaw:{version}, \
         copaw: registry.example/copaw:{version}, hermes: registry.example/hermes:{version}}}\n  \
         manager: registry.example/manager:{version}\n  \
         debug: registry.example/debug:{version}\n"
    )
}

/// `files` with `edit` applied to the file named `path` (added when absent).
fn with(files: &[(String, String)], path: &str, edit: impl Fn(&str) -> String) -> Files {
    let mut files = files.to_vec();
    match files.iter_mut().find(|(file, _)| file == path) {
        Some((_, text)) => *text = edit(text),
        None => files.push((path.to_owned(), edit(""))),
    }
    files
}

/// The test fleet and team gamma (whose upgrade settings `upgrade` gives, YAML flow style).
fn with_gamma(upgrade: &str) -> Files {
    let gamma = if upgrade.is_empty() {
        GAMMA.to_owned()
    } else {
        format!("{GAMMA}  upgrade: {upgrade}\n")
    };
    edited("teams.yaml", |text| format!("{text}{gamma}"))
}

/// The desired state of `files` at [`COMMIT`], whose subject is `subject`.
fn at(files: &[(String, String)], subject: &str) -> Desired {
    let mut desired = desired_of(files);
    desired.revision = Some(Revision {
        commit: COMMIT.to_owned(),
        subject: subject.to_owned(),
    });
    desired
}

/// What the Docker backend reports after applying every managed agent of `applied` exactly.
fn running(applied: &[(String, String)]) -> Observed {
    let agents = desired_of(applied)
        .agents
        .iter()
        .filter(|agent| agent.container_managed)
        .map(|agent| ObservedAgent::applied_exactly(agent, None))
        .collect();
    Observed {
        source: ObservedSource::Backend {
            description: "docker unix:///var/run/docker.sock".to_owned(),
        },
        agents,
        interrupted: Vec::new(),
        teams: None,
        humans: None,
    }
}

/// The text plan (no colour) that takes `observed` to `desired`.
fn plan_text(desired: &Desired, observed: &Observed, prune: bool) -> String {
    let options = PlanOptions {
        prune,
        ..PlanOptions::default()
    };
    text(&plan(desired, observed, &options), false)
}

/// The text plan from the fleet `before` (applied exactly) to `after`.
fn change(before: &[(String, String)], after: &[(String, String)], subject: &str) -> String {
    plan_text(&at(after, subject), &running(before), false)
}

#[test]
fn first_apply_of_the_test_fleet() {
    let desired = at(&fleet_files(), "Add the fleet");
    insta::assert_snapshot!(plan_text(&desired, &Observed::empty(), false));
}

#[test]
fn no_changes() {
    let files = fleet_files();
    insta::assert_snapshot!(change(&files, &files, "Fix a typo in the README"));
}

#[test]
fn team_image_bump_restarts_workers_first_two_at_a_time() {
    let before = with_gamma("{maxUnavailable: 2}");
    let after = with(&before, "teams.yaml", |text| {
        text.replace("gamma:v1", "gamma:v2")
    });
    insta::assert_snapshot!(change(&before, &after, "Bump team gamma to v2"));
}

#[test]
fn leader_first_team_restarts_its_leader_first() {
    let before = with_gamma("{order: leader-first}");
    let after = with(&before, "teams.yaml", |text| {
        text.replace("gamma:v1", "gamma:v2")
    });
    insta::assert_snapshot!(change(&before, &after, "Bump team gamma to v2"));
}

#[test]
fn soul_change_is_pushed_in_place_with_a_diff() {
    let soul = |last: &str| {
        format!(
            "      model: dev-model\n      soul: |\n        You write the product's code.\n        \
             Keep changes small.\n        {last}\n        Sign off as dev-bot.\n"
        )
    };
    let before = edited("teams.yaml", |text| {
        text.replace(
            "      model: dev-model\n",
            &soul("Ask alpha-lead before a release."),
        )
    });
    let after = with(&before, "teams.yaml", |text| {
        text.replace(
            "Ask alpha-lead before a release.",
            "Ask alpha-lead and bob before a release.",
        )
    });
    insta::assert_snapshot!(change(&before, &after, "dev-bot asks bob too"));
}

#[test]
fn env_change_recreates_naming_the_variable() {
    let before = fleet_files();
    let after = edited("teams.yaml", |text| {
        text.replace("GREETING: hello", "GREETING: bonjour")
    });
    insta::assert_snapshot!(change(&before, &after, "Greet in French"));
}

#[test]
fn sensitive_env_change_never_shows_the_value() {
    let before = edited("teams.yaml", |text| {
        text.replace(
            "        GREETING: hello\n",
            "        GREETING: hello\n        DB_PASSWORD: hunter2\n",
        )
    });
    let after = with(&before, "teams.yaml", |text| {
        text.replace("hunter2", "correct-horse")
            .replace("!secret alpha-token", "!secret alpha-token-rotated")
    });
    let rendered = change(&before, &after, "Rotate alpha's credentials");
    for value in ["hunter2", "correct-horse", "alpha-token"] {
        assert!(!rendered.contains(value), "{value} shown:\n{rendered}");
    }
    insta::assert_snapshot!(rendered);
}

#[test]
fn credential_url_change_never_shows_the_value() {
    let before = edited("teams.yaml", |text| {
        text.replace(
            "        GREETING: hello\n",
            "        GREETING: hello\n        DATABASE_URL: postgres://app:hunter2@db/app\n        \
             WEBHOOK: https://hooks.example.com/in?access_token=tok-4242\n",
        )
    });
    let after = with(&before, "teams.yaml", |text| {
        text.replace("app:hunter2@db/", "app:correct-horse@db2/")
            .replace("tok-4242", "tok-5353")
    });
    let rendered = change(&before, &after, "Move alpha's database");
    for value in [
        "hunter2",
        "correct-horse",
        "tok-4242",
        "tok-5353",
        "postgres://",
    ] {
        assert!(!rendered.contains(value), "{value} shown:\n{rendered}");
    }
    insta::assert_snapshot!(rendered);
}

#[test]
fn sleep_and_wake() {
    let before = fleet_files();
    let after = edited("teams.yaml", |text| {
        text.replace("      state: Sleeping\n", "").replace(
            "      model: dev-model\n",
            "      model: dev-model\n      state: Sleeping\n",
        )
    });
    insta::assert_snapshot!(change(&before, &after, "dev-bot rests, qa works"));
}

/// The test fleet without team beta.
fn without_beta() -> Files {
    edited("teams.yaml", |text| {
        let (alpha, _beta) = text.split_at(text.find("---\n").unwrap_or(text.len()));
        alpha.to_owned()
    })
}

#[test]
fn agent_removed_from_git_is_kept_without_prune() {
    let desired = at(&without_beta(), "Retire team beta");
    insta::assert_snapshot!(plan_text(&desired, &running(&fleet_files()), false));
}

#[test]
fn agent_removed_from_git_is_deleted_with_prune() {
    let desired = at(&without_beta(), "Retire team beta");
    insta::assert_snapshot!(plan_text(&desired, &running(&fleet_files()), true));
}

#[test]
fn mass_deletion_guard_is_triggered() {
    let mut after = without_beta();
    after.retain(|(path, _)| path != "pilot.yaml");
    let desired = at(&after, "Retire team beta and the relay");
    let rendered = plan_text(&desired, &running(&fleet_files()), true);
    assert!(rendered.contains("Mass deletion"), "{rendered}");
    insta::assert_snapshot!(rendered);
}

#[test]
fn drift_outside_clawops_is_undone() {
    let files = fleet_files();
    let mut observed = running(&files);
    for agent in &mut observed.agents {
        match agent.name.as_str() {
            "hiclaw-worker-alpha-dev" => agent.status = ObservedStatus::Stopped,
            "hiclaw-worker-alpha-qa" => agent.status = ObservedStatus::Running,
            "hiclaw-worker-beta-lead" => agent.image = "hiclaw/copaw:debug".to_owned(),
            "hiclaw-worker-solo" => agent.status = ObservedStatus::Missing,
            _ => {}
        }
    }
    let desired = at(&files, "Fix a typo in the README");
    insta::assert_snapshot!(plan_text(&desired, &observed, false));
}

/// Team gamma (without an image of its own) and an ImageSet at v1, with `config` as
/// `clawops.toml`: every agent runs an image of the ImageSet.
fn fleet_on_image_set(config: &str) -> Files {
    let files = with(&with_gamma(""), "teams.yaml", |text| {
        text.replace("  image: registry.example/gamma:v1\n", "")
    });
    let files = with(&files, "images.yaml", |_| image_set("v1"));
    with(&files, "clawops.toml", |_| config.to_owned())
}

/// The plan of an ImageSet bump from v1 to v2 on `fleet_on_image_set(config)`.
fn image_set_bump(config: &str) -> String {
    let before = fleet_on_image_set(config);
    let after = with(&before, "images.yaml", |_| image_set("v2"));
    change(&before, &after, "Bump the ImageSet to v2")
}

#[test]
fn canary_team_goes_first() {
    insta::assert_snapshot!(image_set_bump("[rollout]\ncanary = [\"gamma\"]\n"));
}

#[test]
fn two_teams_upgrade_in_parallel() {
    insta::assert_snapshot!(image_set_bump("[rollout]\nteams_in_parallel = 2\n"));
}

#[test]
fn stopped_state_removes_the_container() {
    let before = fleet_files();
    let after = edited("teams.yaml", |text| {
        text.replace(
            "      model: dev-model\n",
            "      model: dev-model\n      state: Stopped\n",
        )
    });
    insta::assert_snapshot!(change(&before, &after, "Stop dev-bot"));
}

/// The fleet of `files` as the `hiclaw` target plans it (no Pilot setups there).
fn on_hiclaw(files: &[(String, String)], subject: &str) -> Desired {
    let files: Files = files
        .iter()
        .filter(|(path, _)| path != "pilot.yaml")
        .cloned()
        .collect();
    let spec = crate::desired::test_support::spec_of(&files);
    let mut desired = crate::desired::resolve(&spec);
    crate::desired::hiclaw::retarget(&spec, &mut desired);
    desired.revision = Some(Revision {
        commit: COMMIT.to_owned(),
        subject: subject.to_owned(),
    });
    desired
}

#[test]
fn hiclaw_member_changes_field_by_field_with_soul_diffs_humans_and_team_settings() {
    let before = fleet_files();
    let after = with(&before, "teams.yaml", |text| {
        text.replace(
            "model: dev-model",
            "model: dev-model-2\n      soul: |\n        You build things.\n        Carefully.",
        )
        .replace(
            "description: Builds the product.",
            "description: Builds and ships the product.",
        )
    });
    let after = with(&after, "humans.yaml", |text| {
        text.replace("displayName: Bob", "displayName: Robert")
    });
    let applied = on_hiclaw(&before, "Before");
    let observed = Observed::from_desired(&applied);
    let desired = on_hiclaw(&after, "Bob is Robert; alpha-dev gets a soul");
    insta::assert_snapshot!(plan_text(&desired, &observed, false));
}
