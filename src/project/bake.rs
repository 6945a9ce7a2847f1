//! The bake definition that `docker compose build --print` and `docker buildx bake
//! --print` print, read into typed targets.
//!
//! The printers resolve the project (compose files, profiles, `.env`, HCL variables,
//! `inherits`, matrices); this module only reads their JSON, never YAML or HCL. The two
//! printers spell some fields differently — compose 2.40 prints secrets as
//! `id=…,type=file,src=…` strings and paths made absolute, buildx 0.36 prints secrets
//! and caches as objects and `dockerfile` relative to the context — so every list
//! field is read as strings, an object becoming the `k=v,…` string the docker CLI takes
//! (`type` first). Fields this module does not know are kept by name, so a target that
//! asks for something no `docker build` can express is refused rather than built without it.

use std::collections::BTreeMap;

use serde_json::Value;

/// One target (a compose service with a `build:` section, or a bake target).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// Its name (the compose service, the bake target).
    pub name: String,
    /// `context`, as printed (compose: absolute; bake: relative to the working directory).
    pub context: Option<String>,
    /// `dockerfile`, as printed (compose: absolute; bake: relative to the context).
    pub dockerfile: Option<String>,
    /// `dockerfile-inline`.
    pub dockerfile_inline: Option<String>,
    /// `args`; a `None` value takes the variable from the environment.
    pub args: Vec<(String, Option<String>)>,
    /// `labels`.
    pub labels: Vec<(String, String)>,
    /// `tags`.
    pub tags: Vec<String>,
    /// `target` (the Dockerfile stage).
    pub stage: Option<String>,
    /// `secret`, each as the CLI's `id=…,src=…` / `id=…,env=…` string.
    pub secrets: Vec<String>,
    /// `ssh`, each as the CLI's `default` / `id=path` string.
    pub ssh: Vec<String>,
    /// `network`.
    pub network: Option<String>,
    /// `extra-hosts`, each as `host=ip`.
    pub extra_hosts: Vec<String>,
    /// `shm-size`.
    pub shm_size: Option<String>,
    /// `ulimits`.
    pub ulimits: Vec<String>,
    /// `platforms`.
    pub platforms: Vec<String>,
    /// `cache-from`.
    pub cache_from: Vec<String>,
    /// `cache-to`.
    pub cache_to: Vec<String>,
    /// `contexts` (named build contexts), `name → value` (`target:other` for another
    /// target of the project).
    pub contexts: Vec<(String, String)>,
    /// `pull`.
    pub pull: bool,
    /// `no-cache`.
    pub no_cache: bool,
    /// `output`, each as printed (`type=docker`, `type=registry` …).
    pub outputs: Vec<String>,
    /// Fields set to something this module does not translate, by name.
    pub unknown: Vec<String>,
}

/// Fields that ask nothing of a `docker build` and are skipped: `entitlements` is bake's
/// own permission list (`network.host` for `network = "host"`), not a build option.
const IGNORED: &[&str] = &["entitlements", "description"];

/// A definition that could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unreadable(pub String);

/// Reads the printed definition: the targets in the order of the `default` group (the
/// order the printer resolved), then any others by name.
///
/// # Errors
/// When the text is not a bake definition (not JSON, no `target` object, a field of an
/// unexpected type).
pub(crate) fn parse(json: &[u8]) -> Result<Vec<Target>, Unreadable> {
    let v: Value = serde_json::from_slice(json).map_err(|e| Unreadable(e.to_string()))?;
    let targets = v
        .get("target")
        .and_then(Value::as_object)
        .ok_or_else(|| Unreadable("no \"target\" object".into()))?;
    let mut order: Vec<String> = v
        .pointer("/group/default/targets")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .filter(|n| targets.contains_key(*n))
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    for name in targets.keys() {
        if !order.contains(name) {
            order.push(name.clone());
        }
    }
    order
        .into_iter()
        .map(|name| target(&name, &targets[&name]))
        .collect()
}

fn target(name: &str, v: &Value) -> Result<Target, Unreadable> {
    let fields = v
        .as_object()
        .ok_or_else(|| Unreadable(format!("target {name:?} is not an object")))?;
    let bad = |field: &str| {
        Unreadable(format!(
            "target {name:?}: field {field:?} has an unexpected type"
        ))
    };
    let mut t = Target {
        name: name.to_string(),
        ..Target::default()
    };
    for (field, value) in fields {
        if value.is_null() {
            continue;
        }
        let f = field.as_str();
        let s = || scalar(value).ok_or_else(|| bad(f));
        let list = || strings(value).ok_or_else(|| bad(f));
        let map = || pairs(value).ok_or_else(|| bad(f));
        match f {
            "context" => t.context = Some(s()?),
            "dockerfile" => t.dockerfile = Some(s()?),
            "dockerfile-inline" => t.dockerfile_inline = Some(s()?),
            "args" => {
                let obj = value.as_object().ok_or_else(|| bad(f))?;
                for (k, v) in obj {
                    t.args.push((
                        k.clone(),
                        if v.is_null() {
                            None
                        } else {
                            Some(scalar(v).ok_or_else(|| bad(f))?)
                        },
                    ));
                }
            }
            "labels" => t.labels = map()?,
            "tags" => t.tags = list()?,
            "target" => t.stage = Some(s()?),
            "secret" => t.secrets = list()?,
            "ssh" => t.ssh = list()?,
            "network" => t.network = Some(s()?),
            "extra-hosts" => {
                t.extra_hosts = match value {
                    Value::Object(_) => map()?
                        .into_iter()
                        .map(|(h, ip)| format!("{h}={ip}"))
                        .collect(),
                    _ => list()?,
                }
            }
            "shm-size" => t.shm_size = Some(s()?),
            "ulimits" => t.ulimits = list()?,
            "platforms" => t.platforms = list()?,
            "cache-from" => t.cache_from = list()?,
            "cache-to" => t.cache_to = list()?,
            "contexts" => t.contexts = map()?,
            "pull" => t.pull = value.as_bool().ok_or_else(|| bad(f))?,
            "no-cache" => t.no_cache = value.as_bool().ok_or_else(|| bad(f))?,
            "output" => t.outputs = list()?,
            _ if IGNORED.contains(&f) => {}
            // `call = "build"` is what a build does anyway; other calls (`check`,
            // `outline` …) are no build.
            "call" if value.as_str() == Some("build") => {}
            // An empty list or object, or `false`, asks for nothing.
            _ if is_empty(value) => {}
            _ => t.unknown.push(field.clone()),
        }
    }
    Ok(t)
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Bool(b) => !b,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// A string, number or boolean as the string the CLI would take.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// An object as the CLI's `k=v,…` string, `type` first, then by key.
fn csv(o: &serde_json::Map<String, Value>) -> Option<String> {
    let sorted: BTreeMap<&String, &Value> = o.iter().collect();
    let mut parts: Vec<String> = Vec::new();
    if let Some(t) = o.get("type") {
        parts.push(format!("type={}", scalar(t)?));
    }
    for (k, v) in sorted {
        if k != "type" && !v.is_null() {
            parts.push(format!("{k}={}", scalar(v)?));
        }
    }
    Some(parts.join(","))
}

/// A list of strings or objects (each object as [`csv`]); a lone string is a list of one.
fn strings(v: &Value) -> Option<Vec<String>> {
    match v {
        Value::Array(a) => a
            .iter()
            .map(|e| match e {
                Value::Object(o) => csv(o),
                other => scalar(other),
            })
            .collect(),
        Value::String(s) => Some(vec![s.clone()]),
        _ => None,
    }
}

fn pairs(v: &Value) -> Option<Vec<(String, String)>> {
    v.as_object()?
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| Some((k.clone(), scalar(v)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What compose 2.40.3 printed for a service with a file secret, a named context on
    /// another service, a stage, a cache source and extra hosts (abridged).
    const COMPOSE: &str = r#"{"group":{"default":{"targets":["base","app"]}},"target":{
      "app":{"context":"/p","contexts":{"base":"target:base"},"dockerfile":"/p/Dockerfile",
        "args":{"A":"1"},"labels":{"com.docker.compose.service":"app"},"tags":["myapp:1"],
        "cache-from":["foo:bar"],"target":"final","secret":["id=tok,type=file,src=/p/tok.txt"],
        "pull":true,"no-cache":true,"network":"host","shm-size":"67108864",
        "extra-hosts":{"h":"1.2.3.4"},"output":["type=registry"]},
      "base":{"context":"/p/base","dockerfile":"/p/base/Dockerfile","tags":["p-base"],"output":["type=docker"]}}}"#;

    /// What buildx 0.36.1 printed for two targets (secrets and caches as objects).
    const BAKE: &str = r#"{"group":{"default":{"targets":["a","b"]}},"target":{
      "a":{"context":".","dockerfile":"Dockerfile","args":{"GREETING":"yo"},"tags":["a:1"],
        "cache-from":[{"ref":"x/y","type":"registry"}],
        "secret":[{"id":"tok","src":"tok.txt"},{"id":"e","env":"HOME"}],
        "network":"host","entitlements":["network.host"],"call":"build"},
      "b":{"context":"base","contexts":{"foo":"target:a"},"dockerfile":"Dockerfile","tags":["b:1"],
        "attest":[{"type":"sbom"}],"call":"check"}}}"#;

    #[test]
    fn compose_print_is_read_in_group_order() {
        let t = parse(COMPOSE.as_bytes()).unwrap();
        assert_eq!(
            t.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(),
            ["base", "app"]
        );
        let app = &t[1];
        assert_eq!(app.context.as_deref(), Some("/p"));
        assert_eq!(
            app.contexts,
            [("base".to_string(), "target:base".to_string())]
        );
        assert_eq!(app.secrets, ["id=tok,type=file,src=/p/tok.txt"]);
        assert_eq!(app.extra_hosts, ["h=1.2.3.4"]);
        assert_eq!(app.stage.as_deref(), Some("final"));
        assert!(app.pull && app.no_cache);
        assert_eq!(app.outputs, ["type=registry"]);
        assert_eq!(app.shm_size.as_deref(), Some("67108864"));
        assert!(app.unknown.is_empty());
    }

    #[test]
    fn bake_objects_become_cli_strings_and_unknown_fields_are_named() {
        let t = parse(BAKE.as_bytes()).unwrap();
        assert_eq!(t[0].secrets, ["id=tok,src=tok.txt", "env=HOME,id=e"]);
        assert_eq!(t[0].cache_from, ["type=registry,ref=x/y"]);
        assert!(t[0].unknown.is_empty(), "entitlements is bake's own");
        assert_eq!(t[1].unknown, ["attest", "call"]);
    }

    #[test]
    fn not_a_definition_is_unreadable() {
        assert!(parse(b"no such service: x").is_err());
        assert!(parse(b"{}").is_err());
        assert!(parse(br#"{"target":{"a":{"tags":7}}}"#).is_err());
    }
}
