//! Whether a client is bind-mounted into this container, as Bitbucket Pipelines mounts
//! its own Docker CLI at `/usr/bin/docker`: its path is a mount point in
//! `/proc/self/mountinfo`.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The mount points of this process's mount namespace.
#[derive(Debug, Clone, Default)]
pub struct MountPoints(HashSet<PathBuf>);

impl MountPoints {
    /// Reads `/proc/self/mountinfo`; empty when it cannot be read.
    #[must_use]
    pub fn read() -> MountPoints {
        std::fs::read_to_string("/proc/self/mountinfo")
            .map(|s| MountPoints::parse(&s))
            .unwrap_or_default()
    }

    /// Parses mountinfo text: the fifth field of each line is the mount point, with
    /// spaces, tabs, newlines and backslashes octal-escaped (`\040`).
    #[must_use]
    pub fn parse(text: &str) -> MountPoints {
        MountPoints(
            text.lines()
                .filter_map(|l| l.split(' ').nth(4))
                .map(|p| PathBuf::from(unescape(p)))
                .collect(),
        )
    }

    /// Whether `path` (or the file it resolves to) is a mount point.
    #[must_use]
    pub fn is_mounted(&self, path: &Path) -> bool {
        self.0.contains(path) || std::fs::canonicalize(path).is_ok_and(|c| self.0.contains(&c))
    }
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let octal = (b[i] == b'\\' && i + 4 <= b.len())
            .then(|| &b[i + 1..i + 4])
            .filter(|d| d.iter().all(|c| (b'0'..=b'7').contains(c)))
            .and_then(|d| {
                let v = d.iter().fold(0u16, |acc, c| acc * 8 + u16::from(c - b'0'));
                u8::try_from(v).ok()
            });
        if let Some(v) = octal {
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_a_bind_mounted_file() {
        let text = "22 1 8:1 / / rw - ext4 /dev/sda1 rw\n\
                    640 22 8:1 /usr/bin/docker /usr/bin/docker ro,relatime - ext4 /dev/sda1 rw\n\
                    641 22 0:5 / /opt/my\\040dir rw - tmpfs t rw\n";
        let m = MountPoints::parse(text);
        assert!(m.is_mounted(Path::new("/usr/bin/docker")));
        assert!(m.is_mounted(Path::new("/opt/my dir")));
        assert!(!m.is_mounted(Path::new("/usr/local/bin/docker-not-there")));
    }
}
