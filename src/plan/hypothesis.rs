//! A scenario's hypotheses resolved against the topology: each probe named
//! to the component it measures, each phase and threshold checked to fit,
//! once, when the scenario loads. The analysis judges these, never the file.

use crate::error::{JsonPath, Problem, closest};
use crate::spec::ScenarioSpec;
use crate::spec::scenario::{CheckSpec, LatencyOf};
use crate::topology::{Component, Topology};

use super::phases::{Phase, Phases};

/// One steady-state hypothesis, ready to judge.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    pub name: String,
    /// The probe as the scenario names it.
    pub probe: String,
    pub component: Component,
    pub phase: Phase,
    /// At least one; all must hold.
    pub thresholds: Vec<Threshold>,
    /// Which requests its latency percentiles are of.
    pub latency_of: LatencyOf,
}

/// A bound on one figure of the probe over the phase.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Threshold {
    /// Failed share of finished requests.
    ErrorRateBelow(f64),
    /// Successful share of finished requests.
    AvailabilityAbove(f64),
    /// A latency percentile (of all requests, or of successes as the
    /// hypothesis says); `limit` in ns.
    PercentileBelow {
        check: Check,
        quantile: f64,
        limit: u64,
    },
    QueueDepthAtMost(u64),
    LostWritesAtMost(u64),
    PendingAtMost(u64),
    /// Back in band for good this long (ns) after the last fault ended.
    RecoverWithin(u64),
    /// The p99 at most (1 + this) times the steady state's.
    P99RiseAtMost(f64),
    /// The error rate at most this much above the steady state's.
    ErrorRateRiseAtMost(f64),
    /// Successful requests per second at least this share of the steady
    /// state's.
    ThroughputAtLeast(f64),
}

/// A threshold by the name the scenario gives it, which `run.json` repeats
/// in each verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    ErrorRateBelow,
    AvailabilityAbove,
    P50Below,
    P90Below,
    P99Below,
    P999Below,
    QueueDepthAtMost,
    LostWritesAtMost,
    PendingAtMost,
    RecoverWithin,
    P99RiseAtMost,
    ErrorRateRiseAtMost,
    ThroughputAtLeast,
}

impl Check {
    pub fn name(self) -> &'static str {
        match self {
            Check::ErrorRateBelow => "error_rate_below",
            Check::AvailabilityAbove => "availability_above",
            Check::P50Below => "p50_below",
            Check::P90Below => "p90_below",
            Check::P99Below => "p99_below",
            Check::P999Below => "p999_below",
            Check::QueueDepthAtMost => "queue_depth_at_most",
            Check::LostWritesAtMost => "lost_writes_at_most",
            Check::PendingAtMost => "pending_at_most",
            Check::RecoverWithin => "recover_within",
            Check::P99RiseAtMost => "p99_rise_at_most",
            Check::ErrorRateRiseAtMost => "error_rate_rise_at_most",
            Check::ThroughputAtLeast => "throughput_at_least",
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl Threshold {
    pub fn check(&self) -> Check {
        match *self {
            Threshold::ErrorRateBelow(_) => Check::ErrorRateBelow,
            Threshold::AvailabilityAbove(_) => Check::AvailabilityAbove,
            Threshold::PercentileBelow { check, .. } => check,
            Threshold::QueueDepthAtMost(_) => Check::QueueDepthAtMost,
            Threshold::LostWritesAtMost(_) => Check::LostWritesAtMost,
            Threshold::PendingAtMost(_) => Check::PendingAtMost,
            Threshold::RecoverWithin(_) => Check::RecoverWithin,
            Threshold::P99RiseAtMost(_) => Check::P99RiseAtMost,
            Threshold::ErrorRateRiseAtMost(_) => Check::ErrorRateRiseAtMost,
            Threshold::ThroughputAtLeast(_) => Check::ThroughputAtLeast,
        }
    }

    /// Whether the threshold is relative to the steady state.
    pub fn is_relative(&self) -> bool {
        matches!(
            self,
            Threshold::P99RiseAtMost(_)
                | Threshold::ErrorRateRiseAtMost(_)
                | Threshold::ThroughputAtLeast(_)
        )
    }
}

/// Resolves a probe name: a workload, an endpoint (the workload's client
/// view when exactly one workload enters there), or a service.
pub fn resolve_probe(topology: &Topology, probe: &str) -> Option<Component> {
    if let Some(w) = topology.workloads.iter().position(|w| w.name == probe) {
        return Some(Component::Entry(w as u32));
    }
    if let Some(e) = topology.endpoints.iter().position(|e| e.full_name == probe) {
        let mut entering = topology
            .workloads
            .iter()
            .enumerate()
            .filter(|(_, w)| w.endpoint.index() == e);
        return Some(match (entering.next(), entering.next()) {
            (Some((w, _)), None) => Component::Entry(w as u32),
            _ => Component::Endpoint(e as u32),
        });
    }
    topology
        .services
        .iter()
        .position(|s| s.name == probe)
        .map(|s| Component::Service(s as u32))
}

/// The component `probe` names, or the problem at `path.probe`, with the
/// closest name.
pub(super) fn probe_at(
    topology: &Topology,
    probe: &str,
    path: &JsonPath,
) -> Result<Component, Problem> {
    resolve_probe(topology, probe).ok_or_else(|| {
        let mut names: Vec<&str> = topology.workloads.iter().map(|w| w.name.as_str()).collect();
        names.extend(topology.endpoints.iter().map(|e| e.full_name.as_str()));
        names.extend(topology.services.iter().map(|s| s.name.as_str()));
        let hint = closest(probe, names.iter().copied()).map(|n| format!("did you mean `{n}`?"));
        Problem::new(
            path.key("probe"),
            format!(
                "unknown probe `{probe}`: expected a workload, an endpoint (`service.endpoint`) or a service"
            ),
        )
        .with_suggestion(hint)
    })
}

/// Checks the hypotheses of a scenario against its model: probes that
/// exist, checks that fit the probe, phases that are not empty.
pub(super) fn compile(
    scenario: &ScenarioSpec,
    topology: &Topology,
    phases: &Phases,
) -> Result<Vec<Hypothesis>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut hypotheses = Vec::new();
    for (name, spec) in &scenario.hypothesis {
        let path = JsonPath::root().key("hypothesis").key(name);
        let component = match probe_at(topology, &spec.probe, &path) {
            Ok(component) => component,
            Err(problem) => {
                problems.push(problem);
                continue;
            }
        };
        let phase = Phase::from(spec.phase);
        let thresholds = thresholds(spec);
        if thresholds.is_empty() {
            problems.push(Problem::new(
                path.clone(),
                "a hypothesis needs at least one check, e.g. \"error_rate_below\": \"1%\" or \"p99_below\": \"500ms\"",
            ));
        }
        let (from, to) = phases.span(phase);
        if from >= to && phase != Phase::Whole {
            let why = match phase {
                Phase::During => "the faults take no time (an instance kill is an instant)",
                Phase::After => "the last fault lasts to the end of the run",
                _ => "the first fault starts when the warm-up ends",
            };
            problems.push(
                Problem::new(
                    path.key("phase"),
                    format!("phase `{}` is empty in this scenario: {why}", phase.name()),
                )
                .with_suggestion(Some("measure `whole` or another phase".into())),
            );
        }
        let service = match component {
            Component::Service(s) => Some(&topology.services[s as usize]),
            _ => None,
        };
        let mut misfit = |field: &str, needs: &str| {
            problems.push(Problem::new(
                path.key(field),
                format!("`{field}` needs {needs}; probe `{}` is not one", spec.probe),
            ));
        };
        if spec.queue_depth_at_most.is_some() && service.is_none() {
            misfit("queue_depth_at_most", "a service probe");
        }
        if spec.lost_writes_at_most.is_some() && service.is_none_or(|s| s.replication.is_none()) {
            misfit("lost_writes_at_most", "a replicated database probe");
        }
        if spec.pending_at_most.is_some() && service.is_none_or(|s| s.consumer.is_none()) {
            misfit("pending_at_most", "a queue service probe");
        }
        if spec.recover_within.is_some() && matches!(component, Component::Endpoint(_)) {
            misfit("recover_within", "a workload or service probe");
        }
        if let Some(relative) = thresholds.iter().find(|t| t.is_relative()) {
            let (from, to) = phases.span(Phase::Before);
            let field = relative.check().name();
            if phase == Phase::Before {
                problems.push(
                    Problem::new(
                        path.key("phase"),
                        format!("`{field}` compares a phase with the steady state, which is the `before` phase itself"),
                    )
                    .with_suggestion(Some("measure `during`, `after` or `whole`".into())),
                );
            } else if from >= to {
                problems.push(
                    Problem::new(
                        path.key(field),
                        format!("`{field}` compares with the steady state, from the end of the warm-up to the first fault; in this scenario the first fault starts when the warm-up ends"),
                    )
                    .with_suggestion(Some("start the first fault later than the warm-up".into())),
                );
            }
        }
        if spec.recover_within.is_some() && scenario.faults.is_empty() {
            problems.push(Problem::new(
                path.key("recover_within"),
                "`recover_within` needs a fault to recover from; this scenario has none",
            ));
        }
        hypotheses.push(Hypothesis {
            name: name.clone(),
            probe: spec.probe.clone(),
            component,
            phase,
            thresholds,
            latency_of: spec.latency_of,
        });
    }
    if problems.is_empty() {
        Ok(hypotheses)
    } else {
        Err(problems)
    }
}

/// The thresholds a check sets, in the order verdicts list them.
/// Whether a hypothesis as written has any check.
pub fn has_checks(spec: &CheckSpec) -> bool {
    !thresholds(spec).is_empty()
}

fn thresholds(spec: &CheckSpec) -> Vec<Threshold> {
    let mut out = Vec::new();
    out.extend(
        spec.error_rate_below
            .map(|s| Threshold::ErrorRateBelow(s.0)),
    );
    out.extend(
        spec.availability_above
            .map(|s| Threshold::AvailabilityAbove(s.0)),
    );
    for (check, limit, quantile) in [
        (Check::P50Below, spec.p50_below, 0.50),
        (Check::P90Below, spec.p90_below, 0.90),
        (Check::P99Below, spec.p99_below, 0.99),
        (Check::P999Below, spec.p999_below, 0.999),
    ] {
        out.extend(limit.map(|d| Threshold::PercentileBelow {
            check,
            quantile,
            limit: d.0,
        }));
    }
    out.extend(spec.queue_depth_at_most.map(Threshold::QueueDepthAtMost));
    out.extend(spec.lost_writes_at_most.map(Threshold::LostWritesAtMost));
    out.extend(spec.pending_at_most.map(Threshold::PendingAtMost));
    out.extend(spec.recover_within.map(|d| Threshold::RecoverWithin(d.0)));
    out.extend(spec.p99_rise_at_most.map(|s| Threshold::P99RiseAtMost(s.0)));
    out.extend(
        spec.error_rate_rise_at_most
            .map(|s| Threshold::ErrorRateRiseAtMost(s.0)),
    );
    out.extend(
        spec.throughput_at_least
            .map(|s| Threshold::ThroughputAtLeast(s.0)),
    );
    out
}
