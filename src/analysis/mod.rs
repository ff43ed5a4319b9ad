//! Cascade analysis: what the run did to each component, in what order,
//! through which dependency, and how long detection and recovery took.
//!
//! Each component's steady band is learned from the warm-up windows before
//! the first fault. A window leaves the band when the component's error
//! rate, latency (on enough of the traffic it still receives) or
//! saturation (every worker or connection busy, queue or not) does, or when
//! nothing it received was answered. Every fault is a root of the chain;
//! each component's episode out of band is linked to what explains it: a
//! fault acting on it at the time, else a neighbour in the dependency graph
//! already out of band. Everything comes from the metrics rows and the
//! state changes the engine emitted; nothing here knows a scenario.

mod acts;
mod band;
mod chain;
pub mod collect;
pub mod hypothesis;
mod judge;
mod summary;
mod times;

use serde::{Deserialize, Serialize};

use crate::faults::{Fault, FaultKind};
use crate::plan::RunConfig;
use crate::sim::RunSummary;
use crate::topology::Topology;
use crate::topology::{Component, ComponentKind};
use band::Steady;
pub use band::{Band, Reason};
use collect::Collector;
use judge::Judged;

/// How a component fared in a window.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    Healthy,
    Degraded,
    Down,
}

impl Health {
    pub fn name(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Down => "down",
        }
    }
}

impl std::fmt::Display for Health {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct FaultInfo {
    pub name: String,
    pub kind: FaultKind,
    pub targets: Vec<String>,
    pub start_s: f64,
    /// `None`: it lasts to the end of the run.
    pub end_s: Option<f64>,
}

/// What a link of the cascade chain is: the fault that started it, or a
/// component, by its kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepKind {
    Fault,
    #[serde(untagged)]
    Component(ComponentKind),
}

impl StepKind {
    pub fn name(self) -> &'static str {
        match self {
            StepKind::Fault => "fault",
            StepKind::Component(kind) => kind.name(),
        }
    }
}

impl std::fmt::Display for StepKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// One link of the cascade chain.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Step {
    pub component: String,
    pub kind: StepKind,
    /// When it was hit: the first window out of band, or for a target of
    /// the fault, the fault's start.
    pub onset_s: f64,
    /// The first window its metrics showed it out of band.
    pub observed_s: f64,
    pub health: Health,
    pub reason: String,
    /// The already-degraded neighbour (or the fault) it was reached through.
    pub via: Option<String>,
    /// Edges from its root fault's targets in the dependency graph.
    pub distance: Option<u32>,
    /// The fault its links lead back to; `None` for a fault and for a
    /// component nothing explains.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub root: Option<String>,
}

/// A span of windows in one state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Span {
    pub from_s: f64,
    pub to_s: f64,
    pub health: Health,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ComponentReport {
    pub component: String,
    pub kind: ComponentKind,
    pub worst: Health,
    /// First window out of band after the first fault.
    pub onset_s: Option<f64>,
    /// Start of the window from which it stayed in band to the end (after
    /// the first fault; a blip long after the faults ended aside); `None`
    /// when it never left the band or never came back.
    pub recovered_s: Option<f64>,
    /// Never out of band after the first fault, or back in band for the
    /// last seconds of the run (one window is not enough).
    pub recovered: bool,
    pub timeline: Vec<Span>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Moment {
    pub at_s: f64,
    /// Seconds after the fault's act it answers (detection: the kill of the
    /// instance ejected, not the start of a chaos monkey's schedule), or
    /// after the first fault acted.
    pub after_fault_s: f64,
    pub by: String,
    /// The fault `after_fault_s` is timed from, when it is one fault's act.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault: Option<String>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Times {
    /// First sign the system noticed on a component the faults reached: an
    /// ejection, a breaker opening, a memory alert, a failover, an OOM kill.
    pub detected: Option<Moment>,
    /// Every entry endpoint back inside its band for good while a fault
    /// still acts (the design spares its users); `None` when users saw the
    /// faults for as long as they acted.
    pub mitigated: Option<Moment>,
    /// Seconds from the last fault's end until every component stayed back
    /// inside its band; 0 when nothing was out of band by then.
    pub time_to_recover_s: Option<f64>,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct EntryImpact {
    pub entry: String,
    pub affected: bool,
    /// The span counted, `[from, to)` seconds: from the first fault's
    /// window until everything was back in band (the end of the run if it
    /// never was).
    pub from_s: f64,
    pub to_s: f64,
    pub requests: u64,
    pub failed: u64,
    pub failed_share: f64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BlastRadius {
    pub entries: Vec<EntryImpact>,
    pub components_affected: usize,
    pub lost_writes: u64,
    /// Writes acknowledged by a deposed primary (split brain); written only
    /// when there were any.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub divergent_writes: u64,
    /// Work accepted by queues and never done by the end.
    pub queued_work_never_done: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// `analysis.json`, as written and as the report reads it back.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Analysis {
    /// Windows the steady bands were learned from, `[from, to)` seconds.
    pub steady_from_s: f64,
    pub steady_to_s: f64,
    pub faults: Vec<FaultInfo>,
    /// The fault that started it, then each degraded component by onset.
    pub chain: Vec<Step>,
    /// The chain on one line.
    pub chain_text: String,
    pub times: Times,
    /// Every component back inside its band by the end of the run.
    pub recovered: bool,
    /// Every fault ended, nothing left unrepaired, and still out of band
    /// `metastable_after` past the last fault's end: it does not heal.
    pub metastable: bool,
    /// How the run ended, and the same in words.
    pub recovery: RecoveryKind,
    pub recovery_text: String,
    pub blast_radius: BlastRadius,
    /// Per entry, service and pool: its state over time.
    pub components: Vec<ComponentReport>,
    /// The service dependency graph (caller → callee, with the calls it
    /// carries) and the entries, so a report can draw the architecture
    /// from this file alone.
    pub dependencies: Vec<Dependency>,
}

/// How a run with faults ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecoveryKind {
    NoFaults,
    /// Every fault ended and everything came back inside its band.
    Recovered,
    /// A fault lasts to the end of the run: recovery cannot be judged.
    FaultLasts,
    /// Instances killed that no mechanism brought back.
    Unrepaired,
    /// Every fault ended, nothing is broken, and it stays out of band.
    Metastable,
    /// Out of band at the end, but not for long enough to call it
    /// metastable.
    NotRecovered,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Dependency {
    pub from: String,
    pub to: String,
    pub calls: Vec<String>,
}

fn dependencies(topology: &Topology) -> Vec<Dependency> {
    let graph = crate::topology::graph::dependency_graph(topology);
    let name = |n: petgraph::graph::NodeIndex| topology.services[graph[n].index()].name.clone();
    let mut out: Vec<Dependency> = topology
        .workloads
        .iter()
        .map(|w| Dependency {
            from: w.name.clone(),
            to: topology.services[topology.endpoints[w.endpoint.index()].service.index()]
                .name
                .clone(),
            calls: vec![topology.endpoints[w.endpoint.index()].full_name.clone()],
        })
        .collect();
    out.extend(graph.raw_edges().iter().map(|e| Dependency {
        from: name(e.source()),
        to: name(e.target()),
        calls: e.weight.clone(),
    }));
    out
}

fn seconds(ns: u64) -> f64 {
    (ns as f64 / 1e6).round() / 1e3
}

/// Which components the cascade is told in: what users see (entries),
/// services and connection pools. Endpoints repeat their service.
fn in_chain(component: Component) -> bool {
    !matches!(component, Component::Endpoint(_))
}

/// What the steps of an analysis read: the run's topology, faults and
/// collected windows, and the instants that frame the judgement.
struct Run<'a, O> {
    topology: &'a Topology,
    faults: &'a [Fault],
    collector: &'a Collector<O>,
    components: &'a [Component],
    windows: &'a [(u64, u64)],
    duration: u64,
    first_fault: Option<u64>,
    /// When the last fault stopped acting (its end, or the run's).
    last_end: Option<u64>,
    /// The first window judged for onset: the first that ends after the
    /// first fault starts.
    fault_window: Option<usize>,
}

/// Builds the analysis of a finished run.
///
/// `metastable_after`: how long past the last fault's end a run still out
/// of band is called metastable.
pub fn analyse<O>(
    topology: &Topology,
    faults: &[Fault],
    collector: &Collector<O>,
    summary: &RunSummary,
    config: &RunConfig,
    metastable_after: u64,
) -> Analysis {
    let run = Run::new(topology, faults, collector, config.duration);
    let steady = Steady::learn(
        collector,
        config.warmup,
        run.first_fault.unwrap_or(run.duration),
    );
    let judged = run.judge(&steady.bands);
    let (steady_from_s, steady_to_s) = steady.seconds(run.windows);
    let acts = run.acts();
    let chain = chain::cascade(&run, &judged, &acts);
    let chain_components = run.chain_components();
    let recovery = run.recovery(&judged, &chain_components, &acts, metastable_after);
    let blast_radius = run.blast_radius(&judged, &chain, &chain_components, &acts, summary);
    let times = Times {
        detected: run.detection(&acts, &chain),
        mitigated: run.mitigation(&judged, &acts),
        time_to_recover_s: recovery.time_to_recover_s,
    };
    Analysis {
        steady_from_s,
        steady_to_s,
        faults: run.fault_infos(),
        chain_text: chain::text(&chain),
        chain,
        times,
        recovered: recovery.recovered,
        metastable: recovery.kind == RecoveryKind::Metastable,
        recovery: recovery.kind,
        recovery_text: recovery.text,
        blast_radius,
        components: chain_components
            .into_iter()
            .map(|c| judged.reports[c].clone())
            .collect(),
        dependencies: dependencies(topology),
    }
}

impl<'a, O> Run<'a, O> {
    fn new(
        topology: &'a Topology,
        faults: &'a [Fault],
        collector: &'a Collector<O>,
        duration: u64,
    ) -> Self {
        let windows = &collector.windows;
        let first_fault = faults.iter().map(|f| f.start).min();
        Run {
            topology,
            faults,
            collector,
            components: &collector.components,
            windows,
            duration,
            first_fault,
            last_end: faults.iter().map(|f| f.ends_at().unwrap_or(duration)).max(),
            fault_window: first_fault.map(|t| windows.iter().take_while(|w| w.1 <= t).count()),
        }
    }

    /// The entries' component indices.
    fn entries(&self) -> Vec<usize> {
        (0..self.components.len())
            .filter(|c| matches!(self.components[*c], Component::Entry(_)))
            .collect()
    }

    /// The entries', services' and pools' component indices: those the
    /// chain and the report tell.
    fn chain_components(&self) -> Vec<usize> {
        (0..self.components.len())
            .filter(|c| in_chain(self.components[*c]))
            .collect()
    }

    fn fault_infos(&self) -> Vec<FaultInfo> {
        self.faults
            .iter()
            .map(|f| FaultInfo {
                name: f.name.clone(),
                kind: f.kind,
                targets: f
                    .services(self.topology)
                    .into_iter()
                    .map(|s| self.topology.services[s as usize].name.clone())
                    .collect(),
                start_s: seconds(f.start),
                end_s: f.ends_at().map(seconds),
            })
            .collect()
    }

    /// What the faults cost: each entry's failures, the components the
    /// chain reached, the writes lost and the queued work dropped.
    fn blast_radius(
        &self,
        judged: &Judged,
        chain: &[Step],
        chain_components: &[usize],
        acts: &[acts::Acts],
        summary: &RunSummary,
    ) -> BlastRadius {
        let mut reached: Vec<&str> = chain
            .iter()
            .filter(|s| s.kind != StepKind::Fault)
            .map(|s| s.component.as_str())
            .collect();
        reached.sort_unstable();
        reached.dedup();
        BlastRadius {
            entries: self.impacts(judged, chain_components, acts),
            components_affected: reached.len(),
            lost_writes: summary.lost_writes.iter().sum(),
            divergent_writes: summary.divergent_writes.iter().sum(),
            queued_work_never_done: summary.queues.iter().map(|q| q.pending_at_end).sum(),
        }
    }

    /// What each entry's users saw from the first fault's window until the
    /// system was back: the requests after it would dilute the share.
    fn impacts(
        &self,
        judged: &Judged,
        chain_components: &[usize],
        acts: &[acts::Acts],
    ) -> Vec<EntryImpact> {
        let windows = self.windows.len();
        let from = self.fault_window.unwrap_or(windows);
        let to = if chain_components
            .iter()
            .all(|c| judged.reports[*c].recovered)
        {
            let damage = acts.iter().map(|a| a.until).max().unwrap_or(0);
            let damaged = self.windows.iter().take_while(|w| w.0 < damage).count();
            chain_components
                .iter()
                .filter_map(|c| judged.recovered_at[*c])
                .fold(damaged, usize::max)
                .clamp(from.min(windows), windows)
        } else {
            windows
        };
        let at = |w: usize| {
            self.windows
                .get(w)
                .map_or(seconds(self.duration), |x| seconds(x.0))
        };
        self.entries()
            .iter()
            .map(|c| {
                let (requests, failed) = (from..to).fold((0, 0), |(r, f), w| {
                    let s = self.collector.sample(w, *c);
                    (r + s.finished(), f + s.errors)
                });
                EntryImpact {
                    entry: judged.reports[*c].component.clone(),
                    affected: judged.onsets[*c].is_some(),
                    from_s: at(from),
                    to_s: at(to),
                    requests,
                    failed,
                    failed_share: if requests == 0 {
                        0.0
                    } else {
                        (failed as f64 / requests as f64 * 1e6).round() / 1e6
                    },
                }
            })
            .collect()
    }
}

impl Analysis {
    /// When the last fault stopped acting (s); `None` without faults or when
    /// one lasts to the end of the run.
    pub fn last_fault_end_s(&self) -> Option<f64> {
        if self.faults.is_empty() {
            return None;
        }
        self.faults
            .iter()
            .try_fold(0.0f64, |last, f| f.end_s.map(|end| last.max(end)))
    }

    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).expect("analysis serialises");
        text.push('\n');
        text
    }
}
