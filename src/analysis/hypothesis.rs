//! Steady-state hypotheses: checks on a probe over a phase of the run,
//! each with the value measured, so a scenario is a test a pipeline can
//! gate on.

use serde::Serialize;

use super::Analysis;
use super::collect::{Collector, Phases};
use crate::error::{JsonPath, Problem};
use crate::observe::events::StateChange;
use crate::sim::RunSummary;
use crate::spec::ScenarioSpec;
use crate::spec::scenario::{CheckSpec, Phase};
use crate::topology::Component;
use crate::topology::Topology;

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

/// Checks the hypotheses of a scenario against its model: probes that
/// exist, checks that fit the probe, phases that are not empty.
pub fn check(
    scenario: &ScenarioSpec,
    topology: &Topology,
    phases: &Phases,
) -> Result<Vec<Component>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut probes = Vec::new();
    for (name, spec) in &scenario.hypothesis {
        let path = JsonPath::root().key("hypothesis").key(name);
        let Some(component) = resolve_probe(topology, &spec.probe) else {
            let mut names: Vec<&str> = topology.workloads.iter().map(|w| w.name.as_str()).collect();
            names.extend(topology.endpoints.iter().map(|e| e.full_name.as_str()));
            names.extend(topology.services.iter().map(|s| s.name.as_str()));
            let hint = crate::error::closest(&spec.probe, names.iter().copied())
                .map(|n| format!("did you mean `{n}`?"));
            problems.push(
                Problem::new(
                    path.key("probe"),
                    format!(
                        "unknown probe `{}`: expected a workload, an endpoint (`service.endpoint`) or a service",
                        spec.probe
                    ),
                )
                .with_suggestion(hint),
            );
            continue;
        };
        probes.push(component);
        if checks(spec).is_empty() {
            problems.push(Problem::new(
                path.clone(),
                "a hypothesis needs at least one check, e.g. \"error_rate_below\": \"1%\" or \"p99_below\": \"500ms\"",
            ));
        }
        let (from, to) = phases.span(spec.phase);
        if from >= to && spec.phase != Phase::Whole {
            let why = match spec.phase {
                Phase::During => "the faults take no time (an instance kill is an instant)",
                Phase::After => "the last fault lasts to the end of the run",
                _ => "the first fault starts when the warm-up ends",
            };
            problems.push(
                Problem::new(
                    path.key("phase"),
                    format!(
                        "phase `{}` is empty in this scenario: {why}",
                        spec.phase.name()
                    ),
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
        if spec.recover_within.is_some() && scenario.faults.is_empty() {
            problems.push(Problem::new(
                path.key("recover_within"),
                "`recover_within` needs a fault to recover from; this scenario has none",
            ));
        }
    }
    if problems.is_empty() {
        Ok(probes)
    } else {
        Err(problems)
    }
}

/// The thresholds a check sets, by name.
fn checks(spec: &CheckSpec) -> Vec<&'static str> {
    let mut out = Vec::new();
    let mut add = |set: bool, name| {
        if set {
            out.push(name);
        }
    };
    add(spec.error_rate_below.is_some(), "error_rate_below");
    add(spec.availability_above.is_some(), "availability_above");
    add(spec.p50_below.is_some(), "p50_below");
    add(spec.p90_below.is_some(), "p90_below");
    add(spec.p99_below.is_some(), "p99_below");
    add(spec.p999_below.is_some(), "p999_below");
    add(spec.queue_depth_at_most.is_some(), "queue_depth_at_most");
    add(spec.lost_writes_at_most.is_some(), "lost_writes_at_most");
    add(spec.pending_at_most.is_some(), "pending_at_most");
    add(spec.recover_within.is_some(), "recover_within");
    out
}

/// One threshold, the value measured against it, and whether it held.
#[derive(Clone, Debug, Serialize)]
pub struct CheckResult {
    pub check: &'static str,
    pub threshold: f64,
    /// `None`: nothing to measure (no successful request for a percentile,
    /// a probe that never recovered); the check fails.
    pub measured: Option<f64>,
    pub unit: &'static str,
    pub passed: bool,
}

#[derive(Clone, Debug, Serialize)]
pub struct Verdict {
    pub name: String,
    pub probe: String,
    pub phase: &'static str,
    pub from_s: f64,
    pub to_s: f64,
    pub passed: bool,
    pub checks: Vec<CheckResult>,
}

#[derive(Clone, Copy)]
enum Bound {
    Below,
    AtMost,
    Above,
}

fn judge(
    check: &'static str,
    threshold: f64,
    measured: Option<f64>,
    unit: &'static str,
    bound: Bound,
) -> CheckResult {
    let passed = measured.is_some_and(|m| match bound {
        Bound::Below => m < threshold,
        Bound::AtMost => m <= threshold,
        Bound::Above => m > threshold,
    });
    CheckResult {
        check,
        threshold: round(threshold),
        measured: measured.map(round),
        unit,
        passed,
    }
}

fn round(value: f64) -> f64 {
    (value * 1e6).round() / 1e6
}

/// Evaluates every hypothesis of the scenario on a finished run.
pub fn evaluate<O>(
    topology: &Topology,
    scenario: &ScenarioSpec,
    phases: &Phases,
    collector: &Collector<O>,
    analysis: &Analysis,
    summary: &RunSummary,
) -> Vec<Verdict> {
    let mut verdicts = Vec::new();
    for (name, spec) in &scenario.hypothesis {
        let component = resolve_probe(topology, &spec.probe)
            .expect("probes are checked when the scenario loads");
        let (from, to) = phases.span(spec.phase);
        let c = collector.index_of(component);
        let (mut ok, mut errors, mut queue_peak) = (0u64, 0u64, 0u64);
        for (w, window) in collector.windows.iter().enumerate() {
            if window.0 >= from
                && window.0 < to
                && let Some(c) = c
            {
                let s = collector.sample(w, c);
                ok += s.ok;
                errors += s.errors;
                queue_peak = queue_peak.max(s.queue_max);
            }
        }
        let finished = ok + errors;
        let error_rate = if finished == 0 {
            0.0
        } else {
            errors as f64 / finished as f64
        };
        let latency = collector
            .probes
            .iter()
            .find(|p| p.component == component)
            .map(|p| &p.phases[spec.phase as usize]);
        let quantile = |q: f64| {
            latency
                .filter(|h| !h.is_empty())
                .map(|h| h.value_at_quantile(q) as f64 / 1e6)
        };
        let mut results = Vec::new();
        if let Some(limit) = spec.error_rate_below {
            results.push(judge(
                "error_rate_below",
                limit.0,
                Some(error_rate),
                "share",
                Bound::Below,
            ));
        }
        if let Some(limit) = spec.availability_above {
            let availability = 1.0 - error_rate;
            results.push(judge(
                "availability_above",
                limit.0,
                Some(availability),
                "share",
                Bound::Above,
            ));
        }
        for (check, limit, q) in [
            ("p50_below", spec.p50_below, 0.50),
            ("p90_below", spec.p90_below, 0.90),
            ("p99_below", spec.p99_below, 0.99),
            ("p999_below", spec.p999_below, 0.999),
        ] {
            if let Some(limit) = limit {
                results.push(judge(
                    check,
                    limit.0 as f64 / 1e6,
                    quantile(q),
                    "ms",
                    Bound::Below,
                ));
            }
        }
        if let Some(limit) = spec.queue_depth_at_most {
            results.push(judge(
                "queue_depth_at_most",
                limit as f64,
                Some(queue_peak as f64),
                "requests",
                Bound::AtMost,
            ));
        }
        if let Some(limit) = spec.lost_writes_at_most {
            let Component::Service(s) = component else {
                unreachable!("checked when the scenario loads")
            };
            let topology_instances = &topology.services[s as usize].instances;
            let lost: u64 = collector
                .events
                .iter()
                .filter(|e| e.time >= from && e.time < to)
                .filter_map(|e| match e.change {
                    StateChange::PrimaryPromoted {
                        instance,
                        lost_writes,
                    } if topology_instances.contains(&instance) => Some(lost_writes as u64),
                    _ => None,
                })
                .sum();
            results.push(judge(
                "lost_writes_at_most",
                limit as f64,
                Some(lost as f64),
                "writes",
                Bound::AtMost,
            ));
        }
        if let Some(limit) = spec.pending_at_most {
            let Component::Service(s) = component else {
                unreachable!("checked when the scenario loads")
            };
            let pending = summary.queues[s as usize].pending_at_end;
            results.push(judge(
                "pending_at_most",
                limit as f64,
                Some(pending as f64),
                "items",
                Bound::AtMost,
            ));
        }
        if let Some(limit) = spec.recover_within {
            let (probe_name, _) = topology.component_name(component);
            let last_end = analysis.last_fault_end_s();
            let report = analysis
                .components
                .iter()
                .find(|r| r.component == probe_name);
            let measured = match (report, last_end) {
                (Some(r), Some(end)) if r.recovered => {
                    Some(r.recovered_s.map_or(0.0, |back| (back - end).max(0.0)))
                }
                _ => None,
            };
            results.push(judge(
                "recover_within",
                limit.0 as f64 / 1e9,
                measured,
                "s",
                Bound::AtMost,
            ));
        }
        let passed = results.iter().all(|r| r.passed);
        verdicts.push(Verdict {
            name: name.clone(),
            probe: spec.probe.clone(),
            phase: spec.phase.name(),
            from_s: from as f64 / 1e9,
            to_s: to as f64 / 1e9,
            passed,
            checks: results,
        });
    }
    verdicts
}

/// The lines `run` prints for the verdicts.
pub fn summary(verdicts: &[Verdict]) -> String {
    let mut out = String::new();
    for v in verdicts {
        let mark = if v.passed { "PASS" } else { "FAIL" };
        out.push_str(&format!(
            "{mark}  {} ({} {}, {:.0}–{:.0} s)\n",
            v.name, v.probe, v.phase, v.from_s, v.to_s
        ));
        for c in &v.checks {
            let measured = match c.measured {
                Some(m) => format_value(m, c.unit),
                None => "nothing to measure".to_string(),
            };
            out.push_str(&format!(
                "      {} {:<20} measured {} against {}\n",
                if c.passed { "✓" } else { "✗" },
                c.check,
                measured,
                format_value(c.threshold, c.unit)
            ));
        }
    }
    out
}

/// A measured value or threshold in its unit, as people read it.
pub fn format_value(value: f64, unit: &str) -> String {
    match unit {
        "share" => format!("{:.3} %", value * 100.0),
        "ms" => format!("{value:.1} ms"),
        "s" => format!("{value:.1} s"),
        other => format!("{value} {other}"),
    }
}
