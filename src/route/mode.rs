//! The routes a call can take, and the mode (`DOCKROUTE_MODE`) that lets the user force
//! one. Both the facts (the mode is a setting) and the plan (the route taken) name a
//! route, so they live here, below both.

/// The route a call takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Route {
    /// Untouched, to the first client.
    Pass,
    /// A legacy-era (< 23) client, preferably the bind-mounted one, runs `build`.
    Mounted,
    /// The first client's legacy builder (`DOCKER_BUILDKIT=0`).
    Legacy,
    /// A client with buildx runs `buildx build` (or compose runs with BuildKit).
    Buildx,
    /// No daemon: `buildctl` against `BUILDKIT_HOST`, or a private BuildKit started by
    /// `buildctl-daemonless.sh`.
    Daemonless,
    /// A shared BuildKit (`DOCKROUTE_BUILDKIT_HOST`), the image loaded into the daemon.
    Remote,
    /// No docker client on PATH, and the call is one dockroute answers itself
    /// (`login`, `logout`: [`crate::registry`]); nothing is exec'd. Never forced by
    /// `DOCKROUTE_MODE`.
    Builtin,
    /// No daemon to ask: an image command answered from dockroute's records of builds
    /// on BuildKit ([`crate::route::image_routes`]); `push` and `save` run the recorded
    /// build again. Never forced by `DOCKROUTE_MODE`.
    Records,
}

impl Route {
    /// The route's name as printed.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Route::Pass => "pass",
            Route::Mounted => "mounted",
            Route::Legacy => "legacy",
            Route::Buildx => "buildx",
            Route::Daemonless => "daemonless",
            Route::Remote => "remote",
            Route::Builtin => "builtin",
            Route::Records => "records",
        }
    }
}

/// `DOCKROUTE_MODE`: decide from the runtime, or force a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Decide from the runtime.
    #[default]
    Auto,
    /// Always this route for builds (`pass` turns routing off).
    Force(Route),
}

impl Mode {
    /// The value as written in `DOCKROUTE_MODE`.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Mode::Auto => "auto",
            Mode::Force(route) => route.name(),
        }
    }

    /// Whether this mode forces `route`.
    #[must_use]
    pub fn forces(self, route: Route) -> bool {
        self == Mode::Force(route)
    }

    /// Parses a `DOCKROUTE_MODE` value (`off` is `pass`).
    #[must_use]
    pub fn parse(s: &str) -> Option<Mode> {
        let route = match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => return Some(Mode::Auto),
            "pass" | "off" => Route::Pass,
            "mounted" => Route::Mounted,
            "legacy" => Route::Legacy,
            "buildx" => Route::Buildx,
            "daemonless" => Route::Daemonless,
            "remote" => Route::Remote,
            _ => return None,
        };
        Some(Mode::Force(route))
    }
}
