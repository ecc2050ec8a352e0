//! Pilot setups deployed the whole way on a real Docker Engine, end to end through the
//! CLI: `examples/multi-region-content-sync` on an image carrying the `pilotctl` and
//! `clawhub` stand-ins of `tests/pilot_tools/`, beside a Pilot registry stand-in on the
//! fleet network that keeps every node's hostname, pending requests and trust.
#![cfg(feature = "docker")]

mod docker_support;
mod support;

use docker_support::{BASE_IMAGE, Fleet, PILOT_IMAGE, docker, fleet};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use support::{Repo, clawops, example};

/// The Pilot registry stand-in of one test, removed when dropped.
struct Registry {
    name: String,
}

impl Registry {
    /// Starts the registry on the fleet's network (created here, before clawops finds it).
    fn start(fleet: &Fleet) -> Self {
        let network = format!("{}-net", fleet.name);
        docker(&["network", "create", &network]).expect("network");
        let name = format!("{}-pilot-registry", fleet.name);
        docker(&[
            "run",
            "-d",
            "--name",
            &name,
            "--network",
            &network,
            PILOT_IMAGE,
            "httpd",
            "-f",
            "-p",
            "8080",
            "-h",
            "/www",
        ])
        .expect("registry starts");
        Self { name }
    }

    /// `host:port` the agents reach it at.
    fn address(&self) -> String {
        format!("{}:8080", self.name)
    }

    /// Runs a shell command in the registry.
    fn sh(&self, script: &str) -> String {
        docker(&["exec", &self.name, "sh", "-c", script]).expect("registry command")
    }

    /// How many trust entries the registry holds (each mutual pair is two).
    fn trust_entries(&self) -> usize {
        self.sh("ls /registry/trust/*/ | grep -c -v -e ':$' -e '^$' || true")
            .trim()
            .parse()
            .expect("a count")
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = docker(&["rm", "-f", &self.name]);
    }
}

/// The example as a repository of `fleet`, every role on `image` reaching `registry`.
fn setup_repository(fleet: &str, image: &str, registry: &str, timeout: &str) -> Repo {
    let repository = Repo::new("pilot");
    repository.copy_folder(&example("multi-region-content-sync"), "");
    repository.write(
        "clawops.toml",
        format!(
            "[fleet]\nname = \"{fleet}\"\nprefix = \"{fleet}-\"\n\n[docker]\nnetwork = \"{fleet}-net\"\n\n[rollout]\nhealth_timeout = \"{timeout}\"\n"
        ),
    );
    repository.write("pilot-setup.yaml", setup(image, registry, ""));
    repository.commit("the example on the test image");
    repository
}

/// The example's setup with each role's agent on `image` and `extra` appended to the spec.
fn setup(image: &str, registry: &str, extra: &str) -> String {
    let text =
        std::fs::read_to_string(example("multi-region-content-sync").join("pilot-setup.yaml"))
            .expect("example");
    let agent = "      agent:\n        model: qwen3.5-plus\n        runtime: openclaw\n";
    assert!(text.contains(agent));
    let placed = format!(
        "{agent}        image: {image}\n        env:\n          PILOT_REGISTRY: \"{registry}\"\n"
    );
    format!("{}{extra}", text.replace(agent, &placed))
}

/// A file in a role's container (empty when it does not exist).
fn read(container: &str, path: &str) -> String {
    docker(&[
        "exec",
        container,
        "sh",
        "-c",
        &format!("cat {path} 2>/dev/null || true"),
    ])
    .expect("exec")
}

const ROLES: [&str; 4] = ["origin", "edge-us", "edge-eu", "edge-asia"];

#[tokio::test(flavor = "multi_thread")]
async fn the_example_deploys_the_whole_way_and_a_no_op_runs_nothing() {
    let Some(fleet) = fleet().await else { return };
    let registry = Registry::start(&fleet);
    let name = fleet.name.clone();
    let repository = setup_repository(&name, PILOT_IMAGE, &registry.address(), "40s");
    let container = |role: &str| format!("{name}-worker-acme-{role}");

    clawops()
        .args(["plan"])
        .arg(repository.path())
        .assert()
        .success()
        .stdout(contains("bootstrap pilot").and(contains("4 Pilot roles to bootstrap")));
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success()
        .stdout(contains("Apply complete"));
    // Every skill installed once per role, one slug per call, into the agent's home.
    let origin_installs = read(&container("origin"), "/tmp/clawhub.log");
    assert_eq!(
        origin_installs.lines().collect::<Vec<_>>(),
        [
            "pilot-sync",
            "pilot-share",
            "pilot-broadcast",
            "pilot-heartbeat-monitor"
        ]
        .map(|slug| format!("--workdir /root/hiclaw-fs/agents/acme-origin install {slug}")),
    );
    for role in ROLES {
        let installs = read(&container(role), "/tmp/clawhub.log");
        assert_eq!(installs.lines().count(), 4, "{role}: {installs}");
        let lock = read(
            &container(role),
            &format!("/root/hiclaw-fs/agents/acme-{role}/.clawhub/lock.json"),
        );
        assert!(lock.contains("\"pilot-sync\""), "{role}: {lock}");
    }
    // Four hostnames, three mutual pairs (six trust entries): origin with every edge.
    let hostnames = registry.sh("ls /registry/hostnames");
    assert_eq!(
        hostnames.lines().collect::<Vec<_>>(),
        [
            "acme-edge-asia",
            "acme-edge-eu",
            "acme-edge-us",
            "acme-origin"
        ]
    );
    assert_eq!(registry.trust_entries(), 6);
    let origin_trust =
        docker(&["exec", &container("origin"), "pilotctl", "--json", "trust"]).expect("trust");
    assert_eq!(origin_trust.matches("\"mutual\":true").count(), 3);

    // A no-op: the plan is empty and the apply runs no command in any role.
    let calls = |role: &str| {
        read(&container(role), "/tmp/pilotctl.log").lines().count()
            + read(&container(role), "/tmp/clawhub.log").lines().count()
    };
    let before: Vec<usize> = ROLES.iter().map(|role| calls(role)).collect();
    clawops()
        .args(["plan", "--detailed-exitcode"])
        .arg(repository.path())
        .assert()
        .code(0)
        .stdout(contains("No changes."));
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    let after: Vec<usize> = ROLES.iter().map(|role| calls(role)).collect();
    assert_eq!(
        before, after,
        "a no-op apply runs no pilotctl or clawhub call"
    );

    // Status shows each role's hostname, skills and trusted peers.
    clawops()
        .args(["status"])
        .arg(repository.path())
        .assert()
        .success()
        .stdout(
            contains("acme-origin")
                .and(contains("pilot-broadcast"))
                .and(contains("acme-edge-us, acme-edge-eu, acme-edge-asia")),
        );

    // A changed skill list installs and uninstalls only the difference, on that role only.
    let changed = setup(PILOT_IMAGE, &registry.address(), "").replacen(
        "        pilot-broadcast: 同时向所有边缘广播内容更新事件。\n",
        "        pilot-archive: 归档内容版本。\n",
        1,
    );
    repository.write("pilot-setup.yaml", changed);
    repository.commit("origin archives instead of broadcasting");
    let edge_calls: Vec<usize> = ROLES[1..].iter().map(|role| calls(role)).collect();
    let origin_before = read(&container("origin"), "/tmp/clawhub.log")
        .lines()
        .count();
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success()
        .stdout(contains("+pilot-archive -pilot-broadcast"));
    let origin_log = read(&container("origin"), "/tmp/clawhub.log");
    assert_eq!(
        origin_log.lines().skip(origin_before).collect::<Vec<_>>(),
        [
            "--workdir /root/hiclaw-fs/agents/acme-origin uninstall pilot-broadcast --yes",
            "--workdir /root/hiclaw-fs/agents/acme-origin install pilot-archive",
        ]
    );
    let edge_after: Vec<usize> = ROLES[1..].iter().map(|role| calls(role)).collect();
    assert_eq!(edge_calls, edge_after, "the edges run nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_peer_that_resolves_late_is_retried_and_one_that_never_comes_is_named() {
    let Some(fleet) = fleet().await else { return };
    let registry = Registry::start(&fleet);
    // New hostnames take three seconds to resolve: the first handshakes must be retried.
    registry.sh("echo 3 > /registry/.find-delay");
    let name = fleet.name.clone();
    let repository = setup_repository(&name, PILOT_IMAGE, &registry.address(), "40s");
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    let origin = format!("{name}-worker-acme-origin");
    let finds = read(&origin, "/tmp/pilotctl.log")
        .lines()
        .filter(|line| *line == "--json find acme-edge-us")
        .count();
    assert!(
        finds >= 2,
        "the peer was looked up again after it did not resolve"
    );
    assert_eq!(registry.trust_entries(), 6);

    // A fleet whose edge never registers: the gate fails within its timeout, naming it.
    let Some(second) = docker_support::fleet().await else {
        return;
    };
    let registry = Registry::start(&second);
    registry.sh("mkdir -p /registry/.hidden && touch /registry/.hidden/acme-edge-eu");
    let repository = setup_repository(&second.name, PILOT_IMAGE, &registry.address(), "5s");
    let output = clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .failure();
    let text = combined(&output);
    assert!(text.contains("acme-edge-eu (not registered)"), "{text}");
}

/// Stdout and stderr of a finished command.
fn combined(assert: &assert_cmd::assert::Assert) -> String {
    let output = assert.get_output();
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn an_image_without_the_tools_fails_its_bootstrap_unless_it_is_left_to_the_agent() {
    let Some(fleet) = fleet().await else { return };
    let name = fleet.name.clone();
    let repository = setup_repository(&name, BASE_IMAGE, "nowhere:8080", "20s");
    repository.write(
        "pilot-setup.yaml",
        setup(BASE_IMAGE, "nowhere:8080", "  bootstrap: false\n"),
    );
    repository.commit("leave the bootstrap to the agents");
    clawops()
        .args(["plan"])
        .arg(repository.path())
        .assert()
        .success()
        .stdout(contains("left to the agent").and(contains("bootstrap pilot").not()));
    clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .success();
    clawops()
        .args(["plan", "--detailed-exitcode"])
        .arg(repository.path())
        .assert()
        .code(0);

    // clawops runs the bootstrap again: the image has neither tool, so it fails, saying so.
    repository.write("pilot-setup.yaml", setup(BASE_IMAGE, "nowhere:8080", ""));
    repository.commit("clawops bootstraps the roles");
    let output = clawops()
        .args(["apply", "--yes"])
        .arg(repository.path())
        .assert()
        .failure();
    let text = combined(&output);
    assert!(
        text.contains("has no pilotctl") && text.contains("bootstrap: false"),
        "{text}"
    );
}
