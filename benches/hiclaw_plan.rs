//! Benchmark: a no-op `clawops plan --backend hiclaw` of the 1,000-team fleet (11,000
//! agents) against the simulated HiClaw controller over the Kubernetes transport. No other
//! tool plans a HiClaw fleet from git, so it runs beside `clawops validate` of the same
//! repository (the floor: reading, checking and resolving the fleet) in one hyperfine run.
//! Peak memory by GNU time; the requests the plan made are counted from the simulator's
//! log (one paginated list per kind, not one request per object).
//!
//! Run: `benches/hiclaw.sh` (generates the fleet, builds the release binary, runs this).
//! Target (issue 13): at most 1.5 s and 400 MiB.

#![allow(clippy::print_stdout)] // a benchmark reports on stdout

#[path = "../tests/kubernetes_support/mod.rs"]
#[allow(unused_imports)]
mod kubernetes_support;

use std::process::Command;
use std::time::Duration;

use clawops::backend::hiclaw::model::{Kind, ObjectId};
use clawops::backend::hiclaw::objects::desired_objects;
use clawops::spec::config::BackendKind;
use reqwest::Method;
use serde_json::json;

const CONTROLLER: &str = "hiclaw-controller";

fn main() {
    let fleet = std::env::var("CLAWOPS_BENCH_FLEET")
        .unwrap_or_else(|_| "benches/.work/fleet-1000x10".to_owned());
    let binary = std::env::var("CLAWOPS_BENCH_BINARY")
        .unwrap_or_else(|_| "target/release/clawops".to_owned());
    let mut options = clawops::source::SourceOptions::new(&fleet);
    options.worktree = true;
    let loaded =
        clawops::engine::load(&options, Some(BackendKind::Hiclaw)).expect("the fleet loads");
    let sim = kubernetes_support::hiclaw_http::sim("bench", CONTROLLER, Duration::from_millis(1));
    let objects = desired_objects(&loaded.desired, "hiclaw", CONTROLLER);
    let mut ids = Vec::new();
    for object in &objects {
        let kind = object["kind"].as_str().expect("kind");
        let name = object["metadata"]["name"].as_str().expect("name");
        let plural = Kind::from_name(kind).expect("a HiClaw kind").plural();
        let url = format!(
            "{}{}?fieldManager=clawops&force=true",
            sim.kube,
            kubernetes_support::hiclaw_path(plural, name)
        );
        let (code, answer) = sim.send(
            Method::PATCH,
            &url,
            Some(object),
            &[("content-type", "application/apply-patch+yaml")],
        );
        assert_eq!(code, 200, "{answer}");
        ids.push(ObjectId::new(Kind::from_name(kind).expect("kind"), name).to_string());
    }
    let inventory = format!("clawops-hiclaw-{}", loaded.desired.fleet);
    let config_map = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": inventory, "namespace": "hiclaw"},
        "data": {"objects": serde_json::to_string(&ids).expect("ids")}});
    let url = format!(
        "{}{}?fieldManager=clawops&force=true",
        sim.kube,
        kubernetes_support::object_path("v1", "configmaps", &inventory)
    );
    let (code, answer) = sim.send(
        Method::PATCH,
        &url,
        Some(&config_map),
        &[("content-type", "application/apply-patch+yaml")],
    );
    assert_eq!(code, 200, "{answer}");
    std::thread::sleep(Duration::from_millis(50));
    println!(
        "seeded {} objects ({} agents)",
        objects.len(),
        loaded.desired.agents.len()
    );

    let home = tempfile::tempdir().expect("home");
    let kubeconfig = sim.api.serve(home.path());
    let kubeconfig = kubeconfig.to_str().expect("path");
    sim.api.clear_requests();
    if std::env::var_os("CLAWOPS_BENCH_HOLD").is_some() {
        println!("KUBECONFIG={kubeconfig}");
        std::thread::sleep(Duration::from_secs(3000));
    }
    let status = Command::new(&binary)
        .args(["plan", "--backend", "hiclaw", "--detailed-exitcode", &fleet])
        .env("KUBECONFIG", kubeconfig)
        .status()
        .expect("clawops runs");
    assert_eq!(status.code(), Some(0), "the plan is a no-op");
    let requests = sim.api.requests();
    println!(
        "one no-op plan made {} requests to the API server: {:?}",
        requests.len(),
        requests
            .iter()
            .map(|request| request.line())
            .collect::<Vec<_>>()
    );
    let plan = format!("KUBECONFIG={kubeconfig} {binary} plan --backend hiclaw {fleet}");
    let validate = format!("{binary} validate {fleet}");
    let hyperfine = Command::new("hyperfine")
        .args(["--warmup", "1", "--runs", "10", "-n"])
        .arg("clawops plan --backend hiclaw (no-op, 11,000 agents)")
        .arg(&plan)
        .arg("-n")
        .arg("clawops validate (the floor)")
        .arg(&validate)
        .status()
        .expect("hyperfine runs (apt-get install hyperfine)");
    assert!(hyperfine.success());
    let timed = Command::new("/usr/bin/time")
        .args(["-f", "%M", &binary, "plan", "--backend", "hiclaw", &fleet])
        .env("KUBECONFIG", kubeconfig)
        .output()
        .expect("GNU time runs (apt-get install time)");
    let peak = String::from_utf8_lossy(&timed.stderr);
    let kib: u64 = peak
        .lines()
        .last()
        .and_then(|line| line.trim().parse().ok())
        .unwrap_or(0);
    println!(
        "clawops plan --backend hiclaw peak memory: {} MiB",
        kib / 1024
    );
}
