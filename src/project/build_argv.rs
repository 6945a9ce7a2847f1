//! One target of a resolved project as the `docker build` call that builds it: the
//! arguments after `docker` (the user's global flags first), as `OsString`s, for
//! [`crate::route::decide`] to route like any other build.
//!
//! [`FIELDS`] names the bake field behind each `docker build` flag, so a refusal of a
//! flag by a route (the 20.10 client has no `--build-context`) names the target's field.

use std::ffi::OsString;
use std::path::Path;

use crate::error::Error;
use crate::project::bake::Target;

/// The bake field each `docker build` flag comes from (one row per flag this module
/// writes).
pub(crate) const FIELDS: &[(&str, &str)] = &[
    ("--add-host", "extra-hosts"),
    ("--build-arg", "args"),
    ("--build-context", "contexts"),
    ("--cache-from", "cache-from"),
    ("--cache-to", "cache-to"),
    ("--file", "dockerfile"),
    ("--label", "labels"),
    ("--network", "network"),
    ("--no-cache", "no-cache"),
    ("--output", "output"),
    ("--platform", "platforms"),
    ("--pull", "pull"),
    ("--push", "output"),
    ("--secret", "secret"),
    ("--shm-size", "shm-size"),
    ("--ssh", "ssh"),
    ("--tag", "tags"),
    ("--target", "target"),
    ("--ulimit", "ulimits"),
];

/// The field behind a flag as a refusal names it (`--secret`), if it is one of [`FIELDS`].
#[must_use]
pub(crate) fn field_of(flag: &str) -> Option<&'static str> {
    FIELDS
        .iter()
        .find(|(f, _)| *f == flag)
        .map(|(_, field)| *field)
}

/// The other target a named context refers to (`target:NAME`).
#[must_use]
pub(crate) fn context_target(value: &str) -> Option<&str> {
    value.strip_prefix("target:")
}

fn refuse(t: &Target, field: &str, why: &str, fix: &str) -> Error {
    Error::Refused {
        flag: format!("target {}, field {field}", t.name),
        why: why.to_string(),
        fix: fix.to_string(),
    }
}

/// Whether the context is a local directory (not a Git or HTTP URL): only then is a
/// relative `dockerfile` joined to it, as bake reads it.
fn local_context(context: &str) -> bool {
    !(context.contains("://") || context.starts_with("git@") || context == "-")
}

/// `[globals…, "build", flags…, context]` for `t`. `targets` is the whole project, for
/// `contexts = { x = "target:y" }`, which becomes `docker-image://` of `y`'s first tag
/// (built before `t`).
///
/// # Errors
/// A refusal naming the target and the field when no `docker build` flag expresses it
/// (an unknown field, `dockerfile-inline`, a context on a target without a tag).
pub(crate) fn build_args(
    globals: &[OsString],
    t: &Target,
    targets: &[Target],
) -> Result<Vec<OsString>, Error> {
    if t.unknown.iter().any(|f| f == "call") {
        // What `bake --check` and `--call check|outline|targets` print in the target: a
        // request for build checks, which run on a BuildKit builder, not a build.
        return Err(refuse(
            t,
            "call",
            "build checks (`docker buildx bake --check`, `--call check|outline|targets`, or a target's `call`) run on buildx's builder, which here means a privileged BuildKit container",
            "drop `--check`/`--call` to build, or run the checks on runtime v3 (`runtime: cloud: version: \"3\"`), where bake runs as is",
        ));
    }
    if let Some(field) = t.unknown.first() {
        return Err(refuse(
            t,
            field,
            "no `docker build` flag expresses it, and bake itself needs buildx's privileged builder here",
            "remove the field from the target, or build on runtime v3 (`runtime: cloud: version: \"3\"`), where bake runs as is",
        ));
    }
    if t.dockerfile_inline.is_some() {
        return Err(refuse(
            t,
            "dockerfile-inline",
            "the build is handed to a `docker build`, which reads its Dockerfile from a file",
            "put the Dockerfile in a file and name it in `dockerfile`",
        ));
    }
    let mut a: Vec<OsString> = globals.to_vec();
    a.push("build".into());
    let mut flag = |name: &str, value: String| {
        a.push(name.into());
        a.push(value.into());
    };
    let context = t.context.clone().unwrap_or_else(|| ".".into());
    if let Some(d) = &t.dockerfile {
        let joined = if Path::new(d).is_absolute() || !local_context(&context) {
            d.clone()
        } else {
            Path::new(&context).join(d).to_string_lossy().into_owned()
        };
        flag("--file", joined);
    }
    for (k, v) in &t.args {
        flag(
            "--build-arg",
            v.as_ref().map_or_else(|| k.clone(), |v| format!("{k}={v}")),
        );
    }
    for (k, v) in &t.labels {
        flag("--label", format!("{k}={v}"));
    }
    for tag in &t.tags {
        flag("--tag", tag.clone());
    }
    if let Some(stage) = &t.stage {
        flag("--target", stage.clone());
    }
    for s in &t.secrets {
        flag("--secret", s.clone());
    }
    for s in &t.ssh {
        flag("--ssh", s.clone());
    }
    if let Some(n) = &t.network {
        flag("--network", n.clone());
    }
    for h in &t.extra_hosts {
        // `host=ip` as bake prints it; the 20.10 client takes `host:ip` only.
        flag("--add-host", h.replacen('=', ":", 1));
    }
    if let Some(s) = &t.shm_size {
        flag("--shm-size", s.clone());
    }
    for u in &t.ulimits {
        flag("--ulimit", u.clone());
    }
    for p in &t.platforms {
        flag("--platform", p.clone());
    }
    for c in &t.cache_from {
        flag("--cache-from", c.clone());
    }
    for c in &t.cache_to {
        flag("--cache-to", c.clone());
    }
    for (name, value) in &t.contexts {
        let value = match context_target(value) {
            Some(other) => {
                let tag = targets
                    .iter()
                    .find(|o| o.name == other)
                    .and_then(|o| o.tags.first())
                    .ok_or_else(|| {
                        refuse(
                            t,
                            "contexts",
                            &format!("`{name} = \"{value}\"` names a target with no tag, so its image cannot be named to this build"),
                            "give that target a tag (compose: `image:`)",
                        )
                    })?;
                format!("docker-image://{tag}")
            }
            None => value.clone(),
        };
        flag("--build-context", format!("{name}={value}"));
    }
    for o in &t.outputs {
        match output(o) {
            Output::Daemon => {}
            Output::Push => a.push("--push".into()),
            Output::Other => {
                a.push("--output".into());
                a.push(o.into());
            }
        }
    }
    if t.pull {
        a.push("--pull".into());
    }
    if t.no_cache {
        a.push("--no-cache".into());
    }
    a.push(context.into());
    Ok(a)
}

enum Output {
    /// `type=docker`: the image in the daemon, what `docker build` does anyway.
    Daemon,
    /// `type=registry`, `type=image,push=true`: `--push`.
    Push,
    /// Anything else: `--output` as printed.
    Other,
}

fn output(o: &str) -> Output {
    let fields: Vec<(&str, &str)> = o
        .split(',')
        .map(|kv| kv.split_once('=').unwrap_or((kv, "")))
        .collect();
    let get = |k: &str| fields.iter().find(|(key, _)| *key == k).map(|(_, v)| *v);
    match (get("type"), get("push")) {
        (Some("docker"), _) if get("dest").is_none() => Output::Daemon,
        (Some("registry"), _) | (Some("image"), Some("true")) => Output::Push,
        _ => Output::Other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(v: &[OsString]) -> Vec<String> {
        v.iter().map(|a| a.to_string_lossy().into_owned()).collect()
    }

    #[test]
    fn a_compose_service_becomes_its_docker_build() {
        let app = Target {
            name: "app".into(),
            context: Some("/p".into()),
            dockerfile: Some("/p/Dockerfile".into()),
            args: vec![("A".into(), Some("1".into())), ("B".into(), None)],
            tags: vec!["app:1".into()],
            secrets: vec!["id=tok,type=file,src=/p/tok".into()],
            network: Some("host".into()),
            extra_hosts: vec!["h=1.2.3.4".into()],
            outputs: vec!["type=registry".into()],
            no_cache: true,
            ..Target::default()
        };
        assert_eq!(
            strs(&build_args(&["-Hx".into()], &app, &[]).unwrap()),
            [
                "-Hx",
                "build",
                "--file",
                "/p/Dockerfile",
                "--build-arg",
                "A=1",
                "--build-arg",
                "B",
                "--tag",
                "app:1",
                "--secret",
                "id=tok,type=file,src=/p/tok",
                "--network",
                "host",
                "--add-host",
                "h:1.2.3.4",
                "--push",
                "--no-cache",
                "/p"
            ]
        );
    }

    #[test]
    fn bake_paths_and_target_contexts() {
        let a = Target {
            name: "a".into(),
            context: Some("sub".into()),
            dockerfile: Some("Dockerfile.x".into()),
            tags: vec!["a:1".into()],
            outputs: vec!["type=docker".into()],
            ..Target::default()
        };
        let b = Target {
            name: "b".into(),
            contexts: vec![("base".into(), "target:a".into())],
            ..Target::default()
        };
        let all = [a.clone(), b.clone()];
        assert_eq!(
            strs(&build_args(&[], &a, &all).unwrap()),
            ["build", "--file", "sub/Dockerfile.x", "--tag", "a:1", "sub"]
        );
        assert_eq!(
            strs(&build_args(&[], &b, &all).unwrap()),
            ["build", "--build-context", "base=docker-image://a:1", "."]
        );
        assert_eq!(field_of("--build-context"), Some("contexts"));
    }

    #[test]
    fn what_no_docker_build_expresses_is_refused_naming_target_and_field() {
        let t = Target {
            name: "x".into(),
            unknown: vec!["attest".into()],
            ..Target::default()
        };
        let e = build_args(&[], &t, &[]).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string().contains("refused `target x, field attest`"),
            "{e}"
        );
        let t = Target {
            name: "y".into(),
            dockerfile_inline: Some("FROM scratch".into()),
            ..Target::default()
        };
        assert!(build_args(&[], &t, &[])
            .unwrap_err()
            .to_string()
            .contains("dockerfile-inline"));
        // `bake --check` prints `"call": "check"` in every target: the refusal says so.
        let t = Target {
            name: "z".into(),
            unknown: vec!["attest".into(), "call".into()],
            ..Target::default()
        };
        let e = build_args(&[], &t, &[]).unwrap_err();
        assert!(
            e.to_string().contains("refused `target z, field call`")
                && e.to_string().contains("--check"),
            "{e}"
        );
        assert!(
            e.hint().unwrap_or_default().contains("drop `--check`"),
            "{e:?}"
        );
    }
}
