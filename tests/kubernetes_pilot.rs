//! Pilot setups on Kubernetes at the HTTP level: `clawops apply --backend kubernetes` of
//! `examples/multi-region-content-sync` runs each role's bootstrap through the pods `exec`
//! subresource of the simulated API server (a WebSocket on the channel protocol), whose
//! pods answer `clawhub` and `pilotctl` from a small model of a Pilot network.
#![cfg(feature = "kubernetes")]

mod kubernetes_support;
mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use kubernetes_support::{FakeApi, object_path};
use predicates::str::contains;
use support::{clawops, example};

/// Hostnames by pod, and the handshakes sent (from hostname, to node id).
#[derive(Default)]
struct Network {
    hostnames: BTreeMap<String, String>,
    handshakes: BTreeSet<(String, String)>,
}

/// A `pilotctl --json` answer.
fn ok(data: &str) -> (i64, String) {
    (0, format!("{{\"status\":\"ok\",\"data\":{data}}}"))
}

/// How a pod answers `command` on `network`.
fn answer(network: &Mutex<Network>, pod: &str, command: &[String]) -> (i64, String) {
    let mut network = network.lock().expect("network");
    let words: Vec<&str> = command.iter().map(String::as_str).collect();
    let node_of = |hostname: &str| format!("n-{hostname}");
    match words.as_slice() {
        ["sh", "-c", _] | ["clawhub", ..] => (0, String::new()),
        ["cat", _] => (1, "no lock file".to_owned()),
        ["pilotctl", "--json", "set-hostname", hostname] => {
            network
                .hostnames
                .insert(pod.to_owned(), (*hostname).to_owned());
            ok(&format!("{{\"hostname\":\"{hostname}\"}}"))
        }
        ["pilotctl", "--json", "find", hostname] => {
            if network.hostnames.values().any(|known| known == hostname) {
                ok(&format!("{{\"node_id\":\"{}\"}}", node_of(hostname)))
            } else {
                (
                    1,
                    r#"{"status":"error","code":"not_found","message":"no node"}"#.to_owned(),
                )
            }
        }
        ["pilotctl", "--json", "handshake", node, _reason] => {
            let from = network.hostnames.get(pod).cloned().unwrap_or_default();
            network.handshakes.insert((from, (*node).to_owned()));
            ok(r#"{"status":"pending"}"#)
        }
        ["pilotctl", "--json", "pending"] => ok(r#"{"pending":[]}"#),
        ["pilotctl", "--json", "info"] => {
            let hostname = network.hostnames.get(pod).cloned().unwrap_or_default();
            ok(&format!("{{\"hostname\":\"{hostname}\"}}"))
        }
        ["pilotctl", "--json", "trust"] => {
            let me = network.hostnames.get(pod).cloned().unwrap_or_default();
            let mutual: Vec<String> = network
                .hostnames
                .values()
                .filter(|peer| {
                    network.handshakes.contains(&(me.clone(), node_of(peer)))
                        && network
                            .handshakes
                            .contains(&((*peer).clone(), node_of(&me)))
                })
                .map(|peer| format!("{{\"node_id\":\"{}\",\"mutual\":true}}", node_of(peer)))
                .collect();
            ok(&format!("{{\"trusted\":[{}]}}", mutual.join(",")))
        }
        _ => (127, format!("unexpected command {words:?}")),
    }
}

#[test]
fn the_example_bootstraps_through_the_exec_subresource_and_a_no_op_execs_nothing() {
    let home = tempfile::tempdir().expect("home");
    let api = FakeApi::new();
    let network = Arc::new(Mutex::new(Network::default()));
    let model = Arc::clone(&network);
    api.on_exec(move |pod, command| answer(&model, pod, command));
    let kubeconfig = api.serve(home.path());
    let fleet = example("multi-region-content-sync");
    let clawops_here = || {
        let mut command = clawops();
        command
            .env("HOME", home.path())
            .env("KUBECONFIG", &kubeconfig);
        command
    };
    clawops_here()
        .args(["apply", "--backend", "kubernetes", "--yes"])
        .arg(&fleet)
        .assert()
        .success()
        .stdout(contains("Apply complete"));

    let execs = api.execs();
    assert!(
        execs.iter().all(|exec| exec.container == "worker"
            && exec.streams == "stdin= stdout=true stderr=true tty="),
        "{execs:?}"
    );
    let origin = "hiclaw-worker-acme-origin-pod";
    let installs: Vec<&str> = execs
        .iter()
        .filter(|exec| exec.pod == origin && exec.command[0] == "clawhub")
        .map(|exec| exec.command.last().expect("slug").as_str())
        .collect();
    assert_eq!(
        installs,
        [
            "pilot-sync",
            "pilot-share",
            "pilot-broadcast",
            "pilot-heartbeat-monitor"
        ]
    );
    let network_now = network.lock().expect("network");
    assert_eq!(network_now.hostnames.len(), 4);
    assert_eq!(
        network_now.handshakes.len(),
        6,
        "origin ↔ each of three edges"
    );
    drop(network_now);
    let deployment = api
        .object(&object_path(
            "apps/v1",
            "deployments",
            "hiclaw-worker-acme-origin",
        ))
        .expect("deployment");
    let record = deployment["metadata"]["annotations"]["clawops.dev/pilot"]
        .as_str()
        .expect("the completed bootstrap is recorded");
    assert!(record.contains("pilot-broadcast"), "{record}");

    // A no-op: nothing to plan, nothing run in any pod.
    let before = api.execs().len();
    clawops_here()
        .args(["plan", "--backend", "kubernetes", "--detailed-exitcode"])
        .arg(&fleet)
        .assert()
        .code(0);
    clawops_here()
        .args(["apply", "--backend", "kubernetes", "--yes"])
        .arg(&fleet)
        .assert()
        .success();
    assert_eq!(api.execs().len(), before, "a no-op apply execs nothing");

    clawops_here()
        .args(["status", "--backend", "kubernetes"])
        .arg(&fleet)
        .assert()
        .success()
        .stdout(contains("acme-edge-us, acme-edge-eu, acme-edge-asia"));
}
