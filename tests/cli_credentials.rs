//! Credentials in a remote's location (user information, `?access_token=` and other token
//! parameters) never leave clawops: not in `plan`'s errors, not in the daemon's log or its
//! `/status` document, not in the names of the cache's folders.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use support::git::{Daemon, Folder, git};
use support::{KilledOnDrop, clawops};

const SECRETS: [&str; 4] = ["hunter2", "deploy-user", "tok-4242", "glpat-777"];

/// A served folder holding one bare repository with a commit, and a `git daemon` on it.
fn served() -> (Folder, Daemon) {
    let served = Folder::new("served");
    git(&served.path, &["init", "--quiet", "--bare", "fleet.git"]);
    let daemon = Daemon::start(&served.path);
    (served, daemon)
}

/// Locations that the daemon refuses, quoting what it was asked for.
fn credentialed(daemon: &Daemon) -> [String; 2] {
    [
        format!(
            "git://deploy-user:hunter2@127.0.0.1:{}/missing.git?access_token=tok-4242",
            daemon.port
        ),
        format!(
            "git://127.0.0.1:{}/fleet.git?private_token=glpat-777&token=tok-4242",
            daemon.port
        ),
    ]
}

fn assert_hidden(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{secret} in {what}:\n{text}");
    }
}

/// Every file and folder name below `folder`.
fn names_below(folder: &Path) -> String {
    let mut names = String::new();
    if let Ok(entries) = std::fs::read_dir(folder) {
        for entry in entries.flatten() {
            names.push_str(&entry.file_name().to_string_lossy());
            names.push('\n');
            if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
                names.push_str(&names_below(&entry.path()));
            }
        }
    }
    names
}

#[test]
fn plan_errors_and_the_cache_never_show_a_remote_credential() {
    let (_served, daemon) = served();
    let cache = Folder::new("cache");
    for location in credentialed(&daemon) {
        let output = clawops()
            .args(["plan", "--empty", "--cache-dir"])
            .arg(&cache.path)
            .arg(&location)
            .env("CLAWOPS_LOG", "trace")
            .output()
            .expect("clawops runs");
        assert!(!output.status.success(), "nothing to read at {location}");
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(printed.contains("could not fetch"), "{printed}");
        assert!(printed.contains("***"), "{printed}");
        assert_hidden("plan's output", &printed);
    }
    let names = names_below(&cache.path);
    assert!(!names.is_empty(), "the cache was used");
    assert_hidden("the cache", &names);
    assert!(!names.contains("token"), "{names}");
}

/// `GET path` on the daemon: the whole response, or `None` while it does not answer.
fn get(port: u16, path: &str) -> Option<String> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

#[test]
fn the_daemon_status_and_log_never_show_a_remote_credential() {
    let (_served, daemon) = served();
    let home = Folder::new("home");
    let [location, _] = credentialed(&daemon);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    let log = home.path.join("watch.log");
    let child = Command::new(env!("CARGO_BIN_EXE_clawops"))
        .env("HOME", &home.path)
        .env("CLAWOPS_LOG", "trace")
        .args(["watch", &location, "--interval", "1s", "--listen"])
        .arg(format!("127.0.0.1:{port}"))
        .arg("--cache-dir")
        .arg(home.path.join("cache"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("clawops watch starts");
    let mut daemon_process = KilledOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        let logged = std::fs::read_to_string(&log).unwrap_or_default();
        if logged.contains("fetch failed")
            && let Some(status) = get(port, "/status")
        {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "no failed fetch logged:\n{logged}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.contains("\"remote\""), "{status}");
    assert!(
        status.contains("git://***@127.0.0.1") && status.contains("access_token=***"),
        "{status}"
    );
    assert_hidden("/status", &status);
    let _ = daemon_process.0.kill();
    let _ = daemon_process.0.wait();
    let logged = std::fs::read_to_string(&log).expect("log");
    assert_hidden("the daemon's log", &logged);
    assert_hidden("the daemon's files", &names_below(&home.path));
}
