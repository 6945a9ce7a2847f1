//! Reading single docker build flag values into what BuildKit expects: the value itself,
//! booleans as the docker CLI parses them, networks, extra hosts, `--shm-size`, cache
//! references, named build contexts, progress modes. Each either gives the translated
//! value or refuses naming the flag.

use std::ffi::OsStr;
use std::net::IpAddr;
use std::os::unix::ffi::OsStrExt;

use crate::docker::args::FlagUse;
use crate::error::{Error, Result};

use super::context::is_remote;
use super::csv::{csv_attrs, csv_field, csv_fields};

pub(super) fn refused(
    flag: impl Into<String>,
    why: impl Into<String>,
    fix: impl Into<String>,
) -> Error {
    Error::Refused {
        flag: flag.into(),
        why: why.into(),
        fix: fix.into(),
    }
}

pub(super) fn dashed(flag: &FlagUse) -> String {
    format!("--{}", flag.name)
}

/// The value of a flag that takes one; a flag at the very end has none.
pub(super) fn value(flag: &FlagUse) -> Result<&[u8]> {
    flag.value.as_deref().map(OsStr::as_bytes).ok_or_else(|| {
        refused(
            dashed(flag),
            "the flag needs a value",
            format!("give it one: `{} VALUE`", dashed(flag)),
        )
    })
}

/// A value where empty means "not given", as for docker's string flags.
pub(super) fn non_empty(flag: &FlagUse) -> Result<Option<Vec<u8>>> {
    let v = value(flag)?;
    Ok((!v.is_empty()).then(|| v.to_vec()))
}

/// Go's `strconv.ParseBool`, which the docker CLI uses for `--flag=VALUE`.
pub(super) use crate::docker::args::parse_bool;

/// A boolean flag: `--flag` is true, `--flag=VALUE` is parsed.
pub(super) fn boolean(flag: &FlagUse) -> Result<bool> {
    match flag.value.as_deref() {
        None => Ok(true),
        Some(v) => parse_bool(v.as_bytes()).ok_or_else(|| {
            refused(
                dashed(flag),
                format!("`{}` is not a boolean", v.to_string_lossy()),
                format!("write `{0}`, `{0}=true` or `{0}=false`", dashed(flag)),
            )
        }),
    }
}

pub(super) fn invalid(flag: &FlagUse, what: &str, example: &str) -> Error {
    refused(
        dashed(flag),
        format!("the value is not {what}"),
        format!("write it as `{} {example}`", dashed(flag)),
    )
}

/// A named build context: a local directory, or a source the frontend fetches itself.
pub(super) enum NamedContext {
    Local(Vec<u8>),
    Source(Vec<u8>),
}

/// `--network`: BuildKit knows the sandbox default, `host` (an entitlement) and `none`.
pub(super) fn network(flag: &FlagUse) -> Result<Option<Vec<u8>>> {
    match value(flag)? {
        b"" | b"default" => Ok(None),
        mode @ (b"none" | b"host") => Ok(Some(mode.to_vec())),
        other => Err(refused(
            dashed(flag),
            format!(
                "BuildKit runs build steps only on its default network, `host` or `none`, not on `{}`",
                String::from_utf8_lossy(other)
            ),
            "use `--network host` or `--network none`; a named network is part of the BuildKit daemon's own set-up",
        )),
    }
}

/// `--add-host host:ip` or `host=ip` (IPv6 optionally in brackets, several IPs
/// comma-separated) → `host=ip` fields of the frontend's `add-hosts` option.
pub(super) fn add_host(flag: &FlagUse) -> Result<Vec<Vec<u8>>> {
    let bad = || invalid(flag, "`host:ip`", "myhost:10.0.0.1");
    let v = std::str::from_utf8(value(flag)?).map_err(|_| bad())?;
    let (host, ips) = v
        .split_once('=')
        .or_else(|| v.split_once(':'))
        .ok_or_else(bad)?;
    if host.is_empty() || ips.is_empty() || host.contains([',', '"']) {
        return Err(bad());
    }
    if ips == "host-gateway" {
        return Err(refused(
            dashed(flag),
            "`host-gateway` is an address only the Docker daemon knows",
            "give the IP address itself: `--add-host NAME:IP`",
        ));
    }
    ips.split(',')
        .map(|ip| {
            let ip = ip
                .strip_prefix('[')
                .and_then(|i| i.strip_suffix(']'))
                .unwrap_or(ip);
            ip.parse::<IpAddr>().map_err(|_| bad())?;
            Ok(format!("{host}={ip}").into_bytes())
        })
        .collect()
}

/// docker's `--shm-size` (go-units `RAMInBytes`: a number, optional space, then an
/// optional binary unit k/m/g/t/p with optional `b`/`ib`, any case) → bytes.
pub(super) fn shm_size(flag: &FlagUse) -> Result<i64> {
    let bad = || invalid(flag, "a size", "64m");
    let s = std::str::from_utf8(value(flag)?).map_err(|_| bad())?;
    let sep = s
        .rfind(|ch: char| ch.is_ascii_digit() || ch == '.' || ch == ' ')
        .ok_or_else(bad)?;
    let (num, suffix) = if s.as_bytes().get(sep) == Some(&b' ') {
        (&s[..sep], &s[sep + 1..])
    } else {
        (&s[..=sep], &s[sep + 1..])
    };
    let size: f64 = num.parse().map_err(|_| bad())?;
    if !size.is_finite() || size < 0.0 {
        return Err(bad());
    }
    let suffix = suffix.to_ascii_lowercase();
    let multiplier: f64 = match suffix.as_bytes() {
        [] | [b'b'] => 1.0,
        [unit] | [unit, b'b'] | [unit, b'i', b'b'] => match unit {
            b'k' => 1024.0,
            b'm' => 1024.0 * 1024.0,
            b'g' => 1024.0 * 1024.0 * 1024.0,
            b't' => 1024.0 * 1024.0 * 1024.0 * 1024.0,
            b'p' => 1024.0 * 1024.0 * 1024.0 * 1024.0 * 1024.0,
            _ => return Err(bad()),
        },
        _ => return Err(bad()),
    };
    // Truncation toward zero, as Go's int64(float64) conversion.
    Ok((size * multiplier) as i64)
}

/// `--cache-from`/`--cache-to`: bare refs (a CSV list of them) become registry entries;
/// a `key=value` CSV passes through unchanged once it names its type.
pub(super) fn cache(flag: &FlagUse) -> Result<Vec<Vec<u8>>> {
    let v = value(flag)?;
    if v.is_empty() {
        return Ok(Vec::new());
    }
    let bad = || {
        invalid(
            flag,
            "a cache entry",
            "type=registry,ref=registry/name:cache",
        )
    };
    if !v.contains(&b'=') {
        let refs = csv_fields(v).ok_or_else(bad)?;
        return Ok(refs
            .iter()
            .map(|r| {
                [
                    &b"type=registry,"[..],
                    &csv_field(&[&b"ref="[..], r.as_slice()].concat()),
                ]
                .concat()
            })
            .collect());
    }
    let attrs = csv_attrs(v).ok_or_else(bad)?;
    match attrs.iter().rev().find(|(k, _)| k == b"type") {
        Some((_, t)) if !t.is_empty() => Ok(vec![v.to_vec()]),
        _ => Err(refused(
            dashed(flag),
            "the cache entry names no `type`",
            format!(
                "write `{} type=registry,ref=…` (or type=local, gha, s3, …)",
                dashed(flag)
            ),
        )),
    }
}

/// `--build-context name=value`: a local directory, or a source the frontend resolves
/// (`docker-image://`, `target:`, a Git or HTTP URL).
pub(super) fn named_context(flag: &FlagUse) -> Result<(Vec<u8>, NamedContext)> {
    let v = value(flag)?;
    let eq = v
        .iter()
        .position(|b| *b == b'=')
        .filter(|eq| *eq > 0 && *eq + 1 < v.len())
        .ok_or_else(|| invalid(flag, "`name=path`", "name=./dir"))?;
    let (name, source) = (&v[..eq], &v[eq + 1..]);
    if matches!(name, b"context" | b"dockerfile") {
        return Err(refused(
            dashed(flag),
            format!(
                "`{}` is the name buildctl gives the main build context or Dockerfile",
                String::from_utf8_lossy(name)
            ),
            "rename the context (and its `FROM`/`--from` uses)",
        ));
    }
    if source.starts_with(b"oci-layout://") {
        return Err(refused(
            dashed(flag),
            "OCI-layout build contexts are not translated to buildctl",
            "push the image to a registry and use `name=docker-image://REF`",
        ));
    }
    let fetched = source.starts_with(b"docker-image://")
        || source.starts_with(b"target:")
        || is_remote(source);
    Ok((
        name.to_vec(),
        if fetched {
            NamedContext::Source(source.to_vec())
        } else {
            NamedContext::Local(source.to_vec())
        },
    ))
}

/// `--progress`: buildctl knows auto, plain, tty, rawjson and quiet; buildx's `none`
/// (no progress at all) is buildctl's `quiet`.
pub(super) fn progress_mode(flag: &FlagUse) -> Result<Option<(String, &'static str)>> {
    let mode = match value(flag)? {
        b"" => return Ok(None),
        b"auto" => "auto",
        b"plain" => "plain",
        b"tty" => "tty",
        b"rawjson" => "rawjson",
        b"quiet" | b"none" => "quiet",
        other => {
            return Err(refused(
                dashed(flag),
                format!(
                    "`{}` is not a progress mode",
                    String::from_utf8_lossy(other)
                ),
                "use auto, plain, tty, rawjson, quiet or none",
            ))
        }
    };
    Ok(Some((
        String::from_utf8_lossy(value(flag)?).into_owned(),
        mode,
    )))
}
