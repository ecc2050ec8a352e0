//! Shared helpers of the Docker backend tests: locally built test images, one fleet per
//! test (its own prefix and network) that removes everything it made when dropped.

#![allow(dead_code)]

use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use clawops::backend::docker::DockerBackend;
use clawops::desired::Agent;
use clawops::spec::hiclaw::ExposeProtocol;

pub const BASE_IMAGE: &str = "clawops-test/agent:base";
pub const HEALTH_IMAGE: &str = "clawops-test/agent:health";
/// An image with the `pilotctl` and `clawhub` stand-ins of `tests/pilot_tools/` and the
/// Pilot registry stand-in (`httpd -f -p 8080 -h /www` serves it).
pub const PILOT_IMAGE: &str = "clawops-test/agent:pilot-tools";
/// An image whose health check never passes.
pub const SICK_IMAGE: &str = "clawops-test/agent:sick";
/// An image without health check whose process dies a second after it starts.
pub const CRASHING_IMAGE: &str = "clawops-test/agent:crashing";
const TOOLS: [&str; 24] = [
    "sh", "sleep", "cat", "ls", "true", "test", "mkdir", "echo", "printf", "grep", "sed", "tr",
    "head", "cut", "date", "basename", "cp", "rm", "rmdir", "wget", "httpd", "usleep", "wc", "env",
];
/// The Pilot stand-ins, installed at these paths of the pilot-tools image.
const PILOT_TOOLS: [(&str, &str); 3] = [
    ("bin/pilotctl", include_str!("../pilot_tools/pilotctl")),
    ("bin/clawhub", include_str!("../pilot_tools/clawhub")),
    (
        "www/cgi-bin/pilot",
        include_str!("../pilot_tools/registry.cgi"),
    ),
];

/// Runs `docker` with `args`; stdout on success.
pub fn docker(args: &[&str]) -> Result<String, String> {
    let output = Command::new("docker")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|error| error.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// A root filesystem of static busybox, its tools, and optionally a `pilotctl` stub.
fn rootfs(pilot: bool) -> Vec<u8> {
    let mut builder = tar::Builder::new(Vec::new());
    let busybox = std::fs::read("/bin/busybox").expect("static busybox at /bin/busybox");
    let mut add = |path: &str, mode: u32, kind: tar::EntryType, content: &[u8], link: &str| {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(content.len() as u64);
        if !link.is_empty() {
            header.set_link_name(link).expect("link name");
        }
        header.set_cksum();
        builder
            .append_data(&mut header, path, content)
            .expect("tar entry");
    };
    for dir in ["bin/", "root/", "tmp/", "www/", "www/cgi-bin/", "registry/"] {
        add(dir, 0o1777, tar::EntryType::Directory, b"", "");
    }
    add("bin/busybox", 0o755, tar::EntryType::Regular, &busybox, "");
    for tool in TOOLS {
        add(
            &format!("bin/{tool}"),
            0o777,
            tar::EntryType::Symlink,
            b"",
            "busybox",
        );
    }
    if pilot {
        for (path, script) in PILOT_TOOLS {
            add(path, 0o755, tar::EntryType::Regular, script.as_bytes(), "");
        }
    }
    builder.into_inner().expect("tar")
}

/// `docker import` of a root filesystem.
fn import(tag: &str, pilot: bool) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("rootfs.tar");
    std::fs::write(&path, rootfs(pilot)).expect("write rootfs");
    let path = path.to_string_lossy().into_owned();
    docker(&[
        "import",
        "--change",
        // PID 1 exits on SIGTERM, as an agent does (a bare `sleep` would ignore it and
        // every stop would wait out the grace period).
        "CMD [\"sh\",\"-c\",\"trap 'exit 0' TERM; sleep 86400 & wait\"]",
        "--change",
        "ENV PATH=/bin",
        &path,
        tag,
    ])
    .expect("docker import");
}

/// Builds the test images once per test binary run.
pub fn images() {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| {
        import(BASE_IMAGE, false);
        import(PILOT_IMAGE, true);
        for (tag, check) in [(HEALTH_IMAGE, "true"), (SICK_IMAGE, "test -f /nope")] {
            let dir = tempfile::tempdir().expect("temp dir");
            let dockerfile = format!(
                "FROM {BASE_IMAGE}\nHEALTHCHECK --interval=1s --timeout=2s --retries=1 CMD {check}\n"
            );
            std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
            let context = dir.path().to_string_lossy().into_owned();
            docker(&["build", "-q", "-t", tag, &context]).expect("docker build");
        }
        let dir = tempfile::tempdir().expect("temp dir");
        let dockerfile = format!("FROM {BASE_IMAGE}\nCMD [\"sh\", \"-c\", \"sleep 1; exit 3\"]\n");
        std::fs::write(dir.path().join("Dockerfile"), dockerfile).expect("Dockerfile");
        let context = dir.path().to_string_lossy().into_owned();
        docker(&["build", "-q", "-t", CRASHING_IMAGE, &context]).expect("docker build");
    });
}

/// Removes everything of one fleet when dropped.
pub struct Fleet {
    /// The fleet name (also the container prefix without its dash).
    pub name: String,
    /// The backend of this fleet.
    pub backend: DockerBackend,
}

impl Fleet {
    /// The resource name of member `member`.
    pub fn agent_name(&self, member: &str) -> String {
        format!("{}-worker-{member}", self.name)
    }

    /// A Running standalone worker `member` on `image`.
    pub fn agent(&self, member: &str, image: &str) -> Agent {
        Agent::builder(member)
            .prefix(&format!("{}-", self.name))
            .standalone()
            .image(image)
            .env("HOME", &format!("/root/hiclaw-fs/agents/{member}"))
            .env("HICLAW_WORKER_NAME", member)
            .label("team.example/owner", "qa")
            .port(8088, ExposeProtocol::Http)
            .workspace_file("SOUL.md", &format!("I am {member}.\n"))
            .workspace_file("config/mcporter.json", "{}\n")
            .file("workers.yaml")
            .runtime_hash(&format!("runtime-{member}-1"))
            .config_hash(&format!("config-{member}-1"))
            .build()
    }

    /// A Running worker `member` on `image`, prepared for, created and started.
    pub async fn started(&self, member: &str, image: &str) -> Agent {
        use clawops::backend::Backend;
        let agent = self.agent(member, image);
        self.backend.prepare(&[&agent]).await.expect("prepare");
        self.backend
            .create_agent(&agent, None)
            .await
            .expect("create");
        agent
    }

    /// `docker exec <agent> <command…>`.
    pub fn exec(&self, container: &str, command: &[&str]) -> Result<String, String> {
        let mut args = vec!["exec", container];
        args.extend(command);
        docker(&args)
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        let filter = format!("label=clawops.dev/fleet={}", self.name);
        let helpers = format!(
            "label={}={}",
            clawops::backend::docker::SEED_LABEL,
            self.name
        );
        for filter in [&filter, &helpers] {
            if let Ok(ids) = docker(&["ps", "-aq", "--filter", filter]) {
                for id in ids.lines().filter(|id| !id.is_empty()) {
                    let _ = docker(&["rm", "-f", id]);
                }
            }
        }
        if let Ok(names) = docker(&["volume", "ls", "-q", "--filter", &filter]) {
            for name in names.lines().filter(|name| !name.is_empty()) {
                let _ = docker(&["volume", "rm", "-f", name]);
            }
        }
        let _ = docker(&["rm", "-f", &clawops::backend::docker::lock_name(&self.name)]);
        let _ = docker(&[
            "rm",
            "-f",
            &clawops::backend::docker::records_name(&self.name),
        ]);
        let _ = docker(&["network", "rm", &format!("{}-net", self.name)]);
    }
}

/// A fresh fleet, or `None` (with a note) when no engine runs and `CI` is not set.
#[allow(
    clippy::print_stderr,
    reason = "a test that cannot run says so on stderr; under CI it fails instead"
)]
pub async fn fleet() -> Option<Fleet> {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let name = format!(
        "t-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let network = format!("{name}-net");
    match DockerBackend::connect("", &name, &network).await {
        Ok(backend) => {
            images();
            Some(Fleet { name, backend })
        }
        Err(error) if std::env::var_os("CI").is_some() => {
            panic!("CI is set and Docker is unreachable: {error}")
        }
        Err(error) => {
            eprintln!("note: Docker unreachable, test skipped: {error}");
            None
        }
    }
}

pub fn container_id(name: &str) -> String {
    docker(&["inspect", "-f", "{{.Id}}", name]).expect("inspect container")
}

pub fn inspect(name: &str, template: &str) -> String {
    docker(&["inspect", "-f", template, name]).expect("inspect")
}
