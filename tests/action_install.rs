//! The GitHub Action's install step with a `version`: action.yml's "Install clawops" step
//! (its `run:` and `env:`, as the runner would give them) runs the real
//! `scripts/github-action/install.sh` against a release served over HTTP on 127.0.0.1:
//! a tarball holding a copy of the clawops binary built for these tests, and its
//! SHA256SUMS. A stand-in `cargo` first on PATH records any build from source (the
//! fallback) and installs a copy of the same binary.

mod release_support;
mod support;

use std::process::Command;

use release_support::*;

#[test]
fn a_release_is_downloaded_checked_and_put_on_the_path() {
    let case = Case::new("good");
    case.publish(VERSION);
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(output.status.success(), "{}", log(&output));

    let expected = format!("clawops {}", env!("CARGO_PKG_VERSION"));
    assert_eq!(version_of(&case.installed()), expected);
    let bin = case.install_root().join("bin");
    assert_eq!(case.github_path(), format!("{}\n", bin.display()));
    assert_eq!(
        server.requests(),
        vec![
            format!("/{VERSION}/{}", archive_name(VERSION)),
            format!("/{VERSION}/SHA256SUMS"),
        ]
    );
    assert_eq!(case.cargo_args(), None, "nothing was built");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("as SHA256SUMS lists"), "{}", log(&output));
    // The installed clawops runs from the folder GITHUB_PATH names, alone on PATH.
    let run = Command::new("clawops")
        .arg("--version")
        .env("PATH", &bin)
        .output()
        .expect("clawops on the new PATH");
    assert_eq!(String::from_utf8_lossy(&run.stdout).trim(), expected);
    case.assert_no_leftovers();
}

#[test]
fn a_release_without_the_archive_falls_back_to_building_the_tag() {
    let case = Case::new("missing");
    // The release exists (with its checksums) but has no archive for this machine.
    case.write_sums(
        VERSION,
        &format!(
            "{}  clawops-{VERSION}-riscv64gc-unknown-linux-gnu.tar.gz\n",
            "0".repeat(64)
        ),
    );
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(output.status.success(), "{}", log(&output));

    let root = case.install_root().display().to_string();
    let git = format!("{SERVER_URL}/{REPOSITORY}");
    assert_eq!(
        case.cargo_args().expect("cargo was run"),
        [
            "install",
            "--locked",
            "--no-default-features",
            "--force",
            "--root",
            &root,
            "--git",
            &git,
            "--tag",
            VERSION,
            "clawops",
        ]
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::warning::") && stdout.contains("404"),
        "a warning says why:\n{}",
        log(&output)
    );
    assert_eq!(
        server.requests(),
        vec![format!("/{VERSION}/{}", archive_name(VERSION))]
    );
    assert!(case.installed().is_file());
    assert_eq!(
        case.github_path(),
        format!("{}\n", case.install_root().join("bin").display())
    );
    case.assert_no_leftovers();
}

#[test]
fn a_checksum_that_does_not_match_fails_without_installing_or_building() {
    let case = Case::new("bad-checksum");
    let bytes = case.publish(VERSION);
    let mut wrong = sha256_hex(&bytes).into_bytes();
    wrong[0] = if wrong[0] == b'0' { b'1' } else { b'0' };
    let wrong = String::from_utf8(wrong).expect("hex");
    case.write_sums(VERSION, &format!("{wrong}  {}\n", archive_name(VERSION)));
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(!output.status.success(), "{}", log(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::error::checksum mismatch") && stdout.contains(&wrong),
        "{}",
        log(&output)
    );
    assert!(!case.installed().exists(), "nothing installed");
    assert!(!case.install_root().exists(), "not even the install folder");
    assert_eq!(case.cargo_args(), None, "no fallback to a build");
    assert_eq!(case.github_path(), "", "nothing added to the PATH");
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests());
    case.assert_no_leftovers();
}

#[test]
fn an_archive_that_sha256sums_does_not_list_is_refused() {
    let case = Case::new("unlisted");
    let bytes = case.publish(VERSION);
    // The right hash, under another name.
    case.write_sums(
        VERSION,
        &format!(
            "{}  clawops-{VERSION}-riscv64gc-unknown-linux-gnu.tar.gz\n",
            sha256_hex(&bytes)
        ),
    );
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(!output.status.success(), "{}", log(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::error::SHA256SUMS") && stdout.contains("does not list"),
        "{}",
        log(&output)
    );
    assert!(!case.installed().exists());
    assert_eq!(case.cargo_args(), None);
    assert_eq!(case.github_path(), "");
}

#[test]
fn a_release_without_sha256sums_is_refused() {
    let case = Case::new("no-sums");
    case.publish(VERSION);
    std::fs::remove_file(case.path("release").join(VERSION).join("SHA256SUMS")).expect("rm");
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(!output.status.success(), "{}", log(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("::error::"), "{}", log(&output));
    assert!(!case.installed().exists());
    assert_eq!(case.cargo_args(), None);
}

#[test]
fn a_cached_binary_of_the_version_is_used_without_any_request() {
    let case = Case::new("cached");
    case.publish(VERSION);
    // What actions/cache restores: the bin folder of an earlier run.
    std::fs::create_dir_all(case.install_root().join("bin")).expect("mkdir");
    std::fs::copy(env!("CARGO_BIN_EXE_clawops"), case.installed()).expect("copy");
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(output.status.success(), "{}", log(&output));
    assert_eq!(server.requests(), Vec::<String>::new(), "no request made");
    assert_eq!(case.cargo_args(), None);
    assert_eq!(
        case.github_path(),
        format!("{}\n", case.install_root().join("bin").display())
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("from the cache"), "{}", log(&output));
}

#[test]
fn a_cached_binary_of_another_version_is_replaced_by_the_release() {
    let case = Case::new("stale-cache");
    case.publish(VERSION);
    std::fs::create_dir_all(case.install_root().join("bin")).expect("mkdir");
    std::fs::write(case.installed(), "#!/bin/sh\necho 'clawops 0.0.1'\n")
        .expect("write stale binary");
    let mut permissions = std::fs::metadata(case.installed())
        .expect("stat")
        .permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(case.installed(), permissions).expect("chmod");
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install(VERSION, &server.base_url());
    assert!(output.status.success(), "{}", log(&output));
    assert_eq!(server.requests().len(), 2, "{:?}", server.requests());
    assert_eq!(
        version_of(&case.installed()),
        format!("clawops {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn a_release_binary_that_reports_another_version_is_installed_with_a_warning() {
    let case = Case::new("other-version");
    case.publish("v9.9.9");
    let server = ReleaseServer::start(&case.path("release"));

    let output = case.install("v9.9.9", &server.base_url());
    assert!(output.status.success(), "{}", log(&output));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("::warning::") && stdout.contains("not 'clawops 9.9.9'"),
        "{}",
        log(&output)
    );
    assert!(case.installed().is_file());
    assert_eq!(case.cargo_args(), None);
}

#[test]
fn a_version_that_is_not_a_tag_is_refused_before_any_request() {
    let case = Case::new("bad-version");
    let server = ReleaseServer::start(&case.path("release"));
    let output = case.install("../../etc", &server.base_url());
    assert!(!output.status.success(), "{}", log(&output));
    assert!(
        String::from_utf8_lossy(&output.stdout).contains("::error::"),
        "{}",
        log(&output)
    );
    assert_eq!(server.requests(), Vec::<String>::new());
    assert_eq!(case.cargo_args(), None);
}

#[test]
fn the_action_caches_the_folder_the_script_installs_into() {
    let action = action();
    let steps = action["runs"]["steps"].as_array().expect("steps");
    let cache_index = steps
        .iter()
        .position(|step| {
            step["uses"]
                .as_str()
                .is_some_and(|uses| uses.starts_with("actions/cache@"))
        })
        .expect("an actions/cache step");
    let install_index = steps
        .iter()
        .position(|step| step["name"] == "Install clawops")
        .expect("the install step");
    assert!(cache_index < install_index, "restored before the install");
    let cache = &steps[cache_index];
    let install = &steps[install_index];
    assert_eq!(cache["if"], "inputs.version != ''");
    let root = install["env"]["CLAWOPS_INSTALL_ROOT"]
        .as_str()
        .expect("CLAWOPS_INSTALL_ROOT");
    assert_eq!(cache["with"]["path"], format!("{root}/bin"));
    let key = cache["with"]["key"].as_str().expect("a cache key");
    for part in ["inputs.version", "runner.os", "runner.arch"] {
        assert!(key.contains(part), "the key {key} lacks {part}");
    }
    let uses = cache["uses"].as_str().expect("uses");
    let (_, pin) = uses.split_once('@').expect("pinned");
    assert!(
        pin.len() == 40 && pin.chars().all(|c| c.is_ascii_hexdigit()),
        "{uses} is pinned by a full commit id"
    );
    assert_eq!(
        install["run"],
        "bash \"$GITHUB_ACTION_PATH/scripts/github-action/install.sh\""
    );
}
