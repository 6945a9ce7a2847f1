//! Outputs: docker's `-o`, `--push`, `--load` and `-t`, turned into buildctl `--output`s
//! and the [`Sink`] that says what happens to the image (pushed, exported, loaded into
//! the daemon, kept in BuildKit's store).

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;

use crate::docker::args::FlagUse;
use crate::error::Result;

use super::csv::{csv_attrs, csv_field, csv_fields, csv_join, csv_names_value, Attrs};
use super::options::Options;
use super::values::{dashed, invalid, parse_bool, refused, value};
use super::{Request, Sink};

/// One `--output`, parsed: its type and the other fields in order.
#[derive(Debug, Clone)]
pub(super) struct Output {
    pub(super) kind: Vec<u8>,
    pub(super) attrs: Attrs,
}

impl Output {
    pub(super) fn new(kind: &[u8]) -> Output {
        Output {
            kind: kind.to_vec(),
            attrs: Vec::new(),
        }
    }

    /// The last value of a field (later fields win, as in buildx's attribute map).
    pub(super) fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.attrs
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    /// Sets a field in place of its first occurrence (dropping later ones), or appends it.
    pub(super) fn set(&mut self, key: &[u8], value: &[u8]) {
        match self.attrs.iter().position(|(k, _)| k == key) {
            Some(i) => {
                if let Some(field) = self.attrs.get_mut(i) {
                    field.1 = value.to_vec();
                }
                let mut seen = false;
                self.attrs.retain(|(k, _)| {
                    if k != key {
                        return true;
                    }
                    let keep = !seen;
                    seen = true;
                    keep
                });
            }
            None => self.attrs.push((key.to_vec(), value.to_vec())),
        }
    }

    pub(super) fn is(&self, kind: &[u8]) -> bool {
        self.kind == kind
    }

    /// Whether a tarball exporter writes a tar file (the `tar` field, true by default).
    pub(super) fn tarball(&self) -> bool {
        self.get(b"tar")
            .map_or(true, |v| parse_bool(v).unwrap_or(true))
    }

    pub(super) fn writes_stdout(&self) -> bool {
        let to_stdout = matches!(self.get(b"dest"), None | Some(b"-"));
        match self.kind.as_slice() {
            b"tar" => to_stdout,
            b"oci" | b"docker" => self.tarball() && to_stdout,
            _ => false,
        }
    }

    /// A docker-format tarball without a destination: buildx loads it into the daemon.
    pub(super) fn is_load(&self) -> bool {
        self.is(b"docker") && self.tarball() && self.get(b"dest").is_none()
    }

    pub(super) fn pushes(&self) -> bool {
        self.is(b"image") && self.get(b"push").and_then(parse_bool) == Some(true)
    }

    pub(super) fn names(&self) -> Vec<OsString> {
        self.get(b"name")
            .map(|n| {
                n.split(|b| *b == b',')
                    .filter(|s| !s.is_empty())
                    .map(|s| OsStr::from_bytes(s).to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(super) fn to_csv(&self) -> Vec<u8> {
        let mut fields = vec![csv_field(&[&b"type="[..], &self.kind].concat())];
        if !self.attrs.is_empty() {
            fields.push(csv_join(&self.attrs));
        }
        fields.join(&b","[..])
    }
}

/// What one `-o/--output` asks for.
pub(super) enum OutputFlag {
    /// An empty value: nothing.
    Nothing,
    /// `type=cacheonly`: no output at all.
    CacheOnly,
    /// One output.
    Output(Output),
}

/// `-o/--output`, with buildx's shorthands: a bare path is a local directory, `-` a tar
/// stream on stdout, `type=registry` an image push, `type=cacheonly` no output.
pub(super) fn output_flag(flag: &FlagUse) -> Result<OutputFlag> {
    let v = value(flag)?;
    if v.is_empty() {
        return Ok(OutputFlag::Nothing);
    }
    let bad = || invalid(flag, "an output", "type=local,dest=DIR");
    let fields = csv_fields(v).ok_or_else(bad)?;
    let mut out = if fields.len() == 1 && fields[0] == v && !v.starts_with(b"type=") {
        if v == b"-" {
            let mut o = Output::new(b"tar");
            o.set(b"dest", b"-");
            o
        } else {
            let mut o = Output::new(b"local");
            o.set(b"dest", v);
            o
        }
    } else {
        let attrs = csv_attrs(v).ok_or_else(bad)?;
        let mut o = Output::new(b"");
        for (k, val) in attrs {
            if k == b"type" {
                o.kind = val;
            } else {
                o.set(&k, &val);
            }
        }
        if o.kind.is_empty() {
            return Err(refused(
                dashed(flag),
                "the output names no `type`",
                "write `-o type=local,dest=DIR` (or type=tar, oci, docker, image, registry)",
            ));
        }
        o
    };
    if out.is(b"registry") {
        out.kind = b"image".to_vec();
        if out.get(b"push").is_none() {
            out.set(b"push", b"true");
        }
    }
    Ok(if out.is(b"cacheonly") {
        OutputFlag::CacheOnly
    } else {
        OutputFlag::Output(out)
    })
}

/// Turns `-o`, `--push`, `--load` and `-t` into buildctl outputs and a sink, checking what
/// cannot work: a load without a daemon, a push without a name, two outputs on stdout,
/// several platforms or attestations in a docker-format tarball.
pub(super) fn outputs(req: &Request<'_>, c: &Options) -> Result<(Vec<Output>, Sink, Vec<String>)> {
    let names = (!c.tags.is_empty()).then(|| csv_names_value(&c.tags));
    let mut outs = c.outputs.clone();
    for o in &mut outs {
        if let Some(n) = &names {
            if o.is(b"image") || o.is(b"oci") || o.is(b"docker") {
                o.set(b"name", n);
            }
        }
    }
    if c.push {
        let mut used = false;
        for o in outs.iter_mut().filter(|o| o.is(b"image")) {
            o.set(b"push", b"true");
            used = true;
        }
        if !used {
            let mut o = Output::new(b"image");
            if let Some(n) = &names {
                o.set(b"name", n);
            }
            o.set(b"push", b"true");
            outs.push(o);
        }
    }
    if c.load && !outs.iter().any(Output::is_load) {
        let mut o = Output::new(b"docker");
        if let Some(n) = &names {
            o.set(b"name", n);
        }
        outs.push(o);
    }
    if outs
        .iter()
        .any(|o| o.pushes() && o.get(b"name").map_or(true, <[u8]>::is_empty))
    {
        return Err(refused(
            if c.push { "--push" } else { "--output" },
            "there is no `-t/--tag` to push",
            "add `-t registry/name:tag`",
        ));
    }
    let multi = req.call.platform_count() > 1;
    let mut notices = Vec::new();
    let sink = if outs.is_empty() {
        if c.cache_only {
            Sink::Discard
        } else if req.daemon && !multi {
            let mut o = Output::new(b"docker");
            if let Some(n) = &names {
                o.set(b"name", n);
            }
            outs.push(o);
            Sink::Load {
                names: c.tags.clone(),
            }
        } else if !c.tags.is_empty() || c.iidfile.is_some() || c.quiet {
            // An image ID (for `--iidfile` or `-q`) exists only when an image is made.
            let mut o = Output::new(b"image");
            if let Some(n) = &names {
                o.set(b"name", n);
            }
            outs.push(o);
            notices.push(if req.daemon {
                "several platforms cannot be loaded into the Docker daemon: the image stays in BuildKit's store; add `--push` to push it, or `-o type=oci,dest=image.tar` to write it to a file".to_string()
            } else {
                if c.tags.is_empty() {
                    "no Docker daemon to load the image into: it stays in BuildKit's store; add `--push` to push it, or `-o type=docker,dest=image.tar` to write it to a file".to_string()
                } else {
                    "no Docker daemon to load the image into: it stays in BuildKit's store, and dockroute records the build under its names for `docker tag`, `docker push` and `docker save` (which build it again there, cached); `--push` pushes it at once".to_string()
                }
            });
            Sink::Store {
                names: c.tags.clone(),
            }
        } else {
            if req.daemon {
                notices.push("several platforms cannot be loaded into the Docker daemon: the result stays in BuildKit's cache only; add `-t NAME --push` or `-o` to keep it".to_string());
            }
            Sink::Discard
        }
    } else if let Some(load) = outs.iter().find(|o| o.is_load()) {
        Sink::Load {
            names: if c.tags.is_empty() {
                load.names()
            } else {
                c.tags.clone()
            },
        }
    } else if outs.iter().any(Output::pushes) {
        Sink::Push
    } else if outs.iter().all(|o| o.is(b"image")) {
        Sink::Store {
            names: if c.tags.is_empty() {
                outs.iter().flat_map(Output::names).collect()
            } else {
                c.tags.clone()
            },
        }
    } else {
        Sink::Export
    };
    if let Sink::Load { .. } = sink {
        let load_flag = if c.load { "--load" } else { "--output" };
        if !req.daemon {
            return Err(refused(
                load_flag,
                "there is no Docker daemon to load the image into",
                "push it (`--push`) or write it to a file (`-o type=docker,dest=image.tar`)",
            ));
        }
        if multi {
            return Err(refused(
                "--platform",
                "a docker-format image holds one platform, so several cannot be loaded into the Docker daemon",
                "build one `--platform` at a time, or `--push` the multi-platform image",
            ));
        }
    }
    if outs.iter().filter(|o| o.writes_stdout()).count() > 1 {
        return Err(refused(
            "--output",
            "two outputs would both write to standard output",
            "give all but one of them a `dest=FILE`",
        ));
    }
    if let Some(provenance) = &c.provenance {
        if outs.iter().any(|o| o.is(b"docker")) {
            return Err(refused(
                provenance.flag.clone(),
                "a docker-format image cannot carry attestations",
                "push the image (`--push`) or write an OCI tarball (`-o type=oci,dest=image.tar`)",
            ));
        }
    }
    Ok((outs, sink, notices))
}
