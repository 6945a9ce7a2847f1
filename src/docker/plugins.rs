//! Whether the Docker CLI will find the buildx plugin, searched where the CLI searches
//! (docker/cli `cli-plugins/manager`): `cliPluginsExtraDirs` from config.json, then
//! `<config dir>/cli-plugins`, then the system directories below.

use std::path::{Path, PathBuf};

use crate::docker::config::ConfigFile;

/// The system plugin directories of the Linux CLI, in its search order.
pub(crate) const SYSTEM_PLUGIN_DIRS: [&str; 4] = [
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
];

/// Every directory the CLI searches for plugins, in order.
#[must_use]
pub(crate) fn plugin_dirs(config_dir: Option<&Path>, config: &ConfigFile) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = config.cli_plugins_extra_dirs.clone();
    if let Some(d) = config_dir {
        dirs.push(d.join("cli-plugins"));
    }
    dirs.extend(SYSTEM_PLUGIN_DIRS.iter().map(PathBuf::from));
    dirs
}

/// The first executable `docker-<name>` in `dirs`.
#[must_use]
pub(crate) fn find_plugin(dirs: &[PathBuf], name: &str) -> Option<PathBuf> {
    let file = format!("docker-{name}");
    dirs.iter()
        .map(|d| d.join(&file))
        .find(|p| super::program::is_program(p))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn extra_dirs_come_first_and_non_executables_do_not_count() {
        let t = tempfile::tempdir().unwrap();
        let (extra, cfg) = (t.path().join("extra"), t.path().join("cfg"));
        std::fs::create_dir_all(&extra).unwrap();
        std::fs::create_dir_all(cfg.join("cli-plugins")).unwrap();
        let config = ConfigFile {
            cli_plugins_extra_dirs: vec![extra.clone()],
            ..ConfigFile::default()
        };
        let dirs = plugin_dirs(Some(&cfg), &config);
        assert_eq!(dirs[0], extra);
        assert_eq!(dirs[1], cfg.join("cli-plugins"));
        std::fs::write(extra.join("docker-buildx"), "").unwrap();
        let p = cfg.join("cli-plugins/docker-buildx");
        std::fs::write(&p, "").unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(find_plugin(&dirs[..2], "buildx"), Some(p));
        assert_eq!(find_plugin(&dirs[..1], "buildx"), None);
    }
}
