//! `search`: the smallest failures that break a design. From the model
//! alone, every single fault it offers (`space`); each run against the
//! scenario's hypotheses over a few seeds, paired as `compare` pairs them;
//! then pairs of the faults that did not break it, then triples of those
//! whose pairs did not, so that every set that breaks is minimal — none of
//! its proper subsets breaks.
//!
//! A level (the sets of one size) is a grid of sets × seeds like
//! `compare`'s, run in any order on any number of threads and put back in
//! grid order. What a level runs depends only on the levels below it, so a
//! shard runs those in full and its slice of the last one, and every shard
//! agrees on what the last one is.

pub mod output;
pub mod partial;
pub mod space;

use std::collections::HashSet;
use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::compare::report::Inputs;
use crate::compare::{RunFigures, Seeds};
use crate::error::{Error, JsonPath, Problem, Result};
use crate::plan::Plan;
use crate::sim::Budget;
use crate::spec::scenario::DuringSpec;
use crate::spec::units::Duration;
pub use space::{Enumerated, Set, Severity, Space, Window};

/// The deepest search: sets of up to three faults.
pub const MAX_DEPTH: u32 = 3;

/// What a search is of: the inputs (as a comparison names them, for a
/// merge to check), and everything that decides which sets run.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchInputs {
    pub inputs: Inputs,
    pub variant: String,
    pub depth: u32,
    pub window: Window,
    pub severity: Severity,
    pub max_candidates: u64,
    pub hypotheses: Vec<String>,
    pub space: Space,
    /// The scenario as written, for the scenario written per minimal set.
    pub template: crate::spec::ScenarioSpec,
    /// The scenario file's directory, absolute: the model path in
    /// `template` is relative to it.
    pub scenario_dir: PathBuf,
}

/// One run of one set on one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub seed: u64,
    pub figures: RunFigures,
    /// The hypotheses that did not hold.
    pub failed: Vec<String>,
    /// The cascade chain on one line, and how the run ended.
    pub chain: String,
    pub recovery: String,
}

impl RunRecord {
    pub fn broke(&self) -> bool {
        !self.failed.is_empty()
    }
}

/// One level run: its sets, what was left out, and the runs, set-major
/// (set `c` on seed `s` at `c * seeds + s`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LevelRun {
    pub size: u32,
    pub enumerated: Enumerated,
    pub runs: Vec<RunRecord>,
}

impl LevelRun {
    /// Whether set `c` broke a hypothesis on some seed.
    pub fn broke(&self, c: usize, seeds: u64) -> bool {
        let per = seeds as usize;
        self.runs[c * per..(c + 1) * per]
            .iter()
            .any(RunRecord::broke)
    }
}

/// A scenario's plan, ready to be searched.
pub struct Search {
    pub plan: Plan,
    pub inputs: SearchInputs,
}

/// What the command line decides.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub depth: u32,
    pub seeds: Seeds,
    pub severity: Severity,
    /// When the faults start and how long they last; `None` for the
    /// scenario's own window (see `default_window`).
    pub at_ns: Option<u64>,
    pub for_ns: Option<u64>,
    pub max_candidates: u64,
}

fn refuse(file: &std::path::Path, path: JsonPath, message: String) -> Error {
    Error::Invalid {
        file: file.to_path_buf(),
        problems: vec![Problem::new(path, message)],
    }
}

/// The window the scenario's own faults use: from the first one's start to
/// the last lasting one's end; without a lasting fault, a minute (at most
/// half of what is left of the run); without any fault, the middle third
/// of the measured run.
pub fn default_window(plan: &Plan) -> Window {
    let duration = plan.config.duration;
    let warmup = plan.config.warmup;
    let second = 1_000_000_000;
    let Some(at) = plan.faults.iter().map(|f| f.start).min() else {
        let third = (duration - warmup) / 3 / second * second;
        return Window {
            at_ns: warmup + third,
            for_ns: third.max(second),
        };
    };
    let end = plan.faults.iter().filter_map(|f| f.end).max();
    let for_ns = match end {
        Some(end) if end > at => end - at,
        _ => (60 * second).min((duration - at) / 2).max(second),
    };
    Window { at_ns: at, for_ns }
}

impl Search {
    /// Compiles the search: the plan's variant, its hypotheses, the window,
    /// and the failure space of its model. A scenario without hypotheses,
    /// or a window outside the run, is bad input.
    pub fn new(plan: Plan, settings: Settings) -> Result<Search> {
        let file = plan.experiment.scenario_source.path.clone();
        if plan.hypotheses.is_empty() {
            return Err(refuse(
                &file,
                JsonPath::root().key("hypothesis"),
                "a search judges each set of faults by the scenario's hypotheses, and it has none; add one (such as `{\"probe\": \"<workload>\", \"error_rate_below\": \"1%\"}`)".to_string(),
            ));
        }
        let fallback = default_window(&plan);
        let window = Window {
            at_ns: settings.at_ns.unwrap_or(fallback.at_ns),
            for_ns: settings.for_ns.unwrap_or(fallback.for_ns),
        };
        let (duration, warmup) = (plan.config.duration, plan.config.warmup);
        if window.at_ns < warmup || window.at_ns >= duration || window.for_ns == 0 {
            return Err(refuse(
                std::path::Path::new("--at"),
                JsonPath::root(),
                format!(
                    "the faults must start after the warm-up ({}) and before the end of the run ({}), and last a while; found --at {} --for {}",
                    crate::spec::units::Duration(warmup),
                    crate::spec::units::Duration(duration),
                    crate::spec::units::Duration(window.at_ns),
                    crate::spec::units::Duration(window.for_ns)
                ),
            ));
        }
        let space = Space::of(&plan.topology, window, settings.severity);
        let template = plan.experiment.written_scenario()?;
        let scenario_dir = std::path::absolute(&file)
            .ok()
            .and_then(|p| p.parent().map(|d| d.to_path_buf()))
            .unwrap_or_default();
        let inputs = SearchInputs {
            inputs: Inputs::from_variants(std::slice::from_ref(&plan), settings.seeds),
            variant: plan.experiment.variant.clone(),
            depth: settings.depth,
            window,
            severity: settings.severity,
            max_candidates: settings.max_candidates,
            hypotheses: plan.hypotheses.iter().map(|h| h.name.clone()).collect(),
            space,
            template,
            scenario_dir,
        };
        let search = Search { plan, inputs };
        // Every single fault compiles against the model, or the space is
        // wrong: found here, before anything runs.
        for a in 0..search.inputs.space.len() as u32 {
            search.plan_of(&[a])?;
        }
        Ok(search)
    }

    pub fn seeds(&self) -> Seeds {
        self.inputs.inputs.seeds
    }

    /// The plan of one set: the scenario with these faults and no others,
    /// no stop guards, judged over the same phases as every other set (the
    /// window's). The control, with no fault, has no recovery to time: its
    /// `recover_within` checks are left out (and a hypothesis with no other
    /// check with them).
    pub fn plan_of(&self, set: &[u32]) -> Result<Plan> {
        let window = self.inputs.window;
        let faults = self.inputs.space.faults(set);
        let control = set.is_empty();
        self.plan.with_scenario(|scenario| {
            scenario.faults = faults;
            scenario.stop.clear();
            scenario.analysis.get_or_insert_default().during = Some(DuringSpec {
                from: Duration(window.at_ns),
                to: Duration((window.at_ns + window.for_ns).min(scenario.duration.0)),
            });
            if control {
                for check in scenario.hypothesis.values_mut() {
                    check.recover_within = None;
                }
                scenario
                    .hypothesis
                    .retain(|_, check| crate::plan::has_checks(check));
            }
        })
    }

    /// The sets of the next level after `done`, or `None` past the depth.
    /// Level 0 is the control: the scenario with no fault.
    pub fn next_level(&self, done: &[LevelRun]) -> Option<Enumerated> {
        next_level(&self.inputs, done)
    }

    /// Runs the given cells of a level (`k`: set `k / seeds` on seed
    /// `first + k % seeds`) on `jobs` threads, in the order of `cells`.
    /// `on_run` sees each run as it ends, from any thread.
    pub fn run_cells(
        &self,
        sets: &[Set],
        cells: &[u64],
        jobs: usize,
        budget: Budget,
        on_run: &(dyn Fn(&RunRecord) + Sync),
    ) -> Result<Vec<RunRecord>> {
        let seeds = self.seeds();
        crate::compare::pool(jobs).install(|| {
            cells
                .par_iter()
                .map(|&k| {
                    let plan = self.plan_of(&sets[(k / seeds.count) as usize])?;
                    let seed = seeds.nth(k % seeds.count);
                    let evaluation = crate::experiment::evaluate(&plan, seed, budget)?;
                    let record = RunRecord {
                        seed,
                        figures: crate::compare::figures(&plan, &evaluation),
                        failed: evaluation
                            .manifest
                            .hypothesis
                            .iter()
                            .filter(|v| !v.passed)
                            .map(|v| v.name.clone())
                            .collect(),
                        chain: evaluation.analysis.chain_text.clone(),
                        recovery: evaluation.analysis.recovery_text.clone(),
                    };
                    on_run(&record);
                    Ok(record)
                })
                .collect()
        })
    }

    /// Runs a whole level.
    pub fn run_level(
        &self,
        enumerated: Enumerated,
        size: u32,
        jobs: usize,
        budget: Budget,
        on_run: &(dyn Fn(&RunRecord) + Sync),
    ) -> Result<LevelRun> {
        let cells: Vec<u64> = (0..enumerated.sets.len() as u64 * self.seeds().count).collect();
        let runs = self.run_cells(&enumerated.sets, &cells, jobs, budget, on_run)?;
        Ok(LevelRun {
            size,
            enumerated,
            runs,
        })
    }
}

/// The sets of the level after `done` (see `Search::next_level`).
pub fn next_level(inputs: &SearchInputs, done: &[LevelRun]) -> Option<Enumerated> {
    let size = done.len() as u32;
    if size > inputs.depth {
        return None;
    }
    if size == 0 {
        return Some(Enumerated {
            sets: vec![Vec::new()],
            ..Enumerated::default()
        });
    }
    let seeds = inputs.inputs.seeds.count;
    let breaks: HashSet<Set> = done
        .iter()
        .skip(1)
        .flat_map(|level| {
            level
                .enumerated
                .sets
                .iter()
                .enumerate()
                .filter(|(c, _)| level.broke(*c, seeds))
                .map(|(_, set)| set.clone())
        })
        .collect();
    Some(inputs.space.sets(size as usize, &breaks))
}

/// Sets run so far and in `next`, against the budget.
pub fn over_budget(inputs: &SearchInputs, done: &[LevelRun], next: &Enumerated) -> Option<String> {
    let so_far: u64 = done.iter().map(|l| l.enumerated.sets.len() as u64).sum();
    let total = so_far + next.sets.len() as u64;
    (total > inputs.max_candidates).then(|| {
        format!(
            "sets of {} faults: {} to run after {} already run, {} in all, above --max-candidates {}",
            done.len(),
            next.sets.len(),
            so_far,
            total,
            inputs.max_candidates
        )
    })
}
