//! One run end to end: compile the model, simulate, and write the run
//! directory (`run.json`, `metrics.csv`, `events.jsonl`) atomically.

pub mod manifest;
pub(crate) mod output;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::observe::sink::FileSink;
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
    let faults = crate::faults::compile(&experiment.scenario, &topology)
        .map_err(|problems| experiment.scenario_source.invalid(problems))?;
    let config = run_config(experiment, seed);
    let dir = run_dir(
        base,
        &experiment.scenario.name,
        &experiment.variant,
        config.seed,
    );
    let staging = output::Staging::new(&dir)?;
    let fault_names = faults.iter().map(|f| f.name.clone()).collect();
    let sink = FileSink::create(staging.path(), config.warmup, fault_names)
        .map_err(|e| Error::write(staging.path(), e))?
        .on_window(on_window);
    let (summary, sink) = simulate(&topology, &faults, config, sink);
    sink.finish().map_err(|e| Error::write(staging.path(), e))?;
    let manifest = Manifest::new(experiment, &topology, config, &experiment.variant, &summary);
    staging.write_file("run.json", &manifest.to_json())?;
    staging.commit()?;
    Ok(RunResult {
        dir,
        manifest,
        summary,
        topology,
    })
}
