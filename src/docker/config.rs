//! The Docker CLI's configuration directory and `config.json`, read the way the CLI does.
//!
//! The directory is `--config DIR`, else `$DOCKER_CONFIG`, else `$HOME/.docker`. Only the
//! fields routing needs are read (`currentContext`, `cliPluginsExtraDirs`); credentials in
//! the same file are never read into memory as anything but skipped JSON.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

/// The parts of `config.json` dockroute uses.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(default)]
pub struct ConfigFile {
    /// The current context (`docker context use`).
    #[serde(rename = "currentContext")]
    pub current_context: Option<String>,
    /// Extra CLI plugin directories, searched before the default ones.
    #[serde(rename = "cliPluginsExtraDirs")]
    pub cli_plugins_extra_dirs: Vec<PathBuf>,
}

/// The CLI's configuration directory for this call.
#[must_use]
pub fn config_dir(flag: Option<&OsStr>) -> Option<PathBuf> {
    if let Some(dir) = flag {
        return Some(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG").filter(|d| !d.is_empty()) {
        return Some(PathBuf::from(dir));
    }
    std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker"))
}

/// Reads `config.json` in `dir`; a missing or unreadable file is the default (as the CLI
/// treats it), never an error.
#[must_use]
pub fn load(dir: Option<&Path>) -> ConfigFile {
    dir.and_then(|d| std::fs::read(d.join("config.json")).ok())
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_only_what_routing_needs() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(
            t.path().join("config.json"),
            r#"{"auths":{"r":{"auth":"c2VjcmV0"}},"currentContext":"ci","cliPluginsExtraDirs":["/x"]}"#,
        )
        .unwrap();
        let c = load(Some(t.path()));
        assert_eq!(c.current_context.as_deref(), Some("ci"));
        assert_eq!(c.cli_plugins_extra_dirs, vec![PathBuf::from("/x")]);
        std::fs::write(t.path().join("config.json"), "not json").unwrap();
        assert_eq!(load(Some(t.path())), ConfigFile::default());
        assert_eq!(
            config_dir(Some(OsStr::new("/flag"))),
            Some(PathBuf::from("/flag"))
        );
    }
}
