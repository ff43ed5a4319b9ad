//! Where two runs' traces first part. Both runs are simulated again from
//! the inputs their `run.json` names (bytes checked, as replay does) with
//! an observer of every engine event, and walked in lockstep.
//!
//! Memory stays bounded by hashing: a first pass over each run keeps one
//! hash per block of `BLOCK` events (8 bytes per 1024 events: a megabyte
//! for a billion), the first block whose hashes differ is found, and a
//! second pass over each run keeps that block's events alone, named.

use std::path::Path;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::experiment::replay;
use crate::observe::Observer;
use crate::observe::events::StateEvent;
use crate::observe::metrics::Row;
use crate::observe::steps::Step;
use crate::plan::Plan;
use crate::sim::{Budget, simulate_guarded};
use crate::topology::Topology;

/// Events per hashed block.
const BLOCK: usize = 1024;

/// Every engine event of a run, as block hashes, and the events of one
/// block kept whole.
struct Blocks {
    hashes: Vec<u64>,
    hash: u64,
    in_block: usize,
    capture: Option<usize>,
    captured: Vec<Step>,
}

impl Blocks {
    fn new(capture: Option<usize>) -> Self {
        Blocks {
            hashes: Vec::new(),
            hash: 0,
            in_block: 0,
            capture,
            captured: Vec::new(),
        }
    }

    fn finish(mut self) -> Self {
        if self.in_block > 0 {
            self.hashes.push(self.hash);
        }
        self
    }
}

impl Observer for Blocks {
    fn window(&mut self, _: &Topology, _: &[Row]) {}
    fn state_change(&mut self, _: &Topology, _: &StateEvent) {}

    const STEPS: bool = true;
    fn step(&mut self, step: &Step) {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&step.time.to_le_bytes());
        bytes[8..].copy_from_slice(&step.word.to_le_bytes());
        self.hash = xxh3_64_with_seed(&bytes, self.hash);
        if self.capture == Some(self.hashes.len()) {
            self.captured.push(*step);
        }
        self.in_block += 1;
        if self.in_block == BLOCK {
            self.hashes.push(self.hash);
            self.hash = 0;
            self.in_block = 0;
        }
    }
}

/// A run that can be simulated again: its plan and seed.
pub(super) struct Rerun {
    pub(super) plan: Plan,
    pub(super) seed: u64,
    pub(super) recorded_digest: String,
}

/// The plan a run directory was made from, or why it cannot be had
/// (inputs moved or edited, a scenario that no longer compiles).
pub(super) fn rerun_of(dir: &Path, built_in: &[(&str, &str)]) -> Result<Rerun, String> {
    let recorded = replay::read_manifest(dir).map_err(|e| e.to_string())?;
    let (scenario, model) =
        replay::read_inputs(&recorded, dir, built_in).map_err(|e| e.to_string())?;
    if let Some(change) = replay::changed_inputs(&recorded, &scenario, &model).first() {
        return Err(change.to_string());
    }
    let plan = Plan::all_from_texts(scenario, model, &replay::settings(&recorded))
        .map_err(|e| e.to_string())?
        .swap_remove(0);
    let plan = replay::with_variant(plan, &recorded.variant, dir).map_err(|e| e.to_string())?;
    let plan = if recorded.per_instance {
        plan.with_per_instance().map_err(|e| e.to_string())?
    } else {
        plan
    };
    Ok(Rerun {
        plan,
        seed: recorded.seed,
        recorded_digest: recorded.engine.trace_digest,
    })
}

fn simulate(run: &Rerun, capture: Option<usize>, budget: Budget) -> (String, Blocks) {
    let (summary, blocks) = simulate_guarded(
        &run.plan.topology,
        &run.plan.faults,
        &run.plan.guards,
        run.plan.config(Some(run.seed)),
        budget,
        Blocks::new(capture),
    );
    (summary.trace_digest, blocks.finish())
}

/// What the lockstep walk found.
pub(super) enum Walk {
    /// Every engine event the same, in the same order at the same instants.
    Same,
    /// The first event that differs (`None`: that run had ended).
    Parted {
        index: u64,
        a: Option<Step>,
        b: Option<Step>,
    },
}

/// Walks both runs; `Err` says why a run could not be remade as recorded.
pub(super) fn walk(a: &Rerun, b: &Rerun, budget: Budget) -> Result<Walk, String> {
    let check = |which: &str, run: &Rerun, digest: &str| {
        if digest == run.recorded_digest {
            Ok(())
        } else {
            Err(format!(
                "run {which} simulated again gives trace digest {digest}, not the recorded {} \
                 (made by another faultline version, or stopped by the event budget)",
                run.recorded_digest
            ))
        }
    };
    let (digest_a, blocks_a) = simulate(a, None, budget);
    check("A", a, &digest_a)?;
    let (digest_b, blocks_b) = simulate(b, None, budget);
    check("B", b, &digest_b)?;
    let parted = (0..blocks_a.hashes.len().max(blocks_b.hashes.len()))
        .find(|&k| blocks_a.hashes.get(k) != blocks_b.hashes.get(k));
    let Some(block) = parted else {
        return Ok(Walk::Same);
    };
    let (_, again_a) = simulate(a, Some(block), budget);
    let (_, again_b) = simulate(b, Some(block), budget);
    let (steps_a, steps_b) = (again_a.captured, again_b.captured);
    let same = |x: &Step, y: &Step| x.time == y.time && x.word == y.word;
    let k = (0..steps_a.len().max(steps_b.len()))
        .find(|&k| match (steps_a.get(k), steps_b.get(k)) {
            (Some(x), Some(y)) => !same(x, y),
            _ => true,
        })
        // Hashes differ, so some event does; a collision inside the block
        // would leave none, and the block's end is then the best answer.
        .unwrap_or(steps_a.len().min(steps_b.len()));
    Ok(Walk::Parted {
        index: (block * BLOCK + k) as u64,
        a: steps_a.get(k).copied(),
        b: steps_b.get(k).copied(),
    })
}
