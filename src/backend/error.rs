//! Why a backend operation failed ([`BackendError`]), and whether trying again may help
//! ([`BackendError::is_transient`]). The backends classify their client's errors with the
//! shared rules here ([`transient_status`], [`transient_io`]) when they wrap them.

use super::LockHolder;

/// Why a backend operation failed.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum BackendError {
    /// The backend could not be reached.
    #[error("cannot reach {address}")]
    #[diagnostic(
        code(clawops::backend::connect),
        help(
            "check that it answers: Docker via DOCKER_HOST, Kubernetes via --kubeconfig, KUBECONFIG, ~/.kube/config or the pod's service account"
        )
    )]
    Connect {
        /// The address tried.
        address: String,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// An image the desired state needs is not available and cannot be pulled.
    #[error("image {image} is not available")]
    #[diagnostic(
        code(clawops::backend::image_missing),
        help("build or load the image on the engine, or make its registry reachable")
    )]
    ImageMissing {
        /// The image reference.
        image: String,
    },
    /// An agent did not become healthy in time.
    #[error("{agent} did not become healthy within {seconds}s: {reason}")]
    #[diagnostic(code(clawops::backend::unhealthy))]
    Unhealthy {
        /// The agent.
        agent: String,
        /// The timeout.
        seconds: u64,
        /// What was seen last.
        reason: String,
    },
    /// A secret an agent's env refers to is not set in clawops' environment.
    #[error("secret {secret} of {agent} is not set")]
    #[diagnostic(
        code(clawops::backend::secret_missing),
        help("export CLAWOPS_SECRET_<NAME> (the name upper-cased, `-` and `.` as `_`)")
    )]
    SecretMissing {
        /// The agent.
        agent: String,
        /// The secret's name (never its value).
        secret: String,
    },
    /// A secret an agent's env refers to is not a key of the cluster Secret that holds them.
    #[error("secret {key} of {agent} is not a key of Secret {secret} in namespace {namespace}")]
    #[diagnostic(
        code(clawops::backend::secret_key_missing),
        help(
            "add it, e.g. `kubectl -n <namespace> create secret generic <secret> --from-literal=<key>=…` (or patch the existing Secret); [kubernetes] secret names the Secret"
        )
    )]
    SecretKeyMissing {
        /// The agent.
        agent: String,
        /// The secret's name: the key looked for (never its value).
        key: String,
        /// The Secret that should hold it.
        secret: String,
        /// Its namespace.
        namespace: String,
    },
    /// A pushed workspace file did not read back as written.
    #[error("{path} of {agent} did not read back as pushed")]
    #[diagnostic(code(clawops::backend::verify_push))]
    VerifyPush {
        /// The agent.
        agent: String,
        /// The file, relative to `HOME`.
        path: String,
    },
    /// Another apply holds the fleet's lock.
    #[error("the fleet is being applied by {holder}")]
    #[diagnostic(
        code(clawops::backend::locked),
        help(
            "wait (--lock-timeout), or run `clawops unlock` if that process is gone; an abandoned lease also expires by itself"
        )
    )]
    Locked {
        /// The current holder (host `unknown` while it is still being written).
        holder: LockHolder,
    },
    /// Another field manager owns a field clawops applies (Kubernetes server-side apply).
    #[error("{object} has fields owned by another manager: {message}")]
    #[diagnostic(
        code(clawops::backend::conflict),
        help(
            "someone changed these fields with another tool; run again with --force-conflicts to take them over"
        )
    )]
    Conflict {
        /// `Kind/name` of the object.
        object: String,
        /// The API server's message naming the fields and their manager.
        message: String,
    },
    /// A request to the backend failed.
    #[error("{operation} {agent} failed")]
    #[diagnostic(code(clawops::backend::request))]
    Request {
        /// What was being done, e.g. `create`.
        operation: &'static str,
        /// The agent (or resource).
        agent: String,
        /// Whether trying again may succeed: the client's error was a lost connection, a
        /// timeout, a 5xx or a 429 (decided where the client's error is known, see
        /// [`transient_status`] and [`transient_io`]).
        transient: bool,
        /// The client's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A Pilot role's image lacks a tool its bootstrap needs.
    #[error(
        "the image {image} of {agent} has no {tool}, which the Pilot bootstrap needs: use an image that has it, or set `bootstrap: false` in the PilotSetup to leave the bootstrap to the agent"
    )]
    #[diagnostic(
        code(clawops::backend::pilot_tool_missing),
        help("pilotctl and clawhub must be on the image's PATH")
    )]
    PilotToolMissing {
        /// The Pilot role's agent.
        agent: String,
        /// Its image.
        image: String,
        /// `pilotctl` or `clawhub`.
        tool: &'static str,
    },
    /// The configured backend is not part of this build.
    #[error("the {backend} backend is not available in this build")]
    #[diagnostic(
        code(clawops::backend::unavailable),
        help("build clawops with the `{backend}` cargo feature, or choose another backend")
    )]
    Unavailable {
        /// The backend asked for (`docker`, `kubernetes`).
        backend: &'static str,
    },
}

impl BackendError {
    /// Whether the same operation may succeed if tried again later: the backend was
    /// unreachable, another apply holds the lock, or a request failed on the way (lost
    /// connection, timeout, 5xx, 429). A missing image, secret or key, an unhealthy agent,
    /// a field conflict, a push that did not read back and a backend missing from this
    /// build stay as they are until someone changes something.
    pub fn is_transient(&self) -> bool {
        match self {
            BackendError::Connect { .. } | BackendError::Locked { .. } => true,
            BackendError::Request { transient, .. } => *transient,
            BackendError::ImageMissing { .. }
            | BackendError::Unhealthy { .. }
            | BackendError::SecretMissing { .. }
            | BackendError::SecretKeyMissing { .. }
            | BackendError::VerifyPush { .. }
            | BackendError::Conflict { .. }
            | BackendError::PilotToolMissing { .. }
            | BackendError::Unavailable { .. } => false,
        }
    }
}

/// Whether an HTTP status answered by a backend's API says "try again later": 408, 429,
/// or a 5xx other than 501 (not implemented) and 505 (version not supported).
pub fn transient_status(status: u16) -> bool {
    matches!(status, 408 | 429) || ((500..600).contains(&status) && !matches!(status, 501 | 505))
}

/// Whether an I/O error is a lost or refused connection or a timeout.
pub fn transient_io(error: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(
        error.kind(),
        ErrorKind::ConnectionRefused
            | ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::NotConnected
            | ErrorKind::BrokenPipe
            | ErrorKind::TimedOut
            | ErrorKind::Interrupted
            | ErrorKind::UnexpectedEof
            | ErrorKind::NetworkUnreachable
            | ErrorKind::HostUnreachable
            | ErrorKind::NetworkDown
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(transient: bool) -> BackendError {
        BackendError::Request {
            operation: "inspect",
            agent: "a".to_owned(),
            transient,
            source: "x".into(),
        }
    }

    #[test]
    fn the_kind_of_failure_says_whether_to_try_again() {
        let connect = BackendError::Connect {
            address: "unix:///nowhere.sock".to_owned(),
            source: "refused".into(),
        };
        let locked = BackendError::Locked {
            holder: LockHolder::unknown(0),
        };
        assert!(connect.is_transient());
        assert!(locked.is_transient());
        assert!(request(true).is_transient());
        assert!(!request(false).is_transient());
        let permanent = [
            BackendError::ImageMissing {
                image: "a:1".to_owned(),
            },
            BackendError::Unhealthy {
                agent: "a".to_owned(),
                seconds: 1,
                reason: "not running".to_owned(),
            },
            BackendError::Conflict {
                object: "Deployment/a".to_owned(),
                message: "Apply failed".to_owned(),
            },
            BackendError::Unavailable { backend: "docker" },
        ];
        for error in permanent {
            assert!(!error.is_transient(), "{error:?}");
        }
    }

    #[test]
    fn statuses_and_io_errors_are_classified() {
        for status in [408, 429, 500, 502, 503, 504] {
            assert!(transient_status(status), "{status}");
        }
        for status in [400, 401, 403, 404, 409, 422, 501] {
            assert!(!transient_status(status), "{status}");
        }
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        assert!(transient_io(&refused));
        assert!(!transient_io(&denied));
    }
}
