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
    #[arg(long)]
    seed: Option<u64>,
    /// Variant of the model to run (a key of the scenario's `variants`);
    /// written under `output/<scenario>/<variant>/`.
    #[arg(long, default_value = crate::spec::BASELINE)]
    variant: String,
    /// Base directory of run directories.
    #[arg(long, default_value = "output")]
    out: PathBuf,
    /// Also write a metrics.csv row per instance per window (arrivals,
    /// outcomes, queue, busy workers, status), named as in events.jsonl;
    /// recorded in run.json, so replay does the same.
    #[arg(long)]
    per_instance: bool,
    #[command(flatten)]
    budget: super::BudgetArgs,
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    let is_demo = args.scenario.is_none();
    let plan = match &args.scenario {
        Some(path) => Plan::load(path)?,
        None => super::demo::plan()?,
    }
    .with_variant(&args.variant)?;
    let plan = if args.per_instance {
        plan.with_per_instance()?
    } else {
        plan
    };
    print_lint(&plan, args.scenario.as_deref());
    let config = plan.config(args.seed);
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
    eprintln!(
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

/// What lint finds at warning and above, one line each, before the run:
/// a design that does what its author did not mean is best known before
/// reading its results.
fn print_lint(plan: &Plan, scenario: Option<&std::path::Path>) {
    let findings = crate::lint::plan(plan);
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
    eprintln!(
        "lint: {} ({how} says why each matters and what to change)",
        crate::lint::summary(&findings)
    );
    for f in shown {
        eprintln!("  {} {} {}: {}", f.severity.name(), f.code, f.rule, f.path);
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
    outln!(
        "{:<18} {:>10} {:>10} {:>14} {:>11} {:>10}  {}",
        "clients",
        "clients",
        "lost",
        "fewest conn.",
        "reconnects",
        "at end",
        "all reconnected"
    );
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
        outln!(
            "{:<18} {:>10} {:>10} {:>13.1}% {:>11} {:>10}  {}",
            name,
            c.clients,
            c.connections_lost,
            100.0 * c.fewest_connected as f64 / c.clients.max(1) as f64,
            c.reconnect_attempts,
            c.connected_at_end,
            back
        );
    }
    outln!(
        "  over the whole run: connections lost, the fewest connected at once, connect attempts after a lost connection (failed ones included)"
    );
}

fn print_summary(plan: &Plan, result: &RunResult) {
    let m = &result.manifest;
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
        outln!(
            "{:<18} {:>10} {:>13} {:>10} {:>10} {:>10} {:>12} {:>9} {:>10}",
            "entry",
            "requests",
            "availability",
            "p50 ms",
            "p99 ms",
            "max ms",
            "p99 all ms",
            "errors",
            "unanswered"
        );
        for (name, e) in &m.entries {
            outln!(
                "{:<18} {:>10} {:>12.3}% {:>10.2} {:>10.2} {:>10.2} {:>11.2}{} {:>9} {:>10}",
                name,
                e.requests,
                e.availability * 100.0,
                e.latency_ms.p50,
                e.latency_ms.p99,
                e.latency_ms.max,
                e.latency_all_ms.p99,
                if e.unanswered > 0 { "+" } else { " " },
                e.errors,
                e.unanswered
            );
        }
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
    print_queueing(m);
    if !result.analysis.faults.is_empty() {
        outln!();
        out!("{}", result.analysis.summary());
    }
    if !m.hypothesis.is_empty() {
        outln!();
        outln!("hypothesis:");
        out!("{}", crate::analysis::hypothesis::summary(&m.hypothesis));
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
    outln!(
        "{:<18} {:>10} {:>8} {:>13} {:>12} {:>15} {:>14}",
        "service",
        "started",
        "waited",
        "wait mean ms",
        "wait p99 ms",
        "in system avg",
        "in system max"
    );
    for (name, s) in served {
        outln!(
            "{:<18} {:>10} {:>7.1}% {:>13.3} {:>12.3} {:>15.2} {:>14}",
            name,
            s.started,
            s.waited_share * 100.0,
            s.wait_ms.mean,
            s.wait_ms.p99,
            s.in_system_mean,
            s.in_system_max
        );
    }
    outln!(
        "  requests that got a worker after the warm-up: the share that queued first, and their wait for it (zeros included); in system: queued + holding a worker, time-averaged and at most"
    );
}
