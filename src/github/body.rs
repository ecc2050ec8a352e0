//! The comment body as it is sent: secrets scrubbed, the marker in front, and never longer
//! than GitHub accepts.
//!
//! Plans are redacted when they are rendered (see [`crate::render::redact`]); the body
//! file may hold anything, though (an error report quoting a YAML line, a hand-written
//! note), so the text is scrubbed once more here: the token itself, values assigned to
//! secret-looking keys (the same rule as env keys, [`is_sensitive_key`]), GitHub token
//! shapes, and passwords in URLs.

use std::sync::LazyLock;

use regex::{Captures, Regex};

use crate::desired::is_sensitive_key;
use crate::render::MARKDOWN_MARKER;

/// GitHub's limit for a comment body, in characters.
pub const COMMENT_LIMIT: usize = 65_536;

/// What replaces a scrubbed value.
const HIDDEN: &str = "***";

/// Said at the end of a body that had to be cut.
const CUT_NOTE: &str = "\n\n_This comment was cut to stay below GitHub's limit of 65,536 \
                        characters; run `clawops plan` locally to see all of it._\n";

/// The key of an assignment: `KEY: ` (a space or the line's end after the colon, so
/// `name:tag` is no assignment), `KEY=`, `"KEY":`, at the start of a line or after a
/// character that cannot continue a name, a path or an address (so `image/key:v1`,
/// `agent-key:v1` and `user@key:` hold no key), or after an option's dashes
/// (`--password=…`). Only the key and its separator are matched: a value is never
/// consumed unless its key is secret-looking, so `env={API_TOKEN: x}` and
/// `--env=SECRET_KEY=x` are seen as the assignments they hold.
static KEY: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"(?m)(?:^|[^A-Za-z0-9_.\-/@:]|(?:^|[\s=])--?)(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)(?:["'][ \t]*[:=]|[ \t]*=|[ \t]*:(?:[ \t]|$))[ \t]*"#,
    )
    .expect("a valid pattern")
});

/// Personal, OAuth, app and refresh tokens of GitHub, classic and fine-grained.
static GITHUB_TOKEN_SHAPE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(?:gh[pousr]_[A-Za-z0-9]{16,}|github_pat_[A-Za-z0-9_]{20,})\b")
        .expect("a valid pattern")
});

/// `scheme://user:password@`.
static URL_PASSWORD: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/\s:@]+:[^/\s@]+@")
        .expect("a valid pattern")
});

/// The body to send: scrubbed of `token` and secret-looking values, starting with
/// [`MARKDOWN_MARKER`], at most [`COMMENT_LIMIT`] characters.
pub fn prepare(body: &str, token: &str) -> String {
    let scrubbed = scrub(body, token);
    let marked = if scrubbed.trim_start().starts_with(MARKDOWN_MARKER) {
        scrubbed
    } else {
        format!("{MARKDOWN_MARKER}\n{scrubbed}")
    };
    fit(marked, COMMENT_LIMIT)
}

/// Replaces the token, secret-looking assignments, GitHub tokens and URL passwords. The
/// one scrubbing of what reaches GitHub: the comment ([`prepare`]), GitHub's error
/// messages, and the Action's files (`clawops github scrub`: the job summary, the
/// `plan-markdown` output, the step log).
pub fn scrub(text: &str, token: &str) -> String {
    let without_token = if token.len() >= 4 {
        text.replace(token, HIDDEN)
    } else {
        text.to_owned()
    };
    let assignments = hide_assignments(&without_token);
    let tokens = GITHUB_TOKEN_SHAPE.replace_all(&assignments, HIDDEN);
    URL_PASSWORD
        .replace_all(&tokens, |captures: &Captures| {
            format!("{}{HIDDEN}@", &captures["scheme"])
        })
        .into_owned()
}

/// Hides the value of every assignment to a secret-looking key ([`is_sensitive_key`]):
/// `KEY=value`, `KEY: value`, `{KEY: value}`, `"KEY": "value"`, `KEY: {a: b}`.
fn hide_assignments(text: &str) -> String {
    let mut scrubbed = String::with_capacity(text.len());
    // Copied up to `copied`; the next key is looked for from `search`, which may be the
    // last character of the previous key's separator (it leads the next key: `a=KEY=v`).
    let mut copied = 0;
    let mut search = 0;
    while let Some(key) = KEY.captures_at(text, search) {
        let whole = key.get(0).map_or(search..text.len(), |whole| whole.range());
        let value_end = value_end(text, whole.end);
        if is_sensitive_key(&key["name"]) && !is_hidden(&text[whole.end..value_end]) {
            scrubbed.push_str(&text[copied..whole.end]);
            scrubbed.push_str(HIDDEN);
            copied = value_end;
            search = value_end;
        } else {
            let last = text[..whole.end]
                .chars()
                .next_back()
                .map_or(0, char::len_utf8);
            search = (whole.end - last).max(search + 1);
        }
    }
    scrubbed.push_str(&text[copied..]);
    scrubbed
}

/// Where the value starting at `start` ends: a quoted string at its closing quote, a
/// `{…}` or `[…]` at its closing bracket, anything else at a space, `,`, `}`, `]` or a
/// backtick; never past the end of the line.
fn value_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let line = rest.find(['\n', '\r']).map_or(rest, |end| &rest[..end]);
    let closing = |offset: usize| start + offset;
    let mut characters = line.char_indices();
    match characters.next() {
        None => start,
        Some((_, quote @ ('"' | '\''))) => characters
            .find(|(_, character)| *character == quote)
            .map_or(closing(line.len()), |(index, _)| closing(index + 1)),
        Some((_, open @ ('{' | '['))) => {
            let close = if open == '{' { '}' } else { ']' };
            let mut depth = 1_usize;
            for (index, character) in characters {
                if character == open {
                    depth += 1;
                } else if character == close {
                    depth -= 1;
                    if depth == 0 {
                        return closing(index + 1);
                    }
                }
            }
            closing(line.len())
        }
        Some(_) => closing(
            line.find(|character: char| {
                character.is_whitespace() || matches!(character, ',' | '}' | ']' | '`')
            })
            .unwrap_or(line.len()),
        ),
    }
}

/// Whether a value is already hidden or names a secret rather than holding one.
fn is_hidden(value: &str) -> bool {
    let value = value.trim_matches(['"', '\'']);
    value.is_empty() || value == HIDDEN || value.starts_with("!secret")
}

/// Cuts `body` to at most `limit` characters at a line end, closing an open code fence
/// and open `<details>` sections so the rest of the page renders, and says it was cut.
pub fn fit(body: String, limit: usize) -> String {
    if body.chars().count() <= limit {
        return body;
    }
    // Room for the note, a closing fence and a few closing tags.
    let room = limit.saturating_sub(CUT_NOTE.len() + 200);
    let end = body
        .char_indices()
        .nth(room)
        .map_or(body.len(), |(index, _)| index);
    let mut kept = body[..end].to_owned();
    if let Some(line_end) = kept.rfind('\n') {
        kept.truncate(line_end + 1);
    }
    let fences = kept
        .lines()
        .filter(|line| line.trim_start().starts_with("```"))
        .count();
    if fences % 2 == 1 {
        kept.push_str("```\n");
    }
    let open = kept.matches("<details>").count();
    let closed = kept.matches("</details>").count();
    for _ in closed..open.min(closed + 8) {
        kept.push_str("\n</details>\n");
    }
    kept.push_str(CUT_NOTE);
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_is_added_once() {
        let prepared = prepare("hello", "token-value");
        assert_eq!(prepared, format!("{MARKDOWN_MARKER}\nhello"));
        assert_eq!(prepare(&prepared, "token-value"), prepared);
    }

    #[test]
    fn secrets_are_scrubbed() {
        let text = "GITHUB_TOKEN: abc123\nDB_PASSWORD=\"hunter2\"\n{\"api_key\": \"sk-1\"}\n\
                    LOG_LEVEL: info\nsee ghp_ABCDEFGHIJKLMNOPQRSTUV and \
                    https://bot:pa55@example.com/x and the-token-itself";
        let scrubbed = scrub(text, "the-token-itself");
        for secret in [
            "abc123",
            "hunter2",
            "sk-1",
            "ghp_ABC",
            "pa55",
            "the-token-itself",
        ] {
            assert!(!scrubbed.contains(secret), "{secret} left in:\n{scrubbed}");
        }
        assert!(scrubbed.contains("LOG_LEVEL: info"));
        assert!(scrubbed.contains("GITHUB_TOKEN: ***"));
        assert!(scrubbed.contains("\"api_key\": ***"));
        assert!(scrubbed.contains("https://***@example.com/x"));
    }

    #[test]
    fn assignments_inside_other_values_are_scrubbed() {
        let text = "env: {API_TOKEN: PLANTED1, LOG: info}\n\
                    --env=SECRET_KEY=PLANTED2 SECRET_KEY=PLANTED3\n\
                    {\"env\":{\"API_TOKEN\":\"PLANTED4\",\"n\":1}}\n\
                    credentials: {user: a, pass: PLANTED5}\n\
                    `DB_PASSWORD=PLANTED6` and  PASSWORD = 'PLANTED 7' --password=PLANTED8\n";
        let scrubbed = scrub(text, "");
        assert!(!scrubbed.contains("PLANTED"), "{scrubbed}");
        assert!(
            scrubbed.contains("env: {API_TOKEN: ***, LOG: info}"),
            "{scrubbed}"
        );
        assert!(
            scrubbed.contains("--env=SECRET_KEY=*** SECRET_KEY=***"),
            "{scrubbed}"
        );
        assert!(
            scrubbed.contains("{\"env\":{\"API_TOKEN\":***,\"n\":1}}"),
            "{scrubbed}"
        );
        assert!(scrubbed.contains("credentials: ***\n"), "{scrubbed}");
        assert!(scrubbed.contains("`DB_PASSWORD=***`"), "{scrubbed}");
    }

    #[test]
    fn keys_inside_paths_and_addresses_are_not_keys() {
        let line = "image: ghcr.io/acme/key:v1 from git@host:key, agent-key:v2, sha256:abc";
        assert_eq!(scrub(line, ""), line);
    }

    #[test]
    fn plan_lines_about_secrets_stay_readable() {
        let line = "~ env.GITHUB_TOKEN (sensitive value changed)";
        assert_eq!(scrub(line, "xxxx"), line);
    }

    #[test]
    fn a_long_body_is_cut_at_a_line_with_fences_and_details_closed() {
        let mut body = String::from("<details>\n\n```text\n");
        for index in 0..20_000 {
            body.push_str(&format!("line {index} é\n"));
        }
        let fitted = fit(body, 10_000);
        assert!(fitted.chars().count() <= 10_000);
        assert!(fitted.ends_with(CUT_NOTE));
        let before_note = fitted.trim_end_matches(CUT_NOTE);
        assert!(before_note.contains("é\n```\n\n</details>"));
    }

    #[test]
    fn a_short_body_is_left_alone() {
        assert_eq!(fit("short".to_owned(), 10), "short");
    }
}
