//! Tests that `docs/json.md` tells the truth: its tables are read as a schema (one table
//! per object type, one row per field with its type), and the serialised JSON of
//! representative `explain` plans and refusals and `doctor` reports is walked against
//! it — every documented field present with a documented type, no field undocumented,
//! and every table met at least once.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;

use serde_json::Value;

use crate::cli::doctor::report::{Env, Report, Resolution};
use crate::cli::plan_json::{DecisionJson, Explained, SCHEMA_VERSION};
use crate::docker::args::Invocation;
use crate::error::Error;
use crate::probe::daemon::{Info, Verdict};
use crate::probe::discovery::SearchReport;
use crate::probe::gather::Gathered;
use crate::probe::runtime::{RuntimeReport, RuntimeSource};
use crate::probe::settings::{BadValue, Settings};
use crate::route::facts::{BuildKitFacts, Client, Facts, ProbeProblem, Runtime};
use crate::route::mode::Mode;
use crate::route::mode::Route;
use crate::route::plan::{Builder, BuilderChoice, ImageId, Plan, Step};

const DOC: &str = include_str!("../../docs/json.md");

/// A documented type.
#[derive(Debug, Clone)]
enum Ty {
    Str,
    Int,
    Bool,
    Null,
    Array(Box<Ty>),
    Object(Box<Ty>),
    Named(String),
}

impl Ty {
    fn parse(s: &str) -> Ty {
        let s = s.trim();
        if let Some(t) = s.strip_prefix("array of ") {
            return Ty::Array(Box::new(Ty::parse(t)));
        }
        if let Some(t) = s.strip_prefix("object of ") {
            return Ty::Object(Box::new(Ty::parse(t)));
        }
        match s {
            "string" => Ty::Str,
            "integer" => Ty::Int,
            "boolean" => Ty::Bool,
            "null" => Ty::Null,
            name => {
                assert!(
                    name.starts_with(|c: char| c.is_ascii_uppercase()),
                    "unknown type {name:?} in docs/json.md"
                );
                Ty::Named(name.to_string())
            }
        }
    }
}

#[derive(Debug)]
struct Field {
    types: Vec<Ty>,
    optional: bool,
}

/// docs/json.md's tables: `### Name` and the `| `field` | type | meaning |` rows below.
fn schema() -> BTreeMap<String, BTreeMap<String, Field>> {
    let mut tables: BTreeMap<String, BTreeMap<String, Field>> = BTreeMap::new();
    let mut current = None;
    for line in DOC.lines() {
        if let Some(h) = line.strip_prefix("### ") {
            current = Some(h.trim().to_string());
            continue;
        }
        if line.starts_with("## ") {
            current = None;
        }
        let Some(row) = line.strip_prefix("| `") else {
            continue;
        };
        let table = current
            .clone()
            .unwrap_or_else(|| panic!("a field row outside a ### table: {line}"));
        let cells: Vec<&str> = row.split(" | ").collect();
        assert!(cells.len() >= 3, "a row needs field, type, meaning: {line}");
        let name = cells[0].trim_end_matches('`').to_string();
        let (ty, optional) = match cells[1].split_once(", when") {
            Some((ty, _)) => (ty, true),
            None => (cells[1], false),
        };
        let types = ty.split(" or ").map(Ty::parse).collect();
        let before = tables
            .entry(table)
            .or_default()
            .insert(name.clone(), Field { types, optional });
        assert!(before.is_none(), "{name} documented twice");
    }
    tables
}

struct Checker {
    tables: BTreeMap<String, BTreeMap<String, Field>>,
    seen: BTreeSet<String>,
}

impl Checker {
    fn new() -> Checker {
        let tables = schema();
        for fields in tables.values() {
            for f in fields.values() {
                for t in &f.types {
                    let mut t = t;
                    while let Ty::Array(inner) | Ty::Object(inner) = t {
                        t = inner;
                    }
                    if let Ty::Named(n) = t {
                        assert!(tables.contains_key(n), "type {n} has no table");
                    }
                }
            }
        }
        Checker {
            tables,
            seen: BTreeSet::new(),
        }
    }

    fn value(&mut self, v: &Value, ty: &Ty, at: &str) -> Result<(), String> {
        match (ty, v) {
            (Ty::Str, Value::String(_)) | (Ty::Bool, Value::Bool(_)) | (Ty::Null, Value::Null) => {
                Ok(())
            }
            (Ty::Int, Value::Number(n)) if n.is_u64() || n.is_i64() => Ok(()),
            (Ty::Array(t), Value::Array(items)) => items
                .iter()
                .enumerate()
                .try_for_each(|(i, item)| self.value(item, t, &format!("{at}[{i}]"))),
            (Ty::Object(t), Value::Object(map)) => map
                .iter()
                .try_for_each(|(k, item)| self.value(item, t, &format!("{at}.{k}"))),
            (Ty::Named(name), Value::Object(_)) => self.object(v, &[name], at),
            _ => Err(format!("{at}: {v} is not {ty:?}")),
        }
    }

    /// `v` is an object with the fields of `tables` (more than one: flattened).
    fn object(&mut self, v: &Value, tables: &[&str], at: &str) -> Result<(), String> {
        let map = v
            .as_object()
            .ok_or_else(|| format!("{at}: not an object"))?;
        let mut fields = BTreeMap::new();
        for t in tables {
            fields.extend(self.tables[*t].iter().map(|(k, f)| (k.clone(), f)));
        }
        let fields: BTreeMap<String, (Vec<Ty>, bool)> = fields
            .into_iter()
            .map(|(k, f)| (k, (f.types.clone(), f.optional)))
            .collect();
        for (k, item) in map {
            let (types, _) = fields
                .get(k)
                .ok_or_else(|| format!("{at}.{k} is not documented in {tables:?}"))?;
            let here = format!("{at}.{k}");
            let errors: Vec<String> = types
                .iter()
                .filter_map(|t| self.value(item, t, &here).err())
                .collect();
            if errors.len() == types.len() {
                return Err(errors.join("; "));
            }
        }
        for (k, (_, optional)) in &fields {
            if !optional && !map.contains_key(k) {
                return Err(format!("{at}.{k} is documented in {tables:?} but missing"));
            }
        }
        self.seen.extend(tables.iter().map(|t| (*t).to_string()));
        Ok(())
    }

    fn explain(&mut self, v: &Value) {
        let kind = match v["route"].as_str() {
            Some("refuse" | "error") => "Refusal",
            _ => "Plan",
        };
        self.object(v, &["Explain", kind], "explain")
            .unwrap_or_else(|e| panic!("{e}\n{v}"));
    }
}

fn runtime(runtime: Runtime, verdict: Option<Verdict>) -> RuntimeReport {
    RuntimeReport {
        runtime,
        endpoint: verdict
            .as_ref()
            .map(|_| "unix:///var/run/docker.sock".into()),
        source: RuntimeSource::Probed,
        bitbucket: true,
        verdict,
    }
}

fn gathered(clients: Vec<Client>, rt: RuntimeReport, buildkit: BuildKitFacts) -> Gathered {
    Gathered {
        facts: Facts {
            clients,
            runtime: Some(rt.runtime.clone()),
            mode: Mode::Auto,
            buildkit,
            ..Facts::default()
        },
        search: SearchReport {
            searched: vec!["/usr/local/bin".into(), "/usr/bin".into()],
            ignored: vec![".".into()],
            unverified: Vec::new(),
        },
        runtime: Some(rt),
        settings: Settings::default(),
        buildx_plugin: Some("/usr/local/lib/docker/cli-plugins/docker-buildx".into()),
    }
}

fn reports() -> Vec<Value> {
    let denied = "authorization denied by plugin pipelines: --privileged=true is not allowed";
    let mut slow = Client::fixture("/opt/bin/docker", 27, false, false);
    slow.version = None;
    slow.problem = Some(ProbeProblem::TimedOut { ms: 2000 });
    let v2 = gathered(
        vec![
            Client::fixture("/usr/local/bin/docker", 28, false, false),
            Client::fixture("/usr/bin/docker", 20, true, false),
            slow,
        ],
        runtime(
            Runtime::Restricted { why: denied.into() },
            Some(Verdict::Forbidden {
                plugin: "pipelines".into(),
                message: denied.into(),
            }),
        ),
        BuildKitFacts::default(),
    );
    let env = Env {
        exe: Some("/usr/local/sbin/dockroute".into()),
        endpoint: "unix:///var/run/docker.sock".into(),
        daemon: Some(Info {
            authorization_plugins: vec!["pipelines".into()],
            server_version: Some("28.2.2".into()),
        }),
        cache_dir: Some("/root/.cache/dockroute".into()),
    };
    let ours = Resolution {
        path: Some("/usr/local/sbin/docker".into()),
        is_dockroute: true,
    };
    // No daemon, a BUILDKIT_HOST that does not answer: `docker build .` is refused.
    let refused = gathered(
        vec![Client::fixture("/usr/local/bin/docker", 28, false, false)],
        runtime(
            Runtime::NoDaemon {
                why: "no daemon answered".into(),
            },
            Some(Verdict::NoDaemon {
                detail: "connection refused".into(),
            }),
        ),
        BuildKitFacts {
            host: Some("tcp://buildkit:1234".into()),
            buildctl: Some("/usr/bin/buildctl".into()),
            unreachable: Some("connection refused".into()),
            checks: vec![crate::route::nodes::NodeCheck {
                address: "tcp://buildkit:1234".into(),
                unreachable: Some("connection refused".into()),
            }],
            ..BuildKitFacts::default()
        },
    );
    let d1 = Report::new(&v2, &env, ours.clone());
    let d2 = Report::new(&refused, &Env::default(), Resolution::default());
    assert!(d2.build.is_none() && d2.routes[0].plan.is_none(), "{d2:?}");
    assert!(!d1.notes.is_empty() && !d2.problems.is_empty());
    vec![
        serde_json::to_value(&d1).unwrap(),
        serde_json::to_value(&d2).unwrap(),
    ]
}

fn explained(decision: &Result<Plan, Error>, args: &[&str], rt: Option<RuntimeReport>) -> Value {
    let inv = Invocation::parse(args.iter().map(OsString::from).collect());
    serde_json::to_value(Explained {
        schema_version: SCHEMA_VERSION,
        decision: DecisionJson::new(decision, &inv, Some("/usr/local/bin/docker".as_ref())),
        runtime: rt,
        settings_not_understood: vec![BadValue {
            name: "DOCKROUTE_DAEMON_TTL_S",
            value: "soon".into(),
            expected: "a whole number of seconds",
            using: "600".into(),
        }],
    })
    .unwrap()
}

fn explains() -> Vec<Value> {
    let step = |program: &str, args: &[&str]| Step {
        program: program.into(),
        argv: std::iter::once(program)
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect(),
    };
    let remote = Plan {
        env_set: vec![("BUILDKIT_HOST".into(), "tcp://buildkit:1234".into())],
        env_unset: vec!["DOCKER_BUILDKIT".into()],
        reason: Some("DOCKROUTE_BUILDKIT_HOST is set".into()),
        builder: Some(BuilderChoice {
            builder: Some(Builder::BuildKit),
            why: "the shared BuildKit".into(),
            set_by_route: false,
        }),
        notices: vec!["--compress dropped".into()],
        load: Some(step("/usr/local/bin/docker", &["load"])),
        then: vec![step("/usr/local/bin/docker", &["push", "x"])],
        image_id: Some(ImageId {
            metadata: "/tmp/m.json".into(),
            metadata_is_ours: true,
            scratch: None,
            write_to: Some("/tmp/iid".into()),
            print: true,
        }),
        ..Plan::new(
            Route::Remote,
            "build",
            "/usr/bin/buildctl".into(),
            step(
                "/usr/bin/buildctl",
                &["build", "--frontend", "dockerfile.v0"],
            )
            .argv,
        )
    };
    let mut pass = remote.clone();
    pass.route = Route::Pass;
    pass.command = String::new();
    pass.program = "/usr/local/bin/docker".into();
    pass.argv = step("/usr/local/bin/docker", &["ps"]).argv;
    pass.client = Some(Client::fixture("/usr/local/bin/docker", 28, false, true));
    pass.reason = None;
    pass.builder = Some(BuilderChoice {
        builder: None,
        why: "no buildx".into(),
        set_by_route: false,
    });
    (pass.load, pass.image_id, pass.then) = (None, None, Vec::new());
    let mut project = pass.clone();
    project.route = Route::Mounted;
    project.command = "compose up".into();
    project.project = Some(Box::new(crate::route::plan::ProjectPlan {
        printer: "docker compose build --print".into(),
        parallel: 2,
        targets: vec![
            crate::route::plan::TargetPlan {
                name: "base".into(),
                plan: remote.clone(),
                after: Vec::new(),
            },
            crate::route::plan::TargetPlan {
                name: "app".into(),
                plan: pass.clone(),
                after: vec![0],
            },
        ],
        skipped: vec![("db".into(), "its image is in the daemon already".into())],
        then_run: true,
    }));
    let rt = runtime(Runtime::V3 { why: "v3".into() }, Some(Verdict::Allowed));
    let mut mounted = pass.clone();
    mounted.route = Route::Mounted;
    mounted.command = "build".into();
    mounted.warm = Some(crate::route::plan::Warm {
        inline_cache: true,
        cache_from: vec!["app:1".into()],
        stage_images: vec![crate::route::plan::StageImage {
            stage: "deps".into(),
            tag: "dockroute-stage/app:deps".into(),
        }],
        kept: vec!["no -t/--tag".into()],
    });
    vec![
        explained(&Ok(remote), &["build", "--push", "-t", "x", "."], Some(rt)),
        explained(&Ok(pass), &["ps"], None),
        explained(
            &Err(Error::Refused {
                flag: "--secret".into(),
                why: "needs BuildKit".into(),
                fix: "use runtime v3".into(),
            }),
            &["build", "--secret", "id=x", "."],
            None,
        ),
        explained(
            &Err(Error::NeedsBuildKit {
                findings: vec!["Dockerfile:2: RUN --mount needs BuildKit".into()],
                why: "legacy builder".into(),
                fix: "use runtime v3".into(),
            }),
            &["build", "."],
            None,
        ),
        explained(&Err(Error::Usage("bad".into())), &["build", "."], None),
        explained(&Ok(mounted), &["build", "-t", "app:1", "."], None),
        explained(&Ok(project), &["compose", "up"], None),
    ]
}

#[test]
fn docs_json_md_describes_every_field_of_explain_and_doctor() {
    let mut c = Checker::new();
    for v in explains() {
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        c.explain(&v);
    }
    for v in reports() {
        assert_eq!(v["schema_version"], SCHEMA_VERSION);
        c.object(&v, &["Doctor"], "doctor")
            .unwrap_or_else(|e| panic!("{e}\n{v}"));
    }
    let unmet: Vec<&String> = c.tables.keys().filter(|t| !c.seen.contains(*t)).collect();
    assert!(unmet.is_empty(), "tables no sample met: {unmet:?}");
}

#[test]
fn the_plan_json_has_the_documented_values() {
    let v = explains();
    assert_eq!(v[0]["route"], "remote");
    assert_eq!(v[0]["load"]["argv"][1], "load");
    assert_eq!(v[0]["iidfile"], "/tmp/iid");
    assert_eq!(v[0]["runtime"]["kind"], "v3", "flat, not runtime.runtime");
    assert_eq!(v[0]["runtime"]["verdict"]["kind"], "allowed");
    assert_eq!(v[0]["client"], "BuildKit's client");
    assert_eq!(
        v[1]["command"],
        Value::Null,
        "no subcommand: null, not \"\""
    );
    assert_eq!(v[1]["reason"], Value::Null);
    assert_eq!(v[1]["rerouted"], false);
    assert_eq!(v[2]["route"], "refuse");
    assert_eq!(v[2]["exit_code"], 2);
    assert_eq!(v[4]["route"], "error");
    assert_eq!(v[0]["warm"], Value::Null);
    assert_eq!(v[5]["warm"]["inline_cache"], true);
    assert_eq!(v[5]["warm"]["cache_from"][0], "app:1");
}

#[test]
fn a_field_the_doc_does_not_know_fails_the_check() {
    let mut c = Checker::new();
    let mut v = explains().remove(0);
    v["surprise"] = Value::Bool(true);
    assert!(c.object(&v, &["Explain", "Plan"], "explain").is_err());
    let mut v = explains().remove(0);
    v.as_object_mut().unwrap().remove("argv");
    assert!(c.object(&v, &["Explain", "Plan"], "explain").is_err());
    let mut v = explains().remove(0);
    v["rerouted"] = Value::String("yes".into());
    assert!(c.object(&v, &["Explain", "Plan"], "explain").is_err());
}
