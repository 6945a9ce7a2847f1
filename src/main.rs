//! The `dockroute` executable: everything lives in the library; this only turns the
//! outcome of [`dockroute::run`] into the process's exit code.

fn main() -> std::process::ExitCode {
    std::process::ExitCode::from(dockroute::run())
}
