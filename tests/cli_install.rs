//! `clawops install kubernetes --export` end to end: the objects validate against the
//! real Kubernetes schemas (`kubernetes-validate --strict`, installed by `.ci/run`; a
//! missing validator fails under `CI`), the flags land where they should, and the RBAC
//! is the one docs/kubernetes.md documents and covers every call the Kubernetes backend
//! makes (read from its source), so a new call without its right fails here.
#![cfg(feature = "kubernetes")]

mod support;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use support::kubernetes_validate::validate;
use support::{clawops, example, project_root};

const REMOTE: &str = "https://github.com/acme/fleet-config.git";

/// The export's stdout for `args` (after `install kubernetes --export`).
fn export(args: &[&str]) -> String {
    let output = clawops()
        .args(["install", "kubernetes", "--export"])
        .args(args)
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    String::from_utf8(output).expect("utf-8")
}

fn documents(yaml: &str) -> Vec<Value> {
    serde_saphyr::from_multiple(yaml).expect("the export is YAML")
}

/// The one document of `kind` (and `name`, when given).
fn find<'a>(documents: &'a [Value], kind: &str, name: Option<&str>) -> &'a Value {
    let found: Vec<&Value> = documents
        .iter()
        .filter(|document| document["kind"] == kind)
        .filter(|document| name.is_none_or(|name| document["metadata"]["name"] == name))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} {name:?}");
    found[0]
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// `(group, resource) → verbs` of a list of PolicyRules.
fn rights(rules: &Value) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut rights: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for rule in rules.as_array().expect("rules") {
        for group in strings(&rule["apiGroups"]) {
            for resource in strings(&rule["resources"]) {
                rights
                    .entry((group.to_owned(), resource.to_owned()))
                    .or_default()
                    .extend(strings(&rule["verbs"]).into_iter().map(str::to_owned));
            }
        }
    }
    rights
}

fn allows(
    rights: &BTreeMap<(String, String), BTreeSet<String>>,
    group: &str,
    resource: &str,
    verb: &str,
) -> bool {
    rights
        .get(&(group.to_owned(), resource.to_owned()))
        .is_some_and(|verbs| verbs.contains(verb))
}

#[test]
fn the_kubernetes_export_validates_and_runs_one_hardened_daemon() {
    let yaml = export(&["--remote", REMOTE]);
    validate(&yaml, "install-kubernetes");
    let documents = documents(&yaml);
    let kinds: Vec<&str> = documents
        .iter()
        .filter_map(|document| document["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "Namespace",
            "ServiceAccount",
            "ClusterRole",
            "ClusterRoleBinding",
            "Role",
            "RoleBinding",
            "Service",
            "Deployment"
        ]
    );
    assert!(
        !kinds.contains(&"Secret"),
        "no secret value is ever written"
    );
    let deployment = find(&documents, "Deployment", Some("clawops"));
    check_deployment(deployment);
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    check_arguments(&strings(&container["args"]));
    check_secret_references(deployment);
    check_service(find(&documents, "Service", Some("clawops")), deployment);
}

/// One replica, replaced not rolled, non-root and locked down, probed on /healthz.
fn check_deployment(deployment: &Value) {
    assert_eq!(deployment["metadata"]["namespace"], "clawops-system");
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(deployment["spec"]["strategy"]["type"], "Recreate");
    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "clawops");
    assert_eq!(pod["automountServiceAccountToken"], true);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(pod["securityContext"]["runAsUser"], 10001);
    let container = &pod["containers"][0];
    assert_eq!(
        container["image"],
        format!("ghcr.io/clawops/clawops:v{}", env!("CARGO_PKG_VERSION"))
    );
    let security = &container["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["runAsUser"], 10001);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(security["seccompProfile"]["type"], "RuntimeDefault");
    for probe in ["livenessProbe", "readinessProbe"] {
        assert_eq!(container[probe]["httpGet"]["path"], "/healthz", "{probe}");
        assert_eq!(container[probe]["httpGet"]["port"], "http", "{probe}");
    }
    assert_eq!(container["ports"][0]["containerPort"], 9090);
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
}

/// The daemon's command line.
fn check_arguments(args: &[&str]) {
    assert_eq!(&args[..2], ["watch", REMOTE]);
    let flag = |name: &str| {
        args.iter()
            .position(|arg| *arg == name)
            .and_then(|at| args.get(at + 1).copied())
    };
    assert_eq!(flag("--listen"), Some("0.0.0.0:9090"));
    assert_eq!(
        flag("--webhook-secret-file"),
        Some("/etc/clawops/webhook/secret")
    );
    assert_eq!(flag("--cache-dir"), Some("/var/cache/clawops"));
    assert_eq!(flag("--backend"), Some("kubernetes"));
    assert_eq!(flag("--branch"), Some("main"));
}

/// The cache is an emptyDir where --cache-dir points; the webhook secret and the GitHub
/// token are optional references; no value is written.
fn check_secret_references(deployment: &Value) {
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    // The cache is an emptyDir where --cache-dir points; the webhook secret an optional
    // reference mounted where --webhook-secret-file points.
    let volumes = pod["volumes"].as_array().expect("volumes");
    let volume = |name: &str| {
        volumes
            .iter()
            .find(|volume| volume["name"] == name)
            .unwrap_or_else(|| panic!("volume {name}"))
    };
    assert!(volume("cache")["emptyDir"].is_object());
    let webhook = &volume("webhook")["secret"];
    assert_eq!(webhook["secretName"], "clawops-webhook");
    assert_eq!(webhook["optional"], true);
    assert_eq!(webhook["items"][0]["key"], "secret");
    let mounts = container["volumeMounts"].as_array().expect("mounts");
    let mounted = |name: &str| {
        mounts
            .iter()
            .find(|mount| mount["name"] == name)
            .and_then(|mount| mount["mountPath"].as_str())
    };
    assert_eq!(mounted("cache"), Some("/var/cache/clawops"));
    assert_eq!(mounted("webhook"), Some("/etc/clawops/webhook"));
    let token = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .find(|env| env["name"] == "GITHUB_TOKEN")
        .expect("GITHUB_TOKEN");
    assert_eq!(token["valueFrom"]["secretKeyRef"]["name"], "clawops-github");
    assert_eq!(token["valueFrom"]["secretKeyRef"]["key"], "token");
    assert_eq!(token["valueFrom"]["secretKeyRef"]["optional"], true);
}

/// ClusterIP, `http` and `metrics` ports on the container's one port, the daemon's labels.
fn check_service(service: &Value, deployment: &Value) {
    assert_eq!(service["spec"]["type"], "ClusterIP");
    let ports = service["spec"]["ports"].as_array().expect("ports");
    let names: Vec<&str> = ports
        .iter()
        .filter_map(|port| port["name"].as_str())
        .collect();
    assert_eq!(names, ["http", "metrics"]);
    assert!(ports.iter().all(|port| port["targetPort"] == "http"));
    assert_eq!(ports[0]["port"], 9090);
    assert_eq!(
        service["metadata"]["labels"]["app.kubernetes.io/name"],
        "clawops"
    );
    assert_eq!(
        service["metadata"]["labels"]["app.kubernetes.io/component"],
        "watch"
    );
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
}

#[test]
fn the_flags_land_where_they_should() {
    let yaml = export(&[
        "--remote",
        "ssh://git@example.com/ops/fleet.git",
        "--namespace",
        "ops",
        "--fleet-namespace",
        "agents",
        "--image",
        "registry.example.com/clawops:dev",
        "--branch",
        "production",
        "--path",
        "fleets/eu",
        "--self-heal",
    ]);
    let documents = documents(&yaml);
    let deployment = find(&documents, "Deployment", None);
    assert_eq!(deployment["metadata"]["namespace"], "ops");
    let container = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "registry.example.com/clawops:dev");
    let args = strings(&container["args"]);
    assert_eq!(&args[..2], ["watch", "ssh://git@example.com/ops/fleet.git"]);
    for pair in [["--branch", "production"], ["--path", "fleets/eu"]] {
        assert!(
            args.windows(2).any(|window| window == pair),
            "{pair:?} in {args:?}"
        );
    }
    assert!(args.contains(&"--self-heal"));
    assert!(!args.contains(&"--prune"));
    find(&documents, "Namespace", Some("ops"));
    find(&documents, "Namespace", Some("agents"));
    assert_eq!(
        find(&documents, "ServiceAccount", None)["metadata"]["namespace"],
        "ops"
    );
    assert_eq!(
        find(&documents, "Service", None)["metadata"]["namespace"],
        "ops"
    );
    for kind in ["Role", "RoleBinding"] {
        assert_eq!(
            find(&documents, kind, None)["metadata"]["namespace"],
            "agents",
            "{kind}"
        );
    }
    for kind in ["RoleBinding", "ClusterRoleBinding"] {
        let subject = &find(&documents, kind, None)["subjects"][0];
        assert_eq!(subject["kind"], "ServiceAccount");
        assert_eq!(subject["name"], "clawops");
        assert_eq!(subject["namespace"], "ops", "{kind}");
    }
}

#[test]
fn the_hiclaw_export_grants_the_controllers_objects_in_its_namespace() {
    let yaml = export(&["--remote", REMOTE, "--backend", "hiclaw"]);
    validate(&yaml, "install-hiclaw");
    let documents = documents(&yaml);
    assert!(
        documents
            .iter()
            .all(|document| document["kind"] != "ClusterRole"),
        "HiClaw needs nothing cluster-wide"
    );
    assert_eq!(
        documents
            .iter()
            .filter(|document| document["kind"] == "Namespace")
            .count(),
        1,
        "the controller's namespace exists already"
    );
    let role = find(&documents, "Role", Some("clawops"));
    assert_eq!(role["metadata"]["namespace"], "hiclaw");
    let rights = rights(&role["rules"]);
    for kind in ["workers", "teams", "humans", "managers"] {
        // Server-side apply that creates an object is authorized as `create` too.
        for verb in ["get", "list", "create", "patch", "delete"] {
            assert!(allows(&rights, "hiclaw.io", kind, verb), "{kind} {verb}");
        }
    }
    assert!(allows(&rights, "", "configmaps", "patch"));
    assert!(allows(&rights, "coordination.k8s.io", "leases", "update"));
    assert!(!allows(&rights, "", "pods/exec", "create"));
    let deployment = find(&documents, "Deployment", None);
    let args = strings(&deployment["spec"]["template"]["spec"]["containers"][0]["args"]);
    assert!(args.windows(2).any(|pair| pair == ["--backend", "hiclaw"]));
    let namespaced = export(&[
        "--remote",
        REMOTE,
        "--backend",
        "hiclaw",
        "--fleet-namespace",
        "ai",
    ]);
    let namespaced = self::documents(&namespaced);
    assert_eq!(
        find(&namespaced, "Role", None)["metadata"]["namespace"],
        "ai"
    );
}

/// The YAML block of docs/kubernetes.md, "The RBAC clawops needs".
fn documented_rbac() -> Vec<Value> {
    let text = std::fs::read_to_string(project_root().join("docs/kubernetes.md"))
        .expect("docs/kubernetes.md");
    let section = text
        .split("## The RBAC clawops needs")
        .nth(1)
        .expect("the RBAC section");
    let block = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("```").next())
        .expect("a yaml block in the RBAC section");
    documents(block)
}

#[test]
fn the_kubernetes_rbac_is_the_documented_one() {
    let exported = documents(&export(&["--remote", REMOTE]));
    let documented = documented_rbac();
    for kind in ["ClusterRole", "Role"] {
        assert_eq!(
            rights(&find(&exported, kind, None)["rules"]),
            rights(&find(&documented, kind, None)["rules"]),
            "{kind}: the export and docs/kubernetes.md differ"
        );
    }
    let role = find(&exported, "Role", None);
    assert!(allows(&rights(&role["rules"]), "", "pods/exec", "create"));
}

/// `(group, resource)` of a kind the Kubernetes backend names; a kind not here fails the
/// test, so a new one gets its rights written down.
fn resource_of(kind: &str) -> (&'static str, &'static str) {
    match kind {
        "Deployment" => ("apps", "deployments"),
        "ConfigMap" => ("", "configmaps"),
        "Secret" => ("", "secrets"),
        "ServiceAccount" => ("", "serviceaccounts"),
        "Service" => ("", "services"),
        "Pod" => ("", "pods"),
        "Namespace" => ("", "namespaces"),
        "Lease" => ("coordination.k8s.io", "leases"),
        "NetworkPolicy" => ("networking.k8s.io", "networkpolicies"),
        "Role" => ("rbac.authorization.k8s.io", "roles"),
        "RoleBinding" => ("rbac.authorization.k8s.io", "rolebindings"),
        other => panic!("the Kubernetes backend calls the API for {other}: add its RBAC"),
    }
}

/// `(kind, verb)` of every typed call in the Kubernetes backend's source: the helpers
/// (`get`, `list`, `delete_listed`), calls chained on `api::<Kind>()`, and the kinds the
/// fleet's render shows, which apply writes (server-side apply: `patch`, `create`).
fn calls_in_the_backend() -> BTreeSet<(String, &'static str)> {
    let folder = project_root().join("src/backend/kubernetes");
    let helpers = regex::Regex::new(r"\.(get|list|delete_listed)::<(\w{2,})>").expect("regex");
    let chained = regex::Regex::new(r"api::<(\w{2,})>\(\)\s*\.(\w+)\(").expect("regex");
    let mut calls = BTreeSet::new();
    for entry in std::fs::read_dir(&folder).expect("src/backend/kubernetes") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|extension| extension != "rs") {
            continue;
        }
        let source = std::fs::read_to_string(&path).expect("source");
        for found in helpers.captures_iter(&source) {
            let verb = match &found[1] {
                "get" => "get",
                "list" => "list",
                _ => "delete",
            };
            calls.insert((found[2].to_owned(), verb));
        }
        for found in chained.captures_iter(&source) {
            let verb = match &found[2] {
                "create" => "create",
                "replace" => "update",
                "patch" => "patch",
                "delete" => "delete",
                "get_opt" | "get" => "get",
                "list" => "list",
                "exec" => "exec",
                other => panic!(
                    "{}: api::<{}>().{other}: map it to a verb",
                    path.display(),
                    &found[1]
                ),
            };
            calls.insert((found[1].to_owned(), verb));
        }
    }
    // The namespace: read, and created when missing (src/backend/kubernetes/fleet.rs).
    calls.insert(("Namespace".to_owned(), "get"));
    calls.insert(("Namespace".to_owned(), "create"));
    let rendered = clawops()
        .args(["render", "--backend", "kubernetes"])
        .arg(example("hiclaw-fleet"))
        .assert()
        .success()
        .get_output()
        .stdout
        .clone();
    for document in documents(&String::from_utf8(rendered).expect("utf-8")) {
        let kind = document["kind"].as_str().expect("kind").to_owned();
        if kind != "Namespace" {
            calls.insert((kind.clone(), "patch"));
            calls.insert((kind, "create"));
        }
    }
    calls
}

#[test]
fn the_kubernetes_rbac_covers_every_call_of_the_backend() {
    let exported = documents(&export(&["--remote", REMOTE]));
    let mut rights = rights(&find(&exported, "Role", None)["rules"]);
    rights.extend(self::rights(&find(&exported, "ClusterRole", None)["rules"]));
    let calls = calls_in_the_backend();
    assert!(
        calls.len() > 20,
        "the source scan found too little: {calls:?}"
    );
    let missing: Vec<String> = calls
        .iter()
        .filter(|(kind, verb)| {
            let (group, resource) = resource_of(kind);
            if *verb == "exec" {
                return !allows(&rights, group, &format!("{resource}/exec"), "create");
            }
            !allows(&rights, group, resource, verb)
        })
        .map(|(kind, verb)| format!("{verb} {kind}"))
        .collect();
    assert!(missing.is_empty(), "the export's RBAC lacks {missing:?}");
    assert!(
        calls.contains(&("Pod".to_owned(), "exec")),
        "the Pilot exec was found"
    );
}

#[test]
fn the_default_export_is_stable() {
    let yaml = export(&["--remote", REMOTE]).replace(env!("CARGO_PKG_VERSION"), "<version>");
    insta::assert_snapshot!("default_export", yaml);
}

#[test]
fn docker_is_refused_with_a_reason() {
    let output = clawops()
        .args(["install", "kubernetes", "--export", "--remote", REMOTE])
        .args(["--backend", "docker"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("the docker backend is not installed in a cluster"),
        "{stderr}"
    );
    assert!(stderr.contains("socket"), "{stderr}");
}

#[test]
fn without_export_it_says_it_only_prints() {
    let output = clawops()
        .args(["install", "kubernetes", "--remote", REMOTE])
        .assert()
        .code(1)
        .get_output()
        .clone();
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--export"), "{stderr}");
    assert!(stderr.contains("kubectl apply -f -"), "{stderr}");
}

#[test]
fn the_remote_is_required_and_must_be_a_url() {
    let output = clawops()
        .args(["install", "kubernetes", "--export"])
        .assert()
        .code(2)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--remote <URL>"), "{stderr}");
    let output = clawops()
        .args(["install", "kubernetes", "--export", "--remote", "./fleet"])
        .assert()
        .code(1)
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("is not a URL the daemon can fetch"),
        "{stderr}"
    );
}

#[test]
fn credentials_in_the_remote_are_warned_about() {
    let output = clawops()
        .args(["install", "kubernetes", "--export"])
        .args(["--remote", "https://bot:hunter2@example.com/fleet.git"])
        .assert()
        .success()
        .get_output()
        .clone();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("--remote carries credentials"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
