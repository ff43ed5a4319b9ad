//! The plan of an experiment: a scenario and its model, read and checked at
//! the file level by `spec`, then compiled once into everything a run needs
//! (the topology, the resolved faults, the phases, the hypotheses, the run
//! settings). Run, replay, compare, validate and bench all start from a
//! `Plan`; nothing above this layer compiles a spec again.

mod hypothesis;
mod phases;

use std::path::Path;

pub use hypothesis::{Check, Hypothesis, Threshold, resolve_probe};
pub use phases::{Phase, Phases};

use crate::error::{JsonPath, Problem, Result};
use crate::faults::{self, Fault};
use crate::spec::scenario::DEFAULT_WINDOW_NS;
use crate::spec::{self, Experiment, Source};
use crate::topology::Topology;

/// A run is metastable when still outside its band this long after the
/// last fault ended, unless the scenario says otherwise.
pub const DEFAULT_METASTABLE_AFTER_NS: u64 = 60_000_000_000;

/// Time settings of one run, in nanoseconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunConfig {
    pub seed: u64,
    pub duration: u64,
    pub warmup: u64,
    pub window: u64,
}

/// One variant of an experiment, compiled.
#[derive(Clone, Debug)]
pub struct Plan {
    /// The files as read, and the variant's (patched) model.
    pub experiment: Experiment,
    pub topology: Topology,
    pub faults: Vec<Fault>,
    pub phases: Phases,
    pub hypotheses: Vec<Hypothesis>,
    /// The scenario's settings with its own seed.
    pub config: RunConfig,
    /// How long past the last fault a run still out of band is metastable.
    pub metastable_after: u64,
}

impl Plan {
    /// Compiles an experiment whose files have been checked by `spec`.
    /// Problems of the scenario against the model (fault targets, probes,
    /// phases) come back together, at their paths in the scenario file.
    pub fn compile(experiment: Experiment) -> Result<Plan> {
        match compile(&experiment) {
            Ok(parts) => Ok(parts.into_plan(experiment)),
            Err(problems) => Err(experiment.scenario_source.invalid(problems)),
        }
    }

    /// Reads a scenario file and its model, checks every variant, and
    /// compiles the baseline.
    pub fn load(path: &Path) -> Result<Plan> {
        Plan::checked(spec::load_experiment(path)?)
    }

    /// As `load`, from texts held in memory (the embedded demo, benches).
    pub fn from_texts(scenario: Source, model: Source) -> Result<Plan> {
        Plan::checked(spec::experiment_from_texts(scenario, model)?)
    }

    /// This plan's experiment with variant `name` applied, compiled.
    pub fn with_variant(&self, name: &str) -> Result<Plan> {
        if name == self.experiment.variant {
            return Ok(self.clone());
        }
        Plan::compile(self.experiment.with_variant(name)?)
    }

    /// Variant names in comparison order (the baseline first).
    pub fn variant_names(&self) -> Vec<String> {
        self.experiment.variant_names()
    }

    /// The run settings with the seed overridden when asked.
    pub fn config(&self, seed: Option<u64>) -> RunConfig {
        RunConfig {
            seed: seed.unwrap_or(self.config.seed),
            ..self.config
        }
    }

    /// Compiles the experiment and every variant of it, so that a broken
    /// variant is found when the scenario loads, not deep into a compare.
    fn checked(experiment: Experiment) -> Result<Plan> {
        let mut problems = Vec::new();
        for name in experiment.scenario.variants.keys() {
            if *name == experiment.variant {
                continue;
            }
            let variant = experiment.with_variant(name)?;
            if let Err(found) = compile(&variant) {
                problems.extend(found.into_iter().map(|p| {
                    Problem::new(
                        JsonPath::root().key("variants").key(name),
                        format!("with this variant, {}: {}", p.path, p.message),
                    )
                    .with_suggestion(p.suggestion)
                }));
            }
        }
        match compile(&experiment) {
            Ok(parts) if problems.is_empty() => Ok(parts.into_plan(experiment)),
            Ok(_) => Err(experiment.scenario_source.invalid(problems)),
            Err(mut found) => {
                found.extend(problems);
                Err(experiment.scenario_source.invalid(found))
            }
        }
    }
}

/// The topology of a model file, or of the model a scenario file names.
pub fn topology_of(path: &Path) -> Result<Topology> {
    let source = Source::read(path)?;
    if spec::looks_like_scenario(&source.text) {
        Ok(Plan::load(path)?.topology)
    } else {
        Ok(Topology::compile(&spec::parse_model(&source)?))
    }
}

/// What the scenario compiles to against its (variant's) model.
struct Parts {
    topology: Topology,
    faults: Vec<Fault>,
    phases: Phases,
    hypotheses: Vec<Hypothesis>,
}

impl Parts {
    fn into_plan(self, experiment: Experiment) -> Plan {
        let scenario = &experiment.scenario;
        let config = RunConfig {
            seed: scenario.seed,
            duration: scenario.duration.0,
            warmup: scenario.warmup.0,
            window: scenario.window.map_or(DEFAULT_WINDOW_NS, |w| w.0),
        };
        let metastable_after = scenario
            .analysis
            .as_ref()
            .and_then(|a| a.metastable_after)
            .map_or(DEFAULT_METASTABLE_AFTER_NS, |d| d.0);
        Plan {
            topology: self.topology,
            faults: self.faults,
            phases: self.phases,
            hypotheses: self.hypotheses,
            config,
            metastable_after,
            experiment,
        }
    }
}

fn compile(experiment: &Experiment) -> std::result::Result<Parts, Vec<Problem>> {
    let topology = Topology::compile(&experiment.model);
    let scenario = &experiment.scenario;
    let faults = faults::compile(scenario, &topology)?;
    let phases = Phases::of(scenario.warmup.0, scenario.duration.0, &faults);
    let hypotheses = hypothesis::compile(scenario, &topology, &phases)?;
    Ok(Parts {
        topology,
        faults,
        phases,
        hypotheses,
    })
}
