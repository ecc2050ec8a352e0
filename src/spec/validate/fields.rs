//! Rules on single values: names, env keys, durations, image references, remote skill
//! sources, packages, permission levels, ports and runtimes.

use std::sync::LazyLock;

use regex::Regex;

use crate::spec::hiclaw::{EnvMap, LabelMap, RemoteSkillSource, Runtime};
use crate::spec::reserved::{SET_ASIDE_SUFFIX, reserved_label_namespace};
use crate::spec::{Code, Diagnostic, Located, Spec};

static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
        .expect("name pattern")
});
static ENV_KEY: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-zA-Z_][a-zA-Z0-9_]*$").expect("env pattern"));
pub(crate) static DURATION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^([0-9]+(ms|s|m|h|d))+$").expect("duration pattern"));
static REMOTE_SKILL_SOURCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^nacos://[^/]+/[^/?#]+$").expect("remote skill pattern"));
static PACKAGE_FILE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^packages/[A-Za-z0-9][A-Za-z0-9._-]*\.zip$").expect("package pattern")
});
// Tags are ASCII (Docker's reference grammar): a Unicode `\w` repeated 127 times would
// cost ~40 ms to compile on every run.
static IMAGE: LazyLock<Regex> = LazyLock::new(|| {
    let domain = r"(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*(?::[0-9]+)?/)?";
    let component = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*";
    let pattern = format!(
        r"^{domain}{component}(?:/{component})*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}})?(?:@sha256:[a-f0-9]{{64}})?$"
    );
    Regex::new(&pattern).expect("image pattern")
});

/// The longest agent or resource name (a DNS label, as container and pod names need).
const MAX_NAME_LENGTH: usize = 63;

/// Checks every single-value rule of every document.
pub(super) fn check(spec: &Spec, diagnostics: &mut Vec<Diagnostic>) {
    let mut rules = Rules { diagnostics };
    for worker in &spec.workers {
        let file = &worker.file;
        rules.agent_name(file, &worker.resource.metadata.name);
        let spec = worker.spec();
        rules.agent(
            file,
            &spec.image,
            &spec.worker_name,
            &spec.package,
            &spec.env,
            &spec.labels,
            &spec.remote_skills,
        );
        rules.ports(file, spec.expose.iter().map(|expose| &expose.port));
    }
    for team in &spec.teams {
        let file = &team.file;
        let team_spec = team.spec();
        rules.name(file, &team.resource.metadata.name);
        rules.image(file, &team_spec.image);
        let leader = &team_spec.leader;
        rules.agent_name(file, &leader.name);
        rules.agent(
            file,
            &leader.image,
            &leader.worker_name,
            &leader.package,
            &leader.env,
            &leader.labels,
            &leader.remote_skills,
        );
        rules.duration(file, &leader.worker_idle_timeout);
        rules.duration(
            file,
            &leader
                .heartbeat
                .as_ref()
                .and_then(|heartbeat| heartbeat.every.clone()),
        );
        for worker in &team_spec.workers {
            rules.agent_name(file, &worker.name);
            rules.agent(
                file,
                &worker.image,
                &worker.worker_name,
                &worker.package,
                &worker.env,
                &worker.labels,
                &worker.remote_skills,
            );
            rules.ports(file, worker.expose.iter().map(|expose| &expose.port));
        }
        if let Some(upgrade) = &team_spec.upgrade {
            rules.duration(file, &upgrade.health_timeout);
            let limit = i64::from(crate::spec::config::MAX_PARALLEL);
            if let Some(max) = upgrade
                .max_unavailable
                .as_ref()
                .filter(|max| !(1..=limit).contains(&max.value))
            {
                rules.error(
                    file,
                    Code::InvalidValue,
                    max,
                    format!("maxUnavailable {} is not between 1 and {limit}", max.value),
                    "use 1 to restart one agent at a time",
                );
            }
        }
    }
    for human in &spec.humans {
        rules.name(&human.file, &human.resource.metadata.name);
        let level = &human.spec().permission_level;
        if !(1..=3).contains(&level.value) {
            rules.error(
                &human.file,
                Code::InvalidPermissionLevel,
                level,
                format!("permissionLevel {} is not 1, 2 or 3", level.value),
                "1 admin-like, 2 team-scoped, 3 worker-only",
            );
        }
    }
    for manager in &spec.managers {
        let file = &manager.file;
        let manager_spec = manager.spec();
        rules.agent_name(file, &manager.resource.metadata.name);
        rules.agent(
            file,
            &manager_spec.image,
            &None,
            &manager_spec.package,
            &manager_spec.env,
            &manager_spec.labels,
            &[],
        );
        if let Some(runtime) = manager_spec
            .runtime
            .as_ref()
            .filter(|runtime| runtime.value == Runtime::Hermes)
        {
            rules.error(
                file,
                Code::UnsupportedRuntime,
                runtime,
                "a Manager cannot run the hermes runtime",
                "use openclaw or copaw",
            );
        }
        if let Some(config) = &manager_spec.config {
            rules.duration(file, &config.heartbeat_interval);
            rules.duration(file, &config.worker_idle_timeout);
        }
    }
    for debug in &spec.debug_workers {
        rules.agent_name(&debug.file, &debug.resource.metadata.name);
        rules.agent(
            &debug.file,
            &debug.spec().image,
            &None,
            &None,
            &debug.spec().env,
            &debug.spec().labels,
            &[],
        );
    }
    for image_set in &spec.image_sets {
        rules.name(&image_set.file, &image_set.resource.metadata.name);
        let images = &image_set.spec();
        for image in [
            &images.runtimes.openclaw,
            &images.runtimes.copaw,
            &images.runtimes.hermes,
            &images.manager,
            &images.debug,
        ] {
            rules.image(&image_set.file, image);
        }
    }
    for setup in &spec.pilot_setups {
        rules.agent_name(&setup.file, &setup.resource.metadata.name);
        for role in &setup.spec().roles {
            rules.agent_name(&setup.file, &role.role);
            let agent = &role.agent;
            rules.agent(
                &setup.file,
                &agent.image,
                &agent.worker_name,
                &agent.package,
                &agent.env,
                &agent.labels,
                &agent.remote_skills,
            );
            rules.ports(&setup.file, agent.expose.iter().map(|expose| &expose.port));
        }
    }
}

struct Rules<'a> {
    diagnostics: &'a mut Vec<Diagnostic>,
}

impl Rules<'_> {
    fn error<T>(
        &mut self,
        file: &str,
        code: Code,
        at: &Located<T>,
        message: impl Into<String>,
        help: impl Into<String>,
    ) {
        self.diagnostics
            .push(Diagnostic::error(code, file, at.position, message).with_help(help));
    }

    /// A name an agent's resource name is made from: valid, and not mistaken for what
    /// clawops names for itself (a recreate's set-aside container).
    fn agent_name(&mut self, file: &str, name: &Located<String>) {
        self.name(file, name);
        if name.ends_with(SET_ASIDE_SUFFIX) {
            self.error(
                file,
                Code::ReservedName,
                name,
                format!("`{}` ends with `{SET_ASIDE_SUFFIX}`, which clawops keeps for a container set aside during a recreate", name.value),
                format!("rename it without the `{SET_ASIDE_SUFFIX}` suffix"),
            );
        }
    }

    /// `spec.labels`: none in the namespaces clawops and HiClaw set themselves.
    fn labels(&mut self, file: &str, labels: &LabelMap) {
        for key in labels.keys() {
            if let Some(namespace) = reserved_label_namespace(key) {
                self.error(
                    file,
                    Code::ReservedLabel,
                    key,
                    format!("label `{}` is in the `{namespace}` namespace, which clawops and HiClaw set themselves", key.value),
                    "use a prefix of your own, e.g. `example.com/owner`",
                );
            }
        }
    }

    fn name(&mut self, file: &str, name: &Located<String>) {
        if name.len() > MAX_NAME_LENGTH || !NAME.is_match(name) {
            self.error(
                file,
                Code::InvalidName,
                name,
                format!("`{}` is not a valid name", name.value),
                format!("use at most {MAX_NAME_LENGTH} lowercase letters, digits, `-` and `.`, starting and ending with a letter or digit"),
            );
        }
    }

    #[allow(clippy::too_many_arguments)] // one per field every agent kind has
    fn agent(
        &mut self,
        file: &str,
        image: &Option<Located<String>>,
        worker_name: &Option<Located<String>>,
        package: &Option<Located<String>>,
        env: &EnvMap,
        labels: &LabelMap,
        remote_skills: &[RemoteSkillSource],
    ) {
        self.labels(file, labels);
        self.image(file, image);
        if let Some(worker_name) = worker_name {
            self.name(file, worker_name);
        }
        self.package(file, package);
        self.env(file, env);
        self.remote_skills(file, remote_skills);
    }

    fn image(&mut self, file: &str, image: &Option<Located<String>>) {
        if let Some(image) = image
            .as_ref()
            .filter(|image| !image.is_empty() && !IMAGE.is_match(image))
        {
            self.error(
                file,
                Code::InvalidImage,
                image,
                format!("`{}` is not a valid image reference", image.value),
                "write [registry/]name[:tag][@sha256:digest] with a lowercase name, e.g. `hiclaw/worker-agent:v1.2.0`",
            );
        }
    }

    fn env(&mut self, file: &str, env: &EnvMap) {
        for key in env.keys().filter(|key| !ENV_KEY.is_match(key)) {
            self.error(
                file,
                Code::InvalidEnvKey,
                key,
                format!("env key `{}` is not a valid variable name", key.value),
                "use letters, digits and `_`, not starting with a digit (^[a-zA-Z_][a-zA-Z0-9_]*$)",
            );
        }
    }

    fn duration(&mut self, file: &str, duration: &Option<Located<String>>) {
        if let Some(duration) = duration
            .as_ref()
            .filter(|duration| !DURATION.is_match(duration))
        {
            self.error(
                file,
                Code::InvalidDuration,
                duration,
                format!("`{}` is not a duration", duration.value),
                "write a number and a unit (ms, s, m, h, d), e.g. `30m` or `1h30m`",
            );
        }
    }

    fn remote_skills(&mut self, file: &str, sources: &[RemoteSkillSource]) {
        for source in sources {
            if !REMOTE_SKILL_SOURCE.is_match(&source.source) {
                self.error(
                    file,
                    Code::InvalidRemoteSkillSource,
                    &source.source,
                    format!("remote skill source `{}` is not nacos://<host>/<namespace>", source.source.value),
                    "write it as nacos://host[:port]/namespace, e.g. nacos://nacos.internal:8848/skills",
                );
            }
            for skill in source
                .skills
                .iter()
                .filter(|skill| skill.version.is_some() && skill.label.is_some())
            {
                self.error(
                    file,
                    Code::ConflictingSkillVersion,
                    &skill.name,
                    format!("skill `{}` sets both version and label", skill.name.value),
                    "keep either `version` or `label`",
                );
            }
        }
    }

    fn package(&mut self, file: &str, package: &Option<Located<String>>) {
        let Some(package) = package else { return };
        let remote = ["file://", "http://", "https://", "nacos://"]
            .iter()
            .any(|scheme| package.starts_with(scheme) && package.len() > scheme.len());
        if !remote && !PACKAGE_FILE.is_match(package) {
            self.error(
                file,
                Code::InvalidPackage,
                package,
                format!("package `{}` has an unknown form", package.value),
                "use file://, http(s)://, nacos://… or packages/<name>.zip",
            );
        }
    }

    fn ports<'p>(&mut self, file: &str, ports: impl Iterator<Item = &'p Located<i64>>) {
        for port in ports.filter(|port| !(1..=65535).contains(&port.value)) {
            self.error(
                file,
                Code::InvalidPort,
                port,
                format!("port {} is out of range", port.value),
                "use a port from 1 to 65535",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::IMAGE;

    #[test]
    fn image_tags_are_ascii_as_in_the_reference_grammar() {
        for valid in [
            "hiclaw/worker-agent:v1.2.0",
            "registry.example.com:5000/team/agent:latest_2",
            "busybox",
        ] {
            assert!(IMAGE.is_match(valid), "{valid}");
        }
        let long_tag = format!("agent:{}", "a".repeat(129));
        for invalid in ["agent:v1é", "agent:.v1", "Agent:v1", long_tag.as_str()] {
            assert!(!IMAGE.is_match(invalid), "{invalid}");
        }
    }
}
