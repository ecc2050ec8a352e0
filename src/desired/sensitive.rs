//! What counts as sensitive in an env variable, decided here and nowhere else: a key that
//! looks secret, or a value that carries a credential whatever its key (a URL with user
//! information, `postgres://user:pw@db/x`, `https://token@host`; a query parameter named
//! like a credential, `?access_token=…`). A secret reference (`!secret`) is sensitive too;
//! the resolver and the builder set [`EnvVar::sensitive`] from [`is_sensitive`].
//!
//! A sensitive value is never printed (plans in every format, `clawops render`), sits in
//! the agent's Secret on Kubernetes rather than in its pod spec, and is recorded only as a
//! digest ([`value_digest`]) where a backend labels its containers with what it applied.

use std::sync::LazyLock;

use regex::Regex;
use sha2::{Digest, Sha256};

use super::agent::{Agent, EnvVar};
use crate::source::is_credential_parameter;

/// What a recorded digest starts with.
pub const DIGEST_PREFIX: &str = "sha256:";

/// `scheme://userinfo@`: anything up to an `@` before the first `/` after `://`. Wider
/// than RFC 3986 allows (a password with `?` or `#` in it still counts).
static URL_USERINFO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s/@]+@").expect("a valid userinfo pattern")
});

/// A query parameter with a value: `?name=value` or `&name=value`.
static QUERY_PARAMETER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[?&](?P<name>[^=&#\s?]+)=[^&#\s]").expect("a valid parameter pattern")
});

/// Whether an env key looks like it holds a secret (contains TOKEN, SECRET, PASSWORD, KEY
/// or CREDENTIAL, in any case).
pub fn is_sensitive_key(key: &str) -> bool {
    let upper = key.to_ascii_uppercase();
    ["TOKEN", "SECRET", "PASSWORD", "KEY", "CREDENTIAL"]
        .iter()
        .any(|word| upper.contains(word))
}

/// Whether a value carries a credential: a URL with user information anywhere in it, or a
/// credential query parameter with a value (named as [`is_credential_parameter`] says,
/// the same rule that hides credentials in remote locations).
pub fn has_credentials(value: &str) -> bool {
    URL_USERINFO.is_match(value)
        || QUERY_PARAMETER
            .captures_iter(value)
            .any(|captures| is_credential_parameter(&captures["name"]))
}

/// Whether an env variable's value must never be shown: its key looks secret, or its value
/// carries a credential. (A secret reference is sensitive whatever this says.)
pub fn is_sensitive(key: &str, value: &str) -> bool {
    is_sensitive_key(key) || has_credentials(value)
}

/// What a record that others may read holds instead of a sensitive literal: `sha256:` and
/// the hex SHA-256 of the agent's resource name, the key and the value, NUL-separated. The
/// name and key salt it: one digest says nothing about the same value elsewhere, and no
/// table computed in advance applies. (A guessable value stays guessable by trying, as it
/// does from the runtime hash; there is no key to make the digest a keyed one.)
pub fn value_digest(agent: &str, key: &str, value: &str) -> String {
    let mut hasher = Sha256::new();
    for part in [agent, key, value] {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    format!("{DIGEST_PREFIX}{}", hex::encode(hasher.finalize()))
}

/// `agent` with every sensitive literal replaced by its [`value_digest`]: what a backend
/// records where secrets must not be (Docker's applied label). Secret references keep
/// their names: a name is not a secret, and the resolved value is never in the record.
pub fn with_digests(agent: &Agent) -> Agent {
    let mut recorded = agent.clone();
    for (key, variable) in recorded.env.iter_mut() {
        if variable.sensitive && !variable.secret_ref {
            variable.value = value_digest(&agent.name, key, &variable.value);
        }
    }
    recorded
}

/// Whether a recorded variable (its literal value, or the digest of a sensitive one) is
/// what `desired` asks for. `sensitive` is derived and left out: a record written before a
/// value counted as sensitive still matches.
pub fn same_variable(agent: &str, key: &str, applied: &EnvVar, desired: &EnvVar) -> bool {
    applied.secret_ref == desired.secret_ref
        && (applied.value == desired.value
            || (!desired.secret_ref
                && applied.value.starts_with(DIGEST_PREFIX)
                && applied.value == value_digest(agent, key, &desired.value)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_with_user_information_carry_credentials() {
        for value in [
            "postgres://user:pw@db/x",
            "https://tok@host",
            "redis://:p4ss@cache:6379/0",
            "mongodb+srv://app:s3cr3t@cluster0.example.net/?retryWrites=true",
            "--db=postgres://user:pw@db/x --verbose",
        ] {
            assert!(has_credentials(value), "{value}");
            assert!(is_sensitive("DATABASE_URL", value), "{value}");
        }
    }

    #[test]
    fn credential_query_parameters_carry_credentials() {
        for value in [
            "https://api.example.com/v1?access_token=abc",
            "https://api.example.com/v1?a=1&token=abc",
            "https://hooks.example.com/x?API_KEY=abc",
            "https://bucket.example.com/o?X-Amz-Signature=abc&X-Amz-Date=1",
            "https://blob.example.com/c?sv=2020&sig=abc",
            "https://example.com/?client_secret=abc",
            "https://example.com/?password=abc",
            "https://example.com/?pwd=abc",
        ] {
            assert!(has_credentials(value), "{value}");
        }
    }

    #[test]
    fn plain_values_and_empty_parameters_carry_none() {
        for value in [
            "https://example.com/path/to",
            "https://example.com/a@b",
            "https://example.com/?page=2&sort=name",
            "https://example.com/?token=",
            "info",
            "user@example.com",
            "",
        ] {
            assert!(!has_credentials(value), "{value}");
            assert!(!is_sensitive("ENDPOINT", value), "{value}");
        }
        assert!(is_sensitive("GITHUB_TOKEN", "plain"));
    }

    #[test]
    fn digests_are_salted_and_match_only_their_value() {
        let digest = value_digest("hiclaw-worker-a", "API_TOKEN", "hunter2");
        assert!(digest.starts_with(DIGEST_PREFIX));
        assert!(!digest.contains("hunter2"));
        assert_ne!(
            digest,
            value_digest("hiclaw-worker-b", "API_TOKEN", "hunter2")
        );
        assert_ne!(
            digest,
            value_digest("hiclaw-worker-a", "OTHER_TOKEN", "hunter2")
        );
        let desired = EnvVar {
            value: "hunter2".to_owned(),
            secret_ref: false,
            sensitive: true,
        };
        let recorded = EnvVar {
            value: digest,
            ..desired.clone()
        };
        assert!(same_variable(
            "hiclaw-worker-a",
            "API_TOKEN",
            &recorded,
            &desired
        ));
        assert!(same_variable(
            "hiclaw-worker-a",
            "API_TOKEN",
            &desired,
            &desired
        ));
        let changed = EnvVar {
            value: "hunter3".to_owned(),
            ..desired.clone()
        };
        assert!(!same_variable(
            "hiclaw-worker-a",
            "API_TOKEN",
            &recorded,
            &changed
        ));
        let old_record = EnvVar {
            sensitive: false,
            ..desired.clone()
        };
        assert!(same_variable(
            "hiclaw-worker-a",
            "API_TOKEN",
            &old_record,
            &desired
        ));
    }

    #[test]
    fn a_recorded_agent_holds_digests_and_secret_names_only() {
        let agent = Agent::builder("dev")
            .env("LOG_LEVEL", "info")
            .env("API_TOKEN", "hunter2")
            .env("DATABASE_URL", "postgres://app:pw-4242@db/x")
            .secret_env("SEARCH_PASSWORD", "search-password")
            .build();
        let recorded = with_digests(&agent);
        let text = serde_json::to_string(&recorded).expect("json");
        assert!(
            !text.contains("hunter2") && !text.contains("pw-4242"),
            "{text}"
        );
        assert_eq!(recorded.env["LOG_LEVEL"].value, "info");
        assert_eq!(recorded.env["SEARCH_PASSWORD"].value, "search-password");
        for (key, variable) in &agent.env {
            assert!(same_variable(
                &agent.name,
                key,
                &recorded.env[key],
                variable
            ));
        }
    }
}
