//! One run end to end: compile the model, simulate, and write the run
//! directory (`run.json`, `metrics.csv`, `events.jsonl`, `analysis.json`)
//! atomically.

pub mod manifest;
pub(crate) mod output;
pub mod replay;
mod stop;

use std::path::{Path, PathBuf};

use crate::analysis::{self, Analysis, collect::Collector};
use crate::error::{Error, Result};
use crate::observe::sink::{FileSink, Names};
use crate::observe::{NullObserver, Observer};
use crate::plan::{Plan, RunConfig};
use crate::sim::{Budget, Exhausted, RunSummary, simulate_guarded};
pub use manifest::Manifest;

pub use crate::spec::BASELINE;

/// Where a run of `scenario` with `seed` goes under `base`.
pub fn run_dir(base: &Path, scenario: &str, variant: &str, seed: u64) -> PathBuf {
    base.join(scenario)
        .join(variant)
        .join(format!("seed-{seed}"))
}

/// A finished run.
pub struct RunResult {
    pub dir: PathBuf,
    pub manifest: Manifest,
    pub summary: RunSummary,
    pub analysis: Analysis,
}

/// A run judged in memory, with no files (what `compare` needs of each
/// variant and seed).
pub struct Evaluation {
    pub manifest: Manifest,
    pub summary: RunSummary,
    pub analysis: Analysis,
}

impl Evaluation {
    /// Whether every hypothesis held; `None` without hypotheses.
    pub fn hypothesis_passed(&self) -> Option<bool> {
        (!self.manifest.hypothesis.is_empty())
            .then(|| self.manifest.hypothesis.iter().all(|v| v.passed))
    }
}

/// Simulates with `inner` seeing everything the engine emits, then
/// analyses the run and judges its hypotheses. A run its budget stopped is
/// neither analysed nor judged: it is an error naming the limit.
/// `paired`: a run a stop guard ended is run again unguarded for the
/// damage `run.json` reports; a comparison, which reads no such figure,
/// leaves it out rather than run each stopped seed twice.
fn simulate_and_analyse<O: Observer>(
    plan: &Plan,
    config: RunConfig,
    budget: Budget,
    inner: O,
    paired: bool,
) -> Result<(Manifest, RunSummary, Analysis, O)> {
    let probes: Vec<_> = plan.hypotheses.iter().map(|h| h.component).collect();
    let collector = Collector::new(inner, plan.phases, &probes);
    let (summary, mut collector) = simulate_guarded(
        &plan.topology,
        &plan.faults,
        &plan.guards,
        config,
        budget,
        collector,
    );
    if let Some(exhausted) = summary.exhausted {
        return Err(budget_error(plan, config.seed, exhausted));
    }
    // A stopped experiment is analysed and judged as it happened.
    let realized = stop::Realized::of(plan, &summary);
    realized.renumber(&mut collector);
    let analysis = analysis::analyse(
        &plan.topology,
        &realized.faults,
        &collector,
        &summary,
        &config,
        plan.metastable_after,
    );
    let verdicts = analysis::hypothesis::evaluate(
        &plan.topology,
        &plan.hypotheses,
        &realized.phases,
        &collector,
        &analysis,
        &summary,
    );
    let mut manifest = manifest::manifest(plan, config, &summary, verdicts);
    manifest.stop = stop::summary(plan, config, budget, &summary, &analysis, paired)?;
    Ok((manifest, summary, analysis, collector.inner))
}

/// What stopped a run, in words a user can act on.
fn budget_error(plan: &Plan, seed: u64, exhausted: Exhausted) -> Error {
    let experiment = &plan.experiment;
    let run = format!(
        "{} ({}, seed {seed})",
        experiment.scenario.name, experiment.variant
    );
    let (at, what) = match exhausted {
        Exhausted::Events { limit, at } => (
            at,
            format!(
                "having handled {limit} events, its budget; a model this busy may be what you meant (raise the budget with --max-events), or something fires far too often (a rate, a chaos monkey's interval, a probe)"
            ),
        ),
        Exhausted::InFlight { limit, at } => (
            at,
            format!(
                "with {limit} requests in the system at once, its budget: work arrives faster than it finishes and nothing bounds it (unbounded workers or queues, very long work, a rate far above capacity), so memory would grow without end; check the rates and work times, or raise the budget with --max-in-flight"
            ),
        ),
    };
    Error::Budget {
        run,
        at_s: at.ns() as f64 / 1e9,
        what,
    }
}

/// Runs the plan in memory and judges it; writes nothing.
pub fn evaluate(plan: &Plan, seed: u64, budget: Budget) -> Result<Evaluation> {
    let (manifest, summary, analysis, _) =
        simulate_and_analyse(plan, plan.config(Some(seed)), budget, NullObserver, false)?;
    Ok(Evaluation {
        manifest,
        summary,
        analysis,
    })
}

/// Runs the plan (its variant) and writes its directory under `base`.
/// `on_window` sees the end of each metrics window (ns), for a progress
/// display; `on_report` is called when the simulation is over and the report
/// is about to be drawn (the command line times the two apart: nothing here
/// reads the wall clock).
pub fn run(
    plan: &Plan,
    seed: Option<u64>,
    base: &Path,
    budget: Budget,
    on_window: impl FnMut(u64) + 'static,
    on_report: impl FnOnce(),
) -> Result<RunResult> {
    let config = plan.config(seed);
    let experiment = &plan.experiment;
    let dir = run_dir(
        base,
        &experiment.scenario.name,
        &experiment.variant,
        config.seed,
    );
    let staging = output::Staging::new(&dir)?;
    let names = Names {
        faults: plan.faults.iter().map(|f| f.name.clone()).collect(),
        guards: plan.guards.iter().map(|g| g.name.clone()).collect(),
    };
    let sink = FileSink::create(staging.path(), config.warmup, config.per_instance, names)
        .map_err(|e| Error::write(staging.path(), e))?
        .on_window(on_window);
    let (manifest, summary, analysis, sink) =
        simulate_and_analyse(plan, config, budget, sink, true)?;
    sink.finish().map_err(|e| Error::write(staging.path(), e))?;
    staging.write_file("run.json", &manifest.to_json())?;
    staging.write_file("analysis.json", &analysis.to_json())?;
    on_report();
    crate::report::write_run_report(staging.path())?;
    staging.commit()?;
    Ok(RunResult {
        dir,
        manifest,
        summary,
        analysis,
    })
}
