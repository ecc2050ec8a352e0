//! `clawops render --backend kubernetes` end to end: both examples (and a fleet with
//! secrets) render to manifests that the real Kubernetes schemas accept
//! (`kubernetes-validate --strict`, from PyPI, against 1.33 and the newest it knows), and
//! no sensitive value is printed. `.ci/run` installs the validator; without it these tests
//! fail under `CI` and say so elsewhere.
#![cfg(feature = "kubernetes")]

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use support::kubernetes_validate::validate;
use support::{clawops, copy_recursively, example};

/// `clawops render --backend kubernetes` of `source`.
fn render(source: &Path) -> String {
    let output = clawops()
        .args(["render", "--backend", "kubernetes"])
        .arg(source)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(output).expect("utf-8")
}

/// How many documents of each kind.
fn kinds(manifests: &str) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for line in manifests.lines() {
        if let Some(kind) = line.strip_prefix("kind: ") {
            *kinds.entry(kind.to_owned()).or_insert(0) += 1;
        }
    }
    kinds
}

#[test]
fn the_hiclaw_fleet_example_renders_to_valid_manifests() {
    let manifests = render(&example("hiclaw-fleet"));
    validate(&manifests, "hiclaw-fleet");
    let kinds = kinds(&manifests);
    for kind in ["ServiceAccount", "Secret", "ConfigMap", "Deployment"] {
        assert_eq!(kinds.get(kind), Some(&10), "{kind}: {kinds:?}");
    }
    assert_eq!(kinds.get("NetworkPolicy"), Some(&2), "one per team");
    assert_eq!(kinds.get("Role"), Some(&2), "one per team admin");
    assert_eq!(kinds.get("Namespace"), Some(&1));
    assert!(manifests.contains("app: hiclaw-manager"));
    assert!(manifests.contains("automountServiceAccountToken: false"));
}

#[test]
fn the_pilot_example_renders_to_valid_manifests() {
    let manifests = render(&example("multi-region-content-sync"));
    validate(&manifests, "multi-region-content-sync");
    assert!(
        kinds(&manifests)
            .get("Deployment")
            .is_some_and(|count| *count > 1)
    );
    assert!(manifests.contains("hiclaw.io/role: pilot"));
}

#[test]
fn secrets_are_referenced_never_printed() {
    let folder = edited_example(
        "workers/scout.yaml",
        "    SCOUT_INTERVAL: 1h\n",
        "    SCOUT_INTERVAL: 1h\n    SEARCH_API_TOKEN: tok-literal-4242\n    SEARCH_PASSWORD: !secret search-password\n",
    );
    let manifests = render(folder.path());
    validate(&manifests, "secrets");
    assert!(
        !manifests.contains("tok-literal-4242"),
        "a literal secret leaked"
    );
    let encoded = serde_json::to_value(k8s_openapi::ByteString(b"tok-literal-4242".to_vec()))
        .expect("base64");
    let encoded = encoded.as_str().expect("text");
    assert!(
        !manifests.contains(encoded),
        "a literal secret leaked, base64-encoded"
    );
    assert!(manifests.contains("name: clawops-secrets"));
    assert!(manifests.contains("key: search-password"));
    assert!(manifests.contains("key: env.SEARCH_API_TOKEN"));
}

#[test]
fn credentials_in_values_are_referenced_never_printed() {
    let folder = edited_example(
        "workers/scout.yaml",
        "    SCOUT_INTERVAL: 1h\n",
        "    SCOUT_INTERVAL: 1h\n    DATABASE_URL: postgres://scout:pw-4242@db/scout\n    \
         FEED_URL: https://feeds.example.com/in?access_token=tok-4242\n    \
         DOCS_URL: https://docs.example.com/scout\n",
    );
    let manifests = render(folder.path());
    validate(&manifests, "credentials");
    for leak in ["pw-4242", "tok-4242", "postgres://"] {
        assert!(!manifests.contains(leak), "{leak} printed:\n{manifests}");
    }
    assert!(manifests.contains("key: env.DATABASE_URL"));
    assert!(manifests.contains("key: env.FEED_URL"));
    assert!(
        manifests.contains("value: https://docs.example.com/scout"),
        "a plain URL stays inline"
    );
}

#[test]
fn an_agents_own_resources_replace_the_defaults() {
    let folder = edited_example(
        "workers/scout.yaml",
        "  env:\n",
        "  resources:\n    requests: {cpu: 2, memory: 1Gi}\n    limits: {memory: 4Gi}\n  env:\n",
    );
    let manifests = render(folder.path());
    validate(&manifests, "resources");
    let scout = manifests
        .split("\n---\n")
        .find(|document| {
            document.contains("kind: Deployment")
                && document.contains("name: hiclaw-worker-scout\n")
        })
        .expect("scout's Deployment");
    let resources = &scout[scout.find("resources:").expect("resources")..];
    let limits = &resources[resources.find("limits:").expect("limits")
        ..resources.find("requests:").expect("requests")];
    let requests = &resources[resources.find("requests:").expect("requests")..];
    assert!(
        limits.contains("cpu: '2'") || limits.contains("cpu: \"2\""),
        "the limit follows a request above the default: {limits}"
    );
    assert!(limits.contains("memory: 4Gi"), "{limits}");
    assert!(requests.contains("memory: 1Gi"), "{requests}");
}

#[test]
fn the_rollout_probe_is_the_containers_readiness_probe() {
    let folder = edited_example(
        "clawops.toml",
        "on_failure = \"halt\"\n",
        "on_failure = \"halt\"\nprobe = { exec = [\"test\", \"-f\", \"/tmp/ready\"] }\n",
    );
    let manifests = render(folder.path());
    validate(&manifests, "probe");
    let deployments: Vec<&str> = manifests
        .split("\n---\n")
        .filter(|document| document.contains("kind: Deployment"))
        .collect();
    assert!(!deployments.is_empty());
    for deployment in deployments {
        assert!(deployment.contains("readinessProbe:"), "{deployment}");
        assert!(deployment.contains("- /tmp/ready"), "{deployment}");
    }
}

/// The rendered documents, parsed.
fn documents(manifests: &str) -> Vec<serde_json::Value> {
    serde_saphyr::from_multiple(manifests).expect("the render is YAML")
}

/// The object of `kind` named `name`.
fn object<'a>(documents: &'a [serde_json::Value], kind: &str, name: &str) -> &'a serde_json::Value {
    documents
        .iter()
        .find(|document| document["kind"] == kind && document["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name}"))
}

#[test]
fn agents_are_realized_as_the_design_says() {
    let folder = edited_example(
        "images.yaml",
        "pullPolicy: IfNotPresent",
        "pullPolicy: Always",
    );
    let documents = documents(&render(folder.path()));
    let dev = object(&documents, "Deployment", "hiclaw-worker-alpha-dev");
    let pod = &dev["spec"]["template"];
    let labels = &pod["metadata"]["labels"];
    assert_eq!(labels["hiclaw.io/worker"], "alpha-dev");
    assert_eq!(labels["hiclaw.io/role"], "worker");
    assert_eq!(labels["hiclaw.io/runtime"], "openclaw");
    let container = &pod["spec"]["containers"][0];
    assert_eq!(container["imagePullPolicy"], "Always", "from the ImageSet");
    let env = container["env"].as_array().expect("env");
    assert!(env.iter().any(
        |variable| variable["name"] == "HICLAW_WORKER_NAME" && variable["value"] == "alpha-dev"
    ));
    let home = "/root/hiclaw-fs/agents/alpha-dev";
    let mount = &container["volumeMounts"][0];
    assert_eq!(
        (mount["name"].as_str(), mount["mountPath"].as_str()),
        (Some("workspace"), Some(home))
    );
    assert_eq!(
        pod["spec"]["volumes"][0]["configMap"]["name"],
        "hiclaw-worker-alpha-dev-workspace"
    );
    let account = object(&documents, "ServiceAccount", "hiclaw-worker-alpha-dev");
    assert_eq!(account["automountServiceAccountToken"], false);

    let manager = object(&documents, "Deployment", "hiclaw-manager");
    assert_eq!(
        manager["spec"]["template"]["metadata"]["labels"]["app"],
        "hiclaw-manager"
    );
    assert_eq!(
        manager["spec"]["template"]["metadata"]["labels"]["hiclaw.io/manager"],
        "default"
    );

    let services: Vec<&serde_json::Value> = documents
        .iter()
        .filter(|document| document["kind"] == "Service")
        .collect();
    assert_eq!(
        services.len(),
        1,
        "only the agent that exposes ports has a Service"
    );
    assert!(services[0]["spec"]["ports"][0]["port"].is_number());

    let sleeping = object(&documents, "Deployment", "hiclaw-worker-alpha-qa");
    assert_eq!(sleeping["spec"]["replicas"], 0);
    assert_eq!(dev["spec"]["replicas"], 1);

    let debug = object(&documents, "Deployment", "hiclaw-worker-alpha-debug");
    let mounts = debug["spec"]["template"]["spec"]["containers"][0]["volumeMounts"]
        .as_array()
        .expect("mounts");
    let targets: Vec<&serde_json::Value> = mounts
        .iter()
        .filter(|mount| {
            mount["mountPath"]
                .as_str()
                .is_some_and(|path| path.starts_with("/root/debug/workspaces/"))
        })
        .collect();
    assert!(!targets.is_empty(), "the DebugWorker mounts its targets");
    assert!(
        targets.iter().all(|mount| mount["readOnly"] == true),
        "read-only: {targets:?}"
    );
}

#[test]
fn render_needs_the_kubernetes_backend() {
    clawops()
        .arg("render")
        .arg(example("hiclaw-fleet"))
        .assert()
        .code(1)
        .stderr(predicates::str::contains("--backend kubernetes"));
}

/// The hiclaw-fleet example in a temporary folder, with `from` replaced by `to` in `file`.
fn edited_example(file: &str, from: &str, to: &str) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("temp folder");
    copy_recursively(&example("hiclaw-fleet"), folder.path());
    let path = folder.path().join(file);
    let text = std::fs::read_to_string(&path).expect("example file");
    assert!(text.contains(from), "{file} has {from:?}");
    std::fs::write(&path, text.replace(from, to)).expect("write example file");
    folder
}
