//! The single redaction point: every notice, log line, `explain` and `doctor` output
//! passes through here before it is printed.
//!
//! What is redacted: the values a call assigns (`--build-arg K=V`, `-e/--env K=V`, found
//! by the argument grammar and then masked wherever they appear, translated command lines
//! included), values of secret-looking environment variables, and credentials in URLs
//! (`tcp://user:pass@host`).

use std::borrow::Cow;
use std::sync::{Mutex, OnceLock};

/// Values known to be secret in this process (build-arg values, secret-looking
/// environment values), masked wherever they appear in printed text.
fn known() -> &'static Mutex<Vec<String>> {
    static KNOWN: OnceLock<Mutex<Vec<String>>> = OnceLock::new();
    KNOWN.get_or_init(|| Mutex::new(Vec::new()))
}

/// Values shorter than this are not masked: masking `1` or `ab` would mangle every line.
pub(crate) const MIN_SECRET_LEN: usize = 4;

/// Registers values to mask from now on.
pub(crate) fn register<I: IntoIterator<Item = String>>(values: I) {
    if let Ok(mut k) = known().lock() {
        for v in values {
            if v.len() >= MIN_SECRET_LEN && !k.contains(&v) {
                k.push(v);
            }
        }
        // Longest first, so a value that contains another is masked whole.
        k.sort_by_key(|v| std::cmp::Reverse(v.len()));
    }
}

/// Registers the values this call was handed that must never be printed (each
/// `--build-arg`/`-e`/`--env` value, as the argument grammar finds them) and the values
/// of secret-looking environment variables.
pub(crate) fn register_call(
    inv: &crate::docker::args::Invocation,
    is_secret: &dyn Fn(&str) -> bool,
) {
    register(
        inv.assigned_values()
            .iter()
            .map(|v| v.to_string_lossy().into_owned()),
    );
    register_environment(is_secret);
}

/// Registers the values of the environment variables whose names `is_secret` (the
/// secrets policy's word match) says look like secrets.
pub(crate) fn register_environment(is_secret: &dyn Fn(&str) -> bool) {
    register(
        std::env::vars_os()
            .filter(|(k, _)| {
                let k = k.to_string_lossy();
                // dockroute's own settings (DOCKROUTE_SECRETS=deny …) are never secrets.
                !k.starts_with("DOCKROUTE_") && is_secret(&k)
            })
            .map(|(_, v)| v.to_string_lossy().into_owned()),
    );
}

fn mask_known(s: &str) -> Option<String> {
    let k = known().lock().ok()?;
    if !k.iter().any(|v| s.contains(v.as_str())) {
        return None;
    }
    let mut out = s.to_string();
    for v in k.iter() {
        out = out.replace(v.as_str(), MASK);
    }
    Some(out)
}

/// The placeholder printed instead of a value.
pub(crate) const MASK: &str = "***";

/// Redacts a line of text: known secret values and credentials in URLs.
#[must_use]
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    match mask_known(s) {
        Some(masked) => Cow::Owned(crate::net::mask_url_credentials(&masked).into_owned()),
        None => crate::net::mask_url_credentials(s),
    }
}

/// Flags whose `KEY=VALUE` value is masked (`--build-arg K=V` → `--build-arg K=***`).
const VALUE_FLAGS: &[&str] = &["--build-arg", "-e", "--env"];

/// Redacts an argument list for printing: values of `--build-arg`/`-e`/`--env` pairs and
/// credentials in URLs.
#[must_use]
pub(crate) fn argv(args: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(args.len());
    let mut mask_next = false;
    let mut after_opt = false;
    for a in args {
        if mask_next {
            out.push(mask_pair(a));
            mask_next = false;
            continue;
        }
        // buildctl's form of a build argument: `--opt build-arg:K=V`.
        let opt_value = if after_opt {
            Some(a.as_str())
        } else {
            a.strip_prefix("--opt=")
        };
        after_opt = a == "--opt";
        if let Some(v) = opt_value.filter(|v| v.starts_with("build-arg:")) {
            let masked = mask_pair(v);
            out.push(if a.starts_with("--opt=") {
                format!("--opt={masked}")
            } else {
                masked
            });
            continue;
        }
        if VALUE_FLAGS.contains(&a.as_str()) {
            mask_next = true;
            out.push(a.clone());
            continue;
        }
        if let Some((flag, value)) = a.split_once('=') {
            if VALUE_FLAGS.contains(&flag) {
                out.push(format!("{flag}={}", mask_pair(value)));
                continue;
            }
        }
        out.push(text(&mask_credential_fields(a)).into_owned());
    }
    out
}

/// Words that make a CSV field's key a credential (cache and secret back-ends take them
/// as `type=s3,…,secret_access_key=…`, `type=gha,token=…`).
const CREDENTIAL_KEYS: &[&str] = &["secret", "token", "password", "passwd", "key"];

/// Masks the values of `key=value` fields whose key names a credential, in an argument
/// of comma-separated fields.
fn mask_credential_fields(arg: &str) -> Cow<'_, str> {
    let is_credential = |field: &str| {
        field.split_once('=').is_some_and(|(k, _)| {
            let k = k.to_ascii_lowercase();
            CREDENTIAL_KEYS.iter().any(|w| k.contains(w))
        })
    };
    if !arg.split(',').any(is_credential) {
        return Cow::Borrowed(arg);
    }
    Cow::Owned(
        arg.split(',')
            .map(|f| {
                if is_credential(f) {
                    mask_pair(f)
                } else {
                    f.to_string()
                }
            })
            .collect::<Vec<_>>()
            .join(","),
    )
}

fn mask_pair(pair: &str) -> String {
    match pair.split_once('=') {
        Some((k, _)) => format!("{k}={MASK}"),
        None => pair.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_values_are_masked_everywhere() {
        register(["hunter2-secret".to_string(), "abc".to_string()]);
        assert_eq!(text("value hunter2-secret here"), "value *** here");
        assert_eq!(text("abc stays: too short"), "abc stays: too short");
        register_call(
            &crate::docker::args::Invocation::parse(vec![
                "build".into(),
                "--build-arg".into(),
                "K=zzz-build-value".into(),
                "--build-arg=L=yyy-other".into(),
            ]),
            &|_| false,
        );
        assert_eq!(text("a zzz-build-value b yyy-other"), "a *** b ***");
    }

    #[test]
    fn build_arg_values_are_masked_in_docker_and_buildctl_forms_whatever_their_length() {
        let shown = argv(&[
            "build".into(),
            "--build-arg".into(),
            "A=b".into(),
            "--build-arg=C=d".into(),
            "--opt".into(),
            "build-arg:E=f".into(),
            "--opt=build-arg:G=h".into(),
            "--opt".into(),
            "target=final".into(),
        ]);
        assert_eq!(
            shown,
            [
                "build",
                "--build-arg",
                "A=***",
                "--build-arg=C=***",
                "--opt",
                "build-arg:E=***",
                "--opt=build-arg:G=***",
                "--opt",
                "target=final"
            ]
        );
    }

    #[test]
    fn credentials_in_cache_and_output_options_are_masked() {
        let shown = argv(&[
            "--export-cache".into(),
            "type=s3,region=eu,access_key_id=AKIA1,secret_access_key=XYZ,session_token=T".into(),
            "--import-cache".into(),
            "type=gha,token=ghs_abc,scope=main".into(),
            "--output".into(),
            "type=local,dest=out".into(),
        ]);
        assert_eq!(
            shown,
            [
                "--export-cache",
                "type=s3,region=eu,access_key_id=***,secret_access_key=***,session_token=***",
                "--import-cache",
                "type=gha,token=***,scope=main",
                "--output",
                "type=local,dest=out"
            ]
        );
    }

    #[test]
    fn url_credentials_are_masked() {
        assert_eq!(text("tcp://u:p@h:2375/x y"), "tcp://***@h:2375/x y");
        assert_eq!(text("no url here"), "no url here");
        assert_eq!(
            text("unix:///var/run/docker.sock"),
            "unix:///var/run/docker.sock"
        );
    }
}
