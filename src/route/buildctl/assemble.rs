//! The whole `buildctl build` call put together from the [`Options`]: the frontend's
//! part, then the daemon's flags (`--no-cache`, secrets, SSH, entitlements, caches), the
//! `--output`s, the metadata file the image ID is read from (`--iidfile`, `-q`), and
//! `--progress`; with what the caller must do around it ([`Translation`]).

use std::ffi::OsString;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;

use crate::error::Result;

use super::context::build_context_dir;
use super::frontend::frontend_args;
use super::options::Options;
use super::outputs::outputs;
use super::values::refused;
use super::{IidFile, PrintId, Request, Sink, Translation, METADATA_SUFFIX, SCRATCH_METADATA};

/// The translation of a call whose flags are `o`.
pub(super) fn assemble(req: &Request<'_>, mut o: Options) -> Result<Translation> {
    let mut args = frontend_args(req, &o)?;
    // A replay (`docker push` of a recorded build) runs the same build again for
    // BuildKit's cache to answer: no `--no-cache`, no cache export, no outputs.
    let mut replay = args.clone();
    if o.no_cache {
        args.push("--no-cache".into());
    }
    // `--network host` needs the daemon to grant the entitlement, as buildx asks for it.
    let mut allow = o.allow.clone();
    if o.network.as_deref() == Some(b"host") && !allow.iter().any(|a| a == b"network.host") {
        allow.push(b"network.host".to_vec());
    }
    for (flag, values) in [
        ("--secret", &o.secrets),
        ("--ssh", &o.ssh),
        ("--allow", &allow),
        ("--import-cache", &o.cache_from),
        ("--export-cache", &o.cache_to),
    ] {
        for value in values {
            args.push(flag.into());
            args.push(OsString::from_vec(value.clone()));
            if flag != "--export-cache" {
                replay.push(flag.into());
                replay.push(OsString::from_vec(value.clone()));
            }
        }
    }

    let (outputs, sink, notices) = outputs(req, &o)?;
    for out in &outputs {
        args.push("--output".into());
        args.push(OsString::from_vec(out.to_csv()));
    }
    o.notices.extend(notices);

    let iidfile = o.iidfile.as_ref().map(|path| match &o.metadata_file {
        Some(m) => IidFile {
            path: PathBuf::from(path),
            metadata: PathBuf::from(m),
            metadata_is_ours: false,
        },
        None => {
            let mut m = path.clone();
            m.push(METADATA_SUFFIX);
            IidFile {
                path: PathBuf::from(path),
                metadata: PathBuf::from(m),
                metadata_is_ours: true,
            }
        }
    });
    let print_id = o.quiet.then(|| match (&o.metadata_file, &iidfile) {
        (Some(m), _) => PrintId {
            metadata: PathBuf::from(m),
            metadata_is_ours: false,
        },
        (None, Some(iid)) => PrintId {
            metadata: iid.metadata.clone(),
            metadata_is_ours: iid.metadata_is_ours,
        },
        (None, None) => PrintId {
            metadata: req.scratch.join(SCRATCH_METADATA),
            metadata_is_ours: true,
        },
    });
    let metadata = o
        .metadata_file
        .clone()
        .or_else(|| {
            iidfile
                .as_ref()
                .map(|i| i.metadata.clone().into_os_string())
        })
        .or_else(|| {
            print_id
                .as_ref()
                .map(|p| p.metadata.clone().into_os_string())
        });
    // An image kept in BuildKit's store under names is recorded from the metadata file.
    let record = matches!(&sink, Sink::Store { names } if !names.is_empty());
    let metadata = match metadata {
        Some(m) => Some((
            PathBuf::from(m),
            print_id.as_ref().map_or_else(
                || iidfile.as_ref().is_some_and(|i| i.metadata_is_ours),
                |p| p.metadata_is_ours,
            ),
        )),
        None if record => Some((req.scratch.join(SCRATCH_METADATA), true)),
        None => None,
    };
    if let Some((m, _)) = &metadata {
        args.push("--metadata-file".into());
        args.push(m.clone().into_os_string());
    }
    if let Some(progress) = progress(&o)? {
        args.push("--progress".into());
        args.push(progress.into());
    }

    let context = build_context_dir(req)?;
    let dockerfile = match &o.file {
        Some(f) => f.clone(),
        None => {
            let mut d = context.clone().into_vec();
            d.extend_from_slice(b"/Dockerfile");
            OsString::from_vec(d)
        }
    };
    Ok(Translation {
        args,
        replay,
        context,
        dockerfile,
        metadata,
        sink,
        iidfile,
        print_id,
        notices: o.notices,
    })
}

/// `--progress` and `-q` together: buildctl's `--progress` mode.
fn progress(c: &Options) -> Result<Option<&'static str>> {
    match (&c.progress, c.quiet) {
        (None, false) => Ok(None),
        (Some((_, mode)), false) => Ok(Some(mode)),
        (None | Some((_, "auto" | "quiet")), true) => Ok(Some("quiet")),
        (Some((typed, _)), true) => Err(refused(
            "--quiet",
            format!("`--progress={typed}` and `--quiet` ask for opposite things"),
            "drop one of them",
        )),
    }
}
