//! Pilot's rules on a set of setup manifests, whatever produced them: every send has its
//! receive and the reverse (rule 5), handshakes are mutual (rule 3), name only peers
//! (rule 7), and cover every flow's peer except `external` on 443 (rule 4).
//!
//! Manifests derived from a PilotSetup satisfy these by construction; validation still
//! runs the check on them as a safety net, and the unit tests feed it broken manifests.

use std::fmt;

use super::manifest::{DataFlow, Direction, EXTERNAL_PEER, Manifest};
use crate::spec::Code;

/// The secure-channel port, the only one `external` may use.
pub const EXTERNAL_PORT: i64 = 443;

/// One way a set of manifests breaks Pilot's pairing and handshake rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inconsistency {
    /// A send whose peer has no matching receive (rule 5).
    SendWithoutReceive {
        /// The sender's hostname.
        hostname: String,
        /// The flow.
        flow: DataFlow,
    },
    /// A receive whose peer has no matching send (rule 5).
    ReceiveWithoutSend {
        /// The receiver's hostname.
        hostname: String,
        /// The flow.
        flow: DataFlow,
    },
    /// A host lists a handshake that the other side does not list back (rule 3).
    OneSidedHandshake {
        /// The host that lists the handshake.
        hostname: String,
        /// The host that does not list it back.
        peer: String,
    },
    /// A handshake names a host that is not one of the peers (rule 7).
    HandshakeWithoutPeer {
        /// The host that lists the handshake.
        hostname: String,
        /// The handshake that is not a peer.
        handshake: String,
    },
    /// A flow's peer is missing from the handshakes (rule 4).
    FlowWithoutHandshake {
        /// The host with the flow.
        hostname: String,
        /// The peer it does not handshake with.
        peer: String,
    },
}

impl Inconsistency {
    /// The diagnostic code this inconsistency is reported with.
    pub fn code(&self) -> Code {
        match self {
            Inconsistency::SendWithoutReceive { .. } | Inconsistency::ReceiveWithoutSend { .. } => {
                Code::PilotUnpairedFlow
            }
            Inconsistency::OneSidedHandshake { .. }
            | Inconsistency::HandshakeWithoutPeer { .. }
            | Inconsistency::FlowWithoutHandshake { .. } => Code::PilotHandshakeMismatch,
        }
    }
}

impl fmt::Display for Inconsistency {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Inconsistency::SendWithoutReceive { hostname, flow } => write!(
                formatter,
                "{hostname} sends `{}` on port {} to {}, which does not receive it",
                flow.topic, flow.port, flow.peer
            ),
            Inconsistency::ReceiveWithoutSend { hostname, flow } => write!(
                formatter,
                "{hostname} receives `{}` on port {} from {}, which does not send it",
                flow.topic, flow.port, flow.peer
            ),
            Inconsistency::OneSidedHandshake { hostname, peer } => write!(
                formatter,
                "{hostname} handshakes with {peer}, but {peer} does not handshake back"
            ),
            Inconsistency::HandshakeWithoutPeer {
                hostname,
                handshake,
            } => write!(
                formatter,
                "{hostname} handshakes with {handshake}, which is not one of its peers"
            ),
            Inconsistency::FlowWithoutHandshake { hostname, peer } => write!(
                formatter,
                "{hostname} exchanges data with {peer} without handshaking with it"
            ),
        }
    }
}

/// Every inconsistency of a set of manifests (one setup), in manifest order.
pub fn check_manifests(manifests: &[Manifest]) -> Vec<Inconsistency> {
    let mut inconsistencies = Vec::new();
    for manifest in manifests {
        unpaired_flows(manifest, manifests, &mut inconsistencies);
        handshakes(manifest, manifests, &mut inconsistencies);
    }
    inconsistencies
}

fn find<'a>(manifests: &'a [Manifest], hostname: &str) -> Option<&'a Manifest> {
    manifests
        .iter()
        .find(|manifest| manifest.hostname == hostname)
}

/// Rule 5: each flow has its mirror image on the peer.
fn unpaired_flows(manifest: &Manifest, manifests: &[Manifest], out: &mut Vec<Inconsistency>) {
    for flow in &manifest.data_flows {
        if flow.peer == EXTERNAL_PEER {
            continue;
        }
        let mirrored = find(manifests, &flow.peer).is_some_and(|peer| {
            peer.data_flows.iter().any(|candidate| {
                candidate.direction != flow.direction
                    && candidate.peer == manifest.hostname
                    && candidate.port == flow.port
                    && candidate.topic == flow.topic
            })
        });
        if mirrored {
            continue;
        }
        let hostname = manifest.hostname.clone();
        let flow = flow.clone();
        out.push(match flow.direction {
            Direction::Send => Inconsistency::SendWithoutReceive { hostname, flow },
            Direction::Receive => Inconsistency::ReceiveWithoutSend { hostname, flow },
        });
    }
}

/// Rules 3, 4 and 7: handshakes are mutual, name peers, and cover every flow's peer.
fn handshakes(manifest: &Manifest, manifests: &[Manifest], out: &mut Vec<Inconsistency>) {
    let hostname = &manifest.hostname;
    for handshake in &manifest.handshakes_needed {
        if !manifest
            .peers
            .iter()
            .any(|peer| peer.hostname == *handshake)
        {
            out.push(Inconsistency::HandshakeWithoutPeer {
                hostname: hostname.clone(),
                handshake: handshake.clone(),
            });
        }
        let mutual = find(manifests, handshake)
            .is_some_and(|other| other.handshakes_needed.contains(hostname));
        if !mutual {
            out.push(Inconsistency::OneSidedHandshake {
                hostname: hostname.clone(),
                peer: handshake.clone(),
            });
        }
    }
    let mut reported: Vec<&str> = Vec::new();
    for flow in &manifest.data_flows {
        let exempt = flow.peer == EXTERNAL_PEER && flow.port == EXTERNAL_PORT;
        if exempt
            || manifest.handshakes_needed.contains(&flow.peer)
            || reported.contains(&flow.peer.as_str())
        {
            continue;
        }
        reported.push(&flow.peer);
        out.push(Inconsistency::FlowWithoutHandshake {
            hostname: hostname.clone(),
            peer: flow.peer.clone(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pilot::manifest::manifests;
    use crate::pilot::test_support::{flow, role, setup};

    /// origin sends updates to two edges; each edge sends heartbeats back.
    fn derived() -> Vec<Manifest> {
        let spec = setup(
            "acme",
            vec![role("origin"), role("edge-us"), role("edge-eu")],
            vec![
                flow(&["origin"], &["edge-us", "edge-eu"], 1001, "content-update"),
                flow(&["edge-us", "edge-eu"], &["origin"], 1002, "heartbeat"),
                flow(&["origin"], &[EXTERNAL_PEER], 443, "report"),
            ],
        );
        manifests("sync", &spec)
    }

    fn codes(inconsistencies: &[Inconsistency]) -> Vec<Code> {
        inconsistencies.iter().map(Inconsistency::code).collect()
    }

    #[test]
    fn derived_manifests_are_consistent() {
        assert_eq!(check_manifests(&derived()), []);
    }

    #[test]
    fn a_send_without_its_receive_is_unpaired() {
        let mut broken = derived();
        broken[1]
            .data_flows
            .retain(|flow| flow.topic != "content-update");
        let found = check_manifests(&broken);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(matches!(
            &found[0],
            Inconsistency::SendWithoutReceive { hostname, flow }
                if hostname == "acme-origin" && flow.peer == "acme-edge-us"
        ));
        assert_eq!(found[0].code(), Code::PilotUnpairedFlow);
    }

    #[test]
    fn a_receive_on_another_port_is_unpaired_both_ways() {
        let mut broken = derived();
        broken[2].data_flows[0].port = 1002;
        let found = check_manifests(&broken);
        assert_eq!(codes(&found), [Code::PilotUnpairedFlow; 2], "{found:?}");
        assert!(matches!(found[0], Inconsistency::SendWithoutReceive { .. }));
        assert!(matches!(found[1], Inconsistency::ReceiveWithoutSend { .. }));
    }

    #[test]
    fn a_flow_to_a_host_without_manifest_is_unpaired() {
        let mut broken = derived();
        broken[0].data_flows[0].peer = "acme-edge-asia".to_owned();
        let found = check_manifests(&broken);
        assert!(found.contains(&Inconsistency::SendWithoutReceive {
            hostname: "acme-origin".to_owned(),
            flow: broken[0].data_flows[0].clone(),
        }));
    }

    #[test]
    fn a_one_sided_handshake_is_a_mismatch() {
        let mut broken = derived();
        broken[2].handshakes_needed.clear();
        let found = check_manifests(&broken);
        assert!(found.contains(&Inconsistency::OneSidedHandshake {
            hostname: "acme-origin".to_owned(),
            peer: "acme-edge-eu".to_owned(),
        }));
        assert!(found.contains(&Inconsistency::FlowWithoutHandshake {
            hostname: "acme-edge-eu".to_owned(),
            peer: "acme-origin".to_owned(),
        }));
        assert_eq!(codes(&found), [Code::PilotHandshakeMismatch; 2]);
    }

    #[test]
    fn a_handshake_with_a_non_peer_is_a_mismatch() {
        let mut broken = derived();
        broken[1].handshakes_needed.push("acme-edge-eu".to_owned());
        broken[2].handshakes_needed.push("acme-edge-us".to_owned());
        let found = check_manifests(&broken);
        assert_eq!(
            found,
            [
                Inconsistency::HandshakeWithoutPeer {
                    hostname: "acme-edge-us".to_owned(),
                    handshake: "acme-edge-eu".to_owned(),
                },
                Inconsistency::HandshakeWithoutPeer {
                    hostname: "acme-edge-eu".to_owned(),
                    handshake: "acme-edge-us".to_owned(),
                },
            ]
        );
    }

    #[test]
    fn external_needs_no_handshake_only_on_port_443() {
        let mut broken = derived();
        let external = broken[0]
            .data_flows
            .iter_mut()
            .find(|flow| flow.peer == EXTERNAL_PEER)
            .expect("external flow");
        external.port = 1001;
        let found = check_manifests(&broken);
        assert_eq!(
            found,
            [Inconsistency::FlowWithoutHandshake {
                hostname: "acme-origin".to_owned(),
                peer: EXTERNAL_PEER.to_owned(),
            }]
        );
    }

    #[test]
    fn messages_name_both_ends() {
        let inconsistency = Inconsistency::OneSidedHandshake {
            hostname: "a".to_owned(),
            peer: "b".to_owned(),
        };
        assert_eq!(
            inconsistency.to_string(),
            "a handshakes with b, but b does not handshake back"
        );
    }
}
