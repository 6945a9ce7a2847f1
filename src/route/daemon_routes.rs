//! The routes that build with a Docker client: `mounted` (a client < 23 with the daemon's
//! own builder, BuildKit on when the user's own client would use it), `legacy` (the first
//! client's legacy builder) and `buildx`. Pure, like [`super::decide`], which picks among
//! them; every argument reaches the client unchanged except the flags named in a notice
//! or a refusal. What each flag gets on the mounted and legacy routes is its row's
//! `legacy` and `buildkit` columns in [`crate::docker::build_flags::BUILD_FLAGS`].

use std::ffi::OsString;
use std::path::Path;

use crate::docker::args::{BuildCall, BuildForm, CommandKind, Invocation};
use crate::docker::build_flags::{BuildFlag, BuildKit, Legacy};
use crate::error::{Error, Result};
use crate::route::facts::{Client, Facts};
use crate::route::mode::Route;
use crate::route::plan::{Builder, BuilderChoice, Plan, Step};

pub(super) const V3_FIX: &str =
    "run the step on Bitbucket runtime v3 (`runtime: cloud: version: \"3\"`), where buildx works, or build on a shared BuildKit (DOCKROUTE_BUILDKIT_HOST)";
const MOUNTED_FIX: &str = "put a Docker CLI v20.10 on PATH (Pipelines mounts one at /usr/bin/docker when the step has the docker service) so dockroute can build with the daemon's BuildKit";

fn refuse(flag: BuildFlag, why: &str, fix: String) -> Error {
    Error::Refused {
        flag: flag.dashed(),
        why: why.to_string(),
        fix,
    }
}

/// Refuses a build bound for the legacy builder whose Dockerfile uses BuildKit-only
/// syntax: the legacy builder would run the steps before it and then fail.
fn refuse_buildkit_syntax(facts: &Facts, why: &str, fix: String) -> Result<Option<String>> {
    use crate::docker::dockerfile::{refusal_lines, SYNTAX_DIRECTIVE};
    let Some(scan) = facts.dockerfile.as_ref().filter(|s| !s.findings.is_empty()) else {
        return Ok(None);
    };
    // A `# syntax=` line alone is a comment to the legacy builder, and the rest of the
    // file means the same there: say so, but build. With any other finding it is listed
    // with them.
    if scan
        .findings
        .iter()
        .all(|f| f.construct == SYNTAX_DIRECTIVE)
    {
        return Ok(Some(format!(
            "{}:{}: the `# syntax=` directive is ignored by the legacy builder ({why}); the rest of the Dockerfile needs nothing BuildKit-only",
            scan.path.display(),
            scan.findings[0].line
        )));
    }
    Err(Error::NeedsBuildKit {
        findings: refusal_lines(&scan.path, &scan.findings),
        why: why.to_string(),
        fix,
    })
}

/// Argument editing shared by the mounted and legacy routes.
struct Edit<'a> {
    inv: &'a Invocation,
    drop: Vec<std::ops::Range<usize>>,
    notices: Vec<String>,
}

impl<'a> Edit<'a> {
    fn new(inv: &'a Invocation) -> Self {
        Edit {
            inv,
            drop: Vec::new(),
            notices: Vec::new(),
        }
    }

    fn drop_flag(&mut self, call: &BuildCall, flag: BuildFlag, why: &str) {
        let uses: Vec<_> = call.all(flag).collect();
        if uses.is_empty() {
            return;
        }
        self.drop.extend(uses.iter().map(|u| u.span.clone()));
        self.notices
            .push(format!("dropped {}: {why}", flag.dashed()));
    }

    /// Drops the flags given only turned off (`--provenance=false`, `--push=false`) that
    /// the client of this route does not know ([`Legacy::Refuse`], [`Legacy::Emulate`]):
    /// off, they ask for nothing it would do anyway.
    fn drop_off(&mut self, call: &BuildCall) {
        for row in call.rows_given() {
            if matches!(row.legacy, Legacy::Refuse(_) | Legacy::Emulate) && call.only_off(row.flag)
            {
                self.drop.extend(call.all(row.flag).map(|u| u.span.clone()));
                self.notices.push(format!(
                    "dropped {} (turned off): the client of this route does not know it",
                    row.flag.dashed()
                ));
            }
        }
    }

    /// Drops the flags the table drops on `route` ([`Legacy::Drop`]), with its reason.
    fn drop_dropped(&mut self, call: &BuildCall, route: Route) {
        for row in call.rows_given() {
            if let Legacy::Drop { mounted, legacy } = row.legacy {
                let why = if route == Route::Legacy {
                    Some(legacy)
                } else {
                    mounted
                };
                if let Some(why) = why {
                    self.drop_flag(call, row.flag, why);
                }
            }
        }
    }

    /// `[program, globals…, words…, rest without dropped spans]`.
    fn argv(&self, program: &Path, words: &[&str]) -> Vec<OsString> {
        let mut argv = vec![program.as_os_str().to_owned()];
        argv.extend(self.inv.global_args().iter().cloned());
        argv.extend(words.iter().map(OsString::from));
        argv.extend(
            (self.inv.rest_at..self.inv.args.len())
                .filter(|i| !self.drop.iter().any(|r| r.contains(i)))
                .map(|i| self.inv.args[i].clone()),
        );
        argv
    }
}

/// `docker push TAG` with the call's global flags, by `program`.
fn push_step(inv: &Invocation, program: &Path, tag: OsString) -> Step {
    let mut argv = vec![program.as_os_str().to_owned()];
    argv.extend(inv.global_args().iter().cloned());
    argv.push("push".into());
    argv.push(tag);
    Step {
        program: program.to_path_buf(),
        argv,
    }
}

/// `--push` emulated: build, then `docker push` each tag with the same global flags.
fn push_emulation(
    inv: &Invocation,
    call: &BuildCall,
    edit: &mut Edit<'_>,
    program: &Path,
) -> Result<Vec<Step>> {
    if !call.has(BuildFlag::Push) {
        return Ok(Vec::new());
    }
    let tags = call.tags();
    if tags.is_empty() {
        return Err(refuse(
            BuildFlag::Push,
            "there is no `-t/--tag` to push",
            "add `-t registry/name:tag`".into(),
        ));
    }
    edit.drop
        .extend(call.all(BuildFlag::Push).map(|u| u.span.clone()));
    edit.notices.push(format!(
        "--push emulated: build, then `docker push` {}",
        tags.iter()
            .map(|t| t.to_string_lossy())
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(tags
        .into_iter()
        .map(|t| push_step(inv, program, t))
        .collect())
}

/// Refuses what only buildx can do ([`Legacy::Refuse`], [`Legacy::KeepOne`] with
/// several values), the first such flag in table order.
fn refuse_buildx_only(call: &BuildCall, fix: &str) -> Result<()> {
    for row in call.rows_given() {
        match row.legacy {
            Legacy::Refuse(why) if call.has(row.flag) => {
                return Err(refuse(row.flag, why, fix.to_string()))
            }
            Legacy::KeepOne(why) if call.value_count(row.flag) > 1 => {
                return Err(refuse(row.flag, why, fix.to_string()))
            }
            _ => {}
        }
    }
    Ok(())
}

/// The first flag of the call that needs BuildKit ([`BuildKit::Needs`]), with why.
fn needs_buildkit(call: &BuildCall) -> Option<(BuildFlag, &'static str)> {
    call.rows_on().find_map(|r| match r.buildkit {
        BuildKit::Needs(why) => Some((r.flag, why)),
        _ => None,
    })
}

/// The builder on the mounted route, and the `DOCKER_BUILDKIT` value to set for it.
///
/// The daemon's BuildKit works through a client < 23, so the build gets it whenever the
/// call needs it (`--secret` …) or the user's own first client would have built with
/// BuildKit (CLI ≥ 23) — unless the user turned BuildKit off, which is kept.
fn mounted_builder(
    inv: &Invocation,
    call: &BuildCall,
    facts: &Facts,
) -> (BuilderChoice, Option<&'static str>) {
    // `docker buildx build` asks for BuildKit by its very name.
    let typed_buildx = matches!(
        inv.kind,
        CommandKind::Build(BuildForm::BuildxBuild | BuildForm::BuildxB)
    );
    // A flag only BuildKit can do is the reason before one it merely wants.
    let needs = needs_buildkit(call)
        .map(|(flag, _)| flag)
        .or_else(|| {
            call.rows_on()
                .find(|r| r.buildkit == BuildKit::Wants)
                .map(|r| r.flag)
        })
        .map(|f| format!("`{}` needs BuildKit", f.dashed()))
        .or_else(|| typed_buildx.then(|| "`docker buildx build` asks for BuildKit".to_string()));
    let own = facts.clients.first().filter(|c| c.buildx_era());
    let choice = |builder, why: String, set_by_route| BuilderChoice {
        builder: Some(builder),
        why,
        set_by_route,
    };
    match (facts.env.buildkit(), needs, own) {
        (Some(true), _, _) => (
            choice(Builder::DaemonBuildKit, "DOCKER_BUILDKIT=1 is set".into(), false),
            None,
        ),
        (Some(false), _, _) => (
            choice(
                Builder::Legacy,
                "DOCKER_BUILDKIT=0 is set, and kept as your choice".into(),
                false,
            ),
            None,
        ),
        (None, Some(why), _) => (choice(Builder::DaemonBuildKit, why, true), Some("1")),
        (None, None, Some(own)) => (
            choice(
                Builder::DaemonBuildKit,
                format!(
                    "the first `docker` on PATH ({}, {}) is a CLI ≥ 23, whose default builder is BuildKit",
                    own.path.display(),
                    own.describe()
                ),
                true,
            ),
            Some("1"),
        ),
        (None, None, None) => (
            choice(
                Builder::Legacy,
                "the first `docker` on PATH is older than 23 and builds with the legacy builder by default".into(),
                false,
            ),
            None,
        ),
    }
}

pub(super) fn mounted(
    inv: &Invocation,
    call: &BuildCall,
    facts: &Facts,
    client: &Client,
    reason: Option<String>,
) -> Result<Plan> {
    refuse_buildx_only(call, V3_FIX)?;
    let (builder, set) = mounted_builder(inv, call, facts);
    let mut syntax_notice = None;
    if builder.builder == Some(Builder::Legacy) {
        let fix = if facts.env.buildkit() == Some(false) {
            "unset DOCKER_BUILDKIT: dockroute then builds with the daemon's BuildKit through this client".to_string()
        } else {
            "set DOCKER_BUILDKIT=1 to build with the daemon's BuildKit through this client"
                .to_string()
        };
        syntax_notice = refuse_buildkit_syntax(
            facts,
            &format!(
                "the build would run on the legacy builder ({})",
                builder.why
            ),
            fix,
        )?;
    }
    let mut edit = Edit::new(inv);
    edit.drop_off(call);
    edit.notices.extend(syntax_notice);
    edit.drop_dropped(call, Route::Mounted);
    let then = push_emulation(inv, call, &mut edit, &client.path)?;
    if facts.env.buildkit() == Some(false) {
        if let Some((flag, _)) = needs_buildkit(call) {
            edit.notices.push(format!(
                "{} needs BuildKit, but DOCKER_BUILDKIT=0 is set in the environment and was kept; unset it to use the daemon's BuildKit",
                flag.dashed()
            ));
        }
    }
    let argv = edit.argv(&client.path, &["build"]);
    Ok(Plan {
        env_set: set
            .map(|v| vec![("DOCKER_BUILDKIT".to_string(), v.to_string())])
            .unwrap_or_default(),
        client: Some(client.clone()),
        reason,
        builder: Some(builder),
        notices: edit.notices,
        then,
        ..Plan::new(Route::Mounted, "build", client.path.clone(), argv)
    })
}

pub(super) fn legacy(
    inv: &Invocation,
    call: &BuildCall,
    facts: &Facts,
    first: &Client,
    reason: Option<String>,
) -> Result<Plan> {
    let fix = format!("{MOUNTED_FIX}, or {V3_FIX}");
    let only = "the only builder this runtime allows here is the legacy one";
    if let Some((flag, why)) = needs_buildkit(call) {
        return Err(refuse(flag, &format!("{why}, and {only}"), fix));
    }
    refuse_buildx_only(call, &fix)?;
    let syntax_notice = refuse_buildkit_syntax(facts, only, fix)?;
    let mut edit = Edit::new(inv);
    edit.drop_off(call);
    edit.notices.extend(syntax_notice);
    edit.drop_dropped(call, Route::Legacy);
    let then = push_emulation(inv, call, &mut edit, &first.path)?;
    let argv = edit.argv(&first.path, &["build"]);
    Ok(Plan {
        env_set: vec![("DOCKER_BUILDKIT".into(), "0".into())],
        client: Some(first.clone()),
        reason,
        builder: Some(BuilderChoice {
            builder: Some(Builder::Legacy),
            why: "no Docker CLI < 23 on PATH to reach the daemon's BuildKit, and buildx cannot run here".into(),
            set_by_route: true,
        }),
        notices: edit.notices,
        then,
        ..Plan::new(Route::Legacy, "build", first.path.clone(), argv)
    })
}

pub(super) fn unset_inherited_off(facts: &Facts, notices: &mut Vec<String>) -> Vec<String> {
    if facts.env.buildkit() == Some(false) {
        notices.push(
            "removed the inherited DOCKER_BUILDKIT=0 (a leftover from runtime v2?): this runtime allows BuildKit"
                .into(),
        );
        vec!["DOCKER_BUILDKIT".into()]
    } else {
        Vec::new()
    }
}

pub(super) fn buildx(
    inv: &Invocation,
    call: &BuildCall,
    facts: &Facts,
    client: &Client,
    reason: Option<String>,
) -> Plan {
    let mut notices = Vec::new();
    let env_unset = unset_inherited_off(facts, &mut notices);
    let chose_output = [BuildFlag::Load, BuildFlag::Push, BuildFlag::Output]
        .into_iter()
        .any(|f| call.has(f));
    let mut words = vec!["buildx", "build"];
    if !chose_output && call.platform_count() <= 1 {
        words.push("--load");
    }
    let edit = Edit::new(inv);
    Plan {
        env_unset,
        client: Some(client.clone()),
        reason,
        builder: Some(BuilderChoice {
            builder: Some(Builder::Buildx),
            why: "this runtime allows buildx's privileged BuildKit".into(),
            set_by_route: false,
        }),
        notices,
        ..Plan::new(
            Route::Buildx,
            words.join(" "),
            client.path.clone(),
            edit.argv(&client.path, &words),
        )
    }
}
