//! The on-disk probe cache: small JSON files in the user's cache directory.
//!
//! Invariants:
//! - A missing, corrupt, oversized, wrong-version or unwritable cache costs speed, never
//!   correctness: every failure here is logged at debug level and reads as "no entry".
//! - The directory is `$DOCKROUTE_CACHE_DIR`, else `$XDG_CACHE_HOME/dockroute`, else
//!   `$HOME/.cache/dockroute` (absolute paths only). It is created 0700 and used only if
//!   it is a real directory (not a symlink) owned by the effective user and writable by
//!   no one else; dockroute never changes the permissions of a directory it did not create.
//! - Files are written 0600 through a uniquely named temporary file and `rename`, so a
//!   reader sees the old file or the new one, never half of one.
//! - The pass-through path never touches the cache.

use std::fs::{DirBuilder, File};
use std::io::Read;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

/// Cache files larger than this are not read (and get replaced on the next write).
pub const MAX_FILE_BYTES: u64 = 1 << 20;

/// A usable cache directory.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
}

impl Cache {
    /// The cache directory (`DOCKROUTE_CACHE_DIR` as read into the settings, else the
    /// user's cache directory), created if needed; `None` when there is no safe one (and
    /// then nothing is cached).
    #[must_use]
    pub fn open(configured: Option<&Path>) -> Option<Cache> {
        let dir = Self::location(configured)?;
        Self::open_at(&dir)
    }

    /// Where the cache lives (not created). A relative configured directory is ignored.
    #[must_use]
    pub fn location(configured: Option<&Path>) -> Option<PathBuf> {
        let abs = |v: std::ffi::OsString| {
            let p = PathBuf::from(v);
            p.is_absolute().then_some(p)
        };
        if let Some(d) = configured.filter(|d| d.is_absolute()) {
            return Some(d.to_path_buf());
        }
        if let Some(d) = std::env::var_os("XDG_CACHE_HOME").and_then(abs) {
            return Some(d.join("dockroute"));
        }
        std::env::var_os("HOME")
            .and_then(abs)
            .map(|h| h.join(".cache").join("dockroute"))
    }

    /// Opens (creating 0700 if missing) a cache directory, or `None` when it is unsafe.
    #[must_use]
    pub fn open_at(dir: &Path) -> Option<Cache> {
        if std::fs::symlink_metadata(dir).is_err() {
            if let Err(e) = DirBuilder::new().recursive(true).mode(0o700).create(dir) {
                tracing::debug!(dir = %dir.display(), error = %e, "cache directory not created");
                return None;
            }
        }
        let meta = std::fs::symlink_metadata(dir).ok()?;
        let euid = nix::unistd::geteuid().as_raw();
        if !meta.is_dir() || meta.uid() != euid {
            tracing::debug!(dir = %dir.display(), "cache directory not used: not a directory owned by this user");
            return None;
        }
        if meta.mode() & 0o022 != 0 {
            // Writable by others (a shared /tmp, a directory someone prepared): never trust it,
            // and never change the permissions of a directory dockroute did not create.
            tracing::debug!(dir = %dir.display(), "cache directory not used: writable by other users");
            return None;
        }
        Some(Cache {
            dir: dir.to_path_buf(),
        })
    }

    /// Reads and decodes `name`; `None` for anything short of a valid file.
    #[must_use]
    pub fn load<T: DeserializeOwned>(&self, name: &str) -> Option<T> {
        let path = self.dir.join(name);
        let file = File::open(&path).ok()?;
        let meta = file.metadata().ok()?;
        if !meta.is_file() || meta.len() > MAX_FILE_BYTES {
            tracing::debug!(file = %path.display(), "cache file ignored: not a small regular file");
            return None;
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        file.take(MAX_FILE_BYTES).read_to_end(&mut bytes).ok()?;
        match decode(&bytes) {
            Some(v) => Some(v),
            None => {
                tracing::debug!(file = %path.display(), "cache file ignored: corrupt or another version");
                None
            }
        }
    }

    /// Encodes and writes `name` atomically with mode 0600. Failures are logged, not returned.
    pub fn store<T: Serialize>(&self, name: &str, value: &T) {
        if let Err(e) = self.try_store(name, value) {
            tracing::debug!(file = name, error = %e, "cache not written");
        }
    }

    fn try_store<T: Serialize>(&self, name: &str, value: &T) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(value)?;
        // No fsync: rename already keeps readers from half a file, and a file lost in a
        // crash reads as "no entry". fdatasync cost 1-28 ms here (bench/).
        crate::atomic_file::write(
            &self.dir,
            name,
            &bytes,
            crate::atomic_file::Durability::Rename,
        )
    }
}

#[derive(serde::Deserialize)]
struct Versioned<T> {
    version: u32,
    entries: Vec<T>,
}

#[derive(serde::Serialize)]
struct VersionedRef<'a, T> {
    version: u32,
    entries: &'a [T],
}

impl Cache {
    /// The entries of a file written by [`Cache::store_entries`] with this format
    /// version; empty when missing, corrupt or of another version.
    #[must_use]
    pub fn load_entries<T: DeserializeOwned>(&self, name: &str, version: u32) -> Vec<T> {
        self.load::<Versioned<T>>(name)
            .filter(|f| f.version == version)
            .map(|f| f.entries)
            .unwrap_or_default()
    }

    /// Writes entries with a format version (atomically, 0600).
    pub fn store_entries<T: Serialize>(&self, name: &str, version: u32, entries: &[T]) {
        self.store(name, &VersionedRef { version, entries });
    }
}

/// Decodes a cache file's bytes. Public for the fuzz target: it must never panic.
#[must_use]
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Option<T> {
    serde_json::from_slice(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::os::unix::fs::PermissionsExt;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct V {
        version: u32,
        x: String,
    }

    #[test]
    fn round_trip_with_private_modes() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("c");
        let c = Cache::open_at(&dir).unwrap();
        assert_eq!(std::fs::metadata(&dir).unwrap().mode() & 0o777, 0o700);
        let v = V {
            version: 1,
            x: "a".into(),
        };
        c.store("f.json", &v);
        assert_eq!(c.load::<V>("f.json"), Some(v));
        assert_eq!(
            std::fs::metadata(dir.join("f.json")).unwrap().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn corrupt_truncated_and_oversized_files_read_as_missing() {
        let t = tempfile::tempdir().unwrap();
        let c = Cache::open_at(t.path()).unwrap();
        std::fs::write(t.path().join("a"), b"{\"version\":1,\"x\":").unwrap();
        std::fs::write(t.path().join("b"), b"\xff\x00garbage").unwrap();
        std::fs::write(
            t.path().join("c"),
            vec![b' '; (MAX_FILE_BYTES + 1) as usize],
        )
        .unwrap();
        std::fs::write(t.path().join("d"), b"{\"version\":\"one\"}").unwrap();
        for f in ["a", "b", "c", "d", "missing"] {
            assert_eq!(c.load::<V>(f), None, "{f}");
        }
        c.store(
            "a",
            &V {
                version: 1,
                x: "new".into(),
            },
        );
        assert_eq!(c.load::<V>("a").unwrap().x, "new");
    }

    #[test]
    fn a_symlinked_directory_is_not_used() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = t.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        assert!(Cache::open_at(&link).is_none());
    }

    #[test]
    fn a_directory_open_to_others_is_not_used_nor_changed() {
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("open");
        std::fs::create_dir(&d).unwrap();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o1777)).unwrap();
        assert!(Cache::open_at(&d).is_none());
        assert_eq!(std::fs::metadata(&d).unwrap().mode() & 0o7777, 0o1777);
    }

    #[test]
    #[ignore = "needs root"]
    fn a_directory_owned_by_someone_else_is_not_used() {
        // Run with the ignored tests (`cargo test -- --include-ignored`, as scripts/test.sh
        // does); without root it fails here rather than pass without checking anything.
        assert!(
            nix::unistd::geteuid().is_root(),
            "this test gives a directory to another user, which needs root: run scripts/test.sh"
        );
        let t = tempfile::tempdir().unwrap();
        let d = t.path().join("theirs");
        DirBuilder::new().mode(0o700).create(&d).unwrap();
        std::os::unix::fs::chown(&d, Some(65534), None).unwrap();
        assert!(Cache::open_at(&d).is_none());
    }

    #[test]
    fn an_unwritable_location_means_no_cache_not_an_error() {
        assert!(Cache::open_at(Path::new("/proc/dockroute-cache")).is_none());
        assert!(Cache::open_at(Path::new("/dev/null/cache")).is_none());
    }
}
