//! What clawops runs inside a Pilot role's container after it starts (the seed's steps 2,
//! 3 and 5): the skills to install, the hostname, and the peers to handshake and trust.
//! Derived from the role's setup manifest, so it always says what the manifest says.

use serde::{Deserialize, Serialize};

use crate::pilot::Manifest;

/// A Pilot role's bootstrap.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PilotBootstrap {
    /// The setup slug (`setup: <slug>` is the reason sent with every handshake).
    pub setup: String,
    /// The role's Pilot hostname.
    pub hostname: String,
    /// ClawHub skill slugs, in manifest order.
    pub skills: Vec<String>,
    /// The hostnames of the manifest's peers: the only nodes whose pending requests are
    /// approved, and all of which must be trusted mutually.
    pub peers: Vec<String>,
    /// The hostnames the manifest's `handshakes_needed` lists.
    pub handshakes: Vec<String>,
    /// Whether clawops runs the bootstrap (`false`: the setup leaves it to the agent).
    pub run_by_clawops: bool,
}

impl PilotBootstrap {
    /// The bootstrap the manifest of a role asks for.
    pub fn of(manifest: &Manifest, run_by_clawops: bool) -> Self {
        Self {
            setup: manifest.setup.clone(),
            hostname: manifest.hostname.clone(),
            skills: manifest.skills.keys().cloned().collect(),
            peers: manifest
                .peers
                .iter()
                .map(|peer| peer.hostname.clone())
                .collect(),
            handshakes: manifest.handshakes_needed.clone(),
            run_by_clawops,
        }
    }

    /// A hash over everything the bootstrap does: a recorded bootstrap with the same hash
    /// needs nothing run again.
    pub fn hash(&self) -> String {
        use sha2::{Digest, Sha256};
        let text = serde_json::to_string(self).unwrap_or_default();
        hex::encode(Sha256::digest(text.as_bytes()))
    }
}
