//! What the Docker backend records on a container's labels, against a real engine: no
//! sensitive value in plain (secret-looking keys' literals, credential URLs under any key,
//! resolved `!secret` values), only digests, and planning against those labels still
//! tells an unchanged fleet from a changed secret, without showing either.
#![cfg(feature = "docker")]

mod docker_support;

use clawops::backend::Backend;
use clawops::desired::{Agent, Desired, EnvVar, Group};
use clawops::plan::{Cause, Op, PlanOptions, plan};
use docker_support::{BASE_IMAGE, Fleet, fleet, inspect};

/// The values no label may hold.
const LITERAL_TOKEN: &str = "tok-literal-4242";
const URL_PASSWORD: &str = "pw-url-4242";
const RESOLVED: &str = "resolved-secret-4242";

/// `alpha` with a secret-looking literal, a credential URL under a plain key, a plain
/// URL, and a secret reference resolved from the environment.
fn agent_with_secrets(fleet: &Fleet, secret: &str) -> Agent {
    let mut agent = fleet.agent("alpha", BASE_IMAGE);
    let built = Agent::builder("alpha")
        .env("API_TOKEN", LITERAL_TOKEN)
        .env(
            "DATABASE_URL",
            &format!("postgres://app:{URL_PASSWORD}@db/x"),
        )
        .env("DOCS_URL", "https://docs.example.com/x")
        .build();
    agent.env.extend(built.env);
    let reference = EnvVar {
        value: secret.to_owned(),
        secret_ref: true,
        sensitive: true,
    };
    agent.env.insert("SEARCH_PASSWORD".to_owned(), reference);
    agent
}

/// A desired fleet of `agent` alone, in its own rollout group.
fn desired(fleet: &Fleet, agent: &Agent) -> Desired {
    Desired {
        fleet: fleet.name.clone(),
        prefix: format!("{}-", fleet.name),
        agents: vec![agent.clone()],
        groups: vec![Group {
            name: agent.group.clone(),
            is_team: false,
            canary: false,
            agents: vec![agent.name.clone()],
        }],
        ..Desired::default()
    }
}

#[tokio::test]
async fn labels_hold_digests_of_sensitive_values_and_plans_still_compare() {
    let Some(fleet) = fleet().await else { return };
    let secret = format!("search-password.{}", fleet.name);
    let variable = format!(
        "CLAWOPS_SECRET_{}",
        secret.to_ascii_uppercase().replace(['-', '.'], "_")
    );
    // SAFETY: only this test reads or writes this variable.
    unsafe { std::env::set_var(&variable, RESOLVED) };
    let agent = agent_with_secrets(&fleet, &secret);
    fleet.backend.prepare(&[&agent]).await.expect("prepare");
    fleet
        .backend
        .create_agent(&agent, Some("abc123"))
        .await
        .expect("create");

    let env = inspect(&agent.name, "{{json .Config.Env}}");
    assert!(
        env.contains(&format!("SEARCH_PASSWORD={RESOLVED}")),
        "{env}"
    );
    let labels = inspect(&agent.name, "{{json .Config.Labels}}");
    assert!(labels.contains("clawops.dev/applied"), "{labels}");
    for value in [LITERAL_TOKEN, URL_PASSWORD, RESOLVED] {
        assert!(!labels.contains(value), "{value} in the labels: {labels}");
    }
    assert!(labels.contains("https://docs.example.com/x"), "{labels}");
    assert!(labels.contains(&secret), "a reference is recorded by name");

    let observed = fleet.backend.observe().await.expect("observe");
    let applied = observed
        .agent(&agent.name)
        .and_then(|observed| observed.last_applied.clone())
        .expect("the applied record");
    for key in ["API_TOKEN", "DATABASE_URL"] {
        let recorded = &applied.env[key].value;
        assert!(
            recorded.starts_with(clawops::desired::DIGEST_PREFIX),
            "{key}: {recorded}"
        );
    }

    let options = PlanOptions::default();
    let unchanged = plan(&desired(&fleet, &agent), &observed, &options);
    assert!(unchanged.steps.is_empty(), "{:?}", unchanged.steps);

    // A new image recreates; the secrets, unchanged, are no cause of it.
    let mut upgraded = agent.clone();
    upgraded.image = "clawops-test/agent:next".to_owned();
    upgraded.runtime_hash = "runtime-alpha-2".to_owned();
    let upgrade = plan(&desired(&fleet, &upgraded), &observed, &options);
    assert_eq!(upgrade.steps[0].op, Op::RecreateAgent);
    let causes = &upgrade.steps[0].causes;
    assert!(
        causes
            .iter()
            .all(|cause| !matches!(cause, Cause::SensitiveChanged { .. })),
        "{causes:?}"
    );

    // A rotated secret is a change, named without its value.
    let mut rotated = agent.clone();
    rotated.env.insert(
        "API_TOKEN".to_owned(),
        EnvVar {
            value: "tok-rotated-5353".to_owned(),
            secret_ref: false,
            sensitive: true,
        },
    );
    rotated.runtime_hash = "runtime-alpha-3".to_owned();
    let rotation = plan(&desired(&fleet, &rotated), &observed, &options);
    assert_eq!(
        rotation.steps[0].causes,
        vec![Cause::SensitiveChanged {
            path: "env.API_TOKEN".to_owned()
        }]
    );
    let shown = clawops::render::json(&rotation);
    for value in [
        LITERAL_TOKEN,
        "tok-rotated-5353",
        clawops::desired::DIGEST_PREFIX,
    ] {
        assert!(!shown.contains(value), "{value}: {shown}");
    }
}
