//! GitHub webhooks: checking a delivery's `X-Hub-Signature-256` against the shared secret
//! and reading the event it carries. Pure functions; the HTTP handler lives in
//! [`super::http`].

use hmac::{Hmac, KeyInit, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The prefix GitHub puts before the hex digest in `X-Hub-Signature-256`.
const SIGNATURE_PREFIX: &str = "sha256=";

/// Whether `header` (the value of `X-Hub-Signature-256`, `sha256=<hex>`) is the
/// HMAC-SHA256 of `body` under `secret`.
///
/// The comparison is constant-time. A missing header, another prefix, hex that does not
/// decode or a digest of the wrong length all count as invalid. Hex digits are accepted in
/// either case: the decoded bytes are what is compared.
pub fn signature_valid(secret: &[u8], body: &[u8], header: Option<&str>) -> bool {
    let Some(hex_digest) = header.and_then(|value| value.strip_prefix(SIGNATURE_PREFIX)) else {
        return false;
    };
    let Ok(expected) = hex::decode(hex_digest) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&expected).is_ok()
}

/// What a webhook delivery announces, as far as the daemon cares.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// GitHub checking that the hook is reachable.
    Ping,
    /// A push to a ref.
    Push {
        /// The branch pushed to, from `"ref": "refs/heads/<branch>"`; `None` for tags and
        /// other refs.
        branch: Option<String>,
        /// The commit the ref points to after the push.
        after: String,
    },
    /// Any other event, by its `X-GitHub-Event` name.
    Other(String),
}

/// Why a webhook delivery could not be read.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// The body is not the JSON the event promises.
    #[error("could not parse the body of a `{event}` webhook event")]
    ParseBody {
        /// The `X-GitHub-Event` name.
        event: String,
        /// What the JSON parser reported.
        #[source]
        source: serde_json::Error,
    },
}

/// The fields of a push payload the daemon reads.
#[derive(Deserialize)]
struct PushPayload {
    #[serde(rename = "ref")]
    reference: String,
    after: String,
}

/// Reads a delivery from its `X-GitHub-Event` header and body. Only `push` bodies are
/// parsed; `ping` and other events are recognised by name alone.
pub fn parse_event(event_header: &str, body: &[u8]) -> Result<Event, WebhookError> {
    match event_header {
        "ping" => Ok(Event::Ping),
        "push" => {
            let payload: PushPayload =
                serde_json::from_slice(body).map_err(|source| WebhookError::ParseBody {
                    event: event_header.to_string(),
                    source,
                })?;
            let branch = payload
                .reference
                .strip_prefix("refs/heads/")
                .map(str::to_string);
            Ok(Event::Push {
                branch,
                after: payload.after,
            })
        }
        other => Ok(Event::Other(other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";
    /// Computed outside Rust, with Python's standard library:
    /// `hmac.new(b"It's a Secret to Everybody", b"Hello, World!", hashlib.sha256).hexdigest()`.
    const DIGEST: &str = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";

    fn header() -> String {
        format!("sha256={DIGEST}")
    }

    #[test]
    fn known_vector_is_valid() {
        assert!(signature_valid(SECRET, BODY, Some(&header())));
    }

    #[test]
    fn tampered_body_is_invalid() {
        assert!(!signature_valid(SECRET, b"Hello, World?", Some(&header())));
        assert!(!signature_valid(SECRET, b"", Some(&header())));
    }

    #[test]
    fn wrong_secret_is_invalid() {
        assert!(!signature_valid(b"another secret", BODY, Some(&header())));
        assert!(!signature_valid(b"", BODY, Some(&header())));
    }

    #[test]
    fn missing_header_is_invalid() {
        assert!(!signature_valid(SECRET, BODY, None));
        assert!(!signature_valid(SECRET, BODY, Some("")));
    }

    #[test]
    fn wrong_prefix_is_invalid() {
        assert!(!signature_valid(SECRET, BODY, Some(DIGEST)));
        assert!(!signature_valid(
            SECRET,
            BODY,
            Some(&format!("sha1={DIGEST}"))
        ));
        assert!(!signature_valid(
            SECRET,
            BODY,
            Some(&format!("SHA256={DIGEST}"))
        ));
        assert!(!signature_valid(
            SECRET,
            BODY,
            Some(&format!(" sha256={DIGEST}"))
        ));
    }

    #[test]
    fn uppercase_hex_decodes_to_the_same_digest() {
        let upper = format!("sha256={}", DIGEST.to_uppercase());
        assert!(signature_valid(SECRET, BODY, Some(&upper)));
    }

    #[test]
    fn garbage_hex_is_invalid() {
        let garbage = format!("sha256={}zz", &DIGEST[..62]);
        assert!(!signature_valid(SECRET, BODY, Some(&garbage)));
        let odd_length = format!("sha256={}", &DIGEST[..63]);
        assert!(!signature_valid(SECRET, BODY, Some(&odd_length)));
        assert!(!signature_valid(SECRET, BODY, Some("sha256=")));
    }

    #[test]
    fn wrong_length_is_invalid() {
        let truncated = format!("sha256={}", &DIGEST[..62]);
        assert!(!signature_valid(SECRET, BODY, Some(&truncated)));
        let extended = format!("sha256={DIGEST}00");
        assert!(!signature_valid(SECRET, BODY, Some(&extended)));
    }

    #[test]
    fn push_to_a_branch() {
        let body = br#"{"ref":"refs/heads/main","after":"abc123","before":"000"}"#;
        assert_eq!(
            parse_event("push", body).ok(),
            Some(Event::Push {
                branch: Some("main".to_string()),
                after: "abc123".to_string()
            })
        );
    }

    #[test]
    fn push_of_a_tag_has_no_branch() {
        let body = br#"{"ref":"refs/tags/v1.0","after":"abc123"}"#;
        assert_eq!(
            parse_event("push", body).ok(),
            Some(Event::Push {
                branch: None,
                after: "abc123".to_string()
            })
        );
    }

    #[test]
    fn ping_and_other_events_need_no_body() {
        assert_eq!(parse_event("ping", b"").ok(), Some(Event::Ping));
        assert_eq!(
            parse_event("issues", b"not json").ok(),
            Some(Event::Other("issues".to_string()))
        );
    }

    #[test]
    fn unparsable_push_body_names_the_event() {
        let error = parse_event("push", b"{\"ref\": 3}").err();
        assert!(
            matches!(error, Some(WebhookError::ParseBody { ref event, .. }) if event == "push"),
            "{error:?}"
        );
    }
}
