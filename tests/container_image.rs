//! The container image (`Dockerfile` at the repository root), built by the real Docker
//! Engine on a Debian bookworm base made here (there is no registry to pull
//! `debian:bookworm-slim` from): `debootstrap --variant=minbase` into a folder, imported
//! as `clawops-test/debian-base:bookworm` and kept for later runs. The image gets a copy
//! of the clawops binary these tests built, and must run it as the unprivileged user,
//! with git and ssh, validate a fleet mounted read-only, and fetch a fleet from a git
//! remote into its cache. Without an engine the test says so and passes, unless `CI` is
//! set: then it fails.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use serde_json::Value;

/// The shared base image, kept between runs (making it takes a minute or more).
const BASE: &str = "clawops-test/debian-base:bookworm";
const MIRROR: &str = "http://deb.debian.org/debian";

fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn unique(what: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or_default();
    format!(
        "{what}-{}-{}-{nanos}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

fn run(command: &mut Command) -> Output {
    command
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("{command:?} does not start: {error}"))
}

/// `docker args…`: stdout, or the failure with stderr.
fn docker(args: &[&str]) -> Result<String, String> {
    let output = run(Command::new("docker").args(args));
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {}: {}{}",
            args.join(" "),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// Whether an engine answers; without one, a note (or, under CI, a failure).
#[allow(
    clippy::print_stderr,
    reason = "a test that cannot run says so on stderr; under CI it fails instead"
)]
fn engine_answers() -> bool {
    match docker(&["version", "--format", "{{.Server.Version}}"]) {
        Ok(_) => true,
        Err(error) if std::env::var_os("CI").is_some_and(|value| !value.is_empty()) => {
            panic!("CI is set and no Docker Engine answers: {error}")
        }
        Err(error) => {
            eprintln!("note: no Docker Engine answers, test skipped: {error}");
            false
        }
    }
}

/// The Debian bookworm base: reused when the engine has it; else made with debootstrap
/// under a tag of its own, then tagged as [`BASE`] (so two runs making it at once each
/// tag a complete image, never a half-imported one).
fn debian_base() {
    static MADE: OnceLock<()> = OnceLock::new();
    MADE.get_or_init(|| {
        if docker(&["image", "inspect", "--format", "{{.Id}}", BASE]).is_ok() {
            return;
        }
        let debootstrap = ["/usr/sbin/debootstrap", "/sbin/debootstrap"]
            .into_iter()
            .find(|path| Path::new(path).is_file())
            .unwrap_or("debootstrap");
        let rootfs = tempfile::Builder::new()
            .prefix("clawops-test-debian-rootfs-")
            .tempdir()
            .expect("temp dir");
        let target = rootfs.path().join("root");
        let made = run(Command::new(debootstrap)
            .args(["--variant=minbase", "bookworm"])
            .arg(&target)
            .arg(MIRROR));
        assert!(
            made.status.success(),
            "debootstrap failed (.ci/run installs it; it needs root and the Debian mirror):\n{}",
            String::from_utf8_lossy(&made.stderr)
        );
        // What debian:bookworm-slim also leaves out: the package lists and downloads.
        for folder in ["var/lib/apt/lists", "var/cache/apt/archives"] {
            let _ = run(Command::new("find")
                .arg(target.join(folder))
                .args(["-type", "f", "-delete"]));
        }
        let own_tag = format!("clawops-test/debian-base:{}", unique("import"));
        let imported = run(Command::new("bash")
            .args([
                "-c",
                "set -o pipefail; tar -C \"$1\" -c . | docker import \
                 --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
                 --change 'CMD [\"bash\"]' - \"$2\"",
                "import",
            ])
            .arg(&target)
            .arg(&own_tag));
        assert!(
            imported.status.success(),
            "docker import failed:\n{}",
            String::from_utf8_lossy(&imported.stderr)
        );
        docker(&["tag", &own_tag, BASE]).expect("tag the base");
        let _ = docker(&["rmi", &own_tag]);
    });
}

/// An image built from the repository's Dockerfile for one test, removed when dropped.
struct Image {
    tag: String,
}

impl Image {
    fn build() -> Self {
        let context = tempfile::Builder::new()
            .prefix("clawops-test-image-context-")
            .tempdir()
            .expect("temp dir");
        for file in ["Dockerfile", ".dockerignore"] {
            std::fs::copy(project_root().join(file), context.path().join(file))
                .unwrap_or_else(|error| panic!("copy {file}: {error}"));
        }
        std::fs::copy(
            env!("CARGO_BIN_EXE_clawops"),
            context.path().join("clawops"),
        )
        .expect("copy the binary");
        let tag = format!("clawops-test/clawops:{}", unique("image"));
        let image = Self { tag };
        let base = format!("BASE={BASE}");
        let built = run(Command::new("docker")
            .args(["build", "--build-arg", &base, "--tag", &image.tag])
            .arg(context.path()));
        assert!(
            built.status.success(),
            "docker build failed:\n{}\n{}",
            String::from_utf8_lossy(&built.stdout),
            String::from_utf8_lossy(&built.stderr)
        );
        image
    }

    /// `docker run --rm [options…] IMAGE args…`; the output whatever the exit status.
    fn run(&self, options: &[&str], args: &[&str]) -> Output {
        run(Command::new("docker")
            .args(["run", "--rm", "--network", "none"])
            .args(options)
            .arg(&self.tag)
            .args(args))
    }

    /// Like [`Image::run`]; stdout, the run required to succeed.
    fn ok(&self, options: &[&str], args: &[&str]) -> String {
        let output = self.run(options, args);
        assert!(
            output.status.success(),
            "docker run {options:?} {args:?} failed:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    }

    /// `sh -c script` in the image, as its user.
    fn shell(&self, script: &str) -> String {
        self.ok(&["--entrypoint", "sh"], &["-c", script])
    }
}

impl Drop for Image {
    fn drop(&mut self) {
        let _ = docker(&["rmi", "--force", &self.tag]);
    }
}

/// A git repository of the example fleet (a commit on `main`), readable by anyone.
fn fleet_repository(folder: &Path) {
    let git = |args: &[&str]| {
        let output = run(Command::new("git")
            .args([
                "-c",
                "user.name=clawops-test",
                "-c",
                "user.email=t@example.invalid",
            ])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .arg("-C")
            .arg(folder)
            .args(args));
        assert!(
            output.status.success(),
            "git {args:?}:\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    std::fs::create_dir_all(folder).expect("mkdir");
    git(&["init", "--quiet"]);
    let status = run(Command::new("cp")
        .arg("-R")
        .arg(project_root().join("examples/hiclaw-fleet/."))
        .arg(folder));
    assert!(status.status.success(), "copy the example");
    git(&["add", "--all"]);
    git(&["commit", "--quiet", "-m", "the fleet"]);
    let opened = run(Command::new("chmod").args(["-R", "a+rX"]).arg(folder));
    assert!(opened.status.success(), "chmod");
}

#[test]
fn the_image_runs_clawops_unprivileged_with_git_and_ssh() {
    if !engine_answers() {
        return;
    }
    debian_base();
    let image = Image::build();

    // The configuration the Dockerfile promises.
    let config: Value = serde_json::from_str(
        &docker(&[
            "image",
            "inspect",
            "--format",
            "{{json .Config}}",
            &image.tag,
        ])
        .expect("inspect"),
    )
    .expect("JSON");
    assert_eq!(config["User"], "10001:10001");
    assert_eq!(config["Entrypoint"], serde_json::json!(["clawops"]));
    assert_eq!(config["Cmd"], serde_json::json!(["--help"]));
    assert_eq!(config["WorkingDir"], "/work");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .expect("Env")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(env.contains(&"HOME=/home/clawops"), "{env:?}");
    assert!(
        env.contains(&"XDG_CACHE_HOME=/home/clawops/.cache"),
        "{env:?}"
    );

    // clawops is the entrypoint; without arguments it prints its help.
    let version = image.ok(&[], &["--version"]);
    assert_eq!(version, format!("clawops {}", env!("CARGO_PKG_VERSION")));
    let help = image.ok(&[], &[]);
    assert!(help.contains("Usage: clawops"), "{help}");

    // Not root: the fixed uid, its own home, the cache under it writable.
    assert_eq!(image.ok(&["--entrypoint", "id"], &["-u"]), "10001");
    assert_eq!(image.ok(&["--entrypoint", "id"], &["-un"]), "clawops");
    assert_eq!(image.ok(&["--entrypoint", "id"], &["-g"]), "10001");
    assert_eq!(
        image.shell("stat -c '%u %a' \"$HOME\" \"$HOME/.ssh\" \"$XDG_CACHE_HOME/clawops\" /work"),
        "10001 755\n10001 700\n10001 755\n10001 755"
    );
    assert_eq!(
        image.shell("touch \"$XDG_CACHE_HOME/clawops/x\" /work/x && echo ok"),
        "ok"
    );

    // git, ssh and the CA certificates are there; apt's lists are not.
    let git = image.ok(&["--entrypoint", "git"], &["--version"]);
    assert!(git.starts_with("git version"), "{git}");
    let ssh = image.run(&["--entrypoint", "ssh"], &["-V"]);
    assert!(ssh.status.success(), "ssh -V");
    assert!(
        String::from_utf8_lossy(&ssh.stderr).contains("OpenSSH"),
        "{}",
        String::from_utf8_lossy(&ssh.stderr)
    );
    assert_eq!(
        image.shell("test -s /etc/ssl/certs/ca-certificates.crt && echo ok"),
        "ok"
    );
    assert_eq!(
        image.shell("find /var/lib/apt/lists -type f ! -name lock | wc -l"),
        "0"
    );

    // A fleet mounted read-only validates, as the unprivileged user.
    let example = project_root().join("examples/hiclaw-fleet");
    let mount = format!("{}:/fleet:ro", example.display());
    let validated = image.run(
        &["--volume", &mount],
        &["--color", "never", "validate", "/fleet"],
    );
    assert!(
        validated.status.success(),
        "validate:\n{}\n{}",
        String::from_utf8_lossy(&validated.stdout),
        String::from_utf8_lossy(&validated.stderr)
    );

    // A git repository mounted read-only is read at its HEAD; as a remote, it is fetched
    // into the user's cache. gix hands file:// to `git upload-pack`, which refuses a
    // repository of another owner: for that, it is copied to the user's home first.
    let remote = tempfile::Builder::new()
        .prefix("clawops-test-image-remote-")
        .tempdir()
        .expect("temp dir");
    let opened = run(Command::new("chmod").arg("755").arg(remote.path()));
    assert!(opened.status.success());
    fleet_repository(&remote.path().join("fleet.git"));
    let mount = format!("{}:/remote:ro", remote.path().display());
    let fetched = image.run(
        &["--volume", &mount, "--entrypoint", "sh"],
        &[
            "-c",
            "clawops --color never validate /remote/fleet.git && \
             cp -R /remote/fleet.git \"$HOME/fleet.git\" && \
             clawops --color never validate \"file://$HOME/fleet.git\" && \
             find \"$XDG_CACHE_HOME/clawops\" -mindepth 1 -maxdepth 1",
        ],
    );
    assert!(
        fetched.status.success(),
        "validate a git remote:\n{}\n{}",
        String::from_utf8_lossy(&fetched.stdout),
        String::from_utf8_lossy(&fetched.stderr)
    );
    let stdout = String::from_utf8_lossy(&fetched.stdout);
    assert!(
        stdout.contains("/home/clawops/.cache/clawops/"),
        "cached under XDG_CACHE_HOME:\n{stdout}"
    );
}

#[test]
fn the_dockerfile_takes_its_base_and_binary_as_build_arguments() {
    let text = std::fs::read_to_string(project_root().join("Dockerfile")).expect("Dockerfile");
    let lines: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim_start().starts_with('#') && !line.trim().is_empty())
        .collect();
    assert_eq!(lines[0], "ARG BASE=debian:bookworm-slim");
    assert_eq!(lines[1], "FROM ${BASE}");
    assert!(lines.contains(&"ARG BINARY=clawops"), "{lines:?}");
    assert!(text.contains("--no-install-recommends"));
    assert!(text.contains("rm -rf /var/lib/apt/lists/*"));
    let ignore =
        std::fs::read_to_string(project_root().join(".dockerignore")).expect(".dockerignore");
    for kept in ["!clawops", "!dist/clawops", "!target/release/clawops"] {
        assert!(ignore.lines().any(|line| line == kept), "{kept}");
    }
    assert_eq!(
        ignore.lines().find(|line| !line.starts_with('#')),
        Some("*")
    );
}
