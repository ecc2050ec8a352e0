//! The real Kubernetes schemas: `kubernetes-validate --strict` (from `.ci/.venv`, PATH, or
//! `KUBERNETES_VALIDATE`) over rendered manifests, against the oldest and newest API
//! versions clawops targets.

use std::path::PathBuf;

use super::project_root;

/// The validator, when one is installed.
pub fn validator() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("KUBERNETES_VALIDATE") {
        return Some(PathBuf::from(path));
    }
    let venv = project_root().join(".ci/.venv/bin/kubernetes-validate");
    if venv.exists() {
        return Some(venv);
    }
    std::process::Command::new("kubernetes-validate")
        .arg("--version")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|_| PathBuf::from("kubernetes-validate"))
}

/// Validates `manifests` (multi-document YAML) against Kubernetes 1.33 and 1.37; every
/// document must pass, and nothing but `INFO` lines may be reported. Without the tool it
/// fails under `CI` and says so on stderr otherwise.
#[allow(
    clippy::print_stderr,
    reason = "a check that cannot run says so on stderr; under CI it fails instead"
)]
pub fn validate(manifests: &str, label: &str) {
    let Some(validator) = validator() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "kubernetes-validate is not installed (.ci/run installs it)"
        );
        eprintln!("note: kubernetes-validate not installed; {label} not validated");
        return;
    };
    let folder = tempfile::tempdir().expect("temp folder");
    let file = folder.path().join(format!("{label}.yaml"));
    std::fs::write(&file, manifests).expect("write manifests");
    for version in ["1.33.0", "1.37.0"] {
        let output = std::process::Command::new(&validator)
            .args(["--strict", "-k", version])
            .arg(&file)
            .output()
            .expect("run kubernetes-validate");
        let report = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "{label} against {version}:\n{report}"
        );
        let problems: Vec<&str> = report
            .lines()
            .filter(|line| !line.starts_with("INFO"))
            .collect();
        assert!(
            problems.is_empty(),
            "{label} against {version}: {problems:?}"
        );
        let passed = report
            .lines()
            .filter(|line| line.contains(" passed "))
            .count();
        let documents = manifests.lines().filter(|line| *line == "---").count()
            + usize::from(!manifests.starts_with("---"));
        assert_eq!(passed, documents, "{report}");
    }
}
