//! No log level prints a secret: `clawops apply` of an agent with a `!secret` env value
//! against a real Docker Engine, with every log turned up (`CLAWOPS_LOG=trace`, and the
//! Docker and HTTP clients' own targets asked for by name), never shows the value.
#![cfg(feature = "docker")]

mod docker_support;
mod support;

use docker_support::{BASE_IMAGE, fleet, inspect};
use support::{Repo, clawops};

/// A fleet of one worker whose `API_TOKEN` is the secret `api-token`.
fn repository(fleet: &str) -> Repo {
    let repository = Repo::new("fleet");
    repository.write(
        "clawops.toml",
        format!(
            "[fleet]\nname = \"{fleet}\"\nprefix = \"{fleet}-\"\n\n[docker]\nnetwork = \"{fleet}-net\"\n\n[rollout]\nhealth_timeout = \"30s\"\n"
        ),
    );
    repository.write(
        "images.yaml",
        format!(
            "apiVersion: clawops.dev/v1alpha1\nkind: ImageSet\nmetadata:\n  name: test\nspec:\n  runtimes:\n    openclaw: {BASE_IMAGE}\n  manager: {BASE_IMAGE}\n  pullPolicy: Never\n"
        ),
    );
    repository.write(
        "workers/alpha.yaml",
        "apiVersion: hiclaw.io/v1beta1\nkind: Worker\nmetadata:\n  name: alpha\nspec:\n  model: qwen3.5-plus\n  runtime: openclaw\n  env:\n    API_TOKEN: !secret api-token\n",
    );
    repository.commit("a worker with a secret");
    repository
}

#[tokio::test(flavor = "multi_thread")]
async fn no_log_level_or_directive_prints_a_resolved_secret() {
    for directive in [
        "trace",
        "warn,bollard=trace,hyper=trace,hyper_util=trace,h2=trace,reqwest=trace,tower=trace",
        "debug,bollard::docker=trace,hyper_util::client=trace",
    ] {
        let Some(fleet) = fleet().await else { return };
        let secret = format!("s3cr3t-value-{}-{}", std::process::id(), fleet.name);
        let repository = repository(&fleet.name);
        let output = clawops()
            .args(["apply", "--yes"])
            .arg(repository.path())
            .env("CLAWOPS_LOG", directive)
            .env("CLAWOPS_SECRET_API_TOKEN", &secret)
            .output()
            .expect("clawops runs");
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "{directive}: apply failed\n{stdout}\n{stderr}"
        );
        // The secret did reach the engine, so a log of the request would have shown it.
        let container = fleet.agent_name("alpha");
        assert!(
            inspect(&container, "{{json .Config.Env}}").contains(&secret),
            "{directive}: the container has the secret"
        );
        assert!(
            !stdout.contains(&secret) && !stderr.contains(&secret),
            "{directive}: the secret was printed\n{stdout}\n{stderr}"
        );
    }
}
