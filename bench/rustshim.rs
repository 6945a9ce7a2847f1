//! The floor for a Rust pass-through shim: the steps dockroute's hot path takes (stat
//! /proc/self/exe, read DOCKROUTE_LOG, stat `<dir>/docker` along PATH skipping itself,
//! set the two guard variables, exec with argv[0] the client's path), written with std
//! only, so the binary is ~400 KB instead of dockroute's ~1.6 MB. bench/run.sh builds it
//! with the release profile's flags; the gap to dockroute is what code size and layout cost.
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;

fn main() {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let own = std::fs::metadata("/proc/self/exe").ok().map(|m| (m.dev(), m.ino()));
    let _ = std::env::var_os("DOCKROUTE_LOG");
    let path = std::env::var_os("PATH").unwrap_or_default();
    let client = std::env::split_paths(&path)
        .map(|d| d.join("docker"))
        .find(|p| std::fs::metadata(p).is_ok_and(|m| Some((m.dev(), m.ino())) != own));
    let Some(client) = client else {
        eprintln!("rustshim: no docker on PATH");
        std::process::exit(127);
    };
    let (dev, ino) = own.unwrap_or_default();
    let e = std::process::Command::new(&client)
        .arg0(&client)
        .args(&args[1..])
        .env("DOCKROUTE_GUARD", format!("{dev}.{ino}"))
        .env("DOCKROUTE_HOPS", "1")
        .exec();
    eprintln!("rustshim: {e}");
    std::process::exit(126);
}
