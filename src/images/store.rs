//! The record store: one JSON file, `images.json`, in the user's state directory
//! (`$XDG_STATE_HOME/dockroute`, else `$HOME/.local/state/dockroute`; absolute paths
//! only), holding the [`ImageRecord`]s of images built on BuildKit with no daemon.
//!
//! Invariants:
//! - The directory is created 0700 and used only if it is a real directory owned by the
//!   effective user and writable by no one else (as the probe cache); the file is written
//!   0600 through a uniquely named temporary file and `rename`, so a reader sees the old
//!   store or the new one, never half of one.
//! - Every change is a read-modify-write under an exclusive `flock` on `images.lock`, so
//!   two calls at once (two builds of one pipeline) lose neither record. Readers take no
//!   lock.
//! - A corrupt, oversized or wrong-version store reads as empty, with a notice (the
//!   caller prints [`Loaded::notice`]); the next change replaces it.
//! - Bounded: at most [`MAX_RECORDS`] records (the oldest go first) and
//!   [`MAX_FILE_BYTES`] read.
//! - Record arguments may hold build-arg values: the file is private to its user and
//!   nothing here prints a record.

use std::fs::{DirBuilder, File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::route::records::ImageRecord;

/// The store's file name in its directory.
pub const FILE: &str = "images.json";
const LOCK: &str = "images.lock";
const VERSION: u32 = 1;
/// At most this many records are kept; the oldest are dropped first.
pub const MAX_RECORDS: usize = 256;
/// A store larger than this is not read (it reads as corrupt).
pub const MAX_FILE_BYTES: u64 = 4 << 20;

#[derive(serde::Serialize, serde::Deserialize)]
struct OnDisk {
    version: u32,
    records: Vec<ImageRecord>,
}

/// What a read found.
#[derive(Debug, Default)]
pub struct Loaded {
    /// The records (empty when there is no store).
    pub records: Vec<ImageRecord>,
    /// Why the store was read as empty although a file is there.
    pub notice: Option<String>,
}

/// The store in a directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    /// The store's directory from the environment (not created): `XDG_STATE_HOME`, else
    /// `HOME`, each only when absolute.
    #[must_use]
    pub fn location(lookup: &dyn Fn(&str) -> Option<std::ffi::OsString>) -> Option<PathBuf> {
        let abs = |v: std::ffi::OsString| {
            let p = PathBuf::from(v);
            p.is_absolute().then_some(p)
        };
        if let Some(d) = lookup("XDG_STATE_HOME").and_then(abs) {
            return Some(d.join("dockroute"));
        }
        lookup("HOME")
            .and_then(abs)
            .map(|h| h.join(".local/state/dockroute"))
    }

    /// The store of this process's environment.
    #[must_use]
    pub fn from_env() -> Option<Store> {
        Self::location(&|k| std::env::var_os(k)).map(Store::at)
    }

    /// The store in `dir` (nothing is touched until it is read or changed).
    #[must_use]
    pub fn at(dir: PathBuf) -> Store {
        Store { dir }
    }

    /// The store's file.
    #[must_use]
    pub fn file(&self) -> PathBuf {
        self.dir.join(FILE)
    }

    /// Reads the records. A missing store is empty with no notice; any other failure is
    /// empty with a notice saying so.
    #[must_use]
    pub fn read(&self) -> Loaded {
        let path = self.file();
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Loaded::default(),
            Err(e) => return corrupt(&path, &e.to_string()),
        };
        match file.metadata() {
            Ok(m) if m.is_file() && m.len() <= MAX_FILE_BYTES => {}
            Ok(_) => return corrupt(&path, "not a regular file of at most 4 MiB"),
            Err(e) => return corrupt(&path, &e.to_string()),
        }
        let mut bytes = Vec::new();
        if let Err(e) = Read::by_ref(&mut file)
            .take(MAX_FILE_BYTES)
            .read_to_end(&mut bytes)
        {
            return corrupt(&path, &e.to_string());
        }
        match decode(&bytes) {
            Ok(records) => Loaded {
                records,
                notice: None,
            },
            Err(why) => corrupt(&path, &why),
        }
    }

    /// Changes the records under the store's lock: reads them (a corrupt store as empty,
    /// its notice printed), lets `change` edit them, and writes them back atomically
    /// (bounded to [`MAX_RECORDS`]) when `change` returns `Ok`.
    ///
    /// # Errors
    /// The store's directory cannot be made or is unsafe, the lock or the write failed,
    /// or `change` refused (its error is returned and nothing is written).
    pub fn update<T>(
        &self,
        change: impl FnOnce(&mut Vec<ImageRecord>) -> Result<T, String>,
    ) -> Result<T, String> {
        self.open_dir()?;
        let lock_path = self.dir.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(|e| format!("cannot open {}: {e}", lock_path.display()))?;
        let _held = nix::fcntl::Flock::lock(lock, nix::fcntl::FlockArg::LockExclusive)
            .map_err(|(_, e)| format!("cannot lock {}: {e}", lock_path.display()))?;
        let loaded = self.read();
        if let Some(n) = &loaded.notice {
            crate::output::notice(n);
        }
        let mut records = loaded.records;
        let out = change(&mut records)?;
        if records.len() > MAX_RECORDS {
            records.sort_by_key(|r| r.created);
            let drop = records.len() - MAX_RECORDS;
            records.drain(..drop);
        }
        self.write(&records)
            .map_err(|e| format!("cannot write {}: {e}", self.file().display()))?;
        Ok(out)
    }

    fn open_dir(&self) -> Result<(), String> {
        let dir = &self.dir;
        if std::fs::symlink_metadata(dir).is_err() {
            DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        }
        let meta = std::fs::symlink_metadata(dir)
            .map_err(|e| format!("cannot use {}: {e}", dir.display()))?;
        let euid = nix::unistd::geteuid().as_raw();
        if !meta.is_dir() || meta.uid() != euid || meta.mode() & 0o022 != 0 {
            return Err(format!(
                "{} is not a private directory of this user (a directory, owned by uid {euid}, writable by no one else)",
                dir.display()
            ));
        }
        Ok(())
    }

    fn write(&self, records: &[ImageRecord]) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(&OnDisk {
            version: VERSION,
            records: records.to_vec(),
        })?;
        crate::atomic_file::write(
            &self.dir,
            FILE,
            &bytes,
            crate::atomic_file::Durability::Rename,
        )
    }
}

fn corrupt(path: &Path, why: &str) -> Loaded {
    Loaded {
        records: Vec::new(),
        notice: Some(format!(
            "the image record store {} cannot be read ({why}): taken as empty; the next `docker build -t` with no daemon replaces it",
            path.display()
        )),
    }
}

/// Decodes the store's bytes. Public for tests and fuzzing: it never panics.
///
/// # Errors
/// Why the bytes are not a store of this version.
pub fn decode(bytes: &[u8]) -> Result<Vec<ImageRecord>, String> {
    let d: OnDisk = serde_json::from_slice(bytes).map_err(|e| format!("not a store: {e}"))?;
    if d.version != VERSION {
        return Err(format!("format version {} is not {VERSION}", d.version));
    }
    Ok(d.records)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::records::{Arg, RanOn, RecordedBuild};
    use std::os::unix::fs::PermissionsExt;

    fn record(name: &str, created: u64) -> ImageRecord {
        ImageRecord {
            name: name.into(),
            build: RecordedBuild {
                args: vec![Arg::Text("build".into())],
                cwd: "/w".into(),
                context: Arg::Text(".".into()),
                dockerfile: Arg::Text("./Dockerfile".into()),
            },
            ran_on: RanOn::Daemonless,
            digest: Some("sha256:aa".into()),
            id: Some("sha256:bb".into()),
            created,
        }
    }

    #[test]
    fn written_private_and_read_back() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::at(t.path().join("state/dockroute"));
        assert!(s.read().records.is_empty() && s.read().notice.is_none());
        s.update(|r| {
            r.push(record("a:1", 1));
            Ok(())
        })
        .unwrap();
        assert_eq!(s.read().records, vec![record("a:1", 1)]);
        let mode = |p: &Path| std::fs::metadata(p).unwrap().mode() & 0o777;
        assert_eq!(mode(&t.path().join("state/dockroute")), 0o700);
        assert_eq!(mode(&s.file()), 0o600);
        let names: Vec<String> = std::fs::read_dir(t.path().join("state/dockroute"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(names.iter().all(|n| !n.contains(".part-")), "{names:?}");
    }

    #[test]
    fn a_corrupt_store_reads_as_empty_with_a_notice_and_is_replaced() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::at(t.path().to_path_buf());
        for bad in [
            &b"{\"version\":1,\"records\":["[..],
            b"\xff\x00",
            b"{\"version\":9,\"records\":[]}",
        ] {
            std::fs::write(s.file(), bad).unwrap();
            let l = s.read();
            assert!(l.records.is_empty());
            let n = l.notice.expect("a notice");
            assert!(n.contains("taken as empty"), "{n}");
        }
        s.update(|r| {
            r.push(record("a:1", 1));
            Ok(())
        })
        .unwrap();
        assert_eq!(s.read().records.len(), 1);
        assert!(s.read().notice.is_none());
    }

    #[test]
    fn bounded_oldest_first_and_a_refused_change_writes_nothing() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::at(t.path().to_path_buf());
        s.update(|r| {
            for i in 0..(MAX_RECORDS as u64 + 5) {
                r.push(record(&format!("a:{i}"), 1000 - i));
            }
            Ok(())
        })
        .unwrap();
        let kept = s.read().records;
        assert_eq!(kept.len(), MAX_RECORDS);
        // The five oldest (created 1000 - i, so the last five pushed) went.
        assert!(kept
            .iter()
            .all(|r| r.created > 1000 - MAX_RECORDS as u64 - 5 + 4));
        let before = std::fs::read(s.file()).unwrap();
        let e = s.update(|r| {
            r.clear();
            Err::<(), _>("no".to_string())
        });
        assert_eq!(e, Err("no".to_string()));
        assert_eq!(std::fs::read(s.file()).unwrap(), before);
    }

    #[test]
    fn parallel_changes_lose_nothing() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("s");
        let threads: Vec<_> = (0..8)
            .map(|i| {
                let s = Store::at(dir.clone());
                std::thread::spawn(move || {
                    for j in 0..10 {
                        s.update(|r| {
                            r.push(record(&format!("t{i}:{j}"), 1));
                            Ok(())
                        })
                        .unwrap();
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        assert_eq!(Store::at(dir).read().records.len(), 80);
    }

    #[test]
    fn an_open_directory_is_refused_and_left_alone() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("open");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        let e = Store::at(d.clone()).update(|_| Ok(())).unwrap_err();
        assert!(e.contains("not a private directory"), "{e}");
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o7777, 0o1777);
    }

    #[test]
    fn location_follows_xdg_then_home() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| std::ffi::OsString::from(v))
            }
        };
        assert_eq!(
            Store::location(&env(&[("XDG_STATE_HOME", "/s"), ("HOME", "/h")])),
            Some(PathBuf::from("/s/dockroute"))
        );
        assert_eq!(
            Store::location(&env(&[("XDG_STATE_HOME", "rel"), ("HOME", "/h")])),
            Some(PathBuf::from("/h/.local/state/dockroute"))
        );
        assert_eq!(Store::location(&env(&[])), None);
    }
}
