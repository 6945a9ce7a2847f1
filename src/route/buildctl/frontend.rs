//! The Dockerfile frontend's side of a `buildctl build` call: `build --frontend
//! dockerfile.v0`, the `--local` directories (the context, the Dockerfile's directory,
//! named contexts) and the frontend's `--opt`s (the file name, target, build args,
//! labels, platforms, networks, hosts, limits, cache filters, provenance).

use std::ffi::OsString;
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::error::Result;

use super::context::{build_context_dir, split_dockerfile};
use super::csv::csv_join;
use super::options::Options;
use super::values::NamedContext;
use super::Request;

/// `build --frontend dockerfile.v0`, the `--local`s and the frontend's `--opt`s.
pub(super) fn frontend_args(req: &Request<'_>, o: &Options) -> Result<Vec<OsString>> {
    let context = build_context_dir(req)?;

    let mut args: Vec<OsString> = ["build", "--frontend", "dockerfile.v0"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push("--local".into());
    args.push(cat(b"context=", context.as_bytes()));
    match &o.file {
        None => {
            args.push("--local".into());
            args.push(cat(b"dockerfile=", context.as_bytes()));
        }
        Some(file) => {
            let (dir, name) = split_dockerfile(file)?;
            args.push("--local".into());
            args.push(cat(b"dockerfile=", &dir));
            opt(&mut args, b"filename=", &name);
        }
    }
    for (name, value) in &o.contexts {
        match value {
            NamedContext::Local(path) => {
                args.push("--local".into());
                args.push(OsString::from_vec(cat3(name, b"=", path)));
                opt(&mut args, b"context:", &cat3(name, b"=local:", name));
            }
            NamedContext::Source(source) => {
                opt(&mut args, b"context:", &cat3(name, b"=", source));
            }
        }
    }
    if !o.contexts.is_empty() {
        // What buildx sends with named contexts: the Dockerfile frontend may then forward
        // them to a frontend image named by a `# syntax=` line.
        opt(
            &mut args,
            b"frontend.caps=",
            b"moby.buildkit.frontend.contexts+forward",
        );
    }
    if let Some(target) = &o.target {
        opt(&mut args, b"target=", target);
    }
    for arg in &o.build_args {
        opt(&mut args, b"build-arg:", arg);
    }
    for label in &o.labels {
        opt(&mut args, b"label:", label);
    }
    if !o.platforms.is_empty() {
        opt(&mut args, b"platform=", &o.platforms.join(&b","[..]));
    }
    if o.pull {
        opt(&mut args, b"image-resolve-mode=", b"pull");
    }
    if let Some(mode) = &o.network {
        opt(&mut args, b"force-network-mode=", mode);
    }
    if !o.add_hosts.is_empty() {
        opt(&mut args, b"add-hosts=", &o.add_hosts.join(&b","[..]));
    }
    if let Some(bytes) = o.shm_size {
        opt(&mut args, b"shm-size=", bytes.to_string().as_bytes());
    }
    if !o.ulimits.is_empty() {
        let all: Vec<&[u8]> = o.ulimits.iter().map(|(_, u)| u.as_slice()).collect();
        opt(&mut args, b"ulimit=", &all.join(&b","[..]));
    }
    if let Some(parent) = &o.cgroup_parent {
        opt(&mut args, b"cgroup-parent=", parent);
    }
    if !o.no_cache && !o.no_cache_filter.is_empty() {
        opt(&mut args, b"no-cache=", &o.no_cache_filter.join(&b","[..]));
    }
    if let Some(provenance) = &o.provenance {
        opt(
            &mut args,
            b"attest:provenance=",
            &csv_join(&provenance.attrs),
        );
    }
    Ok(args)
}

fn cat(a: &[u8], b: &[u8]) -> OsString {
    OsString::from_vec([a, b].concat())
}

fn cat3(a: &[u8], b: &[u8], c: &[u8]) -> Vec<u8> {
    [a, b, c].concat()
}

/// Appends `--opt KEYVALUE`, where `key` ends with its separator (`=` or `:`).
fn opt(args: &mut Vec<OsString>, key: &[u8], value: &[u8]) {
    args.push("--opt".into());
    args.push(cat(key, value));
}
