//! Remote sources: a bare repository pushed to with `git push`, read over `file://` and
//! over `git://` from a `git daemon`, through a cache in a temporary folder.

use std::path::PathBuf;

use clawops::source::{self, Snapshot, SourceError, SourceOptions};

use super::support::git::{Daemon, Folder, Repo, commit_of, git, paths, text};

/// A bare repository `fleet.git` inside a served folder, and a clone to push from.
struct Server {
    served: Folder,
    work: Repo,
}

impl Server {
    fn new() -> Self {
        let served = Folder::new("served");
        git(&served.path, &["init", "--quiet", "--bare", "fleet.git"]);
        let work = Repo::new("work");
        let bare = served.path.join("fleet.git");
        work.git(&["remote", "add", "origin", &bare.to_string_lossy()]);
        Self { served, work }
    }

    /// Commits `alpha.yaml` with `content` and pushes every branch and tag.
    fn commit_and_push(&self, content: &str, subject: &str) -> String {
        self.work.write("teams/alpha.yaml", content);
        let commit = self.work.commit(subject);
        self.push();
        commit
    }

    fn push(&self) {
        self.work
            .git(&["push", "--quiet", "--force", "origin", "--all"]);
        self.work
            .git(&["push", "--quiet", "--force", "origin", "--tags"]);
    }

    /// Runs git in the bare repository.
    fn bare_git(&self, args: &[&str]) -> String {
        git(&self.served.path.join("fleet.git"), args)
    }

    fn file_url(&self) -> String {
        format!("file://{}", self.served.path.join("fleet.git").display())
    }
}

/// Reads `url` through the cache at `cache`, at `revision` when given.
fn read(url: &str, cache: &Folder, revision: Option<&str>) -> Result<Snapshot, SourceError> {
    let mut options = SourceOptions::new(url);
    options.cache_dir = cache.path.clone();
    options.revision = revision.map(str::to_owned);
    source::read(&options)
}

fn read_ok(url: &str, cache: &Folder, revision: Option<&str>) -> Snapshot {
    read(url, cache, revision).unwrap_or_else(|error| panic!("reading {url}: {error:?}"))
}

/// The bare repositories in the cache.
fn cache_entries(cache: &Folder) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(cache.path.join("git")) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .map(|entry| entry.expect("cache entry").path())
        .filter(|path| path.extension().is_some_and(|extension| extension == "git"))
        .collect();
    found.sort();
    found
}

fn only_entry(cache: &Folder) -> PathBuf {
    let entries = cache_entries(cache);
    assert_eq!(entries.len(), 1, "one cached repository: {entries:?}");
    entries.into_iter().next().expect("one entry")
}

/// Reads, pushes, reads again, then reads older revisions: checks the cache is used,
/// starts shallow, is updated by fetch and deepens when an older commit is asked for.
fn fetch_update_and_deepen(server: &Server, url: &str) {
    let cache = Folder::new("cache");
    let first = server.commit_and_push("name: alpha-1\n", "First");
    let second = server.commit_and_push("name: alpha-2\n", "Second");
    server.work.git(&["tag", "-a", "v2", "-m", "release 2"]);
    let third = server.commit_and_push("name: alpha-3\n", "Third");

    let snapshot = read_ok(url, &cache, None);
    assert_eq!(commit_of(&snapshot), (third.as_str(), "Third"));
    assert_eq!(text(&snapshot, "teams/alpha.yaml"), "name: alpha-3\n");
    let alpha = snapshot.file("teams/alpha.yaml").expect("alpha");
    assert_eq!(alpha.blob, server.work.blob(&third, "teams/alpha.yaml"));
    assert_eq!(snapshot.origin, url);
    assert_eq!(snapshot.root_name, "fleet");
    let entry = only_entry(&cache);
    assert!(entry.join("shallow").is_file(), "first fetch is shallow");

    let fourth = server.commit_and_push("name: alpha-4\n", "Fourth");
    let updated = read_ok(url, &cache, None);
    assert_eq!(commit_of(&updated), (fourth.as_str(), "Fourth"));
    assert_eq!(text(&updated, "teams/alpha.yaml"), "name: alpha-4\n");
    assert_eq!(only_entry(&cache), entry);

    let at_tag = read_ok(url, &cache, Some("v2"));
    assert_eq!(commit_of(&at_tag), (second.as_str(), "Second"));
    assert_eq!(text(&at_tag, "teams/alpha.yaml"), "name: alpha-2\n");
    assert!(
        entry.join("shallow").is_file(),
        "tags are fetched shallowly"
    );

    let at_old_commit = read_ok(url, &cache, Some(&first));
    assert_eq!(commit_of(&at_old_commit), (first.as_str(), "First"));
    assert_eq!(text(&at_old_commit, "teams/alpha.yaml"), "name: alpha-1\n");
    assert!(!entry.join("shallow").exists(), "an old commit deepens");
    let at_ancestor = read_ok(url, &cache, Some("main~1"));
    assert_eq!(commit_of(&at_ancestor).0, third);

    let fifth = server.commit_and_push("name: alpha-5\n", "Fifth");
    assert_eq!(commit_of(&read_ok(url, &cache, None)).0, fifth);
    assert!(
        !entry.join("shallow").exists(),
        "a complete cache stays complete"
    );
    git(&entry, &["fsck", "--no-progress"]);
}

#[test]
fn remote_over_file_url_is_cached_shallow_updated_and_deepened() {
    let server = Server::new();
    fetch_update_and_deepen(&server, &server.file_url());
}

#[test]
fn remote_over_git_daemon_is_cached_shallow_updated_and_deepened() {
    let server = Server::new();
    let daemon = Daemon::start(&server.served.path);
    fetch_update_and_deepen(&server, &daemon.url("fleet.git"));
}

#[test]
fn remote_head_branches_and_deletions_follow_the_remote() {
    let server = Server::new();
    let cache = Folder::new("cache");
    let url = server.file_url();
    server.commit_and_push("name: before-main\n", "Before main");
    let main = server.commit_and_push("name: main\n", "Main");
    server.work.git(&["checkout", "--quiet", "-b", "staging"]);
    let staging = server.commit_and_push("name: staging\n", "Staging");

    assert_eq!(commit_of(&read_ok(&url, &cache, None)).0, main);
    assert_eq!(
        commit_of(&read_ok(&url, &cache, Some("staging"))).0,
        staging
    );

    server.bare_git(&["symbolic-ref", "HEAD", "refs/heads/staging"]);
    let default = read_ok(&url, &cache, None);
    assert_eq!(commit_of(&default).0, staging, "HEAD follows the remote");
    assert_eq!(text(&default, "teams/alpha.yaml"), "name: staging\n");

    server.bare_git(&["symbolic-ref", "HEAD", "refs/heads/main"]);
    server
        .work
        .git(&["push", "--quiet", "origin", "--delete", "staging"]);
    assert_eq!(commit_of(&read_ok(&url, &cache, None)).0, main);
    let error = read(&url, &cache, Some("staging")).expect_err("staging was deleted");
    assert!(
        matches!(&error, SourceError::ResolveRevision { revision, .. } if revision == "staging"),
        "{error:?}"
    );
    let entry = only_entry(&cache);
    assert!(
        entry.join("shallow").is_file(),
        "a missing name does not deepen"
    );

    server.work.git(&["checkout", "--quiet", "main"]);
    server.work.write("teams/alpha.yaml", "name: rewritten\n");
    server
        .work
        .git(&["commit", "--quiet", "--all", "--amend", "-m", "Rewritten"]);
    server.push();
    let rewritten = read_ok(&url, &cache, None);
    assert_eq!(
        commit_of(&rewritten).1,
        "Rewritten",
        "force pushes are followed"
    );
    assert_eq!(text(&rewritten, "teams/alpha.yaml"), "name: rewritten\n");
}

#[test]
fn remote_subfolder_keeps_repository_paths() {
    let server = Server::new();
    let cache = Folder::new("cache");
    server.work.write("deploy/fleet/clawops.toml", "# fleet\n");
    server.work.write("deploy/fleet/teams/a.yaml", "name: a\n");
    server.work.write("other/b.yaml", "name: b\n");
    server.work.commit("Monorepo");
    server.push();
    let mut options = SourceOptions::new(server.file_url());
    options.cache_dir = cache.path.clone();
    options.subfolder = Some("deploy/fleet".to_owned());
    let snapshot = source::read(&options).expect("snapshot");
    assert_eq!(
        paths(&snapshot),
        ["deploy/fleet/clawops.toml", "deploy/fleet/teams/a.yaml"]
    );
    assert_eq!(snapshot.config_path(), "deploy/fleet/clawops.toml");
}

#[test]
fn concurrent_reads_of_one_remote_share_one_cache() {
    let server = Server::new();
    let other = Server::new();
    let cache = Folder::new("cache");
    let head = server.commit_and_push("name: shared\n", "Shared");
    let other_head = other.commit_and_push("name: other\n", "Other");
    let url = server.file_url();
    let commits: Vec<String> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..4)
            .map(|_| scope.spawn(|| commit_of(&read_ok(&url, &cache, None)).0.to_owned()))
            .collect();
        readers
            .into_iter()
            .map(|reader| reader.join().expect("reader thread"))
            .collect()
    });
    assert_eq!(commits, vec![head; 4]);
    let entry = only_entry(&cache);
    git(&entry, &["fsck", "--no-progress"]);

    let read_other = read_ok(&other.file_url(), &cache, None);
    assert_eq!(commit_of(&read_other).0, other_head);
    assert_eq!(cache_entries(&cache).len(), 2, "one repository per remote");
}

#[test]
fn unreachable_remotes_are_fetch_errors() {
    let cache = Folder::new("cache");
    let missing = format!("file://{}", cache.path.join("no-such.git").display());
    let error = read(&missing, &cache, None).expect_err("no repository there");
    assert!(matches!(error, SourceError::Fetch { .. }), "{error:?}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("free port")
        .port();
    let closed = format!("git://127.0.0.1:{port}/fleet.git");
    let error = read(&closed, &cache, None).expect_err("nothing listens");
    assert!(matches!(error, SourceError::Fetch { .. }), "{error:?}");
}

/// Every message of an error's chain, and its debug form.
fn everything_shown(error: &SourceError) -> String {
    let mut shown = format!("{error:?}\n");
    let mut current: Option<&dyn std::error::Error> = Some(error);
    while let Some(error) = current {
        shown.push_str(&format!("{error}\n"));
        current = error.source();
    }
    shown
}

/// The names of everything in the cache's `git` folder.
fn cache_names(cache: &Folder) -> String {
    std::fs::read_dir(cache.path.join("git"))
        .map(|entries| {
            entries
                .map(|entry| {
                    entry
                        .expect("entry")
                        .file_name()
                        .to_string_lossy()
                        .into_owned()
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
}

#[test]
fn credentials_in_remote_locations_reach_neither_errors_nor_the_cache() {
    let server = Server::new();
    server.commit_and_push("name: alpha\n", "First");
    let daemon = Daemon::start(&server.served.path);
    let cache = Folder::new("cache");
    let secrets = ["hunter2", "deploy-user", "tok-4242", "glpat-777", "s3cr3t"];
    let locations = [
        // The daemon answers (informative errors) quoting the path and query it was asked.
        format!(
            "git://deploy-user:hunter2@127.0.0.1:{}/missing.git?access_token=tok-4242",
            daemon.port
        ),
        format!(
            "git://127.0.0.1:{}/fleet.git?private_token=glpat-777&password=s3cr3t",
            daemon.port
        ),
        format!(
            "file://deploy-user:hunter2@{}?token=tok-4242",
            server.served.path.join("missing.git").display()
        ),
        "https://deploy-user:hunter2@127.0.0.1:9/fleet.git?access_token=tok-4242".to_owned(),
    ];
    for location in &locations {
        let error = read(location, &cache, None).expect_err("nothing to read there");
        let shown = everything_shown(&error);
        for secret in secrets {
            assert!(
                !shown.contains(secret),
                "{secret} shown for {location}:\n{shown}"
            );
        }
        let names = cache_names(&cache);
        for secret in secrets.iter().chain(&["access_token", "private_token"]) {
            assert!(!names.contains(secret), "{secret} in the cache: {names}");
        }
    }
}
