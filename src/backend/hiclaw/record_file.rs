//! Where the REST transport keeps what its API has no place for: clawops's [`Record`] of
//! a fleet, and the fleet's apply lock. Both are files in one folder per controller,
//! `<record dir>/<short SHA-256 of the controller URL>/`: `<fleet>.json` (the record) and
//! `<fleet>.lock` (the lock's [`LockHolder`] as JSON), so two controllers never share a
//! record and the URL itself never appears in a path.
//!
//! Every write is atomic: a temporary file in the same folder, flushed to disk, renamed
//! over the old one. A missing record is an empty one; an unreadable one is an error that
//! names the file and says how to recover.
//!
//! The lock only guards clawops runs that share this record folder (one machine, or a
//! shared volume every run points at with `--hiclaw-record`): the controller knows
//! nothing of it, and a run with another record folder does not see it. Leases are
//! compared with this machine's clock, so hosts sharing a folder need roughly
//! synchronized clocks.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::model::Record;
use crate::backend::error::transient_io;
use crate::backend::lock::{LEASE_SECONDS, now};
use crate::backend::{BackendError, LockHolder};

/// How long a taker of an expired lease waits before reading the lock back, so that a
/// rival taking it over at the same moment has renamed its own file by then.
const TAKEOVER_SETTLE: Duration = Duration::from_millis(100);

/// Hex digits of the controller URL's SHA-256 used as its folder name.
const URL_HASH_DIGITS: usize = 16;

/// `$XDG_STATE_HOME/clawops/hiclaw`, else `$HOME/.local/state/clawops/hiclaw`, else the
/// temporary folder's `clawops/hiclaw`.
pub fn default_record_dir() -> PathBuf {
    default_record_dir_from(|name| std::env::var_os(name).map(PathBuf::from))
}

/// [`default_record_dir`] with the environment read through `lookup`. Relative or empty
/// values are ignored, as the XDG specification asks.
fn default_record_dir_from(lookup: impl Fn(&str) -> Option<PathBuf>) -> PathBuf {
    let absolute = |name: &str| lookup(name).filter(|path| path.is_absolute());
    if let Some(state) = absolute("XDG_STATE_HOME") {
        return state.join("clawops").join("hiclaw");
    }
    if let Some(home) = absolute("HOME") {
        return home.join(".local/state/clawops/hiclaw");
    }
    std::env::temp_dir().join("clawops").join("hiclaw")
}

/// The record file as written: the record, with the controller and fleet it belongs to
/// (for whoever opens the folder; only `objects` is read back).
#[derive(Serialize, Deserialize)]
struct RecordFile {
    #[serde(default)]
    controller: String,
    #[serde(default)]
    fleet: String,
    #[serde(flatten)]
    record: Record,
}

/// A record file that does not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path} is not a readable clawops record ({reason}); move it aside (e.g. `mv {path} {path}.corrupt`) and run again: the next plan then treats every live object of this controller as unknown (not applied by clawops)"
)]
struct CorruptRecord {
    path: String,
    reason: String,
}

/// The record and lock files of one fleet on one controller.
#[derive(Clone, Debug)]
pub(super) struct RecordFiles {
    folder: PathBuf,
    url: String,
    fleet: String,
}

impl RecordFiles {
    /// The files of `fleet` on the controller at `url`, under `record_dir`.
    pub(super) fn new(record_dir: &Path, url: &str, fleet: &str) -> Self {
        Self {
            folder: record_dir.join(url_folder(url)),
            url: url.to_owned(),
            fleet: fleet.to_owned(),
        }
    }

    /// The folder holding both files.
    #[cfg(test)]
    pub(super) fn folder(&self) -> &Path {
        &self.folder
    }

    /// `<folder>/<fleet>.json`.
    pub(super) fn record_path(&self) -> PathBuf {
        self.folder.join(format!("{}.json", file_stem(&self.fleet)))
    }

    /// `<folder>/<fleet>.lock`.
    pub(super) fn lock_path(&self) -> PathBuf {
        self.folder.join(format!("{}.lock", file_stem(&self.fleet)))
    }

    /// The record; an empty one when there is no file yet.
    pub(super) fn load(&self) -> Result<Record, BackendError> {
        let path = self.record_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Record::default()),
            Err(error) => return Err(file_error("read record", &path, error)),
        };
        match serde_json::from_slice::<RecordFile>(&bytes) {
            Ok(file) => Ok(file.record),
            Err(error) => Err(BackendError::Request {
                operation: "read record",
                agent: path.display().to_string(),
                transient: false,
                source: Box::new(CorruptRecord {
                    path: path.display().to_string(),
                    reason: error.to_string(),
                }),
            }),
        }
    }

    /// Replaces the record file with `record`, atomically.
    pub(super) fn save(&self, record: &Record) -> Result<(), BackendError> {
        let path = self.record_path();
        let file = RecordFile {
            controller: self.url.clone(),
            fleet: self.fleet.clone(),
            record: record.clone(),
        };
        let mut bytes =
            serde_json::to_vec_pretty(&file).map_err(|error| BackendError::Request {
                operation: "write record",
                agent: path.display().to_string(),
                transient: false,
                source: Box::new(error),
            })?;
        bytes.push(b'\n');
        self.make_folder("write record")?;
        write_atomically(&path, &bytes).map_err(|error| file_error("write record", &path, error))
    }

    /// Takes the lock for `holder`: creates the lock file when there is none, rewrites it
    /// when it is already `holder`'s, takes it over when its lease expired (then reads it
    /// back to check no rival took it at the same moment); else reports its holder.
    pub(super) async fn try_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        self.make_folder("lock")?;
        let path = self.lock_path();
        let bytes = holder_bytes(holder);
        for _ in 0..3 {
            match create_new(&path, &bytes) {
                Ok(()) => return Ok(()),
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {}
                Err(error) => return Err(file_error("lock", &path, error)),
            }
            let Some(current) = self.read_lock()? else {
                continue;
            };
            if current.is(holder) {
                return self.write_lock(holder);
            }
            if current.expires >= now() {
                return Err(BackendError::Locked { holder: current });
            }
            tracing::info!(lock = %path.display(), holder = %current, "taking over an expired lock");
            self.write_lock(holder)?;
            tokio::time::sleep(TAKEOVER_SETTLE).await;
            return match self.read_lock()? {
                Some(now_held) if now_held.is(holder) => Ok(()),
                now_held => Err(BackendError::Locked {
                    holder: now_held.unwrap_or_else(|| LockHolder::unknown(0)),
                }),
            };
        }
        Err(BackendError::Locked {
            holder: self.read_lock()?.unwrap_or_else(|| LockHolder::unknown(0)),
        })
    }

    /// Extends `holder`'s lease; the lock must be `holder`'s.
    pub(super) fn renew_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        match self.read_lock()? {
            Some(current) if current.is(holder) => self.write_lock(holder),
            current => Err(BackendError::Locked {
                holder: current.unwrap_or_else(|| LockHolder::unknown(0)),
            }),
        }
    }

    /// Removes the lock file: only when it is `holder`'s, or whoever's when `None`.
    pub(super) fn unlock(&self, holder: Option<&LockHolder>) -> Result<(), BackendError> {
        let path = self.lock_path();
        if let Some(holder) = holder {
            match self.read_lock()? {
                Some(current) if current.is(holder) => {}
                _ => return Ok(()),
            }
        }
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(error) => Err(file_error("unlock", &path, error)),
        }
    }

    /// The lock's holder (`None`: not locked). A lock file that does not parse (being
    /// written, or damaged) is held by `unknown` until a lease after its last change.
    fn read_lock(&self) -> Result<Option<LockHolder>, BackendError> {
        let path = self.lock_path();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(file_error("read lock", &path, error)),
        };
        if let Ok(holder) = serde_json::from_slice(&bytes) {
            return Ok(Some(holder));
        }
        let changed = fs::metadata(&path)
            .and_then(|metadata| metadata.modified())
            .ok()
            .and_then(|modified| modified.duration_since(UNIX_EPOCH).ok())
            .map_or_else(now, |since| since.as_secs());
        Ok(Some(LockHolder::unknown(changed + LEASE_SECONDS)))
    }

    /// Replaces the lock file with `holder`, atomically.
    fn write_lock(&self, holder: &LockHolder) -> Result<(), BackendError> {
        let path = self.lock_path();
        write_atomically(&path, &holder_bytes(holder))
            .map_err(|error| file_error("lock", &path, error))
    }

    fn make_folder(&self, operation: &'static str) -> Result<(), BackendError> {
        let mut builder = fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&self.folder)
            .map_err(|error| file_error(operation, &self.folder, error))
    }
}

/// The folder name of the controller at `url`: a short SHA-256 hex of it (a trailing `/`
/// does not count).
fn url_folder(url: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(url.trim_end_matches('/').as_bytes());
    let mut folder = hex::encode(digest);
    folder.truncate(URL_HASH_DIGITS);
    folder
}

/// The fleet name as a file name: letters, digits, `-`, `_` and `.` kept, every other
/// byte written `%XX` (so distinct names stay distinct and none leaves the folder).
fn file_stem(fleet: &str) -> String {
    let mut stem = String::with_capacity(fleet.len());
    for byte in fleet.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.') {
            stem.push(char::from(byte));
        } else {
            stem.push_str(&format!("%{byte:02X}"));
        }
    }
    if stem.starts_with('.') {
        stem.replace_range(0..1, "%2E");
    }
    stem
}

fn holder_bytes(holder: &LockHolder) -> Vec<u8> {
    serde_json::to_vec(holder).unwrap_or_default()
}

/// A file error as a failed request on `path`.
fn file_error(operation: &'static str, path: &Path, error: io::Error) -> BackendError {
    BackendError::Request {
        operation,
        agent: path.display().to_string(),
        transient: transient_io(&error),
        source: Box::new(error),
    }
}

/// Options for a new file only its owner may read (the record holds whole specs).
fn new_file_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
}

/// Creates `path` with `bytes` unless it exists (`O_EXCL`).
fn create_new(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut file = new_file_options().open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Writes `bytes` to `path` through a temporary file in the same folder, flushed to disk
/// and renamed over `path`, so a reader sees the old content or the new, never a part.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let folder = path.parent().unwrap_or_else(|| Path::new("."));
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temporary = folder.join(format!(
        ".{name}.{}.{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = new_file_options().open(&temporary).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()
    });
    if let Err(error) = written.and_then(|()| fs::rename(&temporary, path)) {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    if let Ok(folder) = File::open(folder) {
        let _ = folder.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests;
