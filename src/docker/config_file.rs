//! Editing the docker CLI's `config.json` the way `docker login`/`logout` do: the
//! `auths` entry of one registry written or removed, every other key kept as it was,
//! the file replaced atomically (a temporary file in the same directory, then a rename)
//! with mode 0600, its directory created 0700 when missing.
//!
//! An entry holds `{"auth": base64("user:password")}` (docker/cli
//! `cli/config/configfile/file.go` encodes it so); with a credential helper it is `{}`,
//! the secret kept by the helper. The helper for a registry is `credHelpers[REGISTRY]`,
//! else `credsStore` (docker/cli `configfile.GetCredentialsStore`).
//!
//! [`crate::docker::config`] reads the same file for routing; this module is the only
//! one that writes it.

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

/// The file in the configuration directory.
pub(crate) const FILE_NAME: &str = "config.json";

/// Reads `config.json` in `dir` as JSON. A missing or empty file is `{}` (as the CLI
/// treats it).
///
/// # Errors
/// When the file exists but cannot be read, or is not a JSON object: it is never
/// overwritten then (the CLI refuses the same way).
pub(crate) fn load(dir: &Path) -> Result<Value, String> {
    let path = dir.join(FILE_NAME);
    match std::fs::read(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Object(Map::new())),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => Ok(Value::Object(Map::new())),
        Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
            Ok(v @ Value::Object(_)) => Ok(v),
            Ok(_) => Err(format!("{} is not a JSON object", path.display())),
            Err(e) => Err(format!("{} is not valid JSON: {e}", path.display())),
        },
    }
}

/// The credential helper (`docker-credential-NAME`'s NAME) that keeps `key`'s
/// credentials, when one is configured.
#[must_use]
pub(crate) fn helper_for(config: &Value, key: &str) -> Option<String> {
    let named = |v: Option<&Value>| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
    };
    named(config.get("credHelpers").and_then(|h| h.get(key)))
        .or_else(|| named(config.get("credsStore")))
}

/// Sets `auths[key]`: `{"auth": auth}`, or `{}` when a helper holds the secret. The rest
/// of the file is untouched; a non-object `auths` is replaced.
pub(crate) fn set_auth(config: &mut Value, key: &str, auth: Option<&str>) {
    let Value::Object(top) = config else {
        *config = Value::Object(Map::new());
        return set_auth(config, key, auth);
    };
    let auths = top
        .entry("auths")
        .or_insert_with(|| Value::Object(Map::new()));
    if !auths.is_object() {
        *auths = Value::Object(Map::new());
    }
    let mut entry = Map::new();
    if let Some(a) = auth {
        entry.insert("auth".into(), Value::String(a.into()));
    }
    if let Value::Object(map) = auths {
        map.insert(key.into(), Value::Object(entry));
    }
}

/// Removes `auths[key]`; whether there was one.
pub(crate) fn remove_auth(config: &mut Value, key: &str) -> bool {
    config
        .get_mut("auths")
        .and_then(Value::as_object_mut)
        .is_some_and(|m| m.remove(key).is_some())
}

/// The file a save writes: `config.json` in `dir`, or the file it is a symbolic link to
/// (the CLI keeps the link and writes through it, dangling links included).
fn target(dir: &Path) -> PathBuf {
    let path = dir.join(FILE_NAME);
    match std::fs::read_link(&path) {
        Ok(link) if link.is_absolute() => link,
        Ok(link) => dir.join(link),
        Err(_) => path,
    }
}

/// Writes `config` as `config.json` in `dir` (indented with tabs, as the CLI does),
/// atomically, mode 0600; `dir` is created (0700) when missing.
///
/// # Errors
/// The I/O error, with the path.
pub(crate) fn save(dir: &Path, config: &Value) -> Result<(), String> {
    let failed =
        |what: &str, p: &Path, e: std::io::Error| format!("cannot {what} {}: {e}", p.display());
    if !dir.exists() {
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| failed("create", dir, e))?;
    }
    let file = target(dir);
    let parent = file.parent().unwrap_or(dir);
    let mut text = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut text,
        serde_json::ser::PrettyFormatter::with_indent(b"\t"),
    );
    serde::Serialize::serialize(config, &mut ser).map_err(|e| e.to_string())?;
    let base = file
        .file_name()
        .map_or_else(|| FILE_NAME.into(), |n| n.to_string_lossy().into_owned());
    crate::atomic_file::write(parent, &base, &text, crate::atomic_file::Durability::Sync)
        .map_err(|e| failed("write", &file, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn an_entry_is_written_and_removed_and_every_other_key_kept() {
        let t = tempfile::tempdir().unwrap();
        let dir = t.path().join("new/.docker");
        assert_eq!(load(&dir).unwrap(), serde_json::json!({}));
        let mut c = serde_json::json!({
            "auths": {"other.example": {"auth": "b3RoZXI="}},
            "currentContext": "ci",
            "proxies": {"default": {"httpProxy": "http://p:3128"}},
            "psFormat": "table {{.ID}}"
        });
        set_auth(&mut c, "r.example:5000", Some("dTpw"));
        save(&dir, &c).unwrap();
        assert_eq!(
            std::fs::metadata(&dir).unwrap().mode() & 0o777,
            0o700,
            "a new directory is private"
        );
        let file = dir.join(FILE_NAME);
        assert_eq!(std::fs::metadata(&file).unwrap().mode() & 0o777, 0o600);
        let back = load(&dir).unwrap();
        assert_eq!(
            back["auths"]["r.example:5000"],
            serde_json::json!({"auth": "dTpw"})
        );
        assert_eq!(back["auths"]["other.example"]["auth"], "b3RoZXI=");
        assert_eq!(back["currentContext"], "ci");
        assert_eq!(back["proxies"]["default"]["httpProxy"], "http://p:3128");
        assert_eq!(back["psFormat"], "table {{.ID}}");
        let mut back = back;
        assert!(remove_auth(&mut back, "r.example:5000"));
        assert!(!remove_auth(&mut back, "r.example:5000"));
        save(&dir, &back).unwrap();
        let again = load(&dir).unwrap();
        assert!(again["auths"].get("r.example:5000").is_none());
        assert_eq!(again["auths"]["other.example"]["auth"], "b3RoZXI=");
        // Nothing but config.json is left in the directory.
        let names: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [FILE_NAME]);
    }

    #[test]
    fn a_file_that_is_not_a_json_object_is_an_error_and_left_alone() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join(FILE_NAME), "{not json").unwrap();
        assert!(load(t.path()).unwrap_err().contains("not valid JSON"));
        std::fs::write(t.path().join(FILE_NAME), "[1]").unwrap();
        assert!(load(t.path()).unwrap_err().contains("not a JSON object"));
        std::fs::write(t.path().join(FILE_NAME), "\n").unwrap();
        assert_eq!(load(t.path()).unwrap(), serde_json::json!({}));
    }

    #[test]
    fn a_helper_entry_holds_no_secret_and_a_symlinked_file_is_written_through() {
        let t = tempfile::tempdir().unwrap();
        let real = t.path().join("real.json");
        std::fs::write(
            &real,
            r#"{"credsStore":"pass","credHelpers":{"ecr.example":"ecr-login"}}"#,
        )
        .unwrap();
        std::os::unix::fs::symlink("real.json", t.path().join(FILE_NAME)).unwrap();
        let mut c = load(t.path()).unwrap();
        assert_eq!(helper_for(&c, "ecr.example").as_deref(), Some("ecr-login"));
        assert_eq!(helper_for(&c, "r.example").as_deref(), Some("pass"));
        assert_eq!(
            helper_for(&serde_json::json!({"credsStore": ""}), "r"),
            None
        );
        set_auth(&mut c, "r.example", None);
        save(t.path(), &c).unwrap();
        assert!(std::fs::symlink_metadata(t.path().join(FILE_NAME))
            .unwrap()
            .file_type()
            .is_symlink());
        let back: Value = serde_json::from_slice(&std::fs::read(&real).unwrap()).unwrap();
        assert_eq!(back["auths"]["r.example"], serde_json::json!({}));
        assert_eq!(back["credsStore"], "pass");
    }
}
