//! Pilot bootstrap, shared by the backends that run agents themselves (Docker and
//! Kubernetes): the seed's steps 2, 3 and 5 run inside the role's container, through
//! `clawhub` and `pilotctl` and each backend's [`AgentShell`]. Step 4 (the setup manifest)
//! is a workspace file every backend already writes.
//!
//! [`bootstrap`] installs the role's skills (one slug per `clawhub install`, only those
//! the lock file does not list; it uninstalls only skills clawops installed before and git
//! dropped) and sets the hostname. [`confirm_trust`] then sends the role's handshakes once
//! each peer resolves, approves a pending request only from a peer the role's own manifest
//! lists (matched by node id, never a blanket approve), and is done when
//! `pilotctl --json trust` lists every peer as mutual; it retries with backoff until its
//! deadline and then names the peers that never came.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::BackendError;
use super::shell::{AgentShell, Ran};
use super::wait::{Look, wait_until};
use crate::desired::{Agent, PilotBootstrap};

/// The first pause between two looks at the trust; it doubles up to [`MOST_PAUSE`].
const FIRST_PAUSE: Duration = Duration::from_millis(250);
/// The longest pause between two looks at the trust.
const MOST_PAUSE: Duration = Duration::from_secs(4);

/// What a role's Pilot node reports, for `clawops status`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct PilotStatus {
    /// The node's hostname (`None`: not set).
    pub hostname: Option<String>,
    /// The skills the clawhub lock file lists.
    pub skills: Vec<String>,
    /// The manifest's peers that this node trusts mutually.
    pub trusted: Vec<String>,
    /// The manifest's peers it does not (yet).
    pub untrusted: Vec<String>,
}

/// The answer of a `pilotctl --json` call that ran: its `data`, or its error.
enum Answer {
    Ok(Value),
    Refused { code: String, message: String },
}

/// How long `clawops status` gives one role's node to answer.
const STATUS_TIMEOUT: Duration = Duration::from_secs(20);

/// Installs the role's skills, uninstalling those in `remove` that are installed, and sets
/// its hostname, within `timeout`. clawhub installs into the agent's
/// [home](super::shell::home): skills land in `<home>/skills/<slug>/`.
pub async fn bootstrap(
    shell: &dyn AgentShell,
    agent: &Agent,
    remove: &[String],
    timeout: Duration,
) -> Result<(), BackendError> {
    let Some(pilot) = &agent.pilot else {
        return Ok(());
    };
    let deadline = super::wait::deadline_after(timeout);
    let workdir = super::shell::home(agent);
    let workdir = workdir.as_str();
    for tool in ["pilotctl", "clawhub"] {
        let check = ["sh", "-c", &format!("command -v {tool}")].map(str::to_owned);
        match shell.run_in(&agent.name, &check, deadline).await? {
            Ran::Exited { code: 0, .. } => {}
            Ran::Exited { .. } => {
                return Err(BackendError::PilotToolMissing {
                    agent: agent.name.clone(),
                    image: agent.image.clone(),
                    tool,
                });
            }
            Ran::TimedOut => return Err(timed_out(agent, &check)),
        }
    }
    let installed = installed_skills(shell, agent, workdir, deadline).await?;
    let clawhub = |action: &str, slug: &str| {
        ["clawhub", "--workdir", workdir, action, slug].map(str::to_owned)
    };
    for slug in remove
        .iter()
        .filter(|slug| installed.contains(*slug) && !pilot.skills.contains(slug))
    {
        let mut command = clawhub("uninstall", slug).to_vec();
        command.push("--yes".to_owned());
        checked(shell, agent, &command, deadline).await?;
    }
    for slug in pilot
        .skills
        .iter()
        .filter(|slug| !installed.contains(*slug))
    {
        checked(shell, agent, &clawhub("install", slug), deadline).await?;
    }
    match pilotctl(shell, agent, &["set-hostname", &pilot.hostname], deadline).await? {
        Answer::Ok(_) => Ok(()),
        Answer::Refused { code, message } => Err(refused(agent, "set-hostname", &code, &message)),
    }
}

/// What one role's trust check has learned so far, kept between looks.
#[derive(Default)]
struct Progress {
    /// Peer hostname → node id, once it resolved.
    node_ids: BTreeMap<String, String>,
    /// Peers whose handshake was sent.
    sent: BTreeSet<String>,
    /// The next pause.
    pause: Duration,
    /// What the last complete look found missing.
    reason: String,
}

/// Sends the role's handshakes, approves the requests its manifest's peers left pending,
/// and waits until every peer is trusted mutually, at most `timeout`; a failure names the
/// peers still missing.
pub async fn confirm_trust(
    shell: &dyn AgentShell,
    agent: &Agent,
    timeout: Duration,
) -> Result<(), BackendError> {
    let Some(pilot) = &agent.pilot else {
        return Ok(());
    };
    let deadline = super::wait::deadline_after(timeout);
    let progress = Mutex::new(Progress {
        pause: FIRST_PAUSE,
        reason: "pilotctl did not answer before the deadline".to_owned(),
        ..Progress::default()
    });
    let progress = &progress;
    let look = move || async move {
        let missing = match look_at_trust(shell, agent, pilot, progress, deadline).await {
            Ok(missing) => missing,
            // A call cut off by the deadline: the gate ends with what the last look found.
            Err(_) if Instant::now() >= deadline => {
                let progress = progress.lock().unwrap_or_else(|poison| poison.into_inner());
                return Ok(Look::Waiting(progress.reason.clone()));
            }
            Err(error) => return Err(error),
        };
        if missing.is_empty() {
            return Ok(Look::Done(()));
        }
        let reason = format!("Pilot trust not mutual with {}", missing.join(", "));
        let pause = {
            let mut progress = progress.lock().unwrap_or_else(|poison| poison.into_inner());
            progress.reason.clone_from(&reason);
            let pause = progress.pause;
            progress.pause = (pause * 2).min(MOST_PAUSE);
            pause
        };
        Ok(Look::WaitingFor(reason, pause))
    };
    wait_until(deadline, FIRST_PAUSE, look)
        .await
        .map_err(|error| {
            error.into_backend_error(|reason| BackendError::Unhealthy {
                agent: agent.name.clone(),
                seconds: timeout.as_secs(),
                reason,
            })
        })
}

/// One look: resolve, handshake, approve, read the trust. The peers still missing, each
/// with why.
async fn look_at_trust(
    shell: &dyn AgentShell,
    agent: &Agent,
    pilot: &PilotBootstrap,
    progress: &Mutex<Progress>,
    deadline: Instant,
) -> Result<Vec<String>, BackendError> {
    let known = |progress: &Mutex<Progress>| {
        let progress = progress.lock().unwrap_or_else(|poison| poison.into_inner());
        (progress.node_ids.clone(), progress.sent.clone())
    };
    let (mut node_ids, mut sent) = known(progress);
    for peer in &pilot.peers {
        if node_ids.contains_key(peer) {
            continue;
        }
        if let Answer::Ok(data) = pilotctl(shell, agent, &["find", peer], deadline).await?
            && let Some(id) = data["node_id"].as_str()
        {
            node_ids.insert(peer.clone(), id.to_owned());
        }
    }
    let reason = format!("setup: {}", pilot.setup);
    for peer in &pilot.handshakes {
        let Some(id) = node_ids.get(peer).filter(|_| !sent.contains(peer)) else {
            continue;
        };
        if let Answer::Ok(_) = pilotctl(shell, agent, &["handshake", id, &reason], deadline).await?
        {
            sent.insert(peer.clone());
        }
    }
    approve_listed_peers(shell, agent, &node_ids, deadline).await?;
    let trusted = mutual_node_ids(shell, agent, deadline).await?;
    {
        let mut stored = progress.lock().unwrap_or_else(|poison| poison.into_inner());
        stored.node_ids.clone_from(&node_ids);
        stored.sent = sent;
    }
    Ok(pilot
        .peers
        .iter()
        .filter_map(|peer| match node_ids.get(peer) {
            None => Some(format!("{peer} (not registered)")),
            Some(id) if !trusted.contains(id) => Some(format!("{peer} (not mutual)")),
            Some(_) => None,
        })
        .collect())
}

/// Approves the pending requests whose node id is one of the manifest's peers, and only
/// those.
async fn approve_listed_peers(
    shell: &dyn AgentShell,
    agent: &Agent,
    node_ids: &BTreeMap<String, String>,
    deadline: Instant,
) -> Result<(), BackendError> {
    let Answer::Ok(data) = pilotctl(shell, agent, &["pending"], deadline).await? else {
        return Ok(());
    };
    let listed: BTreeSet<&str> = node_ids.values().map(String::as_str).collect();
    let requests = data["pending"].as_array().cloned().unwrap_or_default();
    for request in &requests {
        let Some(id) = request["node_id"].as_str() else {
            continue;
        };
        if listed.contains(id) {
            pilotctl(shell, agent, &["approve", id], deadline).await?;
        }
    }
    Ok(())
}

/// The node ids this node trusts mutually.
async fn mutual_node_ids(
    shell: &dyn AgentShell,
    agent: &Agent,
    deadline: Instant,
) -> Result<BTreeSet<String>, BackendError> {
    let Answer::Ok(data) = pilotctl(shell, agent, &["trust"], deadline).await? else {
        return Ok(BTreeSet::new());
    };
    Ok(data["trusted"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|entry| entry["mutual"].as_bool() == Some(true))
        .filter_map(|entry| entry["node_id"].as_str().map(str::to_owned))
        .collect())
}

/// What the role's node reports now: hostname, installed skills, trusted peers.
pub async fn status(shell: &dyn AgentShell, agent: &Agent) -> Result<PilotStatus, BackendError> {
    let Some(pilot) = &agent.pilot else {
        return Ok(PilotStatus::default());
    };
    let deadline = super::wait::deadline_after(STATUS_TIMEOUT);
    let workdir = super::shell::home(agent);
    let workdir = workdir.as_str();
    let hostname = match pilotctl(shell, agent, &["info"], deadline).await? {
        Answer::Ok(data) => data["hostname"]
            .as_str()
            .filter(|name| !name.is_empty())
            .map(str::to_owned),
        Answer::Refused { .. } => None,
    };
    let skills = installed_skills(shell, agent, workdir, deadline)
        .await?
        .into_iter()
        .collect();
    let trusted_ids = mutual_node_ids(shell, agent, deadline).await?;
    let mut status = PilotStatus {
        hostname,
        skills,
        ..PilotStatus::default()
    };
    for peer in &pilot.peers {
        let id = match pilotctl(shell, agent, &["find", peer], deadline).await? {
            Answer::Ok(data) => data["node_id"].as_str().map(str::to_owned),
            Answer::Refused { .. } => None,
        };
        if id.is_some_and(|id| trusted_ids.contains(&id)) {
            status.trusted.push(peer.clone());
        } else {
            status.untrusted.push(peer.clone());
        }
    }
    Ok(status)
}

/// The skills `<workdir>/.clawhub/lock.json` lists (none when there is no lock file).
async fn installed_skills(
    shell: &dyn AgentShell,
    agent: &Agent,
    workdir: &str,
    deadline: Instant,
) -> Result<BTreeSet<String>, BackendError> {
    let command = ["cat", &format!("{workdir}/.clawhub/lock.json")].map(str::to_owned);
    let output = match shell.run_in(&agent.name, &command, deadline).await? {
        Ran::Exited { code: 0, output } => output,
        Ran::Exited { .. } => return Ok(BTreeSet::new()),
        Ran::TimedOut => return Err(timed_out(agent, &command)),
    };
    let lock: Value = serde_json::from_str(&output).unwrap_or_default();
    Ok(lock["skills"]
        .as_object()
        .map(|skills| skills.keys().cloned().collect())
        .unwrap_or_default())
}

/// Runs `pilotctl --json <arguments>`: its `data`, or the error it answered.
async fn pilotctl(
    shell: &dyn AgentShell,
    agent: &Agent,
    arguments: &[&str],
    deadline: Instant,
) -> Result<Answer, BackendError> {
    let mut command = vec!["pilotctl".to_owned(), "--json".to_owned()];
    command.extend(arguments.iter().map(|argument| (*argument).to_owned()));
    let output = match shell.run_in(&agent.name, &command, deadline).await? {
        Ran::Exited { output, .. } => output,
        Ran::TimedOut => return Err(timed_out(agent, &command)),
    };
    let answer: Value = output
        .lines()
        .rev()
        .find_map(|line| serde_json::from_str(line).ok())
        .unwrap_or_default();
    if answer["status"] == "ok" {
        return Ok(Answer::Ok(answer["data"].clone()));
    }
    let text = |key: &str| answer[key].as_str().unwrap_or_default().to_owned();
    Ok(Answer::Refused {
        code: text("code"),
        message: if answer.is_null() {
            output.trim().to_owned()
        } else {
            text("message")
        },
    })
}

/// Runs `command`, which must exit 0.
async fn checked(
    shell: &dyn AgentShell,
    agent: &Agent,
    command: &[String],
    deadline: Instant,
) -> Result<(), BackendError> {
    match shell.run_in(&agent.name, command, deadline).await? {
        Ran::Exited { code: 0, .. } => Ok(()),
        Ran::Exited { code, output } => Err(BackendError::Request {
            operation: "pilot bootstrap",
            agent: agent.name.clone(),
            transient: false,
            source: format!(
                "`{}` exited with {code}: {}",
                command.join(" "),
                output.trim()
            )
            .into(),
        }),
        Ran::TimedOut => Err(timed_out(agent, command)),
    }
}

/// The error of a `pilotctl` call that answered with an error.
fn refused(agent: &Agent, call: &str, code: &str, message: &str) -> BackendError {
    BackendError::Request {
        operation: "pilot bootstrap",
        agent: agent.name.clone(),
        transient: false,
        source: format!("`pilotctl --json {call}` answered {code}: {message}").into(),
    }
}

/// The error of a backend that cannot run a Pilot bootstrap.
pub fn unsupported(agent: &Agent) -> BackendError {
    BackendError::Request {
        operation: "pilot bootstrap",
        agent: agent.name.clone(),
        transient: false,
        source: "this backend does not run Pilot roles (use docker or kubernetes)".into(),
    }
}

/// The error of a call that had not ended by the deadline.
fn timed_out(agent: &Agent, command: &[String]) -> BackendError {
    BackendError::Request {
        operation: "pilot bootstrap",
        agent: agent.name.clone(),
        transient: true,
        source: format!("`{}` had not ended by its deadline", command.join(" ")).into(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// A node whose `pilotctl` answers from a script and logs every call.
    struct ScriptedNode {
        calls: Mutex<Vec<String>>,
    }

    #[async_trait::async_trait]
    impl AgentShell for ScriptedNode {
        async fn run_in(
            &self,
            _agent: &str,
            command: &[String],
            _deadline: Instant,
        ) -> Result<Ran, BackendError> {
            let line = command.join(" ");
            self.calls.lock().expect("calls").push(line.clone());
            let ok = |data: &str| Ran::Exited {
                code: 0,
                output: format!("{{\"status\":\"ok\",\"data\":{data}}}"),
            };
            Ok(match line.as_str() {
                "pilotctl --json find acme-edge" => ok(r#"{"node_id":"n-edge"}"#),
                "pilotctl --json pending" => ok(
                    r#"{"pending":[{"node_id":"n-stranger","hostname":"acme-edge"},{"node_id":"n-edge","hostname":"acme-edge"}]}"#,
                ),
                "pilotctl --json approve n-edge" => ok(r#"{"status":"approved"}"#),
                "pilotctl --json trust" => {
                    let approved = self
                        .calls
                        .lock()
                        .expect("calls")
                        .iter()
                        .any(|call| call.ends_with("approve n-edge"));
                    if approved {
                        ok(r#"{"trusted":[{"node_id":"n-edge","mutual":true}]}"#)
                    } else {
                        ok(r#"{"trusted":[]}"#)
                    }
                }
                _ => Ran::Exited {
                    code: 1,
                    output: r#"{"status":"error","code":"unexpected","message":"no"}"#.into(),
                },
            })
        }
    }

    #[tokio::test]
    async fn only_a_pending_request_from_a_listed_peer_node_is_approved() {
        let node = ScriptedNode {
            calls: Mutex::new(Vec::new()),
        };
        let mut agent = Agent::builder("origin").build();
        agent.pilot = Some(PilotBootstrap {
            setup: "sync".to_owned(),
            hostname: "acme-origin".to_owned(),
            skills: Vec::new(),
            peers: vec!["acme-edge".to_owned()],
            // The edge handshakes; the origin only approves (a request left pending).
            handshakes: Vec::new(),
            run_by_clawops: true,
        });
        confirm_trust(&node, &agent, Duration::from_secs(5))
            .await
            .expect("trusted once the listed peer's request is approved");
        let calls = node.calls.lock().expect("calls").clone();
        let approvals: Vec<&String> = calls
            .iter()
            .filter(|call| call.contains("approve"))
            .collect();
        // The stranger claims the peer's hostname, but its node id is not the one the
        // hostname resolves to: never approved.
        assert_eq!(approvals, ["pilotctl --json approve n-edge"]);
    }
}
