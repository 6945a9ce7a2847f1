//! Replacing a small file atomically: the probe cache, the image record store and the
//! docker CLI's `config.json` are each written to a fresh temporary file beside the target
//! (created exclusively, mode 0600, so nobody else's file is ever reused) and renamed over
//! it, so a reader sees the old content or the new, never half of either. On failure the
//! temporary file is removed. It imports nothing from the crate, so every layer may use it.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// Whether the data reaches the disk before the rename.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durability {
    /// Rename only: a crash may lose the new content, never tear it (a cache).
    Rename,
    /// `fsync` first: the new content survives a crash once this returns (credentials).
    Sync,
}

/// Writes `bytes` to `dir/name` atomically, mode 0600.
///
/// # Errors
/// What creating, writing, syncing or renaming the file returned.
pub(crate) fn write(
    dir: &Path,
    name: &str,
    bytes: &[u8],
    durability: Durability,
) -> std::io::Result<()> {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let tmp = dir.join(format!(".{name}.part-{}-{nanos}", std::process::id()));
    replace_via(&tmp, &dir.join(name), bytes, durability)
}

/// [`write`] through the temporary file `tmp`, removed on failure only when this call
/// created it (a file already there under that name is someone else's).
fn replace_via(
    tmp: &Path,
    target: &Path,
    bytes: &[u8],
    durability: Durability,
) -> std::io::Result<()> {
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(tmp)?;
    let result = (|| {
        f.write_all(bytes)?;
        if durability == Durability::Sync {
            f.sync_all()?;
        }
        std::fs::rename(tmp, target)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn replaces_the_file_whole_with_mode_0600_and_leaves_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("f.json"), "old").unwrap();
        write(dir.path(), "f.json", b"new", Durability::Sync).unwrap();
        assert_eq!(std::fs::read(dir.path().join("f.json")).unwrap(), b"new");
        let meta = std::fs::metadata(dir.path().join("f.json")).unwrap();
        assert_eq!(meta.mode() & 0o777, 0o600);
        let names: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(names.len(), 1, "no temporary file left: {names:?}");
        // A directory that cannot be written: an error, and still nothing left behind.
        let missing = dir.path().join("missing");
        assert!(write(&missing, "f.json", b"x", Durability::Rename).is_err());
    }

    /// A file already under the temporary name is not ours: the write fails and leaves it
    /// (and the target) alone.
    #[test]
    fn a_temporary_name_taken_by_another_file_is_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let (tmp, target) = (dir.path().join(".f.part"), dir.path().join("f.json"));
        std::fs::write(&tmp, "someone else's").unwrap();
        std::fs::write(&target, "old").unwrap();
        assert!(replace_via(&tmp, &target, b"new", Durability::Rename).is_err());
        assert_eq!(std::fs::read(&tmp).unwrap(), b"someone else's");
        assert_eq!(std::fs::read(&target).unwrap(), b"old");
    }
}
