//! Pilot topologies: derive each role's setup manifest from a PilotSetup ([`manifest`]),
//! check the setup as written against Pilot's rules (`rules`), and check derived
//! manifests against the rules that hold between them ([`consistency`]).
//!
//! Later stages use [`agents`] for the agent behind each role and [`manifests`] for the
//! file each agent gets at `~/.pilot/setups/<setup>.json`; [`output`] writes them.

pub mod consistency;
pub mod manifest;
pub mod output;
mod rules;

use crate::spec::clawops::PilotRole;
use crate::spec::{Diagnostic, PilotSetupSpec, Sourced};

pub use consistency::{EXTERNAL_PORT, Inconsistency, check_manifests};
pub use manifest::{
    DataFlow, Direction, EXTERNAL_PEER, Manifest, Peer, hostname, manifests, role_hostname,
};
pub use output::{ManifestOutputError, manifests_json, write_manifests};

/// The agent that plays one role of a setup.
#[derive(Clone, Debug, PartialEq)]
pub struct RoleAgent<'a> {
    /// The agent's name: the role's hostname, unique in the Pilot registry and a DNS label.
    pub name: String,
    /// The role's Pilot hostname.
    pub hostname: String,
    /// The role, with the agent's Worker fields in `agent`.
    pub role: &'a PilotRole,
}

/// The agents of a setup, in role declaration order.
pub fn agents(spec: &PilotSetupSpec) -> Vec<RoleAgent<'_>> {
    spec.roles
        .iter()
        .map(|role| {
            let hostname = role_hostname(&spec.prefix, role);
            RoleAgent {
                name: hostname.clone(),
                hostname,
                role,
            }
        })
        .collect()
}

/// Checks a PilotSetup against Pilot's rules. When the setup as written has no error, the
/// manifests derived from it are checked too (a safety net: they hold by construction).
pub fn validate(setup: &Sourced<PilotSetupSpec>) -> Vec<Diagnostic> {
    let mut diagnostics = rules::check(setup);
    if diagnostics.iter().any(Diagnostic::is_error) {
        return diagnostics;
    }
    let derived = manifests(setup.name(), setup.spec());
    diagnostics.extend(check_manifests(&derived).into_iter().map(|inconsistency| {
        Diagnostic::error(
            inconsistency.code(),
            &setup.file,
            setup.name_position(),
            format!(
                "derived manifests of setup `{}`: {inconsistency}",
                setup.name()
            ),
        )
        .with_help("this is a bug in clawops' manifest derivation; please report it")
    }));
    diagnostics
}

/// Small hand-made setups for unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use indexmap::IndexMap;

    use crate::spec::Located;
    use crate::spec::clawops::{PilotFlow, PilotRole, PilotSetupSpec, RoleList};

    /// A role with three skills and a description.
    pub fn role(id: &str) -> PilotRole {
        let skills: IndexMap<String, String> = ["pilot-sync", "pilot-share", "pilot-health"]
            .into_iter()
            .map(|skill| (skill.to_owned(), format!("{skill} for {id}")))
            .collect();
        PilotRole {
            role: Located::unplaced(id.to_owned()),
            role_name: id.to_uppercase(),
            description: format!("{id} does things"),
            skills: Located::unplaced(skills),
            ..PilotRole::default()
        }
    }

    fn role_list(names: &[&str]) -> Located<RoleList> {
        let names = names
            .iter()
            .map(|name| Located::unplaced((*name).to_owned()))
            .collect();
        Located::unplaced(RoleList(names))
    }

    /// A flow between roles.
    pub fn flow(from: &[&str], to: &[&str], port: i64, topic: &str) -> PilotFlow {
        PilotFlow {
            from: role_list(from),
            to: role_list(to),
            port: Located::unplaced(port),
            topic: topic.to_owned(),
            description: format!("{topic} flow"),
        }
    }

    /// A setup with a prefix, roles and flows.
    pub fn setup(prefix: &str, roles: Vec<PilotRole>, flows: Vec<PilotFlow>) -> PilotSetupSpec {
        PilotSetupSpec {
            prefix: Located::unplaced(prefix.to_owned()),
            setup_name: None,
            roles,
            flows,
            bootstrap: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::{flow, role, setup};
    use super::*;
    use crate::spec::document::{Metadata, Resource};
    use crate::spec::{Code, Located, Position};

    fn sourced(spec: PilotSetupSpec) -> Sourced<PilotSetupSpec> {
        Sourced {
            file: "setup.yaml".to_owned(),
            position: Position::new(1, 1),
            resource: Resource {
                metadata: Metadata {
                    name: Located::new("sync".to_owned(), Position::new(4, 9)),
                    ..Metadata::default()
                },
                spec,
                ..Resource::default()
            },
        }
    }

    fn chain() -> PilotSetupSpec {
        setup(
            "acme",
            vec![role("a"), role("b"), role("c")],
            vec![
                flow(&["a"], &["b"], 1001, "one"),
                flow(&["b"], &["c"], 1002, "two"),
                flow(&["c"], &[EXTERNAL_PEER], 443, "out"),
            ],
        )
    }

    fn codes(spec: PilotSetupSpec) -> Vec<Code> {
        validate(&sourced(spec))
            .iter()
            .map(|diagnostic| diagnostic.code)
            .collect()
    }

    #[test]
    fn a_valid_chain_has_no_diagnostic() {
        assert_eq!(codes(chain()), []);
    }

    #[test]
    fn agents_are_named_after_their_hostnames() {
        let mut spec = chain();
        spec.roles[1].hostname = Some(Located::unplaced("bee".to_owned()));
        let names: Vec<(String, String)> = agents(&spec)
            .into_iter()
            .map(|agent| (agent.name, agent.role.role.value.clone()))
            .collect();
        assert_eq!(
            names,
            [
                ("acme-a".to_owned(), "a".to_owned()),
                ("bee".to_owned(), "b".to_owned()),
                ("acme-c".to_owned(), "c".to_owned())
            ]
        );
    }

    #[test]
    fn guidance_is_only_a_warning() {
        let mut spec = chain();
        spec.roles.truncate(2);
        spec.flows.truncate(1);
        spec.roles[0].skills.value.clear();
        let diagnostics = validate(&sourced(spec));
        let codes: Vec<Code> = diagnostics
            .iter()
            .map(|diagnostic| diagnostic.code)
            .collect();
        assert_eq!(codes, [Code::PilotAgentCount, Code::PilotSkillCount]);
        assert!(diagnostics.iter().all(|diagnostic| !diagnostic.is_error()));
        assert_eq!(diagnostics[0].line, 4);
    }

    #[test]
    fn external_may_receive_but_not_send() {
        let mut spec = chain();
        spec.flows.push(flow(&[EXTERNAL_PEER], &["a"], 443, "in"));
        assert_eq!(
            codes(spec),
            [Code::PilotUnknownRole, Code::PilotExternalPort]
        );
    }

    #[test]
    fn a_role_named_external_is_refused() {
        let mut spec = chain();
        spec.roles[2].role = Located::unplaced(EXTERNAL_PEER.to_owned());
        let found = codes(spec);
        assert!(found.contains(&Code::PilotReservedHostname), "{found:?}");
    }

    #[test]
    fn an_empty_receiver_list_is_missing() {
        let mut spec = chain();
        spec.flows.push(flow(&["a"], &[], 1001, "nowhere"));
        assert_eq!(codes(spec), [Code::MissingField]);
    }

    #[test]
    fn a_long_role_id_is_blamed_on_the_role_not_the_prefix() {
        let mut spec = chain();
        spec.roles[0].role = Located::unplaced("r".repeat(62));
        spec.flows.clear();
        assert_eq!(codes(spec), [Code::PilotInvalidHostname]);
    }
}
