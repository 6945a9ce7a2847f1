//! doctor's report for people: a table with the three answers first, then clients,
//! daemon and runtime, BuildKit, routes, settings, what is worth knowing and what to fix.
//! It renders a [`Report`] and computes nothing of its own.

use crate::cli::doctor::report::Report;

/// ANSI colour, or none.
pub(crate) struct Paint(pub bool);

impl Paint {
    fn ok(&self, s: &str) -> String {
        self.wrap("32", s)
    }
    fn bad(&self, s: &str) -> String {
        self.wrap("31", s)
    }
    fn head(&self, s: &str) -> String {
        self.wrap("1", s)
    }
    fn wrap(&self, code: &str, s: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{s}\x1b[0m")
        } else {
            s.to_string()
        }
    }
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

/// The report for people.
#[allow(clippy::too_many_lines)]
#[must_use]
pub(crate) fn render(r: &Report, paint: &Paint) -> String {
    let mut t = String::new();
    let mut line = |s: String| {
        t.push_str(&s);
        t.push('\n');
    };
    line(format!(
        "{} {} ({})",
        paint.head("dockroute"),
        env!("CARGO_PKG_VERSION"),
        r.executable.as_deref().unwrap_or("?")
    ));
    line(String::new());
    let q = |s: &str| format!("  {s:<29}");
    line(format!(
        "{}{}",
        q("Which docker runs my build?"),
        r.answers.which_docker_builds
    ));
    line(format!("{}{}", q("Is BuildKit on?"), r.answers.buildkit));
    line(format!("{}{}", q("Runtime v2 or v3?"), r.answers.runtime));
    let resolves = match &r.docker_resolves_to {
        Some(p) if r.docker_is_dockroute => format!("{p} → dockroute {}", paint.ok("ok")),
        Some(p) => format!("{p} → {}", paint.bad("NOT dockroute")),
        None => paint.bad("nothing on PATH"),
    };
    line(format!("{}{resolves}", q("`docker` resolves to")));

    line(String::new());
    line(paint.head("Clients, in PATH order"));
    let rows: Vec<[String; 5]> = r
        .clients
        .iter()
        .enumerate()
        .map(|(i, c)| {
            [
                (i + 1).to_string(),
                c.path.display().to_string(),
                c.version
                    .as_ref()
                    .map_or_else(|| "unknown".into(), ToString::to_string),
                yes_no(c.buildx).into(),
                yes_no(c.mounted).into(),
            ]
        })
        .collect();
    let header = ["#", "path", "version", "buildx", "bind-mounted"];
    let mut width = header.map(str::len);
    for r in &rows {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let fmt_row = |cells: [&str; 5]| {
        format!(
            "  {:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            w0 = width[0],
            w1 = width[1],
            w2 = width[2],
            w3 = width[3],
        )
    };
    line(fmt_row(header));
    for (r, c) in rows.iter().zip(&r.clients) {
        line(
            fmt_row([&r[0], &r[1], &r[2], &r[3], &r[4]])
                .trim_end()
                .to_string(),
        );
        if let Some(p) = &c.problem {
            line(format!(
                "  {:<w$}  {}",
                "",
                paint.bad(&p.to_string()),
                w = width[0]
            ));
        }
    }
    if r.clients.is_empty() {
        line(format!("  {}", paint.bad("none")));
    }
    if !r.ignored_path_entries.is_empty() {
        line(format!(
            "  never searched (relative or empty PATH entries): {}",
            r.ignored_path_entries
                .iter()
                .map(|e| format!("{e:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    line(format!(
        "  buildx plugin: {}",
        r.buildx_plugin.as_deref().unwrap_or("none found")
    ));

    line(String::new());
    line(paint.head("Daemon and runtime"));
    line(format!("  endpoint      {}", r.endpoint));
    if let Some(i) = &r.daemon {
        line(format!(
            "  daemon        {} — authorization plugins: {}",
            i.server_version.as_deref().unwrap_or("?"),
            if i.authorization_plugins.is_empty() {
                "none".to_string()
            } else {
                i.authorization_plugins.join(", ")
            }
        ));
    }
    if let Some(rt) = &r.runtime {
        if let Some(v) = &rt.verdict {
            line(format!(
                "  probe         {} ({})",
                crate::cli::doctor::report::verdict_words(v),
                rt.source.name()
            ));
        }
        line(format!(
            "  runtime       {} — {}",
            rt.runtime.name(),
            rt.runtime.why()
        ));
        line(format!(
            "  Bitbucket     {}",
            if rt.bitbucket {
                "yes (BITBUCKET_* variables set)"
            } else {
                "no"
            }
        ));
    }

    line(String::new());
    line(paint.head("BuildKit"));
    let bk = &r.buildkit;
    let unset = || "unset".to_string();
    line(format!(
        "  DOCKROUTE_BUILDKIT_HOST  {}",
        bk.facts.remote.clone().unwrap_or_else(unset)
    ));
    line(format!(
        "  BUILDKIT_HOST            {}",
        bk.facts.host.clone().unwrap_or_else(unset)
    ));
    if bk.nodes.len() > 1 {
        // Several nodes: each, in the order of `docker build .` here.
        for (i, n) in bk.nodes.iter().enumerate() {
            let state = match (n.answers, &n.unreachable) {
                (_, Some(why)) => paint.bad(&format!("does not answer: {why}")),
                (Some(true), None) => paint.ok("answers"),
                _ => "not checked (buildctl will tell)".to_string(),
            };
            let chosen = if n.chosen {
                " ← docker build . here"
            } else {
                ""
            };
            let label = format!("node {} of {}", i + 1, bk.nodes.len());
            line(format!("  {label:<24} {} {state}{chosen}", n.address));
        }
    } else if let Some(addr) = &bk.checked {
        let state = match &bk.facts.unreachable {
            None => paint.ok("answers"),
            Some(why) => paint.bad(&format!("does not answer: {why}")),
        };
        line(format!("  reachable                {addr} {state}"));
    }
    line(format!(
        "  buildctl                 {}",
        on_path(bk.facts.buildctl.as_deref())
    ));
    line(format!(
        "  buildctl-daemonless.sh   {}",
        on_path(bk.facts.daemonless.as_deref())
    ));
    line(format!("  a build now              {}", bk.route_now));

    if !r.routes.is_empty() {
        line(String::new());
        line(paint.head("Routes now"));
        let w = r.routes.iter().map(|e| e.call.len()).max().unwrap_or(0);
        for e in &r.routes {
            line(format!("  {:<w$}  → {}", e.call, e.line));
            if let Some(b) = &e.because {
                line(format!("  {:<w$}    {b}", ""));
            }
        }
    }

    line(String::new());
    line(paint.head("Settings"));
    for (k, v) in &r.settings {
        line(format!("  {k:<28} {}", v.as_str().unwrap_or_default()));
    }
    line(format!("  {:<28} {}", "DOCKER_BUILDKIT", r.docker_buildkit));
    line(format!(
        "  {:<28} {}",
        "cache",
        r.cache_dir.as_deref().unwrap_or("none (no HOME)")
    ));

    if !r.notes.is_empty() {
        line(String::new());
        line(paint.head("Worth knowing"));
        for n in &r.notes {
            line(format!("  • {}", n.problem));
            line(format!("    fix: {}", n.fix));
        }
    }
    line(String::new());
    if r.problems.is_empty() {
        line(paint.ok("No problems found."));
    } else {
        line(paint.head("To fix"));
        for p in &r.problems {
            line(format!("  {} {}", paint.bad("✗"), p.problem));
            line(format!("    fix: {}", p.fix));
        }
    }
    t
}

/// A program found on PATH, or "not on PATH".
fn on_path(p: Option<&std::path::Path>) -> String {
    p.map_or_else(|| "not on PATH".into(), |p| p.display().to_string())
}
