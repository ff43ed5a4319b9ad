//! One run end to end: compile the model, simulate, and write the run
//! directory (`run.json`, `metrics.csv`, `events.jsonl`, `analysis.json`)
//! atomically.

pub mod manifest;
pub(crate) mod output;
pub mod replay;

use std::path::{Path, PathBuf};

use crate::analysis::{self, Analysis, collect::Collector};
use crate::error::{Error, Result};
use crate::observe::sink::FileSink;
use crate::observe::{NullObserver, Observer};
use crate::sim::{RunConfig, RunSummary, simulate};
use crate::spec::Experiment;
use crate::topology::Topology;
pub use manifest::Manifest;

pub use crate::spec::scenario::DEFAULT_WINDOW_NS;

pub use crate::spec::BASELINE;

/// The run configuration a scenario asks for, with an optional seed override.
pub fn run_config(experiment: &Experiment, seed: Option<u64>) -> RunConfig {
    let scenario = &experiment.scenario;
    RunConfig {
        seed: seed.unwrap_or(scenario.seed),
        duration: scenario.duration.0,
        warmup: scenario.warmup.0,
        window: scenario.window.map_or(DEFAULT_WINDOW_NS, |w| w.0),
    }
}

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
    pub topology: Topology,
    pub analysis: Analysis,
    /// Wall-clock time spent drawing the report.
    pub report_wall: std::time::Duration,
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
/// analyses the run and judges its hypotheses.
fn simulate_and_analyse<O: Observer>(
    experiment: &Experiment,
    topology: &Topology,
    config: RunConfig,
    inner: O,
) -> Result<(Manifest, RunSummary, Analysis, O)> {
    let scenario = &experiment.scenario;
    let faults = crate::faults::compile(scenario, topology)
        .map_err(|problems| experiment.scenario_source.invalid(problems))?;
    let phases = analysis::phases(scenario, &faults);
    let probes = analysis::hypothesis::check(scenario, topology, &phases)
        .map_err(|problems| experiment.scenario_source.invalid(problems))?;
    let collector = Collector::new(inner, phases, &probes);
    let (summary, collector) = simulate(topology, &faults, config, collector);
    let analysis = analysis::analyse(
        topology,
        scenario,
        &faults,
        &collector,
        &summary,
        config.warmup,
        config.duration,
    );
    let verdicts = analysis::hypothesis::evaluate(
        topology, scenario, &phases, &collector, &analysis, &summary,
    );
    let manifest = Manifest::new(
        experiment,
        topology,
        config,
        &experiment.variant,
        &summary,
        verdicts,
    );
    Ok((manifest, summary, analysis, collector.inner))
}

/// Runs the experiment in memory and judges it; writes nothing.
pub fn evaluate(experiment: &Experiment, seed: u64) -> Result<Evaluation> {
    let topology = Topology::compile(&experiment.model);
    let config = run_config(experiment, Some(seed));
    let (manifest, summary, analysis, _) =
        simulate_and_analyse(experiment, &topology, config, NullObserver)?;
    Ok(Evaluation {
        manifest,
        summary,
        analysis,
    })
}

/// Runs the experiment (its variant) and writes its directory under `base`. `on_window`
/// sees the end of each metrics window (ns), for a progress display.
pub fn run(
    experiment: &Experiment,
    seed: Option<u64>,
    base: &Path,
    on_window: impl FnMut(u64) + 'static,
) -> Result<RunResult> {
    let topology = Topology::compile(&experiment.model);
    let config = run_config(experiment, seed);
    let dir = run_dir(
        base,
        &experiment.scenario.name,
        &experiment.variant,
        config.seed,
    );
    let staging = output::Staging::new(&dir)?;
    let fault_names = experiment.scenario.faults.keys().cloned().collect();
    let sink = FileSink::create(staging.path(), config.warmup, fault_names)
        .map_err(|e| Error::write(staging.path(), e))?
        .on_window(on_window);
    let (manifest, summary, analysis, sink) =
        simulate_and_analyse(experiment, &topology, config, sink)?;
    sink.finish().map_err(|e| Error::write(staging.path(), e))?;
    staging.write_file("run.json", &manifest.to_json())?;
    staging.write_file("analysis.json", &analysis.to_json())?;
    // Wall-clock time is for stderr only; nothing in the directory holds it.
    let drawing = std::time::Instant::now();
    crate::report::write_run_report(staging.path())?;
    let report_wall = drawing.elapsed();
    staging.commit()?;
    Ok(RunResult {
        dir,
        manifest,
        summary,
        topology,
        analysis,
        report_wall,
    })
}
