//! The translation's tests: the mapping table (docker arguments → buildctl arguments,
//! sink and notice, or the refusal), byte-exactness, the image-ID files, notices without
//! values, and CSV quoting.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::docker::args::Invocation;
use crate::error::{Error, Result};

use super::csv::csv_fields;
use super::{csv_field, csv_quote_names, translate, IidFile, PrintId, Request, Sink, Translation};

/// What a row expects.
enum Want {
    /// The buildctl arguments after `build --frontend dockerfile.v0`, space-separated
    /// (`…` stands for `--local context=. --local dockerfile=.`), the sink, and a
    /// piece of the one notice ("" for no notice at all).
    Yes(&'static str, Sink, &'static str),
    /// Refused, naming this flag.
    No(&'static str),
}
use Want::{No, Yes};

fn names(n: &[&str]) -> Vec<OsString> {
    n.iter().map(OsString::from).collect()
}
fn load(n: &[&str]) -> Sink {
    Sink::Load { names: names(n) }
}
fn store(n: &[&str]) -> Sink {
    Sink::Store { names: names(n) }
}
const D: Sink = Sink::Discard;
const P: Sink = Sink::Push;
const X: Sink = Sink::Export;

type Row = (
    &'static str,
    &'static [(&'static str, &'static str)],
    bool,
    Want,
);

/// (docker args, environment, daemon) → buildctl args / sink / notice, or a refusal.
#[rustfmt::skip]
fn table() -> Vec<Row> {
    vec![
        // The context and the Dockerfile.
        ("build .",                              &[], false, Yes("…", D, "")),
        ("image build .",                        &[], false, Yes("…", D, "")),
        ("builder build .",                      &[], false, Yes("…", D, "")),
        ("buildx build .",                       &[], false, Yes("…", D, "")),
        ("buildx b .",                           &[], false, Yes("…", D, "")),
        ("build app/src",                        &[], false, Yes("--local context=app/src --local dockerfile=app/src", D, "")),
        ("build -f sub/app.Dockerfile .",        &[], false, Yes("--local context=. --local dockerfile=sub --opt filename=app.Dockerfile", D, "")),
        ("build --file=sub/app.Dockerfile .",    &[], false, Yes("--local context=. --local dockerfile=sub --opt filename=app.Dockerfile", D, "")),
        ("build --file sub/app.Dockerfile .",    &[], false, Yes("--local context=. --local dockerfile=sub --opt filename=app.Dockerfile", D, "")),
        ("build -fsub/app.Dockerfile .",         &[], false, Yes("--local context=. --local dockerfile=sub --opt filename=app.Dockerfile", D, "")),
        ("build -f Dockerfile.ci ctx",           &[], false, Yes("--local context=ctx --local dockerfile=. --opt filename=Dockerfile.ci", D, "")),
        ("build -f /abs/Dockerfile .",           &[], false, Yes("--local context=. --local dockerfile=/abs --opt filename=Dockerfile", D, "")),
        ("build -f /Dockerfile .",               &[], false, Yes("--local context=. --local dockerfile=/ --opt filename=Dockerfile", D, "")),
        ("build -f ../x//Dockerfile .",          &[], false, Yes("--local context=. --local dockerfile=../x --opt filename=Dockerfile", D, "")),
        ("build -f sub/ .",                      &[], false, No("--file")),
        ("build -f - .",                         &[], false, No("--file")),
        ("build -f https://x.io/Dockerfile .",   &[], false, No("--file")),
        ("build -",                              &[], false, No("-")),
        ("build https://github.com/a/b.git",     &[], false, No("https://github.com/a/b.git")),
        ("build git://host/repo",                &[], false, No("git://host/repo")),
        ("build git@github.com:a/b.git",         &[], false, No("git@github.com:a/b.git")),
        ("build github.com/a/b",                 &[], false, No("github.com/a/b")),
        ("build",                                &[], false, No("docker build")),
        ("buildx build -t a",                    &[], false, No("docker buildx build")),
        ("build . other",                        &[], false, No("docker build")),
        // Build arguments and labels.
        ("build --build-arg A=1 .",              &[], false, Yes("… --opt build-arg:A=1", D, "")),
        ("build --build-arg=A=1,2 .",            &[], false, Yes("… --opt build-arg:A=1,2", D, "")),
        ("build --build-arg A= .",               &[], false, Yes("… --opt build-arg:A=", D, "")),
        ("build --build-arg HOME .",             &[("HOME", "/root")], false, Yes("… --opt build-arg:HOME=/root", D, "")),
        ("build --build-arg UNSET .",            &[], false, Yes("…", D, "")),
        ("build --build-arg =x .",               &[], false, No("--build-arg")),
        ("build --label a=b --label=c .",        &[], false, Yes("… --opt label:a=b --opt label:c=", D, "")),
        // Frontend options.
        ("build --target t .",                   &[], false, Yes("… --opt target=t", D, "")),
        ("build --target=t .",                   &[], false, Yes("… --opt target=t", D, "")),
        ("build --pull .",                       &[], false, Yes("… --opt image-resolve-mode=pull", D, "")),
        ("build --pull=false .",                 &[], false, Yes("…", D, "")),
        ("build --pull=maybe .",                 &[], false, No("--pull")),
        ("build --platform linux/amd64 .",       &[], false, Yes("… --opt platform=linux/amd64", D, "")),
        ("build --platform=linux/amd64,linux/arm64 --platform linux/s390x .", &[], false,
            Yes("… --opt platform=linux/amd64,linux/arm64,linux/s390x", D, "")),
        ("build --network none .",               &[], false, Yes("… --opt force-network-mode=none", D, "")),
        ("build --network=host .",               &[], false, Yes("… --opt force-network-mode=host --allow network.host", D, "")),
        ("build --network default .",            &[], false, Yes("…", D, "")),
        ("build --network mynet .",              &[], false, No("--network")),
        ("build --add-host a:10.0.0.1 --add-host=b=10.0.0.2 .", &[], false,
            Yes("… --opt add-hosts=a=10.0.0.1,b=10.0.0.2", D, "")),
        ("build --add-host v6:::1 --add-host w=[fe80::1] .", &[], false,
            Yes("… --opt add-hosts=v6=::1,w=fe80::1", D, "")),
        ("build --add-host a:host-gateway .",    &[], false, No("--add-host")),
        ("build --add-host a:notanip .",         &[], false, No("--add-host")),
        ("build --add-host justahost .",         &[], false, No("--add-host")),
        ("build --shm-size 64m .",               &[], false, Yes("… --opt shm-size=67108864", D, "")),
        ("build --shm-size=1.5g .",              &[], false, Yes("… --opt shm-size=1610612736", D, "")),
        ("build --shm-size=2048 .",              &[], false, Yes("… --opt shm-size=2048", D, "")),
        ("build --shm-size=128KiB .",            &[], false, Yes("… --opt shm-size=131072", D, "")),
        ("build --shm-size=0 .",                 &[], false, Yes("…", D, "")),
        ("build --shm-size lots .",              &[], false, No("--shm-size")),
        ("build --ulimit nofile=1024:2048 --ulimit=nproc=64 .", &[], false,
            Yes("… --opt ulimit=nofile=1024:2048,nproc=64", D, "")),
        ("build --ulimit nofile=1 --ulimit nofile=2 .", &[], false, Yes("… --opt ulimit=nofile=2", D, "")),
        ("build --ulimit nofile .",              &[], false, No("--ulimit")),
        ("build --cgroup-parent /ci .",          &[], false, Yes("… --opt cgroup-parent=/ci", D, "")),
        ("build --cgroup-parent=/ci .",          &[], false, Yes("… --opt cgroup-parent=/ci", D, "")),
        ("build --no-cache .",                   &[], false, Yes("… --no-cache", D, "")),
        ("build --no-cache=false .",             &[], false, Yes("…", D, "")),
        ("build --no-cache-filter a --no-cache-filter=b,c .", &[], false, Yes("… --opt no-cache=a,b,c", D, "")),
        ("build --no-cache-filter a --no-cache .", &[], false, Yes("… --no-cache", D, "")),
        ("build --build-context base=./rootfs .", &[], false,
            Yes("… --local base=./rootfs --opt context:base=local:base --opt frontend.caps=moby.buildkit.frontend.contexts+forward", D, "")),
        ("build --build-context=alpine=docker-image://alpine:3 .", &[], false,
            Yes("… --opt context:alpine=docker-image://alpine:3 --opt frontend.caps=moby.buildkit.frontend.contexts+forward", D, "")),
        ("build --build-context src=https://github.com/a/b.git .", &[], false,
            Yes("… --opt context:src=https://github.com/a/b.git --opt frontend.caps=moby.buildkit.frontend.contexts+forward", D, "")),
        ("build --build-context context=./x .",  &[], false, No("--build-context")),
        ("build --build-context l=oci-layout:///x .", &[], false, No("--build-context")),
        ("build --build-context nothing .",      &[], false, No("--build-context")),
        // Same flag, same syntax.
        ("build --secret id=npm,src=.npmrc .",   &[], false, Yes("… --secret id=npm,src=.npmrc", D, "")),
        ("build --secret=id=tok,env=TOK .",      &[], false, Yes("… --secret id=tok,env=TOK", D, "")),
        ("build --ssh default .",                &[], false, Yes("… --ssh default", D, "")),
        ("build --ssh=key=/k/id_ed25519 .",      &[], false, Yes("… --ssh key=/k/id_ed25519", D, "")),
        ("build --allow security.insecure .",    &[], false, Yes("… --allow security.insecure", D, "")),
        ("build --allow=network.host --network host .", &[], false,
            Yes("… --opt force-network-mode=host --allow network.host", D, "")),
        ("build --allow fs.read=/data .",        &[], false, No("--allow")),
        // Caches.
        ("build --cache-from r/app:cache .",     &[], false, Yes("… --import-cache type=registry,ref=r/app:cache", D, "")),
        ("build --cache-from=r/a,r/b .",         &[], false,
            Yes("… --import-cache type=registry,ref=r/a --import-cache type=registry,ref=r/b", D, "")),
        ("build --cache-from type=local,src=c .", &[], false, Yes("… --import-cache type=local,src=c", D, "")),
        ("build --cache-to type=inline .",       &[], false, Yes("… --export-cache type=inline", D, "")),
        ("build --cache-to=type=local,dest=c,mode=max .", &[], false, Yes("… --export-cache type=local,dest=c,mode=max", D, "")),
        ("build --cache-to r/app:cache .",       &[], false, Yes("… --export-cache type=registry,ref=r/app:cache", D, "")),
        ("build --cache-to src=c .",             &[], false, No("--cache-to")),
        // Tags and outputs: where the image goes.
        ("build -t a:1 .",                       &[], true,  Yes("… --output type=docker,name=a:1", load(&["a:1"]), "")),
        ("build -t a:1 --tag=b:2 .",             &[], true,  Yes("… --output type=docker,\"name=a:1,b:2\"", load(&["a:1", "b:2"]), "")),
        ("build -ta:1 .",                        &[], true,  Yes("… --output type=docker,name=a:1", load(&["a:1"]), "")),
        ("build .",                              &[], true,  Yes("… --output type=docker", load(&[]), "")),
        ("build -t a:1 .",                       &[], false, Yes("… --output type=image,name=a:1 --metadata-file /s/buildctl-metadata.json", store(&["a:1"]), "BuildKit's store")),
        ("build -t a -t b .",                    &[], false, Yes("… --output type=image,\"name=a,b\" --metadata-file /s/buildctl-metadata.json", store(&["a", "b"]), "BuildKit's store")),
        ("build -t a --load .",                  &[], true,  Yes("… --output type=docker,name=a", load(&["a"]), "")),
        ("build -t a --load .",                  &[], false, No("--load")),
        ("build -t a --load --platform linux/amd64,linux/arm64 .", &[], true, No("--platform")),
        ("build -t a --platform linux/amd64,linux/arm64 .", &[], true,
            Yes("… --opt platform=linux/amd64,linux/arm64 --output type=image,name=a --metadata-file /s/buildctl-metadata.json", store(&["a"]), "several platforms")),
        ("build -t r/a:1 --push .",              &[], true,  Yes("… --output type=image,name=r/a:1,push=true", P, "")),
        ("build -t r/a -t r/b --push .",         &[], false, Yes("… --output type=image,\"name=r/a,r/b\",push=true", P, "")),
        ("build --push .",                       &[], false, No("--push")),
        ("build -t a --push=false .",            &[], false, Yes("… --output type=image,name=a --metadata-file /s/buildctl-metadata.json", store(&["a"]), "BuildKit's store")),
        ("build -t a --push --load .",           &[], true,  Yes("… --output type=image,name=a,push=true --output type=docker,name=a", load(&["a"]), "")),
        ("build -o out .",                       &[], true,  Yes("… --output type=local,dest=out", X, "")),
        ("build --output=out .",                 &[], false, Yes("… --output type=local,dest=out", X, "")),
        ("build -oout .",                        &[], false, Yes("… --output type=local,dest=out", X, "")),
        ("build -o - .",                         &[], false, Yes("… --output type=tar,dest=-", X, "")),
        ("build -o type=tar,dest=img.tar .",     &[], false, Yes("… --output type=tar,dest=img.tar", X, "")),
        ("build -o Type=local,Dest=o .",         &[], false, Yes("… --output type=local,dest=o", X, "")),
        ("build -o type=local,\"dest=a,b\" .",   &[], false, Yes("… --output type=local,\"dest=a,b\"", X, "")),
        ("build -t a -o type=oci,dest=a.tar .",  &[], false, Yes("… --output type=oci,dest=a.tar,name=a", X, "")),
        ("build -t a -o type=docker,dest=a.tar .", &[], false, Yes("… --output type=docker,dest=a.tar,name=a", X, "")),
        ("build -t a -o type=docker .",          &[], true,  Yes("… --output type=docker,name=a", load(&["a"]), "")),
        ("build -o type=docker,name=x .",        &[], true,  Yes("… --output type=docker,name=x", load(&["x"]), "")),
        ("build -t a -o type=docker .",          &[], false, No("--output")),
        ("build -t r/a -o type=registry .",      &[], false, Yes("… --output type=image,push=true,name=r/a", P, "")),
        ("build -o type=registry,name=r/a .",    &[], false, Yes("… --output type=image,name=r/a,push=true", P, "")),
        ("build -o type=registry .",             &[], false, No("--output")),
        ("build -t a -o type=image .",           &[], false, Yes("… --output type=image,name=a --metadata-file /s/buildctl-metadata.json", store(&["a"]), "")),
        ("build -t r/a -o type=image --push .",  &[], false, Yes("… --output type=image,name=r/a,push=true", P, "")),
        ("build -t r/a -o out --push .",         &[], false,
            Yes("… --output type=local,dest=out --output type=image,name=r/a,push=true", P, "")),
        ("build -o type=cacheonly .",            &[], true,  Yes("…", D, "")),
        ("build -o dest=out,x=y .",              &[], false, No("--output")),
        ("build -o - -o type=oci .",             &[], false, No("--output")),
        ("build -o - .",                         &[], true,  Yes("… --output type=tar,dest=-", X, "")),
        ("build -o - --load .",                  &[], true,  No("--output")),
        ("build -o type=local,\"dest=x .",       &[], false, No("--output")),
        ("build -o type=local,dest=x\"y .",      &[], false, No("--output")),
        // Image ID, metadata, progress.
        ("build --metadata-file m.json .",       &[], false, Yes("… --metadata-file m.json", D, "")),
        ("build --iidfile id .",                 &[], false, Yes("… --output type=image --metadata-file id.buildctl-metadata.json", store(&[]), "BuildKit's store")),
        ("build --iidfile=id --metadata-file m .", &[], true, Yes("… --output type=docker --metadata-file m", load(&[]), "")),
        ("build -q .",                           &[], true,  Yes("… --output type=docker --metadata-file /s/buildctl-metadata.json --progress quiet", load(&[]), "")),
        ("build --quiet --progress=auto .",      &[], true,  Yes("… --output type=docker --metadata-file /s/buildctl-metadata.json --progress quiet", load(&[]), "")),
        ("build -q --progress plain .",          &[], true,  No("--quiet")),
        ("build --progress plain .",             &[], false, Yes("… --progress plain", D, "")),
        ("build --progress=tty .",               &[], false, Yes("… --progress tty", D, "")),
        ("build --progress rawjson .",           &[], false, Yes("… --progress rawjson", D, "")),
        ("build --progress=quiet .",             &[], false, Yes("… --progress quiet", D, "")),
        ("build --progress none .",              &[], false, Yes("… --progress quiet", D, "")),
        ("build --progress fancy .",             &[], false, No("--progress")),
        // Attestations.
        ("build --provenance=true -o type=oci,dest=o.tar .", &[], false, Yes("… --opt attest:provenance= --output type=oci,dest=o.tar", X, "")),
        ("build --provenance mode=max -t r/a --push .", &[], false, Yes("… --opt attest:provenance=mode=max --output type=image,name=r/a,push=true", P, "")),
        ("build --attest type=provenance,mode=max -t r/a --push .", &[], false, Yes("… --opt attest:provenance=mode=max --output type=image,name=r/a,push=true", P, "")),
        ("build --provenance=false .",           &[], false, Yes("…", D, "")),
        ("build --attest type=provenance,disabled=true .", &[], false, Yes("…", D, "")),
        ("build --provenance=true -t a .",       &[], true,  No("--provenance")),
        ("build --sbom=false .",                 &[], false, Yes("…", D, "")),
        ("build --attest type=sbom,disabled=true .", &[], false, Yes("…", D, "")),
        ("build --sbom=true .",                  &[], false, No("--sbom")),
        ("build --attest type=sbom .",           &[], false, No("--attest")),
        ("build --attest type=weird .",          &[], false, No("--attest")),
        // No-ops: BuildKit already does what they ask for.
        ("build --rm .",                         &[], false, Yes("…", D, "")),
        ("build --rm=false --force-rm .",        &[], false, Yes("…", D, "")),
        ("build --disable-content-trust .",      &[], false, Yes("…", D, "")),
        ("build --disable-content-trust=true .", &[], false, Yes("…", D, "")),
        ("build --isolation default .",          &[], false, Yes("…", D, "")),
        ("build --squash=false --compress=false --check=false .", &[], false, Yes("…", D, "")),
        ("build --call build .",                 &[], false, Yes("…", D, "")),
        // Dropped with a notice.
        ("buildx build --builder ci .",          &[], false, Yes("…", D, "--builder")),
        ("buildx build -D .",                    &[], false, Yes("…", D, "--debug")),
        ("build --compress .",                   &[], false, Yes("…", D, "--compress")),
        // Refused: no honest translation.
        ("build --disable-content-trust=false .", &[], false, No("--disable-content-trust")),
        ("build --memory 1g .",                  &[], false, No("--memory")),
        ("build -m 1g .",                        &[], false, No("--memory")),
        ("build --memory-swap=2g .",             &[], false, No("--memory-swap")),
        ("build --cpu-shares 512 .",             &[], false, No("--cpu-shares")),
        ("build -c 512 .",                       &[], false, No("--cpu-shares")),
        ("build --cpu-period=1 .",               &[], false, No("--cpu-period")),
        ("build --cpu-quota 1 .",                &[], false, No("--cpu-quota")),
        ("build --cpuset-cpus 0 .",              &[], false, No("--cpuset-cpus")),
        ("build --cpuset-mems=0 .",              &[], false, No("--cpuset-mems")),
        ("build --squash .",                     &[], false, No("--squash")),
        ("build --isolation hyperv .",           &[], false, No("--isolation")),
        ("build --security-opt seccomp=unconfined .", &[], false, No("--security-opt")),
        ("build --annotation a=b .",             &[], false, No("--annotation")),
        ("build --call check .",                 &[], false, No("--call")),
        ("build --check .",                      &[], false, No("--check")),
        ("build --help .",                       &[], false, No("--help")),
        ("build --frobnicate .",                 &[], false, No("--frobnicate")),
        ("build -x .",                           &[], false, No("-x")),
        ("build --target",                       &[], false, No("--target")),
    ]
}

fn run(line: &str, env: &[(&str, &str)], daemon: bool) -> Result<Translation> {
    let inv = Invocation::parse(split(line));
    let call = inv.build_call().expect("a build call");
    let lookup = |k: &OsStr| {
        env.iter()
            .find(|(n, _)| OsStr::new(n) == k)
            .map(|(_, v)| OsString::from(v))
    };
    translate(&Request {
        inv: &inv,
        call: &call,
        env: &lookup,
        daemon,
        scratch: Path::new("/s"),
    })
}

/// Splits a row's docker arguments on spaces (quotes are literal CSV quotes).
fn split(line: &str) -> Vec<OsString> {
    line.split(' ')
        .filter(|w| !w.is_empty())
        .map(OsString::from)
        .collect()
}

fn expected_args(want: &str) -> Vec<String> {
    let mut args: Vec<String> = ["build", "--frontend", "dockerfile.v0"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    for w in want.split(' ').filter(|w| !w.is_empty()) {
        if w == "…" {
            args.extend(
                ["--local", "context=.", "--local", "dockerfile=."]
                    .iter()
                    .map(|s| s.to_string()),
            );
        } else {
            args.push(w.to_string());
        }
    }
    args
}

#[test]
fn the_mapping_table() {
    let mut failures = Vec::new();
    let rows = table();
    for (line, env, daemon, want) in &rows {
        let got = run(line, env, *daemon);
        let ok = match (want, &got) {
            (Yes(args, sink, notice), Ok(t)) => {
                let got_args: Vec<String> = t
                    .args
                    .iter()
                    .map(|a| a.to_str().expect("test args are UTF-8").to_string())
                    .collect();
                got_args == expected_args(args)
                    && t.sink == *sink
                    && if notice.is_empty() {
                        t.notices.is_empty()
                    } else {
                        t.notices.len() == 1 && t.notices[0].contains(notice)
                    }
            }
            (No(flag), Err(Error::Refused { flag: f, why, fix })) => {
                f == flag && !why.is_empty() && !fix.is_empty()
            }
            _ => false,
        };
        if !ok {
            failures.push(format!("{line:?} daemon={daemon}: got {got:?}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn non_utf8_values_reach_buildctl_byte_for_byte() {
    let raw = |b: &[u8]| OsStr::from_bytes(b).to_owned();
    let inv = Invocation::parse(vec![
        "build".into(),
        "--build-arg".into(),
        raw(b"K=\xff\xfe,v"),
        "--build-arg".into(),
        raw(b"FROM_ENV"),
        "-t".into(),
        raw(b"r/\xe9"),
        "--secret".into(),
        raw(b"id=s,src=\xff"),
        "-f".into(),
        raw(b"d\xff/D\xfe"),
        raw(b"ctx\xff"),
    ]);
    let call = inv.build_call().unwrap();
    let env = |k: &OsStr| (k == "FROM_ENV").then(|| raw(b"\x80env"));
    let t = translate(&Request {
        inv: &inv,
        call: &call,
        env: &env,
        daemon: true,
        scratch: Path::new("/s"),
    })
    .unwrap();
    let has = |b: &[u8]| t.args.iter().any(|a| a.as_bytes() == b);
    assert!(has(b"build-arg:K=\xff\xfe,v"), "{:?}", t.args);
    assert!(has(b"build-arg:FROM_ENV=\x80env"));
    assert!(has(b"context=ctx\xff"));
    assert!(has(b"dockerfile=d\xff"));
    assert!(has(b"filename=D\xfe"));
    assert!(has(b"id=s,src=\xff"));
    assert!(has(b"type=docker,name=r/\xe9"));
    assert_eq!(
        t.sink,
        Sink::Load {
            names: vec![raw(b"r/\xe9")]
        }
    );
    assert!(t.notices.is_empty());
}

#[test]
fn iidfile_and_quiet_share_one_metadata_file() {
    let t = run("build --iidfile out/id -q .", &[], true).unwrap();
    let iid = t.iidfile.clone().unwrap();
    assert_eq!(iid.path, PathBuf::from("out/id"));
    assert_eq!(iid.metadata, PathBuf::from("out/id.buildctl-metadata.json"));
    assert!(iid.metadata_is_ours);
    assert_eq!(
        t.print_id,
        Some(PrintId {
            metadata: iid.metadata.clone(),
            metadata_is_ours: true
        })
    );
    let n = t.args.iter().filter(|a| *a == "--metadata-file").count();
    assert_eq!(n, 1);

    let t = run("build --iidfile id --metadata-file m.json -q .", &[], true).unwrap();
    assert_eq!(
        t.iidfile,
        Some(IidFile {
            path: "id".into(),
            metadata: "m.json".into(),
            metadata_is_ours: false
        })
    );
    assert_eq!(t.print_id.unwrap().metadata, PathBuf::from("m.json"));

    let t = run("build -t a .", &[], true).unwrap();
    assert!(t.iidfile.is_none() && t.print_id.is_none());
    assert!(!t.args.iter().any(|a| a == "--metadata-file"));
}

#[test]
fn refusals_name_the_flag_and_the_fix_and_exit_2() {
    let e = run("build --memory 1g .", &[], false).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    assert!(e.to_string().contains("--memory"));
    assert!(e.hint().unwrap().contains("cgroup-parent"));
    let e = run("build --load .", &[], false).unwrap_err();
    assert!(e.to_string().contains("no Docker daemon"));
}

#[test]
fn notices_never_carry_values() {
    let t = run(
        "buildx build --builder SECRETBUILDER --build-arg TOKEN=hunter2 -t a .",
        &[],
        false,
    )
    .unwrap();
    assert!(!t.notices.is_empty(), "--builder is dropped with a notice");
    for n in &t.notices {
        assert!(
            !n.contains("hunter2") && !n.contains("SECRETBUILDER"),
            "{n}"
        );
    }
}

#[test]
fn csv_quoting_round_trips() {
    assert_eq!(csv_quote_names(&names(&["a"])), OsString::from("name=a"));
    assert_eq!(
        csv_quote_names(&names(&["r/a:1", "r/b:2"])),
        OsString::from("\"name=r/a:1,r/b:2\"")
    );
    assert_eq!(
        csv_quote_names(&names(&["we\"ird"])),
        OsString::from("\"name=we\"\"ird\"")
    );
    for field in [
        &b"plain"[..],
        b"a,b",
        b"say \"hi\"",
        b"",
        b"\xff,\xfe",
        b"line\nbreak",
    ] {
        let quoted = csv_field(field);
        let record = [&quoted[..], b",", &csv_field(b"next")].concat();
        assert_eq!(
            csv_fields(&record),
            Some(vec![field.to_vec(), b"next".to_vec()]),
            "{field:?}"
        );
    }
    assert_eq!(csv_fields(b"a\"b"), None);
    assert_eq!(csv_fields(b"\"a\"b"), None);
    assert_eq!(csv_fields(b"\"open"), None);
    assert_eq!(
        csv_fields(b"type=image,\"name=a,b\",push=true"),
        Some(vec![
            b"type=image".to_vec(),
            b"name=a,b".to_vec(),
            b"push=true".to_vec()
        ])
    );
}
