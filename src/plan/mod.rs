//! The plan of an experiment: a scenario and its model, read by `spec`, then
//! compiled once into everything a run needs (the topology, in the one pass
//! that checks the model, then the resolved faults, the phases, the
//! hypotheses, the run settings). Run, replay, compare, validate and bench
//! all start from a `Plan`; nothing above this layer compiles a spec again.

mod guard;
mod hypothesis;
mod phases;

use std::path::Path;

pub use guard::{Guard, Limit};
pub use hypothesis::{Check, Hypothesis, Threshold, has_checks, resolve_probe};
pub use phases::{Phase, Phases};

use crate::base::Precision;
use crate::error::{JsonPath, Problem, Result};
use crate::faults::{self, Fault};
use crate::spec::scenario::DEFAULT_WINDOW_NS;
use crate::spec::{self, Experiment, Setting, Source};
use crate::topology::Topology;

/// A run is metastable when still outside its band this long after the
/// last fault ended, unless the scenario says otherwise.
pub const DEFAULT_METASTABLE_AFTER_NS: u64 = 60_000_000_000;

/// Settings of one run: its seed, its times in nanoseconds, and what its
/// metrics hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RunConfig {
    pub seed: u64,
    pub duration: u64,
    pub warmup: u64,
    pub window: u64,
    /// A metrics row per instance per window besides the others (`run
    /// --per-instance`, recorded in run.json for replay).
    pub per_instance: bool,
    /// Significant digits of latency and wait percentiles.
    pub precision: Precision,
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
    /// The stop guards, in the scenario's order.
    pub guards: Vec<Guard>,
    /// The scenario's settings with its own seed.
    pub config: RunConfig,
    /// How long past the last fault a run still out of band is metastable.
    pub metastable_after: u64,
}

impl Plan {
    /// Compiles an experiment as `spec` read it: first its model, in the
    /// one pass that checks it (every problem at once, in the model file, or
    /// at `variants.<name>` in the scenario for a patched model), then the
    /// scenario against it: fault targets, probes and phases, whose problems
    /// come back together, at their paths in the scenario file.
    pub fn compile(experiment: Experiment) -> Result<Plan> {
        let topology =
            Topology::compile(&experiment.model).map_err(|p| experiment.model_invalid(p))?;
        match compile(&experiment, topology) {
            Ok(parts) => Ok(parts.into_plan(experiment)),
            Err(problems) => Err(experiment.scenario_invalid(problems)),
        }
    }

    /// Reads a scenario file and its model, checks every variant, and
    /// returns the baseline's plan.
    pub fn load(path: &Path) -> Result<Plan> {
        Ok(Plan::load_all(path)?.swap_remove(0))
    }

    /// Reads a scenario file and its model and compiles every variant, once:
    /// the plans in comparison order, the baseline first.
    pub fn load_all(path: &Path) -> Result<Vec<Plan>> {
        Plan::load_all_with(path, &[])
    }

    /// As `load_all`, with what-if settings (`--set`) applied to the files
    /// before any variant patches them.
    pub fn load_all_with(path: &Path, sets: &[Setting]) -> Result<Vec<Plan>> {
        Plan::checked(spec::load_experiment_with(path, sets)?)
    }

    /// As `load`, from texts held in memory (the embedded demo, benches).
    pub fn from_texts(scenario: Source, model: Source) -> Result<Plan> {
        Ok(Plan::all_from_texts(scenario, model, &[])?.swap_remove(0))
    }

    /// As `load_all_with`, from texts held in memory (the embedded demo, a
    /// replay).
    pub fn all_from_texts(scenario: Source, model: Source, sets: &[Setting]) -> Result<Vec<Plan>> {
        Plan::checked(spec::experiment_from_texts(scenario, model, sets)?)
    }

    /// This plan's experiment with variant `name` applied, compiled.
    pub fn with_variant(&self, name: &str) -> Result<Plan> {
        if name == self.experiment.variant {
            return Ok(self.clone());
        }
        Plan::compile(self.experiment.with_variant(name)?)
    }

    /// This plan with its scenario edited, compiled against the same
    /// topology: what `search` runs for each set of faults it tries.
    /// Problems are the scenario's, as if written there.
    pub fn with_scenario(&self, edit: impl FnOnce(&mut spec::ScenarioSpec)) -> Result<Plan> {
        let mut experiment = self.experiment.clone();
        edit(&mut experiment.scenario);
        match compile(&experiment, self.topology.clone()) {
            Ok(parts) => Ok(parts.into_plan(experiment)),
            Err(problems) => Err(experiment.scenario_invalid(problems)),
        }
    }

    /// This plan with a metrics row per instance per window, if the
    /// metrics it then writes stay under `MAX_METRICS_ROWS` (the problem is
    /// reported in the scenario file, as for a window too narrow).
    pub fn with_per_instance(mut self) -> Result<Plan> {
        let scenario = &self.experiment.scenario;
        check_output_size(scenario, &self.topology, true)
            .map_err(|problems| self.experiment.scenario_invalid(problems))?;
        self.config.per_instance = true;
        Ok(self)
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
    /// variant is found when the scenario loads, not deep into a compare;
    /// returns the plans in comparison order, the experiment's own first.
    /// In order, each step only once the one before found nothing: the
    /// model as written (in the model file); every variant's patched model
    /// (at `variants.<name>` in the scenario, every variant's problems
    /// together); the scenario against the baseline and each variant.
    fn checked(experiment: Experiment) -> Result<Vec<Plan>> {
        // A scenario's `baseline` patch has replaced the model as written,
        // which is still checked first, in its own file.
        let is_patched = experiment
            .scenario
            .variants
            .contains_key(&experiment.variant);
        let reread;
        let written = if is_patched {
            reread = experiment.written_model()?;
            &reread
        } else {
            &experiment.model
        };
        let written =
            Topology::compile(written).map_err(|problems| experiment.model_invalid(problems))?;
        let mut problems = Vec::new();
        let mut variants = Vec::new();
        for name in experiment.scenario.variants.keys() {
            let variant = if *name == experiment.variant {
                Ok(experiment.clone())
            } else {
                experiment.patched(name)
            };
            let compiled = variant.and_then(|variant| match Topology::compile(&variant.model) {
                Ok(topology) => Ok((variant, topology)),
                Err(found) => Err(spec::at_variant(name, found)),
            });
            match compiled {
                Ok(compiled) => variants.push(compiled),
                Err(found) => problems.extend(found),
            }
        }
        if !problems.is_empty() {
            return Err(experiment.scenario_invalid(problems));
        }
        // The experiment's own variant, compiled above when it is a patch.
        let own = variants
            .iter()
            .position(|(v, _)| v.variant == experiment.variant);
        let baseline = match own {
            Some(i) => variants.remove(i),
            None => (experiment, written),
        };
        let (experiment, topology) = baseline;
        let (own, mut problems) = match compile(&experiment, topology) {
            Ok(parts) => (Some(parts), Vec::new()),
            Err(found) => (None, found),
        };
        // A problem every design shares (a fault past the end of the run)
        // is the scenario's, said once, not again under each variant.
        let shared: Vec<(String, String)> = problems
            .iter()
            .map(|p| (p.path.to_string(), p.message.clone()))
            .collect();
        let mut plans = Vec::with_capacity(variants.len() + 1);
        for (variant, topology) in variants {
            match compile(&variant, topology) {
                Ok(parts) => plans.push(parts.into_plan(variant)),
                Err(found) => {
                    let name = &variant.variant;
                    problems.extend(
                        found
                            .into_iter()
                            .filter(|p| !shared.contains(&(p.path.to_string(), p.message.clone())))
                            .map(|p| {
                                Problem::new(
                                    JsonPath::root().key("variants").key(name),
                                    format!("with this variant, {}: {}", p.path, p.message),
                                )
                                .with_suggestion(p.suggestion)
                            }),
                    );
                }
            }
        }
        match own {
            Some(parts) if problems.is_empty() => {
                plans.insert(0, parts.into_plan(experiment));
                Ok(plans)
            }
            _ => Err(experiment.scenario_invalid(problems)),
        }
    }
}

/// The topology of a model file, or of the model a scenario file names.
pub fn topology_of(path: &Path) -> Result<Topology> {
    let source = Source::read(path)?;
    if spec::looks_like_scenario(&source) {
        Ok(Plan::load(path)?.topology)
    } else {
        Topology::from_source(&source)
    }
}

/// What the scenario compiles to against its (variant's) model.
struct Parts {
    topology: Topology,
    faults: Vec<Fault>,
    phases: Phases,
    hypotheses: Vec<Hypothesis>,
    guards: Vec<Guard>,
}

impl Parts {
    fn into_plan(self, experiment: Experiment) -> Plan {
        let scenario = &experiment.scenario;
        let config = RunConfig {
            seed: scenario.seed,
            duration: scenario.duration.0,
            warmup: scenario.warmup.0,
            window: scenario.window.map_or(DEFAULT_WINDOW_NS, |w| w.0),
            per_instance: false,
            precision: scenario
                .percentile_digits
                .and_then(Precision::new)
                .unwrap_or_default(),
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
            guards: self.guards,
            config,
            metastable_after,
            experiment,
        }
    }
}

/// Most rows a run's `metrics.csv` may hold: one per window per entry,
/// service, endpoint and pool, and per instance when asked. A row is about 150 bytes on disk and about as
/// much in memory, where the recorder holds every row until the report is
/// drawn, so this is about 450 MB of each; a day at 1 s windows over 30
/// components fits.
pub const MAX_METRICS_ROWS: u64 = 3_000_000;

/// A window narrow enough, over a model large enough, writes more metrics
/// than a report can read back: refused before the run, with the fix.
fn check_output_size(
    scenario: &spec::ScenarioSpec,
    topology: &Topology,
    per_instance: bool,
) -> std::result::Result<(), Vec<Problem>> {
    let window = scenario.window.map_or(DEFAULT_WINDOW_NS, |w| w.0).max(1);
    let windows = scenario.duration.0.div_ceil(window);
    let components = (topology.workloads.len()
        + topology.services.len()
        + topology.endpoints.len()
        + topology.pool_groups.len()
        + if per_instance {
            topology.instances.len()
        } else {
            0
        }) as u64;
    let rows = windows.saturating_mul(components);
    if rows <= MAX_METRICS_ROWS {
        return Ok(());
    }
    let path = if scenario.window.is_some() {
        JsonPath::root().key("window")
    } else {
        JsonPath::root().key("duration")
    };
    let needed = spec::units::Duration(
        scenario
            .duration
            .0
            .div_ceil(MAX_METRICS_ROWS / components.max(1)),
    );
    Err(vec![Problem::new(
        path,
        format!(
            "{windows} windows × {components} components{} is {rows} rows of metrics, more than {MAX_METRICS_ROWS}; set a `window` of at least {needed}",
            if per_instance {
                " (instances included, for --per-instance)"
            } else {
                ""
            }
        ),
    )])
}

fn compile(
    experiment: &Experiment,
    topology: Topology,
) -> std::result::Result<Parts, Vec<Problem>> {
    let scenario = &experiment.scenario;
    check_output_size(scenario, &topology, false)?;
    let faults = faults::compile(scenario, &topology)?;
    let (warmup, duration) = (scenario.warmup.0, scenario.duration.0);
    let during = scenario.analysis.as_ref().and_then(|a| a.during);
    let phases = match during {
        Some(d) => Phases::new(warmup, duration, Some((d.from.0, d.to.0))),
        None => Phases::of(warmup, duration, &faults),
    };
    let window = scenario.window.map_or(DEFAULT_WINDOW_NS, |w| w.0);
    // Both, so that a scenario's every problem is said at once.
    let (hypotheses, guards) = match (
        hypothesis::compile(scenario, &topology, &phases),
        guard::compile(scenario, &topology, window),
    ) {
        (Ok(h), Ok(g)) => (h, g),
        (h, g) => {
            return Err(h.err().into_iter().chain(g.err()).flatten().collect());
        }
    };
    Ok(Parts {
        topology,
        faults,
        phases,
        hypotheses,
        guards,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::units::Duration;

    /// The shipped scenario with 1 ms windows over `windows` of them.
    fn with_windows(windows: u64) -> Plan {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/kill-app-server.json");
        let mut plan = Plan::load(&path).unwrap();
        let scenario = &mut plan.experiment.scenario;
        scenario.window = Some(Duration(1_000_000));
        scenario.duration = Duration(windows * 1_000_000);
        plan
    }

    #[test]
    fn per_instance_rows_count_against_the_row_cap() {
        let t = &with_windows(1).topology;
        let components =
            (t.workloads.len() + t.services.len() + t.endpoints.len() + t.pool_groups.len()) as u64;
        // As many windows as fit without the instances: fine by default,
        // too many with a row per instance besides.
        let windows = MAX_METRICS_ROWS / components;
        let plan = with_windows(windows);
        assert!(check_output_size(&plan.experiment.scenario, &plan.topology, false).is_ok());
        let err = plan.with_per_instance().unwrap_err().to_string();
        assert!(
            err.contains("instances included, for --per-instance"),
            "{err}"
        );
        assert!(err.contains("more than 3000000"), "{err}");
        // Well under the cap, it is switched on.
        let plan = with_windows(1000).with_per_instance().unwrap();
        assert!(plan.config.per_instance);
        assert!(plan.config(Some(3)).per_instance);
    }
}
