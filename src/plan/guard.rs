//! A scenario's stop guards resolved against the topology: each probe to
//! the component it watches, each threshold checked to fit, the span in
//! windows. The engine evaluates these, never the file.

use crate::error::{JsonPath, Problem};
use crate::spec::ScenarioSpec;
use crate::topology::{Component, Topology};

use super::hypothesis::probe_at;

/// One stop condition, ready for the engine.
#[derive(Clone, Debug, PartialEq)]
pub struct Guard {
    pub name: String,
    /// The probe as the scenario names it.
    pub probe: String,
    /// An entry, an endpoint or a service.
    pub component: Component,
    /// At least one; any trips the guard.
    pub limits: Vec<Limit>,
    /// Windows the error rate and p99 are taken over (at least 1).
    pub span: u32,
}

/// A figure that trips a guard when it passes its bound.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Limit {
    /// Failed share of the requests that ended over the span.
    ErrorRateAbove(f64),
    /// p99 (ns) of every request that ended over the span.
    P99Above(u64),
    /// Acknowledged writes lost in failovers since the run began.
    LostWritesAbove(u64),
}

impl Limit {
    /// The name the scenario gives it.
    pub fn name(self) -> &'static str {
        match self {
            Limit::ErrorRateAbove(_) => "error_rate_above",
            Limit::P99Above(_) => "p99_above",
            Limit::LostWritesAbove(_) => "lost_writes_above",
        }
    }

    /// The bound, in the unit the figure is measured in (a share, ns, or
    /// writes).
    pub fn bound(self) -> f64 {
        match self {
            Limit::ErrorRateAbove(share) => share,
            Limit::P99Above(ns) => ns as f64,
            Limit::LostWritesAbove(n) => n as f64,
        }
    }
}

/// Checks the stop guards of a scenario against its model: probes that
/// exist, lost writes only on a replicated database.
pub(super) fn compile(
    scenario: &ScenarioSpec,
    topology: &Topology,
    window: u64,
) -> Result<Vec<Guard>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut guards = Vec::new();
    for (name, spec) in &scenario.stop {
        let path = JsonPath::root().key("stop").key(name);
        let component = match probe_at(topology, &spec.probe, &path) {
            Ok(component) => component,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        if spec.lost_writes_above.is_some()
            && !matches!(component, Component::Service(s)
                if topology.services[s as usize].replication.is_some())
        {
            problems.push(Problem::new(
                path.key("lost_writes_above"),
                format!(
                    "`lost_writes_above` needs a replicated database probe; probe `{}` is not one",
                    spec.probe
                ),
            ));
        }
        let mut limits = Vec::new();
        limits.extend(spec.error_rate_above.map(|s| Limit::ErrorRateAbove(s.0)));
        limits.extend(spec.p99_above.map(|d| Limit::P99Above(d.0)));
        limits.extend(spec.lost_writes_above.map(Limit::LostWritesAbove));
        let span = spec.over.map_or(1, |over| (over.0 / window.max(1)).max(1)) as u32;
        guards.push(Guard {
            name: name.clone(),
            probe: spec.probe.clone(),
            component,
            limits,
            span,
        });
    }
    if problems.is_empty() {
        Ok(guards)
    } else {
        Err(problems)
    }
}
