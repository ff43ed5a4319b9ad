//! `compare.json`: per variant, each figure's mean over the seeds with its
//! interval and the paired difference against the baseline, and the
//! ranking.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::Tool;

/// An input file of the comparison.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputRef {
    pub name: String,
    pub file: String,
    /// Canonical SHA-256, as in `run.json`.
    pub sha256: String,
}

/// The seeds of a comparison: `first`, `first + 1`, … (`count` of them),
/// `first` being the scenario's seed unless overridden.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seeds {
    pub first: u64,
    pub count: u64,
}

impl Seeds {
    pub fn nth(&self, i: u64) -> u64 {
        self.first.wrapping_add(i)
    }
}

/// A sample mean and its confidence interval. `low`/`high` are absent with
/// fewer than two values (no spread to estimate); `mean` with none.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub n: usize,
    pub mean: Option<f64>,
    pub ci95_low: Option<f64>,
    pub ci95_high: Option<f64>,
}

impl Estimate {
    /// The same figures rounded to `decimals`, for stable, readable output.
    pub fn rounded(&self, decimals: i32) -> Estimate {
        let r = |v: Option<f64>| v.map(|v| super::round(v, decimals));
        Estimate {
            n: self.n,
            mean: r(self.mean),
            ci95_low: r(self.ci95_low),
            ci95_high: r(self.ci95_high),
        }
    }

    /// Half the interval's width, where there is one.
    pub fn half_width(&self) -> Option<f64> {
        Some((self.ci95_high? - self.ci95_low?) / 2.0)
    }

    /// Whether the interval lies wholly above (`Some(Greater)`) or below
    /// zero; `None` when it holds zero or there is no interval.
    pub fn sign(&self) -> Option<Ordering> {
        let (low, high) = (self.ci95_low?, self.ci95_high?);
        if low > 0.0 {
            Some(Ordering::Greater)
        } else if high < 0.0 {
            Some(Ordering::Less)
        } else {
            None
        }
    }

    /// Whether two intervals share any point (`None` without both).
    pub fn overlaps(&self, other: &Estimate) -> Option<bool> {
        Some(self.ci95_low? <= other.ci95_high? && other.ci95_low? <= self.ci95_high?)
    }
}

/// A figure measured in every run of a comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Metric {
    Availability,
    ErrorRate,
    P99Ms,
    LostWrites,
    RecoveryS,
    MetastableRate,
    HypothesisPassRate,
    ReconnectS,
}

impl Metric {
    /// In the order of the files.
    pub const ALL: [Metric; 8] = [
        Metric::Availability,
        Metric::ErrorRate,
        Metric::P99Ms,
        Metric::LostWrites,
        Metric::RecoveryS,
        Metric::MetastableRate,
        Metric::HypothesisPassRate,
        Metric::ReconnectS,
    ];

    /// The metrics a variant is judged on, in the order of the files.
    /// Error rate is availability seen from the other side, and the
    /// metastable rate is what a long recovery time already says: judging
    /// them again would count one difference twice.
    pub const JUDGED: [Metric; 6] = [
        Metric::Availability,
        Metric::P99Ms,
        Metric::LostWrites,
        Metric::RecoveryS,
        Metric::HypothesisPassRate,
        Metric::ReconnectS,
    ];

    /// Whether a higher value is the better one.
    pub fn higher_is_better(self) -> bool {
        matches!(self, Metric::Availability | Metric::HypothesisPassRate)
    }

    /// Its key in `compare.json` (a field of [`Metrics`]) and its name in
    /// `compare.csv`.
    pub fn key(self) -> &'static str {
        match self {
            Metric::Availability => "availability",
            Metric::ErrorRate => "error_rate",
            Metric::P99Ms => "p99_ms",
            Metric::LostWrites => "lost_writes",
            Metric::RecoveryS => "recovery_s",
            Metric::MetastableRate => "metastable_rate",
            Metric::HypothesisPassRate => "hypothesis_pass_rate",
            Metric::ReconnectS => "reconnect_s",
        }
    }

    /// The metric as a reader names it.
    pub fn label(self) -> &'static str {
        match self {
            Metric::Availability => "availability",
            Metric::ErrorRate => "error rate",
            Metric::P99Ms => "p99",
            Metric::LostWrites => "lost writes",
            Metric::RecoveryS => "recovery",
            Metric::MetastableRate => "metastable",
            Metric::HypothesisPassRate => "hypothesis",
            Metric::ReconnectS => "reconnect",
        }
    }

    /// The metric a key names.
    pub fn from_key(key: &str) -> Option<Metric> {
        Metric::ALL.into_iter().find(|m| m.key() == key)
    }

    /// Its key in a scenario's `compare.minimum_effect`.
    pub fn override_key(self) -> &'static str {
        match self {
            Metric::Availability => "availability",
            Metric::ErrorRate => "error_rate",
            Metric::P99Ms => "p99",
            Metric::LostWrites => "lost_writes",
            Metric::RecoveryS => "recovery",
            Metric::MetastableRate => "metastable_rate",
            Metric::HypothesisPassRate => "hypothesis_pass_rate",
            Metric::ReconnectS => "reconnect",
        }
    }
}

/// One estimate per [`Metric`]. Fields rather than a map: a reader cannot
/// ask for a figure the file does not have, and a file without one does not
/// read.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub availability: Estimate,
    pub error_rate: Estimate,
    pub p99_ms: Estimate,
    pub lost_writes: Estimate,
    pub recovery_s: Estimate,
    pub metastable_rate: Estimate,
    pub hypothesis_pass_rate: Estimate,
    pub reconnect_s: Estimate,
}

impl Metrics {
    /// Each metric's estimate from `f`, called in the order of the files.
    pub fn from_fn(mut f: impl FnMut(Metric) -> Estimate) -> Metrics {
        Metrics {
            availability: f(Metric::Availability),
            error_rate: f(Metric::ErrorRate),
            p99_ms: f(Metric::P99Ms),
            lost_writes: f(Metric::LostWrites),
            recovery_s: f(Metric::RecoveryS),
            metastable_rate: f(Metric::MetastableRate),
            hypothesis_pass_rate: f(Metric::HypothesisPassRate),
            reconnect_s: f(Metric::ReconnectS),
        }
    }

    pub fn get(&self, metric: Metric) -> &Estimate {
        match metric {
            Metric::Availability => &self.availability,
            Metric::ErrorRate => &self.error_rate,
            Metric::P99Ms => &self.p99_ms,
            Metric::LostWrites => &self.lost_writes,
            Metric::RecoveryS => &self.recovery_s,
            Metric::MetastableRate => &self.metastable_rate,
            Metric::HypothesisPassRate => &self.hypothesis_pass_rate,
            Metric::ReconnectS => &self.reconnect_s,
        }
    }
}

/// A scenario's own minimum effects (`compare.minimum_effect`), in each
/// metric's unit in this file (availability and pass rate as fractions,
/// p99 in ms, recovery and reconnect in s); `None` keeps the default.
/// Part of a comparison's inputs, so shards carry them to `merge`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MinimumEffects {
    pub availability: Option<f64>,
    pub p99_ms: Option<f64>,
    pub lost_writes: Option<f64>,
    pub recovery_s: Option<f64>,
    pub hypothesis_pass_rate: Option<f64>,
    pub reconnect_s: Option<f64>,
}

impl MinimumEffects {
    /// The override for `metric`, if the scenario gives one.
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::Availability => self.availability,
            Metric::P99Ms => self.p99_ms,
            Metric::LostWrites => self.lost_writes,
            Metric::RecoveryS => self.recovery_s,
            Metric::HypothesisPassRate => self.hypothesis_pass_rate,
            Metric::ReconnectS => self.reconnect_s,
            Metric::ErrorRate | Metric::MetastableRate => None,
        }
    }
}

/// How one metric of a variant compares with the baseline's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Judgement {
    /// The paired difference's 95 % interval excludes zero on the better
    /// side and its mean is at least the minimum effect.
    #[serde(rename = "better")]
    Better,
    #[serde(rename = "worse")]
    Worse,
    /// The interval holds zero, or the difference is smaller than the
    /// minimum effect.
    #[serde(rename = "no clear difference")]
    NoClearDifference,
    /// Not measured on two seeds or more (fewer seeds; no fault that ends;
    /// no hypothesis; no connected clients).
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl Judgement {
    pub fn name(self) -> &'static str {
        match self {
            Judgement::Better => "better",
            Judgement::Worse => "worse",
            Judgement::NoClearDifference => "no clear difference",
            Judgement::NotApplicable => "n/a",
        }
    }
}

/// Where the minimum effect of a metric came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectSource {
    /// faultline's default for the metric (see `ranking_rule`).
    Default,
    /// The scenario's `compare.minimum_effect`.
    Scenario,
}

/// One judged metric of a variant against the baseline.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricVerdict {
    pub verdict: Judgement,
    /// Mean of (variant − baseline) over the seeds, paired by seed, and
    /// its 95 % interval, in the metric's unit (as `vs_baseline`).
    pub difference: Estimate,
    /// The smallest mean difference that counts, in the metric's unit;
    /// absent when the metric was not measured.
    pub minimum_effect: Option<f64>,
    pub minimum_effect_from: EffectSource,
    /// The paired difference on each seed of the comparison, in seed
    /// order; null where either run did not measure the metric.
    pub per_seed: Vec<Option<f64>>,
}

/// A variant's verdict on every judged metric ([`Metric::JUDGED`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Verdicts {
    pub availability: MetricVerdict,
    pub p99_ms: MetricVerdict,
    pub lost_writes: MetricVerdict,
    pub recovery_s: MetricVerdict,
    pub hypothesis_pass_rate: MetricVerdict,
    pub reconnect_s: MetricVerdict,
}

impl Verdicts {
    /// Each judged metric's verdict from `f`, called in file order.
    pub fn from_fn(mut f: impl FnMut(Metric) -> MetricVerdict) -> Verdicts {
        Verdicts {
            availability: f(Metric::Availability),
            p99_ms: f(Metric::P99Ms),
            lost_writes: f(Metric::LostWrites),
            recovery_s: f(Metric::RecoveryS),
            hypothesis_pass_rate: f(Metric::HypothesisPassRate),
            reconnect_s: f(Metric::ReconnectS),
        }
    }

    /// The verdict on a judged metric; `None` for one not judged.
    pub fn get(&self, metric: Metric) -> Option<&MetricVerdict> {
        match metric {
            Metric::Availability => Some(&self.availability),
            Metric::P99Ms => Some(&self.p99_ms),
            Metric::LostWrites => Some(&self.lost_writes),
            Metric::RecoveryS => Some(&self.recovery_s),
            Metric::HypothesisPassRate => Some(&self.hypothesis_pass_rate),
            Metric::ReconnectS => Some(&self.reconnect_s),
            Metric::ErrorRate | Metric::MetastableRate => None,
        }
    }

    /// The judged metrics with the given judgement, in file order.
    pub fn with(&self, judgement: Judgement) -> Vec<Metric> {
        Metric::JUDGED
            .into_iter()
            .filter(|m| self.get(*m).is_some_and(|v| v.verdict == judgement))
            .collect()
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VariantResult {
    pub name: String,
    pub model_sha256: String,
    /// The variant patches the hypotheses: its hypothesis pass rate is of
    /// its own checks, and its verdict on it `n/a`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own_hypotheses: bool,
    pub runs: usize,
    /// Runs a stop guard ended early: their figures are of the experiment
    /// as stopped, with its faults rolled back at the trip.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub stopped: usize,
    pub events: u64,
    pub requests: u64,
    /// Per metric, the mean over seeds and its 95% interval.
    pub metrics: Metrics,
    /// Latency of successful entry requests at `quantiles` (ms), each the
    /// mean over the seeds with any success.
    pub latency_ms: Vec<f64>,
    /// Per metric, the mean of (this variant − baseline) over seeds, paired
    /// by seed, and its 95% interval. Absent for the baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_baseline: Option<Metrics>,
    /// Per judged metric, the verdict against the baseline, with the
    /// difference, the minimum effect it was held to and the per-seed
    /// differences. Absent for the baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdicts: Option<Verdicts>,
}

/// Where a variant stands against the baseline, over its judged metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RankVerdict {
    Baseline,
    /// Clearly better on at least one metric, clearly worse on none.
    Better,
    /// Clearly worse on at least one metric, clearly better on none.
    Worse,
    /// Clearly better on some metrics and clearly worse on others: a
    /// trade-off, which the rank's `better_on` and `worse_on` name.
    Mixed,
    /// No metric clearly different.
    #[serde(rename = "no clear difference")]
    NoClearDifference,
    /// Fewer than two seeds: no interval to judge by.
    #[serde(rename = "n/a")]
    NotApplicable,
}

impl RankVerdict {
    pub fn name(self) -> &'static str {
        match self {
            RankVerdict::Baseline => "baseline",
            RankVerdict::Better => "better",
            RankVerdict::Worse => "worse",
            RankVerdict::Mixed => "mixed",
            RankVerdict::NoClearDifference => "no clear difference",
            RankVerdict::NotApplicable => "n/a",
        }
    }
}

impl RankVerdict {
    /// The verdict with the metrics that drove it: `better: availability,
    /// recovery`, `mixed: better p99; worse availability`.
    pub fn in_words(self, better_on: &[Metric], worse_on: &[Metric]) -> String {
        let list = |ms: &[Metric]| ms.iter().map(|m| m.label()).collect::<Vec<_>>().join(", ");
        match self {
            RankVerdict::Better => format!("better: {}", list(better_on)),
            RankVerdict::Worse => format!("worse: {}", list(worse_on)),
            RankVerdict::Mixed => format!(
                "mixed: better {}; worse {}",
                list(better_on),
                list(worse_on)
            ),
            other => other.name().to_string(),
        }
    }
}

impl std::fmt::Display for RankVerdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rank {
    pub rank: usize,
    pub variant: String,
    pub availability: Option<f64>,
    pub verdict: RankVerdict,
    /// The judged metrics (keys as in `metrics`) on which it is clearly
    /// better, and clearly worse, than the baseline: what drove `verdict`.
    pub better_on: Vec<String>,
    pub worse_on: Vec<String>,
    /// Whether this variant's availability interval overlaps the
    /// baseline's (absent for the baseline and with fewer than two seeds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub overlaps_baseline: Option<bool>,
}

impl Rank {
    /// The metrics named in `better_on` and `worse_on` (unknown keys left
    /// out).
    pub fn drivers(&self) -> (Vec<Metric>, Vec<Metric>) {
        let of = |keys: &[String]| keys.iter().filter_map(|k| Metric::from_key(k)).collect();
        (of(&self.better_on), of(&self.worse_on))
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Comparison {
    pub tool: Tool,
    pub scenario: InputRef,
    pub model: InputRef,
    /// The what-if settings every variant ran with (`compare --set`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
    pub seeds: Seeds,
    pub confidence: f64,
    /// The quantiles of each variant's `latency_ms` curve.
    pub latency_quantiles: Vec<f64>,
    pub baseline: String,
    /// The rule `ranking` follows, in words.
    pub ranking_rule: String,
    pub ranking: Vec<Rank>,
    pub variants: Vec<VariantResult>,
}

impl Comparison {
    pub fn to_json(&self) -> String {
        super::to_json(self)
    }

    /// The variant a rank names.
    pub fn variant(&self, name: &str) -> Option<&VariantResult> {
        self.variants.iter().find(|v| v.name == name)
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metric_keys_are_the_field_names_in_file_order() {
        let json = serde_json::to_value(Metrics::default()).expect("serialises");
        let fields: Vec<&str> = json
            .as_object()
            .expect("an object")
            .keys()
            .map(String::as_str)
            .collect();
        let keys: Vec<&str> = Metric::ALL.iter().map(|m| m.key()).collect();
        assert_eq!(fields, keys);
    }

    #[test]
    fn rank_verdicts_are_written_by_name() {
        for verdict in [
            RankVerdict::Baseline,
            RankVerdict::Better,
            RankVerdict::Worse,
            RankVerdict::Mixed,
            RankVerdict::NoClearDifference,
            RankVerdict::NotApplicable,
        ] {
            let json = serde_json::to_string(&verdict).expect("serialises");
            assert_eq!(json, format!("\"{}\"", verdict.name()));
            let back: RankVerdict = serde_json::from_str(&json).expect("reads back");
            assert_eq!(back, verdict);
        }
    }
}
