//! Attestations: docker's `--provenance` and `--attest`, read into the one provenance
//! attestation BuildKit makes (`--opt attest:provenance=…`); a disabled SBOM is
//! BuildKit's default, any other SBOM or attestation type is refused.

use crate::docker::args::FlagUse;
use crate::docker::build_flags::SBOM;
use crate::error::{Error, Result};

use super::csv::{csv_attrs, Attrs};
use super::values::{dashed, invalid, parse_bool, refused, value};

/// A provenance attestation to ask for.
#[derive(Debug, Clone)]
pub(super) struct Provenance {
    /// The flag that asked for it, as docker writes it (for refusals).
    pub(super) flag: String,
    /// Its attributes (`mode=max` …), `disabled` taken out.
    pub(super) attrs: Attrs,
}

/// `--provenance VALUE`: a boolean, or the attributes of a provenance attestation. Gives
/// the attestation after this flag, from the one asked for before it.
pub(super) fn provenance(flag: &FlagUse, before: Option<Provenance>) -> Result<Option<Provenance>> {
    let v = value(flag)?;
    if v.is_empty() {
        return Ok(before);
    }
    match parse_bool(v) {
        Some(true) => Ok(Some(Provenance {
            flag: dashed(flag),
            attrs: Vec::new(),
        })),
        Some(false) => Ok(None),
        None => {
            let attrs =
                csv_attrs(v).ok_or_else(|| invalid(flag, "provenance attributes", "mode=max"))?;
            from_attrs(flag, attrs)
        }
    }
}

/// `--attest type=TYPE,…`: provenance is translated, a disabled SBOM is BuildKit's
/// default, anything else is refused. Gives the provenance after this flag.
pub(super) fn attest(flag: &FlagUse, before: Option<Provenance>) -> Result<Option<Provenance>> {
    let v = value(flag)?;
    let attrs =
        csv_attrs(v).ok_or_else(|| invalid(flag, "an attestation", "type=provenance,mode=max"))?;
    let kind = attrs
        .iter()
        .rev()
        .find(|(k, _)| k == b"type")
        .map(|(_, t)| t.clone())
        .unwrap_or_default();
    let rest: Vec<_> = attrs.into_iter().filter(|(k, _)| k != b"type").collect();
    match kind.as_slice() {
        b"provenance" => from_attrs(flag, rest),
        b"sbom" if disabled(&rest) == Some(true) => Ok(before),
        b"sbom" => Err(sbom_refusal(dashed(flag))),
        _ => Err(refused(
            dashed(flag),
            format!(
                "`{}` is not an attestation type BuildKit makes",
                String::from_utf8_lossy(&kind)
            ),
            "write `--attest type=provenance[,mode=max]`",
        )),
    }
}

fn sbom_refusal(flag: String) -> Error {
    refused(flag, SBOM.why, SBOM.fix)
}

fn disabled(attrs: &[(Vec<u8>, Vec<u8>)]) -> Option<bool> {
    attrs
        .iter()
        .rev()
        .find(|(k, _)| k == b"disabled")
        .and_then(|(_, v)| parse_bool(v))
}

/// A provenance attestation from its attributes: none when `disabled=true`.
fn from_attrs(flag: &FlagUse, attrs: Attrs) -> Result<Option<Provenance>> {
    if attrs
        .iter()
        .any(|(k, v)| k == b"disabled" && parse_bool(v).is_none())
    {
        return Err(invalid(flag, "provenance attributes", "mode=max"));
    }
    Ok(if disabled(&attrs) == Some(true) {
        None
    } else {
        Some(Provenance {
            flag: dashed(flag),
            attrs: attrs
                .into_iter()
                .filter(|(k, _)| k != b"disabled")
                .collect(),
        })
    })
}
