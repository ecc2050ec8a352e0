//! Local sources: a repository read from its commits (or work tree) and a plain folder.

use clawops::source::{Rejection, SourceError};

use super::support::git::{Folder, Repo, commit_of, git, paths, text};

/// A repository with three commits: `v1` tagged, `feature` branched off it, `main` ahead.
struct History {
    repo: Repo,
    first: String,
    feature: String,
    third: String,
}

fn history() -> History {
    let repo = Repo::new("fleet");
    repo.write("clawops.toml", "# first\n");
    repo.write("teams/alpha.yaml", "name: alpha-1\n");
    let first = repo.commit("First fleet");
    repo.git(&["tag", "-a", "v1", "-m", "release 1"]);
    repo.git(&["checkout", "--quiet", "-b", "feature"]);
    repo.write("teams/beta.yaml", "name: beta-feature\n");
    let feature = repo.commit("Feature adds beta");
    repo.git(&["checkout", "--quiet", "main"]);
    repo.write("teams/alpha.yaml", "name: alpha-3\n");
    repo.write("workers.yml", "name: worker\n");
    let third = repo.commit("Third: alpha 3 and workers");
    History {
        repo,
        first,
        feature,
        third,
    }
}

#[test]
fn local_repository_is_read_at_head_by_default() {
    let history = history();
    let repo = &history.repo;
    let snapshot = repo.read_with(|_| {});
    assert_eq!(
        commit_of(&snapshot),
        (history.third.as_str(), "Third: alpha 3 and workers")
    );
    assert_eq!(
        paths(&snapshot),
        ["clawops.toml", "teams/alpha.yaml", "workers.yml"]
    );
    assert_eq!(text(&snapshot, "teams/alpha.yaml"), "name: alpha-3\n");
    for file in &snapshot.files {
        assert_eq!(file.blob, repo.blob("HEAD", &file.path), "{}", file.path);
    }
    assert_eq!(snapshot.root_name, "fleet");
    assert_eq!(snapshot.subfolder, "");
    assert!(snapshot.rejected.is_empty());
}

#[test]
fn local_repository_is_read_at_a_branch_a_tag_and_a_commit_id() {
    let history = history();
    let repo = &history.repo;

    let at_tag = repo.read_at("v1");
    assert_eq!(commit_of(&at_tag), (history.first.as_str(), "First fleet"));
    assert_eq!(paths(&at_tag), ["clawops.toml", "teams/alpha.yaml"]);
    assert_eq!(text(&at_tag, "teams/alpha.yaml"), "name: alpha-1\n");
    assert_eq!(
        at_tag.file("teams/alpha.yaml").expect("alpha").blob,
        repo.blob("v1", "teams/alpha.yaml")
    );

    let at_branch = repo.read_at("feature");
    assert_eq!(
        commit_of(&at_branch),
        (history.feature.as_str(), "Feature adds beta")
    );
    assert_eq!(text(&at_branch, "teams/beta.yaml"), "name: beta-feature\n");
    assert_eq!(text(&at_branch, "teams/alpha.yaml"), "name: alpha-1\n");

    let at_commit = repo.read_at(&history.first);
    assert_eq!(at_commit.files, at_tag.files);
    let short = &history.first[..10];
    assert_eq!(commit_of(&repo.read_at(short)).0, history.first);
}

#[test]
fn work_tree_changes_are_seen_only_with_worktree() {
    let history = history();
    let repo = &history.repo;
    repo.write("teams/alpha.yaml", "name: uncommitted\n");
    repo.write("teams/gamma.yaml", "name: untracked\n");

    let committed = repo.read_with(|_| {});
    assert_eq!(text(&committed, "teams/alpha.yaml"), "name: alpha-3\n");
    assert!(committed.file("teams/gamma.yaml").is_none());

    let work_tree = repo.read_with(|options| options.worktree = true);
    assert_eq!(work_tree.revision, None);
    assert_eq!(text(&work_tree, "teams/alpha.yaml"), "name: uncommitted\n");
    assert_eq!(text(&work_tree, "teams/gamma.yaml"), "name: untracked\n");
    assert_eq!(
        paths(&work_tree),
        [
            "clawops.toml",
            "teams/alpha.yaml",
            "teams/gamma.yaml",
            "workers.yml"
        ]
    );
}

#[test]
fn plain_directory_is_read_as_it_is() {
    let folder = Folder::new("plain-fleet");
    folder.write("clawops.toml", "[fleet]\n");
    folder.write("teams/alpha.yaml", "name: alpha\n");
    let snapshot = folder.read_with(|_| {});
    assert_eq!(snapshot.revision, None);
    assert_eq!(snapshot.root_name, "plain-fleet");
    assert_eq!(paths(&snapshot), ["clawops.toml", "teams/alpha.yaml"]);
    assert_eq!(text(&snapshot, "teams/alpha.yaml"), "name: alpha\n");
    let hashed = git(&folder.path, &["hash-object", "teams/alpha.yaml"]);
    assert_eq!(
        snapshot.file("teams/alpha.yaml").expect("alpha").blob,
        hashed
    );

    let error = clawops::source::read(&{
        let mut options = folder.options();
        options.revision = Some("main".to_owned());
        options
    })
    .expect_err("--rev needs a repository");
    assert!(matches!(
        error,
        SourceError::RevisionWithoutRepository { .. }
    ));
}

#[test]
fn missing_source_is_not_found() {
    let folder = Folder::new("present");
    let mut options = folder.options();
    options.location = folder.path.join("absent").to_string_lossy().into_owned();
    let error = clawops::source::read(&options).expect_err("missing");
    assert!(matches!(error, SourceError::NotFound { .. }), "{error:?}");
}

#[test]
fn subfolder_limits_the_files_and_keeps_repository_paths() {
    let repo = Repo::new("monorepo");
    repo.write("clawops.toml", "# root config, not the fleet's\n");
    repo.write("other/team.yaml", "name: other\n");
    repo.write("deploy/fleet/clawops.toml", "# fleet config\n");
    repo.write("deploy/fleet/teams/alpha.yaml", "name: alpha\n");
    repo.write("deploy/fleet/teams/clawops.toml", "# not considered\n");
    repo.commit("Monorepo");
    let expected = ["deploy/fleet/clawops.toml", "deploy/fleet/teams/alpha.yaml"];

    for worktree in [false, true] {
        let snapshot = repo.read_with(|options| {
            options.subfolder = Some("./deploy/fleet/".to_owned());
            options.worktree = worktree;
        });
        assert_eq!(paths(&snapshot), expected, "worktree: {worktree}");
        assert_eq!(snapshot.subfolder, "deploy/fleet");
        assert_eq!(snapshot.config_path(), "deploy/fleet/clawops.toml");
        assert_eq!(
            text(&snapshot, "deploy/fleet/clawops.toml"),
            "# fleet config\n"
        );
    }
    let committed = repo.read_with(|options| options.subfolder = Some("deploy/fleet".into()));
    let alpha = committed
        .file("deploy/fleet/teams/alpha.yaml")
        .expect("alpha");
    assert_eq!(
        alpha.blob,
        repo.blob("HEAD", "deploy/fleet/teams/alpha.yaml")
    );
}

#[test]
fn missing_subfolder_is_an_error() {
    let repo = Repo::new("monorepo");
    repo.write("deploy/team.yaml", "name: a\n");
    repo.commit("Only deploy");
    for worktree in [false, true] {
        let error = repo.read_error(|options| {
            options.subfolder = Some("nowhere".to_owned());
            options.worktree = worktree;
        });
        assert!(
            matches!(&error, SourceError::SubfolderMissing { subfolder, .. } if subfolder == "nowhere"),
            "worktree {worktree}: {error:?}"
        );
    }
    let error = repo.read_error(|options| options.subfolder = Some("deploy/team.yaml".into()));
    assert!(
        matches!(error, SourceError::SubfolderMissing { .. }),
        "a file is no subfolder"
    );
}

#[test]
fn hidden_folders_and_other_files_are_skipped() {
    let repo = Repo::new("fleet");
    repo.write("teams/alpha.yaml", "name: alpha\n");
    repo.write(".github/workflows/plan.yaml", "on: push\n");
    repo.write("teams/.drafts/beta.yaml", "name: beta\n");
    repo.write("README.md", "# fleet\n");
    repo.write("teams/notes.txt", "notes\n");
    repo.commit("Mixed files");
    for worktree in [false, true] {
        let snapshot = repo.read_with(|options| options.worktree = worktree);
        assert_eq!(
            paths(&snapshot),
            ["teams/alpha.yaml"],
            "worktree {worktree}"
        );
        assert!(snapshot.rejected.is_empty());
    }
}

#[test]
fn non_utf8_files_are_rejected() {
    let repo = Repo::new("fleet");
    repo.write("teams/alpha.yaml", "name: alpha\n");
    repo.write("teams/latin1.yaml", b"name: caf\xe9\n");
    repo.commit("Latin-1 file");
    for worktree in [false, true] {
        let snapshot = repo.read_with(|options| options.worktree = worktree);
        assert_eq!(paths(&snapshot), ["teams/alpha.yaml"]);
        assert_eq!(snapshot.rejected.len(), 1, "worktree {worktree}");
        assert_eq!(snapshot.rejected[0].path, "teams/latin1.yaml");
        assert_eq!(snapshot.rejected[0].reason, Rejection::NotUtf8);
    }
}

#[test]
fn files_over_the_size_limit_are_rejected() {
    let repo = Repo::new("fleet");
    repo.write("small.yaml", "a: 1\n");
    let large = "name: a-rather-long-value\n";
    repo.write("large.yaml", large);
    repo.commit("Sizes");
    for worktree in [false, true] {
        let snapshot = repo.read_with(|options| {
            options.max_file_size = 10;
            options.worktree = worktree;
        });
        assert_eq!(paths(&snapshot), ["small.yaml"]);
        assert_eq!(snapshot.rejected.len(), 1, "worktree {worktree}");
        assert_eq!(snapshot.rejected[0].path, "large.yaml");
        assert_eq!(
            snapshot.rejected[0].reason,
            Rejection::TooLarge {
                size: large.len() as u64,
                limit: 10
            }
        );
    }
    let default_limit = repo.read_with(|_| {});
    assert_eq!(paths(&default_limit), ["large.yaml", "small.yaml"]);
}

#[test]
fn committed_symlinks_are_followed_inside_and_rejected_outside() {
    let outside = Folder::new("outside");
    outside.write("secret.yaml", "name: secret\n");
    let repo = Repo::new("fleet");
    repo.write("shared/alpha.yaml", "name: alpha\n");
    repo.folder
        .symlink("teams/alias.yaml", "../shared/alpha.yaml");
    repo.folder
        .symlink("teams/escape.yaml", "../../outside/secret.yaml");
    let absolute = outside.path.join("secret.yaml");
    repo.folder
        .symlink("teams/absolute.yaml", &absolute.to_string_lossy());
    repo.commit("Links");

    let snapshot = repo.read_with(|_| {});
    assert_eq!(paths(&snapshot), ["shared/alpha.yaml", "teams/alias.yaml"]);
    let alias = snapshot.file("teams/alias.yaml").expect("alias");
    assert_eq!(alias.text, "name: alpha\n");
    assert_eq!(alias.blob, repo.blob("HEAD", "shared/alpha.yaml"));
    let rejected: Vec<(&str, &Rejection)> = snapshot
        .rejected
        .iter()
        .map(|rejected| (rejected.path.as_str(), &rejected.reason))
        .collect();
    assert_eq!(
        rejected,
        [
            (
                "teams/absolute.yaml",
                &Rejection::SymlinkEscapes {
                    target: absolute.to_string_lossy().into_owned()
                }
            ),
            (
                "teams/escape.yaml",
                &Rejection::SymlinkEscapes {
                    target: "../../outside/secret.yaml".to_owned()
                }
            ),
        ]
    );
}

#[test]
fn symlinks_in_a_plain_folder_are_followed_inside_and_rejected_outside() {
    let outside = Folder::new("outside");
    outside.write("secret.yaml", "name: secret\n");
    let folder = Folder::new("fleet");
    folder.write("shared/alpha.yaml", "name: alpha\n");
    folder.symlink("teams/alias.yaml", "../shared/alpha.yaml");
    let absolute = outside.path.join("secret.yaml");
    folder.symlink("teams/escape.yaml", &absolute.to_string_lossy());

    let snapshot = folder.read_with(|_| {});
    assert_eq!(paths(&snapshot), ["shared/alpha.yaml", "teams/alias.yaml"]);
    assert_eq!(text(&snapshot, "teams/alias.yaml"), "name: alpha\n");
    assert_eq!(snapshot.rejected.len(), 1);
    assert_eq!(snapshot.rejected[0].path, "teams/escape.yaml");
    assert_eq!(
        snapshot.rejected[0].reason,
        Rejection::SymlinkEscapes {
            target: absolute.to_string_lossy().into_owned()
        }
    );
}

#[test]
fn unknown_revision_is_a_resolve_revision_error() {
    let history = history();
    let error = history
        .repo
        .read_error(|options| options.revision = Some("no-such-branch".to_owned()));
    assert!(
        matches!(&error, SourceError::ResolveRevision { revision, .. } if revision == "no-such-branch"),
        "{error:?}"
    );
}

/// Writes `size` zero bytes as a loose blob with `git hash-object -w --stdin` (streamed,
/// never held in memory) and returns its id.
fn zero_blob(repo: &Repo, size: usize) -> String {
    use std::io::Write;
    let mut child = std::process::Command::new("git")
        .current_dir(repo.path())
        .args(["hash-object", "-w", "--stdin"])
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("git hash-object runs");
    let mut stdin = child.stdin.take().expect("stdin");
    let chunk = vec![0_u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        let part = left.min(chunk.len());
        stdin.write_all(&chunk[..part]).expect("stream zeros");
        left -= part;
    }
    drop(stdin);
    let output = child.wait_with_output().expect("git hash-object ends");
    assert!(output.status.success(), "git hash-object failed");
    String::from_utf8(output.stdout)
        .expect("an id")
        .trim()
        .to_owned()
}

#[test]
fn a_huge_blob_is_rejected_from_its_header_without_being_inflated() {
    const HUGE: usize = 64 << 20;
    let repo = Repo::new("fleet");
    repo.write("small.yaml", "a: 1\n");
    let blob = zero_blob(&repo, HUGE);
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("100644,{blob},huge.yaml"),
    ]);
    repo.git(&["add", "small.yaml"]);
    repo.git(&["commit", "--quiet", "-m", "Huge"]);

    // Cut the loose object just after its header: only a read that never inflates the
    // body can still tell its size. Inflating it (64 MiB of memory) would fail instead.
    let loose = repo
        .path()
        .join(".git/objects")
        .join(&blob[..2])
        .join(&blob[2..]);
    let compressed = std::fs::read(&loose).expect("loose object");
    assert!(compressed.len() > 1024, "{} bytes", compressed.len());
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644))
        .expect("make writable");
    std::fs::write(&loose, &compressed[..64]).expect("truncate loose object");

    let snapshot = repo.read_with(|_| {});
    assert_eq!(paths(&snapshot), ["small.yaml"]);
    assert_eq!(snapshot.rejected.len(), 1, "{:?}", snapshot.rejected);
    assert_eq!(snapshot.rejected[0].path, "huge.yaml");
    assert_eq!(
        snapshot.rejected[0].reason,
        Rejection::TooLarge {
            size: HUGE as u64,
            limit: clawops::source::DEFAULT_MAX_FILE_SIZE
        }
    );
}

#[test]
fn a_packed_blob_over_the_limit_is_rejected_and_validate_says_file_too_large() {
    const LARGE: usize = 8 << 20;
    let repo = Repo::new("fleet");
    let blob = zero_blob(&repo, LARGE);
    repo.git(&[
        "update-index",
        "--add",
        "--cacheinfo",
        &format!("100644,{blob},teams/large.yaml"),
    ]);
    repo.git(&["commit", "--quiet", "-m", "Large"]);
    repo.git(&["repack", "-a", "-d", "-q"]);
    repo.git(&["prune-packed"]);
    assert!(
        !repo
            .path()
            .join(".git/objects")
            .join(&blob[..2])
            .join(&blob[2..])
            .exists(),
        "the blob is packed"
    );
    let snapshot = repo.read_with(|_| {});
    assert_eq!(
        snapshot.rejected[0].reason,
        Rejection::TooLarge {
            size: LARGE as u64,
            limit: clawops::source::DEFAULT_MAX_FILE_SIZE
        }
    );
    let output = super::support::clawops()
        .arg("validate")
        .arg(repo.path())
        .output()
        .expect("clawops runs");
    let printed = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{printed}");
    assert!(
        printed.contains("file-too-large") && printed.contains("teams/large.yaml:1:1"),
        "{printed}"
    );
}
