//! Setup manifests (`~/.pilot/setups/<setup>.json`), one per role, derived from a
//! PilotSetup: the role's own fields, the roles it shares a flow with (`peers`), its sends
//! and receives in flow order (`data_flows`) and the hostnames it must handshake with.
//!
//! The derivation is total: it works on any spec, skipping names that are neither a
//! declared role nor `external`, so validation can run the manifest rules on its result.

use indexmap::IndexMap;
use serde::Serialize;

use crate::spec::PilotSetupSpec;
use crate::spec::clawops::{PilotFlow, PilotRole};

/// The pseudo-peer outside the Pilot network, reached through the secure channel (443).
pub const EXTERNAL_PEER: &str = "external";

/// One role's setup manifest. Field order is the key order of the JSON file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// The setup slug (the file name stem).
    pub setup: String,
    /// Human name of the setup, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_name: Option<String>,
    /// Role id.
    pub role: String,
    /// Human name of the role.
    pub role_name: String,
    /// The role's Pilot hostname.
    pub hostname: String,
    /// What this agent does in the setup.
    pub description: String,
    /// Skill name → what it does in this role.
    pub skills: IndexMap<String, String>,
    /// The roles this one shares a flow with, in role declaration order.
    pub peers: Vec<Peer>,
    /// Sends and receives, in flow order.
    pub data_flows: Vec<DataFlow>,
    /// Hostnames this agent must handshake with (mutual handshakes).
    pub handshakes_needed: Vec<String>,
}

/// A role this role shares a flow with.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Peer {
    /// The peer's role id.
    pub role: String,
    /// The peer's hostname.
    pub hostname: String,
    /// How the peer is described to this role.
    pub description: String,
}

/// Whether a data flow leaves or reaches this role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// This role sends to the peer.
    Send,
    /// This role receives from the peer.
    Receive,
}

/// One send or receive of a role.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DataFlow {
    /// Send or receive.
    pub direction: Direction,
    /// The other end's hostname, or `external`.
    pub peer: String,
    /// Virtual port.
    pub port: i64,
    /// Topic.
    pub topic: String,
    /// What flows.
    pub description: String,
}

/// The default hostname of a role: `<prefix>-<role>`.
pub fn hostname(prefix: &str, role: &str) -> String {
    format!("{prefix}-{role}")
}

/// A role's hostname: the one written in the role, else `<prefix>-<role>`.
pub fn role_hostname(prefix: &str, role: &PilotRole) -> String {
    match &role.hostname {
        Some(hostname) => hostname.value.clone(),
        None => hostname(prefix, &role.role),
    }
}

/// Every role's manifest, in role declaration order.
pub fn manifests(setup_slug: &str, spec: &PilotSetupSpec) -> Vec<Manifest> {
    let topology = Topology::new(spec);
    spec.roles
        .iter()
        .enumerate()
        .map(|(index, role)| topology.manifest(setup_slug, spec, index, role))
        .collect()
}

/// The roles of a setup with their hostnames, for looking names up.
struct Topology<'a> {
    roles: &'a [PilotRole],
    hostnames: Vec<String>,
    flows: &'a [PilotFlow],
}

impl<'a> Topology<'a> {
    fn new(spec: &'a PilotSetupSpec) -> Self {
        Self {
            roles: &spec.roles,
            hostnames: spec
                .roles
                .iter()
                .map(|role| role_hostname(&spec.prefix, role))
                .collect(),
            flows: &spec.flows,
        }
    }

    /// The index of the first role with this id.
    fn index_of(&self, role: &str) -> Option<usize> {
        self.roles
            .iter()
            .position(|declared| *declared.role == role)
    }

    /// The hostname of a flow end: a declared role's hostname, `external`, or nothing.
    fn peer_hostname(&self, role: &str) -> Option<String> {
        if role == EXTERNAL_PEER {
            return Some(EXTERNAL_PEER.to_owned());
        }
        self.index_of(role)
            .map(|index| self.hostnames[index].clone())
    }

    fn manifest(
        &self,
        setup_slug: &str,
        spec: &PilotSetupSpec,
        index: usize,
        role: &PilotRole,
    ) -> Manifest {
        let peers = self.peers_of(index);
        Manifest {
            setup: setup_slug.to_owned(),
            setup_name: spec.setup_name.clone(),
            role: role.role.value.clone(),
            role_name: role.role_name.clone(),
            hostname: self.hostnames[index].clone(),
            description: role.description.clone(),
            skills: role.skills.value.clone(),
            handshakes_needed: peers.iter().map(|peer| peer.hostname.clone()).collect(),
            peers,
            data_flows: self.data_flows_of(&role.role),
        }
    }

    /// The declared roles sharing a flow with role `index`, in declaration order.
    fn peers_of(&self, index: usize) -> Vec<Peer> {
        let own = self.roles[index].role.as_str();
        let mut shares_flow = vec![false; self.roles.len()];
        for flow in self.flows {
            let (senders, receivers) = (&flow.from.value.0, &flow.to.value.0);
            for (own_side, other_side) in [(senders, receivers), (receivers, senders)] {
                if !own_side.iter().any(|role| **role == own) {
                    continue;
                }
                for other in other_side.iter().filter(|other| ***other != own) {
                    if let Some(other_index) = self.index_of(other) {
                        shares_flow[other_index] = true;
                    }
                }
            }
        }
        self.roles
            .iter()
            .zip(&self.hostnames)
            .zip(shares_flow)
            .filter(|(_, shares)| *shares)
            .map(|((role, hostname), _)| Peer {
                role: role.role.value.clone(),
                hostname: hostname.clone(),
                description: role
                    .peer_description
                    .clone()
                    .unwrap_or_else(|| role.description.clone()),
            })
            .collect()
    }

    /// The sends and receives of a role, flow by flow, each flow's lists in order.
    fn data_flows_of(&self, own: &str) -> Vec<DataFlow> {
        let mut data_flows = Vec::new();
        for flow in self.flows {
            let (senders, receivers) = (&flow.from.value.0, &flow.to.value.0);
            let ends = [
                (Direction::Send, senders, receivers),
                (Direction::Receive, receivers, senders),
            ];
            for (direction, own_side, other_side) in ends {
                if !own_side.iter().any(|role| **role == own) {
                    continue;
                }
                for other in other_side.iter().filter(|other| ***other != own) {
                    if let Some(peer) = self.peer_hostname(other) {
                        data_flows.push(DataFlow {
                            direction,
                            peer,
                            port: *flow.port,
                            topic: flow.topic.clone(),
                            description: flow.description.clone(),
                        });
                    }
                }
            }
        }
        data_flows
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pilot::test_support::{flow, role, setup};

    fn triangle() -> PilotSetupSpec {
        let mut spec = setup(
            "acme",
            vec![role("origin"), role("edge-us"), role("edge-eu")],
            vec![
                flow(&["origin"], &["edge-us", "edge-eu"], 1001, "content-update"),
                flow(&["edge-eu", "edge-us"], &["origin"], 1002, "heartbeat"),
            ],
        );
        spec.roles[1].peer_description = Some("US edge".to_owned());
        spec
    }

    #[test]
    fn default_hostname_is_prefix_dash_role() {
        assert_eq!(hostname("acme", "edge-us"), "acme-edge-us");
    }

    #[test]
    fn explicit_hostname_wins_over_the_default() {
        let mut spec = triangle();
        spec.roles[0].hostname = Some(crate::spec::Located::unplaced("hub".to_owned()));
        let derived = manifests("sync", &spec);
        assert_eq!(derived[0].hostname, "hub");
        assert_eq!(derived[1].handshakes_needed, ["hub"]);
        assert_eq!(derived[1].data_flows[0].peer, "hub");
    }

    #[test]
    fn peers_follow_role_declaration_order_and_use_peer_descriptions() {
        let derived = manifests("sync", &triangle());
        let origin = &derived[0];
        let peers: Vec<(&str, &str)> = origin
            .peers
            .iter()
            .map(|peer| (peer.role.as_str(), peer.description.as_str()))
            .collect();
        assert_eq!(
            peers,
            [("edge-us", "US edge"), ("edge-eu", "edge-eu does things")]
        );
        assert_eq!(origin.handshakes_needed, ["acme-edge-us", "acme-edge-eu"]);
        assert_eq!(derived[1].peers.len(), 1);
    }

    #[test]
    fn data_flows_expand_lists_in_list_order_per_flow() {
        let derived = manifests("sync", &triangle());
        let origin: Vec<(Direction, &str, i64)> = derived[0]
            .data_flows
            .iter()
            .map(|flow| (flow.direction, flow.peer.as_str(), flow.port))
            .collect();
        assert_eq!(
            origin,
            [
                (Direction::Send, "acme-edge-us", 1001),
                (Direction::Send, "acme-edge-eu", 1001),
                (Direction::Receive, "acme-edge-eu", 1002),
                (Direction::Receive, "acme-edge-us", 1002),
            ]
        );
        let edge: Vec<Direction> = derived[2]
            .data_flows
            .iter()
            .map(|flow| flow.direction)
            .collect();
        assert_eq!(edge, [Direction::Receive, Direction::Send]);
    }

    #[test]
    fn external_is_a_flow_peer_but_not_a_peer_nor_a_handshake() {
        let mut spec = triangle();
        spec.flows
            .push(flow(&["origin"], &[EXTERNAL_PEER], 443, "report"));
        let origin = &manifests("sync", &spec)[0];
        let last = origin.data_flows.last().expect("a data flow");
        assert_eq!((last.peer.as_str(), last.port), (EXTERNAL_PEER, 443));
        assert!(origin.peers.iter().all(|peer| peer.role != EXTERNAL_PEER));
        assert!(
            !origin
                .handshakes_needed
                .iter()
                .any(|host| host == EXTERNAL_PEER)
        );
    }

    #[test]
    fn unknown_roles_are_skipped() {
        let mut spec = triangle();
        spec.flows
            .push(flow(&["origin"], &["nowhere"], 1001, "lost"));
        let origin = &manifests("sync", &spec)[0];
        assert_eq!(origin.data_flows.len(), 4);
        assert_eq!(origin.peers.len(), 2);
    }

    #[test]
    fn keys_follow_the_manifest_format_and_setup_name_only_when_set() {
        let mut spec = triangle();
        let plain = serde_json::to_value(&manifests("sync", &spec)[0]).expect("json");
        let keys: Vec<&str> = plain
            .as_object()
            .expect("object")
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            keys,
            [
                "setup",
                "role",
                "role_name",
                "hostname",
                "description",
                "skills",
                "peers",
                "data_flows",
                "handshakes_needed"
            ]
        );
        spec.setup_name = Some("Content Sync".to_owned());
        let named = serde_json::to_value(&manifests("sync", &spec)[0]).expect("json");
        assert_eq!(named["setup_name"], "Content Sync");
        assert_eq!(named["data_flows"][0]["direction"], "send");
    }
}
