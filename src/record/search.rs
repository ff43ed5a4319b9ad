//! `search.json`: what a search of the failure space found — the sets of
//! faults that break the scenario's hypotheses while none of their proper
//! subsets does, ranked, and the single faults the design survives.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::Tool;
use super::compare::{Estimate, InputRef, Seeds};

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct SearchReport {
    pub tool: Tool,
    pub scenario: InputRef,
    pub model: InputRef,
    pub variant: String,
    pub seeds: Seeds,
    /// The largest sets searched.
    pub depth: u32,
    /// When every fault of a set starts, and how long the lasting ones act.
    pub at_s: f64,
    pub for_s: f64,
    /// Work times of a slowed service are multiplied by this.
    pub slow_factor: f64,
    /// Share of an erroring service's requests that fail.
    pub error_share: f64,
    /// The hypotheses every set is judged by.
    pub hypotheses: Vec<String>,
    /// How each figure is taken, in words.
    pub notes: Vec<String>,
    /// Single faults the model offers, each standing for its identical
    /// instances: the sets of one run.
    pub singles: usize,
    pub levels: Vec<Level>,
    /// Every level up to `depth` was run; otherwise `stopped` says why not.
    pub complete: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped: Option<String>,
    /// The scenario with no fault at all: what every set is measured
    /// against.
    pub control: Candidate,
    /// The minimal breaking sets, ranked: most often broken first, then
    /// most failed requests, then slowest.
    pub minimal: Vec<Candidate>,
    /// Single faults under which every hypothesis held on every seed.
    pub survived: Vec<String>,
    /// The cascade of the first-ranked minimal set, on its first seed
    /// that broke.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst: Option<Worst>,
    /// Every set run, by size, in the order run.
    pub candidates: Vec<Candidate>,
}

/// One size of set.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Level {
    pub size: u32,
    /// Sets run.
    pub candidates: u64,
    pub runs: u64,
    /// Sets that broke a hypothesis on at least one seed: each minimal.
    pub broke: u64,
    /// Sets left out as duplicates of a set run, under the symmetry of
    /// identical instances.
    pub symmetric: u64,
    /// Sets left out for killing one instance twice.
    pub same_instance: u64,
    /// Sets left out because a smaller set in them already breaks.
    pub pruned: u64,
}

/// One set of faults over the seeds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Candidate {
    /// Its faults in words.
    pub faults: Vec<String>,
    /// Their keys in the scenario written for it.
    pub names: Vec<String>,
    pub runs: usize,
    /// Seeds on which some hypothesis did not hold.
    pub broke_runs: usize,
    pub break_rate: f64,
    /// Over the entry endpoints after the warm-up, as `compare` measures.
    pub availability: Estimate,
    pub error_rate: Estimate,
    pub p99_ms: Estimate,
    /// Per hypothesis that failed, on how many seeds.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub failed: IndexMap<String, usize>,
    /// Breaks while no proper subset does.
    pub minimal: bool,
    /// Its place among the minimal sets, from 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rank: Option<usize>,
    /// The scenario file written for it, relative to the search directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Worst {
    pub rank: usize,
    pub faults: Vec<String>,
    pub seed: u64,
    /// The cascade chain on one line, as `analysis.json` has it.
    pub chain: String,
    pub recovery: String,
}
