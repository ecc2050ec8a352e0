//! The daemon's own objects (Namespace, ServiceAccount, Service, Deployment) as
//! k8s-openapi values, and the YAML stream of every object of the install.
//!
//! The Deployment runs one replica with strategy `Recreate` (two daemons must never apply
//! at once; the apply lock would also stop them), as user 10001 on a read-only root
//! filesystem, with its git cache and `/tmp` on `emptyDir`s. The webhook secret and the
//! GitHub token are optional Secret references: the daemon's objects carry no secret.

use std::collections::BTreeMap;

use crate::backend::kubernetes::render;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Capabilities, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, KeyToPath, Namespace, PodSecurityContext, PodSpec, PodTemplateSpec, Probe,
    ResourceRequirements, SeccompProfile, SecretKeySelector, SecretVolumeSource, SecurityContext,
    Service, ServiceAccount, ServicePort, ServiceSpec, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::{
    CACHE_DIR, GITHUB_SECRET, GITHUB_TOKEN_KEY, InstallError, METRICS_SERVICE_PORT, NAME, Options,
    PORT, Target, USER_ID, WEBHOOK_DIR, WEBHOOK_SECRET, WEBHOOK_SECRET_KEY, rbac,
};

/// The container port's name, which both Service ports target.
const PORT_NAME: &str = "http";
/// Seconds a stopping daemon gets to finish its current step (a health gate).
const GRACE_SECONDS: i64 = 180;

/// The labels that select the daemon's pod (never changed by an upgrade).
pub fn selector() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), NAME.to_owned()),
        ("app.kubernetes.io/instance".to_owned(), NAME.to_owned()),
        ("app.kubernetes.io/component".to_owned(), "watch".to_owned()),
    ])
}

/// Every object's labels: the selector, the version and who made them.
pub fn labels() -> BTreeMap<String, String> {
    let mut labels = selector();
    labels.insert(
        "app.kubernetes.io/version".to_owned(),
        env!("CARGO_PKG_VERSION").to_owned(),
    );
    labels.insert("app.kubernetes.io/part-of".to_owned(), NAME.to_owned());
    labels.insert(
        "app.kubernetes.io/managed-by".to_owned(),
        "clawops-install".to_owned(),
    );
    labels
}

/// An object's name, namespace and the install's labels (the RBAC objects share it).
pub(super) fn meta(name: &str, namespace: Option<&str>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels()),
        ..ObjectMeta::default()
    }
}

/// A namespace, labelled as made by the install (not as the daemon: the fleet's
/// namespace is one too).
pub fn namespace(name: &str) -> Namespace {
    let labels = labels()
        .into_iter()
        .filter(|(key, _)| key.ends_with("/part-of") || key.ends_with("/managed-by"))
        .collect();
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        ..Namespace::default()
    }
}

/// The daemon's identity; its token is mounted, as the daemon talks to the API server.
pub fn service_account(options: &Options) -> ServiceAccount {
    ServiceAccount {
        metadata: meta(NAME, Some(&options.namespace)),
        automount_service_account_token: Some(true),
        ..ServiceAccount::default()
    }
}

fn service_port(name: &str, port: i32) -> ServicePort {
    ServicePort {
        name: Some(name.to_owned()),
        port,
        target_port: Some(IntOrString::String(PORT_NAME.to_owned())),
        protocol: Some("TCP".to_owned()),
        ..ServicePort::default()
    }
}

/// The webhook, `/status` and `/metrics`: one container port behind two Service ports,
/// `http` and `metrics` (a ServiceMonitor selects the latter by name).
pub fn service(options: &Options) -> Service {
    Service {
        metadata: meta(NAME, Some(&options.namespace)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".to_owned()),
            selector: Some(selector()),
            ports: Some(vec![
                service_port(PORT_NAME, PORT),
                service_port("metrics", METRICS_SERVICE_PORT),
            ]),
            ..ServiceSpec::default()
        }),
        ..Service::default()
    }
}

/// `clawops watch …` as the container runs it.
pub fn arguments(options: &Options) -> Vec<String> {
    let mut args = vec![
        "watch".to_owned(),
        options.remote.clone(),
        "--backend".to_owned(),
        options.target.as_str().to_owned(),
        "--branch".to_owned(),
        options.branch.clone(),
    ];
    if let Some(subfolder) = &options.subfolder {
        args.extend(["--path".to_owned(), subfolder.clone()]);
    }
    args.extend([
        "--interval".to_owned(),
        options.interval.clone(),
        "--listen".to_owned(),
        format!("0.0.0.0:{PORT}"),
        "--webhook-secret-file".to_owned(),
        format!("{WEBHOOK_DIR}/{WEBHOOK_SECRET_KEY}"),
        "--cache-dir".to_owned(),
        CACHE_DIR.to_owned(),
    ]);
    if options.self_heal {
        args.push("--self-heal".to_owned());
    }
    if options.prune {
        args.push("--prune".to_owned());
    }
    args
}

fn probe(initial_delay: i32, period: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".to_owned()),
            port: IntOrString::String(PORT_NAME.to_owned()),
            ..HTTPGetAction::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        period_seconds: Some(period),
        timeout_seconds: Some(3),
        failure_threshold: Some(3),
        ..Probe::default()
    }
}

fn quantities(cpu: &str, memory: &str) -> BTreeMap<String, Quantity> {
    BTreeMap::from([
        ("cpu".to_owned(), Quantity(cpu.to_owned())),
        ("memory".to_owned(), Quantity(memory.to_owned())),
    ])
}

fn env() -> Vec<EnvVar> {
    vec![EnvVar {
        name: "GITHUB_TOKEN".to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: GITHUB_SECRET.to_owned(),
                key: GITHUB_TOKEN_KEY.to_owned(),
                optional: Some(true),
            }),
            ..EnvVarSource::default()
        }),
        ..EnvVar::default()
    }]
}

fn container_security() -> SecurityContext {
    SecurityContext {
        run_as_non_root: Some(true),
        run_as_user: Some(USER_ID),
        run_as_group: Some(USER_ID),
        read_only_root_filesystem: Some(true),
        allow_privilege_escalation: Some(false),
        capabilities: Some(Capabilities {
            drop: Some(vec!["ALL".to_owned()]),
            ..Capabilities::default()
        }),
        seccomp_profile: Some(runtime_default()),
        ..SecurityContext::default()
    }
}

fn runtime_default() -> SeccompProfile {
    SeccompProfile {
        type_: "RuntimeDefault".to_owned(),
        ..SeccompProfile::default()
    }
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_owned(),
        mount_path: path.to_owned(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// The `watch` container.
pub fn container(options: &Options) -> Container {
    Container {
        name: "watch".to_owned(),
        image: Some(options.image.clone()),
        image_pull_policy: Some("IfNotPresent".to_owned()),
        command: Some(vec![NAME.to_owned()]),
        args: Some(arguments(options)),
        ports: Some(vec![ContainerPort {
            name: Some(PORT_NAME.to_owned()),
            container_port: PORT,
            protocol: Some("TCP".to_owned()),
            ..ContainerPort::default()
        }]),
        env: Some(env()),
        liveness_probe: Some(probe(10, 20)),
        readiness_probe: Some(probe(2, 10)),
        resources: Some(ResourceRequirements {
            requests: Some(quantities("50m", "128Mi")),
            limits: Some(quantities("1", "512Mi")),
            ..ResourceRequirements::default()
        }),
        security_context: Some(container_security()),
        volume_mounts: Some(vec![
            mount("cache", CACHE_DIR, false),
            mount("tmp", "/tmp", false),
            mount("webhook", WEBHOOK_DIR, true),
        ]),
        ..Container::default()
    }
}

fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.to_owned(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

fn volumes() -> Vec<Volume> {
    vec![
        empty_dir("cache"),
        empty_dir("tmp"),
        Volume {
            name: "webhook".to_owned(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(WEBHOOK_SECRET.to_owned()),
                items: Some(vec![KeyToPath {
                    key: WEBHOOK_SECRET_KEY.to_owned(),
                    path: WEBHOOK_SECRET_KEY.to_owned(),
                    mode: None,
                }]),
                default_mode: Some(0o440),
                optional: Some(true),
            }),
            ..Volume::default()
        },
    ]
}

fn pod_spec(options: &Options) -> PodSpec {
    PodSpec {
        service_account_name: Some(NAME.to_owned()),
        automount_service_account_token: Some(true),
        enable_service_links: Some(false),
        termination_grace_period_seconds: Some(GRACE_SECONDS),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(USER_ID),
            run_as_group: Some(USER_ID),
            fs_group: Some(USER_ID),
            seccomp_profile: Some(runtime_default()),
            ..PodSecurityContext::default()
        }),
        containers: vec![container(options)],
        volumes: Some(volumes()),
        ..PodSpec::default()
    }
}

/// One daemon, replaced (never rolled) so two never apply at once.
pub fn deployment(options: &Options) -> Deployment {
    Deployment {
        metadata: meta(NAME, Some(&options.namespace)),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            revision_history_limit: Some(3),
            selector: LabelSelector {
                match_labels: Some(selector()),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".to_owned()),
                ..DeploymentStrategy::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels()),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec(options)),
            },
            ..DeploymentSpec::default()
        }),
        ..Deployment::default()
    }
}

/// Every object of the install, in the order they can be applied.
pub fn export(options: &Options) -> Result<String, InstallError> {
    let mut out = String::new();
    render::document(&mut out, &namespace(&options.namespace))?;
    // The Kubernetes backend's Role lives in the fleet's namespace, which must exist
    // first; a HiClaw controller's namespace exists already.
    if options.target == Target::Kubernetes && options.fleet_namespace != options.namespace {
        render::document(&mut out, &namespace(&options.fleet_namespace))?;
    }
    render::document(&mut out, &service_account(options))?;
    if let Some(cluster_role) = rbac::cluster_role(options) {
        render::document(&mut out, &cluster_role)?;
    }
    if let Some(binding) = rbac::cluster_role_binding(options) {
        render::document(&mut out, &binding)?;
    }
    render::document(&mut out, &rbac::role(options))?;
    render::document(&mut out, &rbac::role_binding(options))?;
    render::document(&mut out, &service(options))?;
    render::document(&mut out, &deployment(options))?;
    Ok(out)
}
