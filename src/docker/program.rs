//! What counts as a program: a regular file (symlinks followed) with an execute bit, the
//! test a shell's PATH search and the docker CLI's plugin lookup both make. Discovery of
//! `docker`, of BuildKit's programs and credential helpers, doctor's shell resolution and
//! the plugin search all ask it here.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Whether `meta` (of a path, symlinks followed) is a file a shell would run.
#[must_use]
pub(crate) fn is_program_meta(meta: &std::fs::Metadata) -> bool {
    meta.is_file() && meta.mode() & 0o111 != 0
}

/// Whether `path` names a file a shell would run; `false` when it cannot be read.
#[must_use]
pub(crate) fn is_program(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| is_program_meta(&m))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn a_program_is_an_executable_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("tool");
        std::fs::write(&file, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(!is_program(&file), "no execute bit");
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o700)).unwrap();
        assert!(is_program(&file));
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert!(is_program(&link), "a symlink to a program is one");
        assert!(
            !is_program(dir.path()),
            "a directory is not, whatever its mode"
        );
        assert!(!is_program(&dir.path().join("missing")));
    }
}
