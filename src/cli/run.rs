//! `faultline run [SCENARIO] [--seed N] [--out DIR]`

use std::cell::Cell;
use std::path::PathBuf;
use std::time::Instant;

use crate::experiment::{self, RunResult};
use crate::plan::Plan;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Scenario file; without it, the bundled demo (a slow database takes
    /// a checkout down, and three mitigations are compared).
    scenario: Option<PathBuf>,
    /// Master seed, overriding the scenario's.
    #[arg(long, short = 's')]
    seed: Option<u64>,
    /// Variant of the model to run (a key of the scenario's `variants`);
    /// written under `output/<scenario>/<variant>/`.
    #[arg(long, default_value = crate::spec::BASELINE)]
    variant: String,
    /// Base directory of run directories.
    #[arg(long, short = 'o', default_value = "output")]
    out: PathBuf,
    /// Also write a metrics.csv row per instance per window (arrivals,
    /// outcomes, queue, busy workers, status), named as in events.jsonl;
    /// recorded in run.json, so replay does the same.
    #[arg(long)]
    per_instance: bool,
    /// A what-if: set the value at PATH (dotted, into the scenario for its
    /// own keys such as `faults.…` or `duration`, else into the model) to
    /// VALUE (JSON, or text such as `3m`); repeatable. Recorded in run.json,
    /// and applied again by replay.
    #[arg(long = "set", value_name = "PATH=VALUE", value_parser = crate::spec::Setting::parse)]
    sets: Vec<crate::spec::Setting>,
    #[command(flatten)]
    budget: super::BudgetArgs,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let is_demo = args.scenario.is_none();
    let plan = match &args.scenario {
        Some(path) => Plan::load_all_with(path, &args.sets)?.swap_remove(0),
        None => super::demo::plan(&args.sets)?,
    }
    .with_variant(&args.variant)?;
    let plan = if args.per_instance {
        plan.with_per_instance()?
    } else {
        plan
    };
    print_lint(&plan, args.scenario.as_deref());
    let config = plan.config(args.seed);
    warn_if_replacing(
        &plan,
        &experiment::run_dir(
            &args.out,
            &plan.experiment.scenario.name,
            &plan.experiment.variant,
            config.seed,
        ),
    );
    let bar = super::progress::Progress::new(
        config.duration / 1_000_000,
        "{spinner} simulating [{bar:40}] {pos}/{len} ms virtual ({eta})",
        |ms, total, wall| {
            format!(
                "simulating: {:.1} of {:.1} s virtual ({:.0}%) after {wall:.0} s wall clock",
                ms as f64 / 1e3,
                total as f64 / 1e3,
                100.0 * ms as f64 / total.max(1) as f64
            )
        },
    );
    let progress = bar.clone();
    let started = Instant::now();
    let drawing = Cell::new(None);
    let result = experiment::run(
        &plan,
        args.seed,
        &args.out,
        args.budget.budget(),
        move |end| progress.set_position(end / 1_000_000),
        || drawing.set(Some(Instant::now())),
    );
    bar.finish_and_clear();
    let result = result?;
    let finished = Instant::now();
    print_summary(&plan, &result);
    let failed = result.manifest.hypothesis.iter().any(|v| !v.passed);
    let drawing = drawing.get().unwrap_or(finished);
    let simulation = (drawing - started).as_secs_f64();
    let report = (finished - drawing).as_secs_f64();
    note!(
        "simulated {} events in {:.2} s wall clock ({:.2} M events/s); report drawn in {:.2} s",
        result.summary.events,
        simulation,
        result.summary.events as f64 / simulation / 1e6,
        report
    );
    if is_demo {
        let seed = config.seed;
        return super::demo::compare_mitigations(
            &plan,
            seed,
            &args.out,
            &result.dir,
            args.budget.budget(),
            failed,
        )
        .map(|()| 0);
    }
    Ok(if failed { 1 } else { 0 })
}

/// Says so when the run about to be written replaces one made from other
/// inputs (a changed file, another version, other rows): the old results
/// are about to go, and they were not these.
fn warn_if_replacing(plan: &Plan, dir: &std::path::Path) {
    if !dir.join("run.json").is_file() {
        return;
    }
    let Ok(recorded) = crate::experiment::replay::read_manifest(dir) else {
        super::paint::warning(&format!(
            "replacing {}, whose run.json cannot be read",
            dir.display()
        ));
        return;
    };
    let experiment = &plan.experiment;
    let short = |sha: &str| sha.chars().take(12).collect::<String>();
    let mut differences: Vec<String> = crate::experiment::replay::changed_inputs(
        &recorded,
        &experiment.scenario_source,
        &experiment.model_source,
    )
    .into_iter()
    .map(|c| {
        format!(
            "a different {} (sha256 {}… then, {}… now)",
            c.file,
            short(&c.recorded),
            short(&c.now)
        )
    })
    .collect();
    let version = env!("CARGO_PKG_VERSION");
    if recorded.tool.version != version {
        differences.push(format!(
            "faultline {} (this is {version})",
            recorded.tool.version
        ));
    }
    if recorded.per_instance != plan.config.per_instance {
        differences.push(if recorded.per_instance {
            "per-instance rows (this run writes none)".to_string()
        } else {
            "no per-instance rows (this run writes them)".to_string()
        });
    }
    if !differences.is_empty() {
        super::paint::warning(&format!(
            "replacing {}, a run made from {}",
            dir.display(),
            differences.join(", ")
        ));
    }
}

/// What lint finds at warning and above, one line each, before the run:
/// a design that does what its author did not mean is best known before
/// reading its results.
fn print_lint(plan: &Plan, scenario: Option<&std::path::Path>) {
    let findings = crate::lint::plan(plan);
    let verbosity = super::verbosity();
    if verbosity == super::Verbosity::Quiet {
        return;
    }
    if verbosity == super::Verbosity::Verbose {
        // Every finding, notes and allowed ones too, in full.
        for finding in &findings {
            anstream::eprintln!("{}\n", super::paint::verdicts(&finding.to_string()));
        }
        anstream::eprintln!("lint: {}", crate::lint::summary(&findings));
        return;
    }
    let shown: Vec<_> = findings
        .iter()
        .filter(|f| f.allowed.is_none() && f.severity >= crate::lint::Severity::Warning)
        .collect();
    if shown.is_empty() {
        return;
    }
    let how = scenario.map_or("`faultline lint` on the scenario".to_string(), |p| {
        format!("`faultline lint {}`", p.display())
    });
    anstream::eprintln!(
        "lint: {} ({how} says why each matters and what to change)",
        crate::lint::summary(&findings)
    );
    for f in shown {
        anstream::eprintln!("  {} {} {}: {}", f.severity.name(), f.code, f.rule, f.path);
    }
}

/// Connected clients, one line per group: what their lost connections
/// cost and how long until every one was back.
fn print_clients(m: &crate::record::run::Manifest) {
    if m.clients.is_empty() {
        return;
    }
    if !m.entries.is_empty() {
        outln!();
    }
    let mut table = crate::report::terminal::table(&[
        "clients",
        "clients",
        "lost",
        "fewest conn.",
        "reconnects",
        "at end",
        "all reconnected",
    ]);
    crate::report::terminal::left(&mut table, 6);
    for (name, c) in &m.clients {
        let back = match (c.time_to_reconnect_s, c.all_reconnected) {
            (None, _) => "no connection lost".to_string(),
            (Some(t), true) => format!(
                "{t:.2} s after the first lost connection (at {:.2} s)",
                c.all_reconnected_s.unwrap_or_default()
            ),
            (Some(t), false) => format!(
                "never: {} still disconnected at the end, more than {t:.2} s after the first lost connection",
                c.clients - c.connected_at_end
            ),
        };
        table.add_row(vec![
            name.clone(),
            c.clients.to_string(),
            c.connections_lost.to_string(),
            format!(
                "{:.1}%",
                100.0 * c.fewest_connected as f64 / c.clients.max(1) as f64
            ),
            c.reconnect_attempts.to_string(),
            c.connected_at_end.to_string(),
            back,
        ]);
    }
    outln!("{}", table.trim_fmt());
    outln!(
        "  over the whole run: connections lost, the fewest connected at once, connect attempts after a lost connection (failed ones included)"
    );
}

fn print_summary(plan: &Plan, result: &RunResult) {
    let m = &result.manifest;
    if super::verbosity() == super::Verbosity::Quiet {
        // The verdicts and where the run went: what a script or a CI log
        // needs.
        out!(
            "{}",
            super::paint::verdicts(&crate::analysis::hypothesis::summary(&m.hypothesis))
        );
        // A stopped experiment is not the one the file schedules: say so.
        if let Some(trip) = m.stop.as_ref().and_then(|s| s.lines().into_iter().next())
            && trip.starts_with("TRIPPED")
        {
            outln!("{trip}");
        }
        outln!("wrote {}/", result.dir.display());
        return;
    }
    outln!(
        "faultline {}: scenario `{}` on model `{}` (variant `{}`), seed {}, {} s simulated ({} s warm-up)",
        m.tool.version,
        m.scenario.name,
        m.model.name,
        m.variant,
        m.seed,
        m.duration_s,
        m.warmup_s
    );
    if let Some(description) = &plan.experiment.scenario.description {
        outln!("  {description}");
    }
    outln!();
    if !m.entries.is_empty() {
        // Latency of successes beside that of all requests: with failures
        // (a timeout, a hang) the two tell different stories.
        let mut table = crate::report::terminal::table(&[
            "entry",
            "requests",
            "availability",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p99 all ms",
            "errors",
            "unanswered",
        ]);
        for (name, e) in &m.entries {
            table.add_row(vec![
                name.clone(),
                e.requests.to_string(),
                format!("{:.3}%", e.availability * 100.0),
                format!("{:.2}", e.latency_ms.p50),
                format!("{:.2}", e.latency_ms.p99),
                format!("{:.2}", e.latency_ms.max),
                format!(
                    "{:.2}{}",
                    e.latency_all_ms.p99,
                    if e.unanswered > 0 { "+" } else { "" }
                ),
                e.errors.to_string(),
                e.unanswered.to_string(),
            ]);
        }
        outln!("{}", table.trim_fmt());
        let in_flight: u64 = m.entries.values().map(|e| e.in_flight).sum();
        outln!(
            "  requests that arrived after the warm-up, each counted once by how it ended{}; p50/p99/max of successes, p99 all of every request{}",
            if in_flight > 0 {
                format!(" ({in_flight} still in flight at the end, not judged)")
            } else {
                String::new()
            },
            if m.entries.values().any(|e| e.unanswered > 0) {
                " (+: a lower bound, counting unanswered requests at their age when the run ended)"
            } else {
                ""
            }
        );
    }
    print_clients(m);
    print_caches(m);
    print_queueing(m);
    if !result.analysis.faults.is_empty() {
        outln!();
        out!("{}", result.analysis.summary());
    }
    if !m.hypothesis.is_empty() {
        outln!();
        outln!("hypothesis:");
        out!(
            "{}",
            super::paint::verdicts(&crate::analysis::hypothesis::summary(&m.hypothesis))
        );
    }
    if let Some(stop) = &m.stop {
        outln!();
        outln!("stop guards:");
        for line in stop.lines() {
            outln!("{line}");
        }
    }
    outln!();
    outln!("wrote {}/", result.dir.display());
    outln!("  run.json      inputs, seed, trace digest and the summary above");
    outln!(
        "  metrics.csv   one row per {} s window per entry, service, endpoint, pool and client group{}",
        m.window_s,
        if m.per_instance { ", and instance" } else { "" }
    );
    outln!("  events.jsonl  state changes (queue full, pool exhausted, ...)");
    outln!("  analysis.json steady bands, cascade chain, detection and recovery times");
    outln!("  report.html   the report to open in a browser (report.md + PNGs for documents)");
}

/// What queueing people look for, per service that served anything.
fn print_queueing(m: &crate::record::run::Manifest) {
    let served: Vec<_> = m.services.iter().filter(|(_, s)| s.started > 0).collect();
    if served.is_empty() {
        return;
    }
    outln!();
    let mut table = crate::report::terminal::table(&[
        "service",
        "started",
        "waited",
        "wait mean ms",
        "wait p99 ms",
        "in system avg",
        "in system max",
    ]);
    for (name, q) in served {
        table.add_row(vec![
            name.clone(),
            q.started.to_string(),
            format!("{:.1}%", q.waited_share * 100.0),
            format!("{:.3}", q.wait_ms.mean),
            format!("{:.3}", q.wait_ms.p99),
            format!("{:.2}", q.in_system_mean),
            q.in_system_max.to_string(),
        ]);
    }
    outln!("{}", table.trim_fmt());
    outln!(
        "  requests that got a worker after the warm-up: the share that queued first, and their wait for it (zeros included); in system: queued + holding a worker, time-averaged and at most"
    );
}

/// What each cache with keys found, after the warm-up.
fn print_caches(m: &crate::record::run::Manifest) {
    if m.caches.is_empty() {
        return;
    }
    outln!();
    let mut table = crate::report::terminal::table(&[
        "cache",
        "lookups",
        "hit ratio",
        "misses",
        "coalesced",
        "evicted",
        "expired",
        "flushed",
    ]);
    for (name, c) in &m.caches {
        table.add_row(vec![
            name.clone(),
            c.lookups.to_string(),
            c.hit_ratio
                .map_or("-".to_string(), |h| format!("{:.2}%", 100.0 * h)),
            c.misses.to_string(),
            c.coalesced.to_string(),
            c.evicted.to_string(),
            c.expired.to_string(),
            c.flushed.to_string(),
        ]);
    }
    outln!("{}", table.trim_fmt());
    outln!(
        "  cache lookups after the warm-up (coalesced: misses that waited for another caller's read of the key); evicted, expired and flushed keys over the whole run"
    );
}
