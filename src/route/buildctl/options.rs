//! The build call's flags as the buildctl translation sees them: each flag use applied
//! by its row's [`Buildctl`] rule (the `buildctl` column of
//! [`crate::docker::build_flags::BUILD_FLAGS`]) into one [`Options`] value, in the
//! order typed, before anything is assembled — the table's declarative rules (accept,
//! drop with a notice, refuse) here, a [`Buildctl::Translate`] flag by its own rule. A
//! flag the grammar does not know is refused.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::{OsStrExt, OsStringExt};

use crate::docker::args::{Arity, FlagUse};
use crate::docker::build_flags::{BuildFlag, BuildFlagUse, Buildctl, Refusal};
use crate::error::Result;

use super::attest::{attest, provenance, Provenance};
use super::csv::Attrs;
use super::outputs::{output_flag, Output, OutputFlag};
use super::values::{
    add_host, boolean, cache, dashed, invalid, named_context, network, non_empty, parse_bool,
    progress_mode, refused, shm_size, value, NamedContext,
};
use super::Request;

/// The entitlements BuildKit's daemon grants (`buildctl build --allow`); buildx's
/// file-system entitlements are enforced by buildx on the client and have no equivalent.
const ENTITLEMENTS: &[&str] = &["network.host", "security.insecure", "device"];

/// Every flag's contribution, gathered in one pass before anything is assembled.
#[derive(Default)]
pub(super) struct Options {
    pub(super) file: Option<OsString>,
    pub(super) tags: Vec<OsString>,
    pub(super) build_args: Vec<Vec<u8>>,
    pub(super) labels: Vec<Vec<u8>>,
    pub(super) target: Option<Vec<u8>>,
    pub(super) platforms: Vec<Vec<u8>>,
    pub(super) pull: bool,
    pub(super) network: Option<Vec<u8>>,
    pub(super) add_hosts: Vec<Vec<u8>>,
    pub(super) shm_size: Option<i64>,
    /// `(name, name=soft:hard)`: one per name, the last one given.
    pub(super) ulimits: Attrs,
    pub(super) cgroup_parent: Option<Vec<u8>>,
    pub(super) no_cache: bool,
    pub(super) no_cache_filter: Vec<Vec<u8>>,
    /// `--provenance`/`--attest type=provenance`.
    pub(super) provenance: Option<Provenance>,
    pub(super) secrets: Vec<Vec<u8>>,
    pub(super) ssh: Vec<Vec<u8>>,
    pub(super) allow: Vec<Vec<u8>>,
    pub(super) cache_from: Vec<Vec<u8>>,
    pub(super) cache_to: Vec<Vec<u8>>,
    pub(super) contexts: Vec<(Vec<u8>, NamedContext)>,
    pub(super) outputs: Vec<Output>,
    /// An `-o type=cacheonly`: the user asked for no output at all.
    pub(super) cache_only: bool,
    pub(super) push: bool,
    pub(super) load: bool,
    pub(super) iidfile: Option<OsString>,
    pub(super) metadata_file: Option<OsString>,
    pub(super) progress: Option<(String, &'static str)>,
    pub(super) quiet: bool,
    pub(super) notices: Vec<String>,
}

impl Options {
    /// Applies every flag use of the call, in the order typed.
    pub(super) fn parse(req: &Request<'_>) -> Result<Options> {
        let mut options = Options::default();
        for u in &req.call.flags {
            options.apply(req, u)?;
        }
        Ok(options)
    }

    fn notice(&mut self, text: String) {
        if !self.notices.contains(&text) {
            self.notices.push(text);
        }
    }

    /// One flag use, by its row's buildctl rule: the declarative rules here, a
    /// [`Buildctl::Translate`] by its own rule; a flag the grammar does not
    /// know is refused.
    fn apply(&mut self, req: &Request<'_>, u: &BuildFlagUse) -> Result<()> {
        let flag = &u.arg;
        let Some(known) = u.flag else {
            let typed = req
                .inv
                .args
                .get(flag.span.start)
                .map_or_else(|| dashed(flag), |a| a.to_string_lossy().into_owned());
            return Err(refused(
                typed,
                "not a `docker build` flag dockroute can translate to buildctl",
                "check the spelling, or run the build where docker itself builds (DOCKROUTE_MODE=pass)",
            ));
        };
        let row = known.row();
        let refusal = |r: &Refusal| refused(dashed(flag), r.why, r.fix);
        // Whether the use turns its flag on: a boolean must parse; a value flag is on with
        // any value but an empty or false one.
        let on = || -> Result<bool> {
            match row.spec.arity {
                Arity::Bool => boolean(flag),
                Arity::Value => {
                    let v = value(flag)?;
                    Ok(!v.is_empty() && parse_bool(v) != Some(false))
                }
            }
        };
        match &row.buildctl {
            Buildctl::Translate(_) => self.translate(req, known, flag)?,
            Buildctl::Accept => {
                on()?;
            }
            Buildctl::AcceptOnly(values, r) => {
                if !values.contains(&value(flag)?) {
                    return Err(refusal(r));
                }
            }
            Buildctl::Drop(notice) => {
                let given = match row.spec.arity {
                    Arity::Bool => boolean(flag)?,
                    Arity::Value => value(flag).map(|_| true)?,
                };
                if given {
                    self.notice((*notice).to_string());
                }
            }
            Buildctl::RefuseOn(r) => {
                if on()? {
                    return Err(refusal(r));
                }
            }
            Buildctl::RefuseOff(r) => {
                if !boolean(flag)? {
                    return Err(refusal(r));
                }
            }
            Buildctl::Refuse(r) => return Err(refusal(r)),
        }
        Ok(())
    }

    /// A [`Buildctl::Translate`] flag's own rule: its contribution.
    fn translate(&mut self, req: &Request<'_>, known: BuildFlag, flag: &FlagUse) -> Result<()> {
        use BuildFlag as F;
        match known {
            F::File => self.file = Some(OsStr::from_bytes(value(flag)?).to_owned()),
            F::Tag => {
                let tag = value(flag)?;
                if tag.is_empty() {
                    return Err(invalid(flag, "an image name", "registry/name:tag"));
                }
                self.tags.push(OsStr::from_bytes(tag).to_owned());
            }
            F::BuildArg => {
                let arg = value(flag)?;
                match arg.iter().position(|b| *b == b'=') {
                    Some(0) => return Err(invalid(flag, "a `NAME=VALUE` pair", "NAME=VALUE")),
                    Some(_) => self.build_args.push(arg.to_vec()),
                    None if arg.is_empty() => {
                        return Err(invalid(flag, "a `NAME=VALUE` pair", "NAME=VALUE"))
                    }
                    None => {
                        if let Some(v) = (req.env)(OsStr::from_bytes(arg)) {
                            self.build_args.push([arg, b"=", v.as_bytes()].concat());
                        }
                    }
                }
            }
            F::Label => {
                let label = value(flag)?;
                match label.iter().position(|b| *b == b'=') {
                    Some(0) => return Err(invalid(flag, "a `KEY=VALUE` pair", "KEY=VALUE")),
                    Some(_) => self.labels.push(label.to_vec()),
                    None if label.is_empty() => {
                        return Err(invalid(flag, "a `KEY=VALUE` pair", "KEY=VALUE"))
                    }
                    None => self.labels.push([label, b"="].concat()),
                }
            }
            F::Target => self.target = non_empty(flag)?,
            F::Platform => {
                if let Some(p) = non_empty(flag)? {
                    self.platforms.push(p);
                }
            }
            F::Pull => self.pull = boolean(flag)?,
            F::Network => self.network = network(flag)?,
            F::AddHost => self.add_hosts.extend(add_host(flag)?),
            F::ShmSize => self.shm_size = Some(shm_size(flag)?).filter(|b| *b > 0),
            F::Ulimit => {
                let u = value(flag)?;
                let eq = u.iter().position(|b| *b == b'=');
                match eq {
                    Some(eq) if eq > 0 && !u.iter().any(|b| matches!(b, b',' | b'"')) => {
                        let key = u[..eq].to_vec();
                        self.ulimits.retain(|(k, _)| *k != key);
                        self.ulimits.push((key, u.to_vec()));
                    }
                    _ => return Err(invalid(flag, "a ulimit", "nofile=1024:2048")),
                }
            }
            F::CgroupParent => self.cgroup_parent = non_empty(flag)?,
            F::NoCache => self.no_cache = boolean(flag)?,
            F::NoCacheFilter => {
                if let Some(stages) = non_empty(flag)? {
                    self.no_cache_filter.push(stages);
                }
            }
            F::Secret => self.secrets.push(value(flag)?.to_vec()),
            F::Ssh => self.ssh.push(value(flag)?.to_vec()),
            F::Allow => {
                let e = value(flag)?;
                let key = e.split(|b| *b == b'=').next().unwrap_or_default();
                if !ENTITLEMENTS.iter().any(|k| k.as_bytes() == key) {
                    return Err(refused(
                        dashed(flag),
                        format!(
                            "`{}` is not an entitlement the BuildKit daemon grants (buildx checks file-system entitlements on its own side)",
                            String::from_utf8_lossy(e)
                        ),
                        "allow one of network.host, security.insecure, device; or drop the flag",
                    ));
                }
                if !self.allow.iter().any(|a| a == e) {
                    self.allow.push(e.to_vec());
                }
            }
            F::CacheFrom => self.cache_from.extend(cache(flag)?),
            F::CacheTo => self.cache_to.extend(cache(flag)?),
            F::BuildContext => self.contexts.push(named_context(flag)?),
            F::Output => match output_flag(flag)? {
                OutputFlag::Nothing => {}
                OutputFlag::CacheOnly => self.cache_only = true,
                OutputFlag::Output(out) => self.outputs.push(out),
            },
            F::Push => self.push = boolean(flag)?,
            F::Load => self.load = boolean(flag)?,
            F::Iidfile => self.iidfile = non_empty(flag)?.map(OsString::from_vec),
            F::MetadataFile => self.metadata_file = non_empty(flag)?.map(OsString::from_vec),
            F::Progress => self.progress = progress_mode(flag)?,
            F::Quiet => self.quiet = boolean(flag)?,
            F::Provenance => self.provenance = provenance(flag, self.provenance.take())?,
            F::Attest => self.provenance = attest(flag, self.provenance.take())?,
            // The table's other rules never come here.
            other => {
                return Err(refused(
                    other.dashed(),
                    "dockroute has no buildctl rule for this flag",
                    "run the build where docker itself builds (DOCKROUTE_MODE=pass)",
                ))
            }
        }
        Ok(())
    }
}
