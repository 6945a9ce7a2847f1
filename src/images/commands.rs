//! Image commands answered from the record store by dockroute itself, where there is no
//! daemon to answer them ([`crate::route::image_routes`] decides when): `tag` adds a
//! name, `images` lists the records, `rmi` forgets names, `image inspect` prints what is
//! known. And the two steps after a BuildKit run that read buildctl's metadata file:
//! recording a build kept in BuildKit's store, and comparing a replay's digest with the
//! record's.
//!
//! Output follows the docker CLI's (`Untagged: NAME`, the `images` table, the `inspect`
//! JSON array); nothing printed holds a record's build arguments.

use std::path::Path;

use crate::docker::args::{ImageOp, Invocation};
use crate::error::{Error, Result};
use crate::images::store::Store;
use crate::output;
use crate::route::image_routes::{self, no_record};
use crate::route::plan::{After, AfterAction};
use crate::route::records::{normalize, repository, tag, ImageRecord, InspectFormat};

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn store() -> Result<Store> {
    Store::from_env().ok_or_else(|| Error::Image {
        why: "there is no state directory for dockroute's image records (neither XDG_STATE_HOME nor HOME is an absolute path)".into(),
        fix: "set HOME (or XDG_STATE_HOME) to an absolute directory".into(),
    })
}

fn store_error(why: String) -> Error {
    Error::Image {
        why: format!("dockroute's image records cannot be changed: {why}"),
        fix: "check the permissions of the state directory ($XDG_STATE_HOME/dockroute or ~/.local/state/dockroute)".into(),
    }
}

/// The records as the store has them (a corrupt store's notice printed).
#[must_use]
pub(crate) fn records() -> Vec<ImageRecord> {
    let Some(s) = Store::from_env() else {
        return Vec::new();
    };
    let loaded = s.read();
    if let Some(n) = &loaded.notice {
        output::notice(n);
    }
    loaded.records
}

/// Answers `tag`, `images`, `rmi` or `image inspect` from the records. Returns the exit
/// code.
///
/// # Errors
/// [`Error::Image`]: a name with no record, a store that cannot be changed.
pub(crate) fn answer(inv: &Invocation, op: ImageOp) -> Result<u8> {
    let args = image_routes::parse(inv, op)?;
    let names = args.names();
    match op {
        ImageOp::Tag => {
            let (src, dst) = image_routes::tag_pair(inv, &names)?;
            let (src, dst) = (normalize(src), normalize(dst));
            store()?
                .update(|recs| {
                    let mut new = recs
                        .iter()
                        .find(|r| r.name == src)
                        .cloned()
                        .ok_or_else(|| no_record(&src).to_string())?;
                    new.name = dst.clone();
                    new.created = now();
                    recs.retain(|r| r.name != dst);
                    recs.push(new);
                    Ok(())
                })
                .map_err(|e| {
                    if e.starts_with("no image") {
                        no_record(&src)
                    } else {
                        store_error(e)
                    }
                })?;
            Ok(0)
        }
        ImageOp::Remove => {
            let wanted: Vec<String> = names.iter().map(|n| normalize(n)).collect();
            let (removed, missing) = store()?
                .update(|recs| {
                    let mut removed = Vec::new();
                    let mut missing = Vec::new();
                    for n in &wanted {
                        let before = recs.len();
                        recs.retain(|r| &r.name != n);
                        if recs.len() < before {
                            removed.push(n.clone());
                        } else {
                            missing.push(n.clone());
                        }
                    }
                    Ok((removed, missing))
                })
                .map_err(store_error)?;
            for n in removed {
                output::stdout_line(&format!("Untagged: {n}"));
            }
            match missing.first() {
                Some(m) if !args.has("force") => Err(no_record(m)),
                _ => Ok(0),
            }
        }
        ImageOp::List => {
            let recs = records();
            let filter = names.first().map(String::as_str);
            let shown: Vec<&ImageRecord> = recs
                .iter()
                .filter(|r| match filter {
                    None => true,
                    Some(f) if f.rsplit('/').next().unwrap_or(f).contains(':') => {
                        r.name == normalize(f)
                    }
                    Some(f) => repository(&r.name) == f,
                })
                .collect();
            let full = args.has("no-trunc");
            let id = |r: &ImageRecord| short_id(r.id.as_deref(), full);
            if args.has("quiet") {
                for r in shown {
                    output::stdout_line(&id(r));
                }
                return Ok(0);
            }
            let at = now();
            let rows: Vec<[String; 5]> = shown
                .iter()
                .map(|r| {
                    [
                        repository(&r.name).to_string(),
                        tag(&r.name).to_string(),
                        id(r),
                        ago(at.saturating_sub(r.created)),
                        "N/A".into(),
                    ]
                })
                .collect();
            for line in table(&["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"], &rows) {
                output::stdout_line(&line);
            }
            Ok(0)
        }
        ImageOp::Inspect => {
            let recs = records();
            let mut objects = Vec::new();
            for n in &names {
                let r = recs
                    .iter()
                    .find(|r| r.name == normalize(n))
                    .ok_or_else(|| no_record(n))?;
                objects.push(inspect_object(r, &recs));
            }
            let format = args
                .value("format")
                .and_then(|f| InspectFormat::parse(&f.to_string_lossy()));
            match format {
                None => {
                    output::stdout_line(&serde_json::to_string_pretty(&objects).unwrap_or_default())
                }
                Some(f) => {
                    for o in &objects {
                        output::stdout_line(&match f {
                            InspectFormat::Id => o["Id"].as_str().unwrap_or_default().to_string(),
                            InspectFormat::RepoTags => format!(
                                "[{}]",
                                o["RepoTags"]
                                    .as_array()
                                    .map(|a| a
                                        .iter()
                                        .filter_map(|t| t.as_str())
                                        .collect::<Vec<_>>()
                                        .join(" "))
                                    .unwrap_or_default()
                            ),
                            InspectFormat::Json => o.to_string(),
                        });
                    }
                }
            }
            Ok(0)
        }
        ImageOp::Push | ImageOp::Save => Err(Error::Image {
            why: "push and save run on BuildKit, not in dockroute itself".into(),
            fix: "report this: the route should have run buildctl".into(),
        }),
    }
}

/// What `image inspect` knows of a record: docker's `Id`, `RepoTags` (every name of the
/// same image), `Created`, and dockroute's own `Dockroute` object (the build's context,
/// Dockerfile, working directory, BuildKit and manifest digest; never its arguments).
fn inspect_object(r: &ImageRecord, all: &[ImageRecord]) -> serde_json::Value {
    let tags: Vec<&str> = all
        .iter()
        .filter(|o| o.name == r.name || (r.id.is_some() && o.id == r.id && o.same_build(r)))
        .map(|o| o.name.as_str())
        .collect();
    serde_json::json!({
        "Id": r.id.clone().unwrap_or_default(),
        "RepoTags": tags,
        "RepoDigests": [],
        "Created": rfc3339(r.created),
        "Dockroute": {
            "Record": r.name,
            "ManifestDigest": r.digest,
            "Context": r.build.context.to_os().to_string_lossy(),
            "Dockerfile": r.build.dockerfile.to_os().to_string_lossy(),
            "WorkingDir": r.build.cwd.to_string_lossy(),
            "BuildKit": r.ran_on.describe(),
        }
    })
}

fn short_id(id: Option<&str>, full: bool) -> String {
    match id {
        None => "<none>".into(),
        Some(id) if full => id.to_string(),
        Some(id) => id.trim_start_matches("sha256:").chars().take(12).collect(),
    }
}

/// docker's "About a minute ago" style, coarsely.
fn ago(secs: u64) -> String {
    match secs {
        0..=59 => format!("{} seconds ago", secs.max(1)),
        60..=119 => "About a minute ago".into(),
        120..=3599 => format!("{} minutes ago", secs / 60),
        3600..=7199 => "About an hour ago".into(),
        7200..=172_799 => format!("{} hours ago", secs / 3600),
        _ => format!("{} days ago", secs / 86400),
    }
}

/// Columns padded as docker's tabwriter does (three spaces between columns).
fn table(head: &[&str; 5], rows: &[[String; 5]]) -> Vec<String> {
    let mut width: Vec<usize> = head.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            width[i] = width[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}   ", w = width[i]));
            }
        }
        s
    };
    let mut out = vec![line(head.to_vec())];
    out.extend(
        rows.iter()
            .map(|r| line(r.iter().map(String::as_str).collect())),
    );
    out
}

/// Seconds since the epoch as RFC 3339 UTC (`2026-12-05T17:00:00Z`).
fn rfc3339(secs: u64) -> String {
    let days = i64::try_from(secs / 86400).unwrap_or(0);
    let rem = secs % 86400;
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The digests buildctl wrote to its metadata file: (manifest, config).
fn digests(metadata: &Path) -> (Option<String>, Option<String>) {
    let v = std::fs::read(metadata)
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok());
    let get = |k: &str| {
        v.as_ref()
            .and_then(|v| v.get(k))
            .and_then(|d| d.as_str())
            .map(str::to_string)
    };
    (
        get("containerimage.digest"),
        get("containerimage.config.digest"),
    )
}

/// After a successful run: records the build, or compares the replays' digests with the
/// records (saying so when they differ, and keeping the new ones). Failures are notices:
/// the run itself succeeded.
pub(crate) fn after(a: &After) {
    match &a.action {
        AfterAction::Record {
            names,
            build,
            ran_on,
        } => {
            let (digest, id) = digests(&a.metadata);
            let Some(s) = Store::from_env() else {
                output::notice("the image is not recorded (no state directory: set HOME or XDG_STATE_HOME): `docker push` of it will not find it");
                return;
            };
            let created = now();
            let done = s.update(|recs| {
                recs.retain(|r| !names.contains(&r.name));
                recs.extend(names.iter().map(|n| ImageRecord {
                    name: n.clone(),
                    build: build.clone(),
                    ran_on: ran_on.clone(),
                    digest: digest.clone(),
                    id: id.clone(),
                    created,
                }));
                Ok(())
            });
            if let Err(e) = done {
                output::notice(&format!(
                    "the image is not recorded ({e}): `docker push` of it will not find it"
                ));
            }
        }
        AfterAction::Compare(checks) => {
            let mut changed = Vec::new();
            for c in checks {
                let (digest, id) = digests(&c.metadata);
                match (&c.recorded, &digest) {
                    (Some(old), Some(new)) if old != new => {
                        output::notice(&format!(
                            "{} built again with digest {new}, not {old} as recorded by `docker build`: its context or Dockerfile changed since; the record now holds {new}",
                            c.names.join(", ")
                        ));
                        changed.push((c.names.clone(), digest.clone(), id));
                    }
                    _ => {}
                }
            }
            if changed.is_empty() {
                return;
            }
            if let Some(s) = Store::from_env() {
                let _ = s.update(|recs| {
                    for (names, digest, id) in &changed {
                        for r in recs.iter_mut().filter(|r| names.contains(&r.name)) {
                            r.digest.clone_from(digest);
                            r.id.clone_from(id);
                        }
                    }
                    Ok(())
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `answer` checks its own arguments: a `docker tag` with fewer than two names is a
    /// usage error, never an index out of bounds, whatever decided the route first.
    #[test]
    fn tag_without_two_names_is_a_usage_error() {
        for args in [&["tag"][..], &["tag", "app"], &["tag", "a", "b", "c"]] {
            let inv = Invocation::parse(args.iter().map(std::ffi::OsString::from).collect());
            let e = answer(&inv, ImageOp::Tag).expect_err("not two names");
            assert!(
                e.to_string().contains("requires exactly 2 arguments"),
                "{e}"
            );
        }
    }

    #[test]
    fn dates_and_ages() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_796_490_000), "2026-12-05T17:00:00Z");
        assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(ago(0), "1 seconds ago");
        assert_eq!(ago(90), "About a minute ago");
        assert_eq!(ago(600), "10 minutes ago");
        assert_eq!(ago(3 * 86400), "3 days ago");
    }

    #[test]
    fn ids_and_the_table() {
        assert_eq!(
            short_id(Some("sha256:0123456789abcdef"), false),
            "0123456789ab"
        );
        assert_eq!(short_id(Some("sha256:01"), true), "sha256:01");
        let t = table(
            &["REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"],
            &[[
                "127.0.0.1:5000/app".into(),
                "1".into(),
                "0123456789ab".into(),
                "2 minutes ago".into(),
                "N/A".into(),
            ]],
        );
        assert_eq!(
            t[0],
            "REPOSITORY           TAG   IMAGE ID       CREATED         SIZE"
        );
        assert_eq!(
            t[1],
            "127.0.0.1:5000/app   1     0123456789ab   2 minutes ago   N/A"
        );
    }
}
