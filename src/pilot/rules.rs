//! Pilot's rules on a PilotSetup as written: hostnames (rule 2), the prefix, unique roles,
//! flows naming declared roles, ports (rule 6), no flow to oneself, and the 3–5 agents /
//! 3–4 skills guidance (rule 8, warnings). Each problem points at the value to fix.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use super::consistency::EXTERNAL_PORT;
use super::manifest::{EXTERNAL_PEER, hostname};
use crate::spec::clawops::{PilotFlow, PilotRole, RoleList};
use crate::spec::diagnostic::did_you_mean;
use crate::spec::{Code, Diagnostic, Located, PilotSetupSpec, Position, Sourced};

/// Pilot's hostname pattern.
static HOSTNAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$").expect("hostname pattern")
});

/// What a prefix may look like: the start of a hostname (its length is checked apart).
static PREFIX: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[a-z0-9][a-z0-9-]*$").expect("prefix pattern"));

/// Hostnames the Pilot registry refuses.
const RESERVED_HOSTNAMES: [&str; 3] = ["localhost", "backbone", "broadcast"];
/// The longest hostname.
const MAX_HOSTNAME_LENGTH: usize = 63;
/// The ports agents exchange data on: 1001 data exchange, 1002 event stream.
const AGENT_PORTS: [i64; 2] = [1001, 1002];
/// The tasks port, retired.
const RETIRED_PORT: i64 = 1003;
/// Pilot setups are designed for this many agents.
const AGENT_RANGE: std::ops::RangeInclusive<usize> = 3..=5;
/// Pilot roles are designed for this many skills.
const SKILL_RANGE: std::ops::RangeInclusive<usize> = 3..=4;

/// Checks a setup as written; diagnostics in the order the rules run.
pub(super) fn check(setup: &Sourced<PilotSetupSpec>) -> Vec<Diagnostic> {
    let mut rules = SetupRules {
        file: &setup.file,
        spec: setup.spec(),
        diagnostics: Vec::new(),
    };
    rules.prefix();
    for role in &rules.spec.roles {
        rules.role_hostname(role);
        rules.skill_slugs(role);
    }
    rules.unique_roles();
    for flow in &rules.spec.flows {
        rules.flow_roles(flow);
        rules.flow_port(flow);
    }
    rules.guidance(setup.name_position());
    rules.diagnostics
}

struct SetupRules<'a> {
    file: &'a str,
    spec: &'a PilotSetupSpec,
    diagnostics: Vec<Diagnostic>,
}

impl SetupRules<'_> {
    fn error(&mut self, code: Code, position: Position, message: String, help: String) {
        self.diagnostics
            .push(Diagnostic::error(code, self.file, position, message).with_help(help));
    }

    /// The prefix must start a valid hostname and leave room for every default hostname.
    fn prefix(&mut self) {
        let prefix = &self.spec.prefix;
        if !PREFIX.is_match(prefix) {
            self.error(
                Code::PilotInvalidHostname,
                prefix.position,
                format!("prefix `{}` cannot start a hostname", prefix.value),
                "use lowercase letters, digits and `-`, starting with a letter or digit".into(),
            );
            return;
        }
        let longest = self
            .spec
            .roles
            .iter()
            .filter(|role| role.hostname.is_none() && role_id_fits(&role.role))
            .max_by_key(|role| role.role.len());
        if let Some(role) = longest {
            let default = hostname(prefix, &role.role);
            if default.len() > MAX_HOSTNAME_LENGTH {
                let room = MAX_HOSTNAME_LENGTH - 1 - role.role.len();
                self.error(
                    Code::PilotPrefixTooLong,
                    prefix.position,
                    format!(
                        "hostname `{default}` of role `{}` is {} characters, over {MAX_HOSTNAME_LENGTH}",
                        role.role.value,
                        default.len()
                    ),
                    format!(
                        "shorten the prefix to at most {room} characters, or give the role a `hostname`"
                    ),
                );
            }
        }
    }

    /// Every skill name is a ClawHub slug: `clawhub install <slug>` installs it.
    fn skill_slugs(&mut self, role: &PilotRole) {
        for skill in role.skills.keys().filter(|skill| !is_slug(skill)) {
            self.error(
                Code::PilotInvalidSkill,
                role.skills.position,
                format!("skill `{skill}` of role `{}` is not a ClawHub slug", role.role.value),
                "name skills by their ClawHub slug: lowercase letters, digits and `-`, starting with a letter or digit (e.g. `pilot-sync`)".into(),
            );
        }
    }

    /// A role's explicit hostname is valid and not reserved; its id can form the default.
    fn role_hostname(&mut self, role: &PilotRole) {
        if *role.role == EXTERNAL_PEER {
            self.error(
                Code::PilotReservedHostname,
                role.role.position,
                format!("`{EXTERNAL_PEER}` is the pseudo-peer outside Pilot, not a role"),
                "give the role another id".into(),
            );
        }
        match &role.hostname {
            Some(explicit) => self.explicit_hostname(explicit),
            None if !role_id_fits(&role.role) => self.error(
                Code::PilotInvalidHostname,
                role.role.position,
                format!(
                    "role id `{}` cannot end a hostname `<prefix>-{}`",
                    role.role.value, role.role.value
                ),
                format!(
                    "use at most {} lowercase letters, digits and `-`, ending with a letter or digit, or set `hostname`",
                    MAX_HOSTNAME_LENGTH - 2
                ),
            ),
            None => {}
        }
    }

    fn explicit_hostname(&mut self, explicit: &Located<String>) {
        let reserved =
            RESERVED_HOSTNAMES.contains(&explicit.as_str()) || **explicit == EXTERNAL_PEER;
        if reserved {
            self.error(
                Code::PilotReservedHostname,
                explicit.position,
                format!("hostname `{}` is reserved", explicit.value),
                format!(
                    "{} and `{EXTERNAL_PEER}` are reserved; the convention is `<prefix>-<role>`",
                    RESERVED_HOSTNAMES
                        .map(|name| format!("`{name}`"))
                        .join(", ")
                ),
            );
        } else if !HOSTNAME.is_match(explicit) {
            self.error(
                Code::PilotInvalidHostname,
                explicit.position,
                format!("hostname `{}` is not a valid Pilot hostname", explicit.value),
                "use 1–63 lowercase letters, digits and `-`, starting and ending with a letter or digit".into(),
            );
        }
    }

    /// Role ids and hostnames are unique within the setup.
    fn unique_roles(&mut self) {
        let mut ids: HashMap<&str, Position> = HashMap::new();
        let mut hostnames: HashMap<String, Position> = HashMap::new();
        for role in &self.spec.roles {
            if let Some(first) = ids.get(role.role.as_str()) {
                let message = format!("role `{}` is declared twice", role.role.value);
                let help = format!("first declared at {first}; rename or remove one");
                self.error(Code::PilotDuplicateRole, role.role.position, message, help);
                continue;
            }
            ids.insert(&role.role, role.role.position);
            let (name, position) = match &role.hostname {
                Some(explicit) => (explicit.value.clone(), explicit.position),
                None => (hostname(&self.spec.prefix, &role.role), role.role.position),
            };
            if let Some(first) = hostnames.get(&name) {
                let message = format!("hostname `{name}` is used by two roles");
                let help = format!("first used at {first}; give one of the roles another hostname");
                self.error(Code::PilotDuplicateRole, position, message, help);
            } else {
                hostnames.insert(name, position);
            }
        }
    }

    /// Flows name declared roles (or `external` as a receiver) and never the same role twice.
    fn flow_roles(&mut self, flow: &PilotFlow) {
        for (list, field) in [(&flow.from, "from"), (&flow.to, "to")] {
            if list.0.is_empty() {
                self.error(
                    Code::MissingField,
                    list.position,
                    format!("`{field}` names no role"),
                    "name at least one role".into(),
                );
            }
            for name in &list.0 {
                self.flow_role(name, list, field == "to");
            }
        }
        for receiver in &flow.to.0 {
            if flow.from.0.contains(receiver) {
                self.error(
                    Code::PilotSelfFlow,
                    item_position(receiver, &flow.to),
                    format!("role `{}` sends to itself", receiver.value),
                    "remove it from `from` or from `to`".into(),
                );
            }
        }
    }

    fn flow_role(&mut self, name: &Located<String>, list: &Located<RoleList>, receives: bool) {
        let declared = self.spec.roles.iter().any(|role| *role.role == **name);
        if declared || (receives && **name == EXTERNAL_PEER) {
            return;
        }
        let position = item_position(name, list);
        if **name == EXTERNAL_PEER {
            let message = format!("`{EXTERNAL_PEER}` cannot send to the setup's roles");
            let help = format!("`{EXTERNAL_PEER}` can only receive: `to: {EXTERNAL_PEER}`");
            self.error(Code::PilotUnknownRole, position, message, help);
            return;
        }
        let roles = self.spec.roles.iter().map(|role| role.role.as_str());
        let extra = receives.then_some(EXTERNAL_PEER);
        let help = match did_you_mean(name, roles.clone().chain(extra)) {
            Some(suggestion) => format!("did you mean `{suggestion}`?"),
            None => format!("declared roles: {}", roles.collect::<Vec<_>>().join(", ")),
        };
        let message = format!(
            "flow names role `{}`, which the setup does not declare",
            name.value
        );
        self.error(Code::PilotUnknownRole, position, message, help);
    }

    /// Ports: 1001 or 1002 between agents, 443 only with `external`, 1003 retired.
    fn flow_port(&mut self, flow: &PilotFlow) {
        let port = *flow.port;
        let external = flow.to.0.iter().any(|name| **name == EXTERNAL_PEER);
        let agents = flow.to.0.iter().any(|name| **name != EXTERNAL_PEER);
        let (code, message, help) = if port == RETIRED_PORT {
            (
                Code::PilotRetiredPort,
                format!("port {RETIRED_PORT} (tasks) is retired"),
                "use 1001 (data exchange) or 1002 (event stream)".to_owned(),
            )
        } else if port == EXTERNAL_PORT && agents {
            (
                Code::PilotExternalPort,
                format!("port {EXTERNAL_PORT} is only for flows to `{EXTERNAL_PEER}`"),
                "between agents use 1001 (data exchange) or 1002 (event stream)".to_owned(),
            )
        } else if port != EXTERNAL_PORT && external {
            (
                Code::PilotExternalPort,
                format!("flows to `{EXTERNAL_PEER}` use port {EXTERNAL_PORT}, not {port}"),
                format!("set `port: {EXTERNAL_PORT}`, or move `{EXTERNAL_PEER}` to its own flow"),
            )
        } else if port != EXTERNAL_PORT && !AGENT_PORTS.contains(&port) {
            (
                Code::PilotInvalidPort,
                format!("port {port} is not a Pilot data port"),
                "use 1001 (data exchange) or 1002 (event stream)".to_owned(),
            )
        } else {
            return;
        };
        self.error(code, flow.port.position, message, help);
    }

    /// Rule 8, as warnings: 3–5 agents per setup, 3–4 skills per role.
    fn guidance(&mut self, name_position: Position) {
        let agents = self.spec.roles.len();
        if !AGENT_RANGE.contains(&agents) {
            let message = format!(
                "setup has {agents} agents; Pilot setups are designed for {}–{}",
                AGENT_RANGE.start(),
                AGENT_RANGE.end()
            );
            self.diagnostics.push(
                Diagnostic::warning(Code::PilotAgentCount, self.file, name_position, message)
                    .with_help("split the setup, or merge roles, if the topology allows"),
            );
        }
        for role in &self.spec.roles {
            let skills = role.skills.len();
            if SKILL_RANGE.contains(&skills) {
                continue;
            }
            let position = if role.skills.position.line > 0 {
                role.skills.position
            } else {
                role.role.position
            };
            let message = format!(
                "role `{}` has {skills} skills; Pilot roles are designed for {}–{}",
                role.role.value,
                SKILL_RANGE.start(),
                SKILL_RANGE.end()
            );
            self.diagnostics.push(
                Diagnostic::warning(Code::PilotSkillCount, self.file, position, message)
                    .with_help("give each role the few skills its part of the flow needs"),
            );
        }
    }
}

/// Whether `<prefix>-<role>` can be a valid hostname for some non-empty prefix.
/// `^[a-z0-9][a-z0-9-]*$`, ClawHub's slug form.
fn is_slug(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_lowercase() || first.is_ascii_digit())
        && characters.all(|rest| rest.is_ascii_lowercase() || rest.is_ascii_digit() || rest == '-')
}

fn role_id_fits(role: &str) -> bool {
    role.len() <= MAX_HOSTNAME_LENGTH - 2 && HOSTNAME.is_match(&hostname("x", role))
}

/// Where a role name of a flow was written: its own position, else the whole list's.
fn item_position(name: &Located<String>, list: &Located<RoleList>) -> Position {
    if name.position.line > 0 {
        name.position
    } else {
        list.position
    }
}
