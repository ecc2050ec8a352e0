//! The record file and the lock file, on a temporary folder.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde_json::json;

use super::*;
use crate::backend::hiclaw::model::{Applied, Kind, ObjectId};
use crate::spec::hiclaw::AgentState;

const URL: &str = "http://127.0.0.1:8090";

fn files(dir: &tempfile::TempDir) -> RecordFiles {
    RecordFiles::new(dir.path(), URL, "acme")
}

fn record() -> Record {
    let spec = json!({"model": "qwen3", "soul": "careful"});
    let applied = Applied {
        commit: Some("084e90d".to_owned()),
        states: BTreeMap::from([("alice".to_owned(), AgentState::Sleeping)]),
        spec: spec.as_object().cloned(),
    };
    Record {
        objects: BTreeMap::from([
            (ObjectId::new(Kind::Worker, "alice"), applied),
            (ObjectId::new(Kind::Human, "bob"), Applied::default()),
        ]),
    }
}

fn holder(pid: u32, expires: u64) -> LockHolder {
    LockHolder {
        host: "here".to_owned(),
        pid,
        since: 1,
        expires,
    }
}

#[test]
fn a_missing_record_is_empty_and_a_saved_one_reads_back() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    assert_eq!(files.load().unwrap(), Record::default());
    files.save(&record()).unwrap();
    assert_eq!(files.load().unwrap(), record());
    let text = std::fs::read_to_string(files.record_path()).unwrap();
    assert!(
        text.contains("\"controller\": \"http://127.0.0.1:8090\""),
        "{text}"
    );
    assert!(text.contains("\"Worker/alice\""), "{text}");
}

#[test]
fn saving_replaces_the_file_whole_and_leaves_no_temporary_behind() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    files.save(&record()).unwrap();
    files.save(&Record::default()).unwrap();
    assert_eq!(files.load().unwrap(), Record::default());
    let names: Vec<String> = std::fs::read_dir(files.folder())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["acme.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(files.record_path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn a_failed_rename_keeps_the_old_record_and_drops_the_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    files.save(&record()).unwrap();
    // A folder where the file should be: the rename fails, the old content stays put.
    let target = files.folder().join("blocked.json");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), "x").unwrap();
    assert!(write_atomically(&target, b"{}").is_err());
    assert!(target.join("keep").exists());
    let temporaries = std::fs::read_dir(files.folder())
        .unwrap()
        .filter(|entry| {
            let name = entry.as_ref().unwrap().file_name();
            name.to_string_lossy().ends_with(".tmp")
        })
        .count();
    assert_eq!(temporaries, 0);
    assert_eq!(files.load().unwrap(), record());
}

#[test]
fn a_corrupt_record_names_the_file_and_how_to_recover() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    files.save(&record()).unwrap();
    std::fs::write(files.record_path(), "{\"objects\": {\"Worker/alice\": ").unwrap();
    let error = files.load().unwrap_err();
    let path = files.record_path().display().to_string();
    assert!(!error.is_transient());
    assert!(error.to_string().contains(&path), "{error}");
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains(&path), "{cause}");
    assert!(cause.contains("move it aside"), "{cause}");
    assert!(cause.contains("unknown"), "{cause}");
}

#[test]
fn each_controller_has_its_own_folder_and_the_url_is_not_in_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let one = RecordFiles::new(dir.path(), "http://a:8090", "acme");
    let other = RecordFiles::new(dir.path(), "http://b:8090", "acme");
    let same = RecordFiles::new(dir.path(), "http://a:8090/", "acme");
    assert_ne!(one.record_path(), other.record_path());
    assert_eq!(one.record_path(), same.record_path());
    let folder = one
        .folder()
        .file_name()
        .unwrap()
        .to_string_lossy()
        .into_owned();
    assert_eq!(folder.len(), URL_HASH_DIGITS);
    assert!(folder.chars().all(|c| c.is_ascii_hexdigit()), "{folder}");
    assert!(!one.record_path().display().to_string().contains("8090"));
    one.save(&record()).unwrap();
    assert_eq!(other.load().unwrap(), Record::default());
}

#[test]
fn fleet_names_become_distinct_file_names_inside_the_folder() {
    assert_eq!(file_stem("acme-prod_1.x"), "acme-prod_1.x");
    assert_eq!(file_stem("../etc"), "%2E.%2Fetc");
    assert_eq!(file_stem("a/b"), "a%2Fb");
    assert_ne!(file_stem("a/b"), file_stem("a_b"));
    assert_eq!(file_stem("é"), "%C3%A9");
}

#[test]
fn the_default_folder_follows_xdg_then_home_then_temp() {
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| PathBuf::from(value))
        }
    };
    assert_eq!(
        default_record_dir_from(env(&[("XDG_STATE_HOME", "/s"), ("HOME", "/h")])),
        PathBuf::from("/s/clawops/hiclaw")
    );
    assert_eq!(
        default_record_dir_from(env(&[("XDG_STATE_HOME", "rel"), ("HOME", "/h")])),
        PathBuf::from("/h/.local/state/clawops/hiclaw")
    );
    assert_eq!(
        default_record_dir_from(env(&[])),
        std::env::temp_dir().join("clawops/hiclaw")
    );
}

#[tokio::test]
async fn a_second_taker_is_told_who_holds_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    let first = holder(1, now() + 60);
    files.try_lock(&first).await.unwrap();
    match files.try_lock(&holder(2, now() + 60)).await {
        Err(BackendError::Locked { holder }) => assert_eq!(holder, first),
        other => panic!("expected Locked, got {other:?}"),
    }
    // The holder itself may take it again (and so extends its lease).
    let longer = LockHolder {
        expires: now() + 120,
        ..first.clone()
    };
    files.try_lock(&longer).await.unwrap();
    assert_eq!(files.read_lock().unwrap(), Some(longer));
}

#[tokio::test]
async fn an_expired_lease_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    files.try_lock(&holder(1, now() - 5)).await.unwrap();
    let second = holder(2, now() + 60);
    files.try_lock(&second).await.unwrap();
    assert_eq!(files.read_lock().unwrap(), Some(second));
}

#[tokio::test]
async fn an_unreadable_lock_file_is_held_until_a_lease_has_passed() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    std::fs::create_dir_all(files.folder()).unwrap();
    std::fs::write(files.lock_path(), "").unwrap();
    match files.try_lock(&holder(2, now() + 60)).await {
        Err(BackendError::Locked { holder }) => {
            assert_eq!(holder.host, "unknown");
            assert!(holder.expires >= now() + LEASE_SECONDS - 5);
        }
        other => panic!("expected Locked, got {other:?}"),
    }
}

#[tokio::test]
async fn renewing_and_unlocking_respect_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let files = files(&dir);
    let ours = holder(1, now() + 60);
    let theirs = holder(2, now() + 60);
    files.try_lock(&ours).await.unwrap();
    let renewed = LockHolder {
        expires: now() + 90,
        ..ours.clone()
    };
    files.renew_lock(&renewed).unwrap();
    assert_eq!(files.read_lock().unwrap(), Some(renewed));
    assert!(matches!(
        files.renew_lock(&theirs),
        Err(BackendError::Locked { .. })
    ));
    files.unlock(Some(&theirs)).unwrap();
    assert!(files.lock_path().exists());
    files.unlock(Some(&ours)).unwrap();
    assert!(!files.lock_path().exists());
    assert!(matches!(
        files.renew_lock(&ours),
        Err(BackendError::Locked { .. })
    ));
    files.try_lock(&theirs).await.unwrap();
    files.unlock(None).unwrap();
    assert!(!files.lock_path().exists());
    files.unlock(None).unwrap();
}
