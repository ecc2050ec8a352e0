//! Hiding the credentials a remote location may carry, wherever it is shown: in output,
//! in errors (with every error of their chain) and in the daemon's status document.
//!
//! A location carries credentials in its user information (`https://token@host/…`,
//! `git://user:password@host/…`) and in query parameters (`?access_token=…`,
//! `?private_token=…`). [`redact_url`] turns each of them into `***`; [`Secrets`] finds
//! the same values in any other text, such as the message of an error from `gix` that
//! quotes the URL it was given.

use std::fmt;

/// What replaces a credential.
const MASK: &str = "***";

/// Query parameters that always carry a credential, whatever their value looks like.
const CREDENTIAL_PARAMETERS: [&str; 7] =
    ["sig", "pass", "pwd", "code", "jwt", "session", "sessionid"];

/// Words that make a query parameter a credential wherever they appear in its name
/// (`access_token`, `private_token`, `password`, `client_secret`, `api_key`, `sshKey`, …).
const CREDENTIAL_WORDS: [&str; 8] = [
    "token",
    "password",
    "passwd",
    "secret",
    "auth",
    "credential",
    "signature",
    "key",
];

/// The location as it may be shown in output and errors: its user information and every
/// credential query parameter's value become `***`. An SSH user name without a password
/// (`ssh://git@host/…`) names an account, not a secret, and is kept.
pub(crate) fn redact_url(location: &str) -> String {
    let Some((scheme, rest)) = location.split_once("://") else {
        return location.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after_authority) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let user_information = &authority[..at];
            let kept = scheme.eq_ignore_ascii_case("ssh") && !user_information.contains(':');
            let shown = if kept { user_information } else { MASK };
            format!("{shown}{}", &authority[at..])
        }
        None => authority.to_owned(),
    };
    format!("{scheme}://{authority}{}", redact_query(after_authority))
}

/// The path, query and fragment with the value of every credential parameter hidden.
fn redact_query(path_and_query: &str) -> String {
    let Some((path, query_and_fragment)) = path_and_query.split_once('?') else {
        return path_and_query.to_owned();
    };
    let (query, fragment) = match query_and_fragment.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query_and_fragment, None),
    };
    let parameters: Vec<String> = query
        .split('&')
        .map(|parameter| match parameter.split_once('=') {
            Some((name, _value)) if is_credential_parameter(name) => format!("{name}={MASK}"),
            _ => parameter.to_owned(),
        })
        .collect();
    let mut shown = format!("{path}?{}", parameters.join("&"));
    if let Some(fragment) = fragment {
        shown.push('#');
        shown.push_str(fragment);
    }
    shown
}

/// Whether a query parameter's name says it carries a credential: the one rule for a
/// remote location shown in output and for an env value shown in a plan
/// ([`crate::desired::sensitive`]).
pub(crate) fn is_credential_parameter(name: &str) -> bool {
    let name = percent_decode(name).to_ascii_lowercase();
    let squashed: String = name
        .chars()
        .filter(|character| character.is_ascii_alphanumeric())
        .collect();
    CREDENTIAL_PARAMETERS.contains(&name.as_str())
        || CREDENTIAL_WORDS.iter().any(|word| squashed.contains(word))
}

/// `%XX` sequences decoded (invalid ones kept as written).
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = bytes
            .get(index + 1..index + 3)
            .and_then(|pair| std::str::from_utf8(pair).ok())
            .filter(|_| bytes[index] == b'%')
            .and_then(|pair| u8::from_str_radix(pair, 16).ok());
        match hex {
            Some(byte) => {
                decoded.push(byte);
                index += 3;
            }
            None => {
                decoded.push(bytes[index]);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&decoded).into_owned()
}

/// The credentials of one location, to hide them in any text that might quote them.
#[derive(Clone, Debug, Default)]
pub(super) struct Secrets {
    /// The location as written, replaced whole by its redacted form first.
    location: String,
    /// Its redacted form.
    shown: String,
    /// Values hidden wherever they appear: passwords, tokens, credential parameters.
    anywhere: Vec<String>,
    /// A user name, hidden where it stands before `@` or `:` (a short, plain name would
    /// otherwise mask ordinary words).
    user: Option<String>,
}

impl Secrets {
    /// The credentials `location` carries.
    pub(super) fn of(location: &str) -> Self {
        let mut secrets = Self {
            location: location.to_owned(),
            shown: redact_url(location),
            ..Self::default()
        };
        let Some((scheme, rest)) = location.split_once("://") else {
            return secrets;
        };
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, after_authority) = rest.split_at(authority_end);
        if let Some(at) = authority.rfind('@') {
            let user_information = &authority[..at];
            match user_information.split_once(':') {
                Some((user, password)) => {
                    secrets.add_anywhere(password);
                    secrets.user = Some(user.to_owned()).filter(|user| !user.is_empty());
                }
                // A lone user name over HTTP is where tokens go.
                None if !scheme.eq_ignore_ascii_case("ssh") => {
                    secrets.add_anywhere(user_information);
                }
                None => {}
            }
        }
        let query = after_authority
            .split_once('?')
            .map(|(_, query)| query.split('#').next().unwrap_or(query))
            .unwrap_or("");
        for parameter in query.split('&') {
            if let Some((name, value)) = parameter.split_once('=')
                && is_credential_parameter(name)
            {
                secrets.add_anywhere(value);
            }
        }
        secrets
    }

    /// Hides `value` (as written and percent-decoded) wherever it appears.
    fn add_anywhere(&mut self, value: &str) {
        for form in [value.to_owned(), percent_decode(value)] {
            if !form.is_empty() && !self.anywhere.contains(&form) {
                self.anywhere.push(form);
            }
        }
        // Longest first, so a value containing another is hidden whole.
        self.anywhere
            .sort_by_key(|value| std::cmp::Reverse(value.len()));
    }

    /// `text` with every credential of the location replaced by `***`.
    pub(super) fn scrub(&self, text: &str) -> String {
        let mut scrubbed = if self.location.is_empty() {
            text.to_owned()
        } else {
            text.replace(&self.location, &self.shown)
        };
        for value in &self.anywhere {
            scrubbed = scrubbed.replace(value.as_str(), MASK);
        }
        if let Some(user) = &self.user {
            for form in [user.clone(), percent_decode(user)] {
                scrubbed = scrubbed
                    .replace(&format!("{form}@"), &format!("{MASK}@"))
                    .replace(&format!("//{form}:"), &format!("//{MASK}:"));
            }
        }
        scrubbed
    }

    /// `error` and every error of its chain, with the credentials hidden in their messages.
    pub(super) fn scrub_error(
        &self,
        error: &(dyn std::error::Error + 'static),
    ) -> Box<dyn std::error::Error + Send + Sync> {
        Box::new(ScrubbedError::of(self, error))
    }
}

/// An error whose message, and each of whose sources, had its credentials hidden.
#[derive(Debug)]
struct ScrubbedError {
    message: String,
    source: Option<Box<ScrubbedError>>,
}

impl ScrubbedError {
    fn of(secrets: &Secrets, error: &(dyn std::error::Error + 'static)) -> Self {
        Self {
            message: secrets.scrub(&error.to_string()),
            source: error
                .source()
                .map(|source| Box::new(Self::of(secrets, source))),
        }
    }
}

impl fmt::Display for ScrubbedError {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.message)
    }
}

impl std::error::Error for ScrubbedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|source| source as &(dyn std::error::Error + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_information_is_hidden_except_an_ssh_account() {
        assert_eq!(
            redact_url("https://user:s3cret@example.com/fleet.git"),
            "https://***@example.com/fleet.git"
        );
        assert_eq!(
            redact_url("https://ghp_token@github.com/acme/fleet"),
            "https://***@github.com/acme/fleet"
        );
        assert_eq!(
            redact_url("git://user:password@127.0.0.1:9418/fleet"),
            "git://***@127.0.0.1:9418/fleet"
        );
        assert_eq!(
            redact_url("ssh://git@example.com/fleet.git"),
            "ssh://git@example.com/fleet.git"
        );
        assert_eq!(
            redact_url("ssh://git:hunter2@example.com/fleet.git"),
            "ssh://***@example.com/fleet.git"
        );
        assert_eq!(
            redact_url("file:///srv/git/fleet.git"),
            "file:///srv/git/fleet.git"
        );
        assert_eq!(
            redact_url("git://127.0.0.1:9418/fleet"),
            "git://127.0.0.1:9418/fleet"
        );
    }

    #[test]
    fn credential_query_parameters_are_hidden() {
        assert_eq!(
            redact_url("https://example.com/fleet.git?access_token=abc123&ref=main"),
            "https://example.com/fleet.git?access_token=***&ref=main"
        );
        assert_eq!(
            redact_url("https://h/f?private_token=a&token=b&password=c&Client-Secret=d#top"),
            "https://h/f?private_token=***&token=***&password=***&Client-Secret=***#top"
        );
        assert_eq!(
            redact_url("https://h/f?X-Amz-Signature=s&sig=t&key=u&page=2"),
            "https://h/f?X-Amz-Signature=***&sig=***&key=***&page=2"
        );
        assert_eq!(redact_url("https://h?token=t"), "https://h?token=***");
        assert_eq!(redact_url("/srv/fleet?token=t"), "/srv/fleet?token=t");
    }

    #[test]
    fn secrets_are_hidden_in_any_text_and_error_chain() {
        let location = "git://deploy:pa%40ss@host/fleet?access_token=tok-42";
        let secrets = Secrets::of(location);
        let text = format!(
            "could not reach {location}: user deploy@host (pa@ss) refused tok-42; deploy stays"
        );
        let scrubbed = secrets.scrub(&text);
        for secret in ["pa%40ss", "pa@ss", "tok-42", "deploy@"] {
            assert!(!scrubbed.contains(secret), "{secret} in {scrubbed}");
        }
        assert!(scrubbed.contains("deploy stays"), "{scrubbed}");

        let inner = std::io::Error::other(format!("connect to {location} failed"));
        #[derive(Debug)]
        struct Outer(std::io::Error);
        impl fmt::Display for Outer {
            fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(formatter, "fetching with token tok-42")
            }
        }
        impl std::error::Error for Outer {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let scrubbed = secrets.scrub_error(&Outer(inner));
        assert_eq!(scrubbed.to_string(), "fetching with token ***");
        let source = scrubbed.source().expect("the chain is kept").to_string();
        assert_eq!(
            source,
            "connect to git://***@host/fleet?access_token=*** failed"
        );
    }
}
