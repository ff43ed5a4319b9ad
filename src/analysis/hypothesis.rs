//! Steady-state hypotheses: checks on a probe over a phase of the run,
//! each with the value measured, so a scenario is a test a pipeline can
//! gate on.

use serde::{Deserialize, Serialize};

use super::Analysis;
use super::collect::Collector;
use crate::observe::events::StateChange;
use crate::plan::{Check, Hypothesis, Phase, Phases, Threshold};
use crate::sim::RunSummary;
use crate::spec::scenario::LatencyOf;
use crate::topology::Component;
use crate::topology::Topology;

/// What a threshold and its measured value count.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A fraction of finished requests.
    Share,
    Ms,
    S,
    Requests,
    Writes,
    Items,
}

impl Unit {
    pub fn name(self) -> &'static str {
        match self {
            Unit::Share => "share",
            Unit::Ms => "ms",
            Unit::S => "s",
            Unit::Requests => "requests",
            Unit::Writes => "writes",
            Unit::Items => "items",
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

/// One threshold, the value measured against it, and whether it held.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct CheckResult {
    pub check: Check,
    pub threshold: f64,
    /// `None`: nothing to measure (no successful request for a percentile,
    /// a probe that never recovered); the check fails.
    pub measured: Option<f64>,
    pub unit: Unit,
    pub passed: bool,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Verdict {
    pub name: String,
    pub probe: String,
    pub phase: Phase,
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
    AtLeast,
}

fn judge(
    check: Check,
    threshold: f64,
    measured: Option<f64>,
    unit: Unit,
    bound: Bound,
) -> CheckResult {
    let passed = measured.is_some_and(|m| match bound {
        Bound::Below => m < threshold,
        Bound::AtMost => m <= threshold,
        Bound::Above => m > threshold,
        Bound::AtLeast => m >= threshold,
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

/// Evaluates every hypothesis on a finished run.
pub fn evaluate<O>(
    topology: &Topology,
    hypotheses: &[Hypothesis],
    phases: &Phases,
    collector: &Collector<O>,
    analysis: &Analysis,
    summary: &RunSummary,
) -> Vec<Verdict> {
    hypotheses
        .iter()
        .map(|h| {
            let (from, to) = phases.span(h.phase);
            let measure = Measure {
                topology,
                hypothesis: h,
                span: (from, to),
                steady: phases.span(Phase::Before),
                collector,
                analysis,
                summary,
            };
            let checks: Vec<CheckResult> = h.thresholds.iter().map(|t| measure.judge(*t)).collect();
            Verdict {
                name: h.name.clone(),
                probe: h.probe.clone(),
                phase: h.phase,
                from_s: from as f64 / 1e9,
                to_s: to as f64 / 1e9,
                passed: checks.iter().all(|r| r.passed),
                checks,
            }
        })
        .collect()
}

/// What one hypothesis's probe did over its phase.
struct Measure<'a, O> {
    topology: &'a Topology,
    hypothesis: &'a Hypothesis,
    span: (u64, u64),
    /// The steady state relative thresholds compare with: the `before`
    /// phase.
    steady: (u64, u64),
    collector: &'a Collector<O>,
    analysis: &'a Analysis,
    summary: &'a RunSummary,
}

impl<O> Measure<'_, O> {
    /// Finished requests, failed ones, and the deepest queue, over the
    /// windows that start inside the phase. An entry's requests that were
    /// never answered count as failed in the window they arrived in.
    fn counts(&self) -> (u64, u64, u64) {
        self.counts_over(self.span)
    }

    fn counts_over(&self, (from, to): (u64, u64)) -> (u64, u64, u64) {
        let (mut ok, mut errors, mut queue_peak) = (0u64, 0u64, 0u64);
        let Some(c) = self.collector.index_of(self.hypothesis.component) else {
            return (0, 0, 0);
        };
        let unanswered = match self.hypothesis.component {
            Component::Entry(w) => self.summary.unanswered_by_window.get(w as usize),
            _ => None,
        };
        for (w, window) in self.collector.windows.iter().enumerate() {
            if window.0 >= from && window.0 < to {
                let s = self.collector.sample(w, c);
                ok += s.ok;
                errors += s.errors;
                errors += unanswered.and_then(|u| u.get(w)).copied().unwrap_or(0);
                queue_peak = queue_peak.max(s.queue_max);
            }
        }
        (ok, errors, queue_peak)
    }

    fn error_rate(&self) -> f64 {
        self.error_rate_over(self.span)
    }

    fn error_rate_over(&self, span: (u64, u64)) -> f64 {
        let (ok, errors, _) = self.counts_over(span);
        let finished = ok + errors;
        if finished == 0 {
            0.0
        } else {
            errors as f64 / finished as f64
        }
    }

    /// Successful requests per second over `span`; `None` for no time.
    fn throughput_over(&self, span: (u64, u64)) -> Option<f64> {
        let seconds = span.1.saturating_sub(span.0) as f64 / 1e9;
        (seconds > 0.0).then(|| self.counts_over(span).0 as f64 / seconds)
    }

    /// A latency quantile (ms) over the phase, of the probe's requests as
    /// the hypothesis says (all of them, or the successes).
    fn quantile(&self, q: f64) -> Option<f64> {
        self.quantile_in(self.hypothesis.phase, q)
    }

    fn quantile_in(&self, phase: Phase, q: f64) -> Option<f64> {
        let phase = phase as usize;
        self.collector
            .probes
            .iter()
            .find(|p| p.component == self.hypothesis.component)
            .map(|p| match self.hypothesis.latency_of {
                LatencyOf::All => &p.all[phase],
                LatencyOf::Successes => &p.ok[phase],
            })
            .filter(|h| !h.is_empty())
            .map(|h| h.value_at_quantile(q) as f64 / 1e6)
    }

    fn service(&self) -> usize {
        let Component::Service(s) = self.hypothesis.component else {
            unreachable!("checked when the scenario loads")
        };
        s as usize
    }

    fn lost_writes(&self) -> u64 {
        let (from, to) = self.span;
        let instances = &self.topology.services[self.service()].instances;
        self.collector
            .events
            .iter()
            .filter(|e| e.time >= from && e.time < to)
            .filter_map(|e| match e.change {
                StateChange::PrimaryPromoted {
                    instance,
                    lost_writes,
                } if instances.contains(&instance) => Some(lost_writes as u64),
                _ => None,
            })
            .sum()
    }

    /// Seconds from the last fault's end until the probe was back in band
    /// for good; `None` when it never was.
    fn recovery(&self) -> Option<f64> {
        let (probe_name, _) = self.topology.component_name(self.hypothesis.component);
        let report = self
            .analysis
            .components
            .iter()
            .find(|r| r.component == probe_name);
        match (report, self.analysis.last_fault_end_s()) {
            (Some(r), Some(end)) if r.recovered => {
                Some(r.recovered_s.map_or(0.0, |back| (back - end).max(0.0)))
            }
            _ => None,
        }
    }

    fn judge(&self, threshold: Threshold) -> CheckResult {
        let check = threshold.check();
        match threshold {
            Threshold::ErrorRateBelow(limit) => judge(
                check,
                limit,
                Some(self.error_rate()),
                Unit::Share,
                Bound::Below,
            ),
            Threshold::AvailabilityAbove(limit) => judge(
                check,
                limit,
                Some(1.0 - self.error_rate()),
                Unit::Share,
                Bound::Above,
            ),
            Threshold::PercentileBelow {
                quantile, limit, ..
            } => judge(
                check,
                limit as f64 / 1e6,
                self.quantile(quantile),
                Unit::Ms,
                Bound::Below,
            ),
            Threshold::QueueDepthAtMost(limit) => judge(
                check,
                limit as f64,
                Some(self.counts().2 as f64),
                Unit::Requests,
                Bound::AtMost,
            ),
            Threshold::LostWritesAtMost(limit) => judge(
                check,
                limit as f64,
                Some(self.lost_writes() as f64),
                Unit::Writes,
                Bound::AtMost,
            ),
            Threshold::PendingAtMost(limit) => judge(
                check,
                limit as f64,
                Some(self.summary.queues[self.service()].pending_at_end as f64),
                Unit::Items,
                Bound::AtMost,
            ),
            // Relative thresholds measure the change from the steady
            // state, so the verdict reads as the scenario wrote it.
            Threshold::P99RiseAtMost(limit) => judge(
                check,
                limit,
                self.quantile(0.99)
                    .zip(self.quantile_in(Phase::Before, 0.99))
                    .filter(|(_, steady)| *steady > 0.0)
                    .map(|(now, steady)| now / steady - 1.0),
                Unit::Share,
                Bound::AtMost,
            ),
            Threshold::ErrorRateRiseAtMost(limit) => judge(
                check,
                limit,
                Some(self.error_rate() - self.error_rate_over(self.steady)),
                Unit::Share,
                Bound::AtMost,
            ),
            Threshold::ThroughputAtLeast(limit) => judge(
                check,
                limit,
                self.throughput_over(self.span)
                    .zip(self.throughput_over(self.steady))
                    .filter(|(_, steady)| *steady > 0.0)
                    .map(|(now, steady)| now / steady),
                Unit::Share,
                Bound::AtLeast,
            ),
            Threshold::RecoverWithin(limit) => judge(
                check,
                limit as f64 / 1e9,
                self.recovery(),
                Unit::S,
                Bound::AtMost,
            ),
        }
    }
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
            out.push_str(&format!("      {}\n", check_line(c)));
        }
    }
    out
}

/// One check in words, as every verdict prints it:
/// `✗ error_rate_below        measured 3.100 % against 2.000 %`.
pub fn check_line(c: &CheckResult) -> String {
    let measured = match c.measured {
        Some(m) => format_value(m, c.unit),
        None => "nothing to measure".to_string(),
    };
    format!(
        "{} {:<23} measured {} against {}",
        if c.passed { "✓" } else { "✗" },
        c.check,
        measured,
        format_value(c.threshold, c.unit)
    )
}

/// A measured value or threshold in its unit, as people read it.
pub fn format_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Share => format!("{:.3} %", value * 100.0),
        Unit::Ms => format!("{value:.1} ms"),
        Unit::S => format!("{value:.1} s"),
        Unit::Requests | Unit::Writes | Unit::Items => format!("{value} {unit}"),
    }
}
