//! The comparison: per-variant means with intervals, paired differences
//! against the baseline, a ranking, and its files (`compare.json`,
//! `compare.csv`, `runs.csv`) and one-screen table. Everything here is a
//! function of the inputs and the per-cell figures in grid order, so a
//! merged set of shards writes the same bytes as one machine.

use std::cmp::Ordering;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::RunFigures;
use super::stats::{CONFIDENCE, estimate};
use super::verdict;
use crate::error::Result;
use crate::experiment::output::Staging;
use crate::record::Tool;
pub use crate::record::compare::Comparison;
use crate::record::compare::{
    Estimate, InputRef, Metric, MetricVerdict, Metrics, MinimumEffects, Rank, RankVerdict, Seeds,
    VariantResult, Verdicts,
};

/// How a metric is taken from one run, and how many decimals it is written
/// with.
pub struct Measure {
    pub metric: Metric,
    pub decimals: i32,
    pub higher_is_better: bool,
    pub get: fn(&RunFigures) -> Option<f64>,
}

/// In the order of [`Metric::ALL`], which is the files' order.
pub const METRICS: [Measure; 8] = [
    Measure {
        metric: Metric::Availability,
        decimals: 6,
        higher_is_better: true,
        // Not measured without a request to measure it on (a model of
        // connected clients only): n/a, not a perfect 100 %.
        get: |f| (f.requests > 0).then_some(f.availability),
    },
    Measure {
        metric: Metric::ErrorRate,
        decimals: 6,
        higher_is_better: false,
        get: |f| (f.requests > 0).then_some(f.error_rate),
    },
    Measure {
        metric: Metric::P99Ms,
        decimals: 3,
        higher_is_better: false,
        get: |f| (f.requests > 0).then_some(f.p99_ms),
    },
    Measure {
        metric: Metric::LostWrites,
        decimals: 3,
        higher_is_better: false,
        get: |f| Some(f.lost_writes as f64),
    },
    Measure {
        metric: Metric::RecoveryS,
        decimals: 3,
        higher_is_better: false,
        get: |f| f.recovery_s,
    },
    Measure {
        metric: Metric::MetastableRate,
        decimals: 6,
        higher_is_better: false,
        get: |f| Some(if f.metastable { 1.0 } else { 0.0 }),
    },
    Measure {
        metric: Metric::HypothesisPassRate,
        decimals: 6,
        higher_is_better: true,
        get: |f| f.hypothesis_passed.map(|p| if p { 1.0 } else { 0.0 }),
    },
    Measure {
        metric: Metric::ReconnectS,
        decimals: 3,
        higher_is_better: false,
        get: |f| f.reconnect_s,
    },
];

pub use super::verdict::RULE as RANKING_RULE;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VariantRef {
    pub name: String,
    /// SHA-256 of the patched model, as in a run's `run.json`.
    pub model_sha256: String,
    /// The variant patches the hypotheses: its pass rate is of other
    /// checks than the baseline's, and is not judged against it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub own_hypotheses: bool,
}

/// What a comparison is of: enough to tell whether two partial results
/// belong together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inputs {
    pub tool_version: String,
    pub scenario: InputRef,
    pub model: InputRef,
    /// Baseline first.
    pub variants: Vec<VariantRef>,
    pub seeds: Seeds,
    /// The scenario's `compare.minimum_effect`, in the units of
    /// `compare.json` (a shard carries them to `merge`).
    pub minimum_effect: MinimumEffects,
    /// The what-if settings every variant ran with (`compare --set`), as
    /// given.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set: Vec<String>,
    /// A sweep's grid: its "variants" are the cells of these settings
    /// (`cell-<k>`), and `merge` writes a sweep, not a comparison.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sweep: Option<SweepRef>,
}

/// What a sweep's grid is of: the variant swept, the settings every cell
/// has, the axes (each a path and its values, as given; the first axis
/// varies slowest) and the metric its heat map shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SweepRef {
    pub variant: String,
    pub fixed: Vec<String>,
    pub axes: Vec<AxisRef>,
    pub metric: String,
}

/// The metrics a sweep's heat map can show.
pub const SWEEP_METRICS: [&str; 7] = [
    "availability",
    "error_rate",
    "p99_ms",
    "goodput",
    "recovery_s",
    "metastable_rate",
    "hypothesis_pass_rate",
];

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AxisRef {
    pub path: String,
    pub values: Vec<String>,
}

impl Inputs {
    pub fn from_variants(variants: &[crate::plan::Plan], seeds: Seeds) -> Inputs {
        let base = &variants[0].experiment;
        let input = |name: &str, source: &crate::spec::Source, hash: String| InputRef {
            name: name.to_string(),
            file: source.path.display().to_string(),
            sha256: hash,
        };
        let scenario_hash = crate::experiment::manifest::input(
            &base.scenario.name,
            &base.scenario_source,
            &base.scenario,
        )
        .sha256;
        // The model as written, which every variant patches (the patched
        // models have hashes of their own below). It parsed when the
        // scenario loaded.
        let unpatched =
            crate::spec::parse_model(&base.model_source).expect("the loaded model parses");
        let model =
            crate::experiment::manifest::input(&unpatched.name, &base.model_source, &unpatched)
                .sha256;
        Inputs {
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            scenario: input(&base.scenario.name, &base.scenario_source, scenario_hash),
            model: input(&base.model.name, &base.model_source, model),
            variants: variants
                .iter()
                .map(|v| VariantRef {
                    name: v.experiment.variant.clone(),
                    model_sha256: super::model_sha256(v),
                    own_hypotheses: hypotheses(v) != hypotheses(&variants[0]),
                })
                .collect(),
            seeds,
            minimum_effect: minimum_effects(&base.scenario),
            set: base.sets.iter().map(|s| s.text.clone()).collect(),
            sweep: None,
        }
    }

    pub fn cells(&self) -> u64 {
        self.variants.len() as u64 * self.seeds.count
    }

    /// (variant name, seed) of cell `k`.
    pub fn cell(&self, k: u64) -> (&str, u64) {
        let v = (k / self.seeds.count) as usize;
        (&self.variants[v].name, self.seeds.nth(k % self.seeds.count))
    }
}

/// A variant's hypotheses as written, to tell a variant that patches them.
fn hypotheses(plan: &crate::plan::Plan) -> serde_json::Value {
    serde_json::to_value(&plan.experiment.scenario.hypothesis).expect("specs serialise")
}

/// A scenario's minimum effect overrides in `compare.json`'s units.
fn minimum_effects(scenario: &crate::spec::ScenarioSpec) -> MinimumEffects {
    let Some(spec) = scenario
        .compare
        .as_ref()
        .and_then(|c| c.minimum_effect.as_ref())
    else {
        return MinimumEffects::default();
    };
    MinimumEffects {
        availability: spec.availability.map(|s| s.0),
        p99_ms: spec.p99.map(|d| d.nanos() as f64 / 1e6),
        lost_writes: spec.lost_writes.map(|w| w as f64),
        recovery_s: spec.recovery.map(|d| d.nanos() as f64 / 1e9),
        hypothesis_pass_rate: spec.hypothesis_pass_rate.map(|s| s.0),
        reconnect_s: spec.reconnect.map(|d| d.nanos() as f64 / 1e9),
    }
}

/// The per-quantile mean of the runs' latency curves, at 3 decimals.
fn mean_curve(runs: &[RunFigures]) -> Vec<f64> {
    let curves: Vec<&Vec<f64>> = runs
        .iter()
        .map(|r| &r.latency_ms)
        .filter(|c| !c.is_empty())
        .collect();
    if curves.is_empty() {
        return Vec::new();
    }
    (0..super::LATENCY_QUANTILES.len())
        .map(|q| {
            let mean = curves.iter().map(|c| c[q]).sum::<f64>() / curves.len() as f64;
            (mean * 1e3).round() / 1e3
        })
        .collect()
}

/// Summarises the figures of every cell, given in grid order.
pub fn aggregate(inputs: &Inputs, figures: &[RunFigures]) -> Comparison {
    assert_eq!(figures.len() as u64, inputs.cells(), "one figure per cell");
    let per_seed = inputs.seeds.count as usize;
    let rows: Vec<&[RunFigures]> = figures.chunks(per_seed).collect();
    let baseline = rows[0];
    let variants: Vec<VariantResult> = inputs
        .variants
        .iter()
        .zip(&rows)
        .enumerate()
        .map(|(v, (variant, runs))| {
            let metrics = Metrics::from_fn(|metric| {
                let m = measure(metric);
                let values: Vec<f64> = runs.iter().filter_map(m.get).collect();
                estimate(&values).rounded(m.decimals)
            });
            let paired = |metric: Metric| -> Vec<Option<f64>> {
                let m = measure(metric);
                runs.iter()
                    .zip(baseline)
                    .map(|(a, b)| Some((m.get)(a)? - (m.get)(b)?))
                    .collect()
            };
            let vs_baseline = (v > 0).then(|| {
                Metrics::from_fn(|metric| {
                    let diffs: Vec<f64> = paired(metric).into_iter().flatten().collect();
                    estimate(&diffs).rounded(measure(metric).decimals)
                })
            });
            let verdicts = vs_baseline.as_ref().map(|diffs| {
                Verdicts::from_fn(|metric| {
                    let m = measure(metric);
                    let base: Vec<f64> = baseline.iter().filter_map(m.get).collect();
                    let base_mean = estimate(&base).mean;
                    let (minimum, from) =
                        verdict::minimum_effect(metric, base_mean, &inputs.minimum_effect);
                    let minimum = minimum.map(|x| crate::record::round(x, m.decimals));
                    let difference = *diffs.get(metric);
                    // Pass rates of different checks measure different bars.
                    let comparable =
                        !(metric == Metric::HypothesisPassRate && variant.own_hypotheses);
                    MetricVerdict {
                        verdict: if comparable {
                            verdict::judge(metric, &difference, minimum)
                        } else {
                            crate::record::compare::Judgement::NotApplicable
                        },
                        difference,
                        minimum_effect: minimum,
                        minimum_effect_from: from,
                        per_seed: paired(metric)
                            .into_iter()
                            .map(|d| d.map(|d| crate::record::round(d, m.decimals)))
                            .collect(),
                    }
                })
            });
            VariantResult {
                name: variant.name.clone(),
                model_sha256: variant.model_sha256.clone(),
                own_hypotheses: variant.own_hypotheses,
                runs: runs.len(),
                stopped: runs.iter().filter(|r| r.stopped_at_s.is_some()).count(),
                events: runs.iter().map(|r| r.events).sum(),
                requests: runs.iter().map(|r| r.requests).sum(),
                metrics,
                latency_ms: mean_curve(runs),
                vs_baseline,
                verdicts,
            }
        })
        .collect();
    let ranking = rank(&variants);
    Comparison {
        tool: Tool {
            name: "faultline".to_string(),
            version: inputs.tool_version.clone(),
        },
        scenario: inputs.scenario.clone(),
        model: inputs.model.clone(),
        set: inputs.set.clone(),
        seeds: inputs.seeds,
        confidence: CONFIDENCE,
        latency_quantiles: super::LATENCY_QUANTILES.to_vec(),
        baseline: inputs.variants[0].name.clone(),
        ranking_rule: RANKING_RULE.to_string(),
        ranking,
        variants,
    }
}

/// How `metric` is measured.
pub fn measure(metric: Metric) -> &'static Measure {
    METRICS
        .iter()
        .find(|m| m.metric == metric)
        .expect("every metric is measured")
}

fn rank(variants: &[VariantResult]) -> Vec<Rank> {
    let mean = |v: &VariantResult, metric: Metric| v.metrics.get(metric).mean;
    let verdict_of = |v: &VariantResult| match &v.verdicts {
        None => RankVerdict::Baseline,
        Some(verdicts) => verdict::overall(verdicts),
    };
    let mut order: Vec<usize> = (0..variants.len()).collect();
    // Means are already rounded, so equal-looking figures tie exactly.
    order.sort_by(|&a, &b| {
        let (va, vb) = (&variants[a], &variants[b]);
        let by = |metric: Metric, higher_first: bool| {
            let (x, y) = (mean(va, metric), mean(vb, metric));
            let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
            if higher_first { o.reverse() } else { o }
        };
        verdict::tier(verdict_of(va))
            .cmp(&verdict::tier(verdict_of(vb)))
            .then(by(Metric::Availability, true))
            .then(by(Metric::P99Ms, false))
            .then(a.cmp(&b))
    });
    let baseline = &variants[0].metrics.availability;
    let keys = |ms: Vec<Metric>| ms.iter().map(|m| m.key().to_string()).collect();
    order
        .iter()
        .enumerate()
        .map(|(i, &v)| {
            let variant = &variants[v];
            let (better_on, worse_on) = match &variant.verdicts {
                None => (Vec::new(), Vec::new()),
                Some(verdicts) => (
                    keys(verdicts.with(crate::record::compare::Judgement::Better)),
                    keys(verdicts.with(crate::record::compare::Judgement::Worse)),
                ),
            };
            Rank {
                rank: i + 1,
                variant: variant.name.clone(),
                availability: mean(variant, Metric::Availability),
                verdict: verdict_of(variant),
                better_on,
                worse_on,
                overlaps_baseline: variant
                    .vs_baseline
                    .as_ref()
                    .and_then(|_| variant.metrics.availability.overlaps(baseline)),
            }
        })
        .collect()
}

/// `compare.csv`: one row per variant and metric (long form, for
/// notebooks).
pub fn compare_csv(comparison: &Comparison) -> String {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let header = [
        "variant",
        "rank",
        "metric",
        "n",
        "mean",
        "ci95_low",
        "ci95_high",
        "diff_n",
        "diff_mean",
        "diff_ci95_low",
        "diff_ci95_high",
    ];
    csv.write_record(header).expect(IN_MEMORY);
    for variant in &comparison.variants {
        let rank = comparison
            .ranking
            .iter()
            .find(|r| r.variant == variant.name)
            .map_or(0, |r| r.rank);
        for m in &METRICS {
            let e = variant.metrics.get(m.metric);
            let f = |v: Option<f64>| fixed(v, m.decimals);
            // The baseline has no difference with itself: empty cells.
            let diff = variant.vs_baseline.as_ref().map(|d| d.get(m.metric));
            let record = [
                variant.name.clone(),
                rank.to_string(),
                m.metric.key().to_string(),
                e.n.to_string(),
                f(e.mean),
                f(e.ci95_low),
                f(e.ci95_high),
                diff.map_or(String::new(), |d| d.n.to_string()),
                f(diff.and_then(|d| d.mean)),
                f(diff.and_then(|d| d.ci95_low)),
                f(diff.and_then(|d| d.ci95_high)),
            ];
            csv.write_record(&record).expect(IN_MEMORY);
        }
    }
    csv_text(csv)
}

/// Why writing a CSV file's text can only fail on a bug: the records of a
/// file have one length, and memory takes any bytes.
const IN_MEMORY: &str = "records of one length, written to memory";

pub fn csv_text(csv: csv::Writer<Vec<u8>>) -> String {
    let bytes = csv.into_inner().expect(IN_MEMORY);
    String::from_utf8(bytes).expect("every field is UTF-8")
}

/// The one-screen summary printed by `compare` and `merge`.
pub fn table(comparison: &Comparison) -> String {
    let mut out = String::new();
    let s = &comparison.seeds;
    let _ = writeln!(
        out,
        "scenario `{}`: {} variants x {} seeds ({}..={}); mean ± 95% interval; Δ: paired difference against `{}`",
        comparison.scenario.name,
        comparison.variants.len(),
        s.count,
        s.first,
        s.nth(s.count.saturating_sub(1)),
        comparison.baseline
    );
    if !comparison.set.is_empty() {
        let _ = writeln!(out, "what-if: --set {}", comparison.set.join(" --set "));
    }
    // Reconnect times only where the model has connected clients.
    let reconnect = comparison
        .variants
        .iter()
        .any(|v| v.metrics.reconnect_s.mean.is_some());
    let mut headers = vec![
        "rank",
        "variant",
        "availability %",
        "Δ availability pp",
        "p99 ms",
        "lost writes",
        "recovery s",
        "metastable",
        "hypothesis",
    ];
    if reconnect {
        headers.push("reconnect s");
    }
    headers.push("verdict (what drove it)");
    let mut table = crate::report::terminal::table(&headers);
    // The rank is a figure, the variant a name, the verdict a sentence.
    if let Some(rank) = table.column_mut(0) {
        rank.set_cell_alignment(comfy_table::CellAlignment::Right);
    }
    crate::report::terminal::left(&mut table, 1);
    crate::report::terminal::left(&mut table, headers.len() - 1);
    for r in &comparison.ranking {
        let v = comparison
            .variant(&r.variant)
            .expect("ranked variants exist");
        let pct = |e: &Estimate| scaled(e, 100.0, 3);
        let diff = v
            .vs_baseline
            .as_ref()
            .map_or_else(|| "-".to_string(), |d| signed(&d.availability, 100.0, 3));
        let m = &v.metrics;
        let mut row = vec![
            r.rank.to_string(),
            v.name.clone(),
            pct(&m.availability),
            diff,
            scaled(&m.p99_ms, 1.0, 1),
            scaled(&m.lost_writes, 1.0, 0),
            scaled(&m.recovery_s, 1.0, 1),
            m.metastable_rate
                .mean
                .map_or("n/a".to_string(), |m| format!("{:.0} %", m * 100.0)),
            if v.own_hypotheses {
                format!("{} *", pct(&m.hypothesis_pass_rate))
            } else {
                pct(&m.hypothesis_pass_rate)
            },
        ];
        if reconnect {
            row.push(scaled(&m.reconnect_s, 1.0, 1));
        }
        let (better, worse) = r.drivers();
        row.push(r.verdict.in_words(&better, &worse));
        table.add_row(row);
    }
    let _ = writeln!(out, "{}", table.trim_fmt());
    let stopped: Vec<String> = comparison
        .variants
        .iter()
        .filter(|v| v.stopped > 0)
        .map(|v| format!("{} on {} of {} seeds", v.name, v.stopped, v.runs))
        .collect();
    if !stopped.is_empty() {
        let _ = writeln!(
            out,
            "stop guards ended the experiment early: {} (faults rolled back at the trip; the figures are of the experiment as stopped)",
            stopped.join(", ")
        );
    }
    if comparison.variants.iter().any(|v| v.own_hypotheses) {
        let _ = writeln!(
            out,
            "* the variant patches the hypotheses: its pass rate is of its own checks, not judged against the baseline's"
        );
    }
    out
}

/// `mean ± half` scaled, or `n/a` when not measured.
fn scaled(e: &Estimate, scale: f64, decimals: usize) -> String {
    match (e.mean, e.half_width()) {
        (None, _) => "n/a".to_string(),
        (Some(m), None) => format!("{:.decimals$}", m * scale),
        (Some(m), Some(h)) => format!("{:.decimals$} ± {:.decimals$}", m * scale, h * scale),
    }
}

fn signed(e: &Estimate, scale: f64, decimals: usize) -> String {
    match (e.mean, e.half_width()) {
        (None, _) => "n/a".to_string(),
        (Some(m), None) => format!("{:+.decimals$}", m * scale),
        (Some(m), Some(h)) => format!("{:+.decimals$} ± {:.decimals$}", m * scale, h * scale),
    }
}

fn fixed(value: Option<f64>, decimals: i32) -> String {
    value.map_or(String::new(), |v| format!("{v:.*}", decimals as usize))
}

/// `runs.csv`: one row per cell in grid order, the raw figures behind the
/// summary.
pub fn runs_csv(inputs: &Inputs, figures: &[RunFigures]) -> String {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let header = [
        "variant",
        "seed",
        "availability",
        "error_rate",
        "p99_ms",
        "lost_writes",
        "recovery_s",
        "metastable",
        "hypothesis_passed",
        "reconnect_s",
        "stopped_at_s",
        "events",
        "requests",
    ];
    csv.write_record(header).expect(IN_MEMORY);
    for (k, f) in figures.iter().enumerate() {
        let (variant, seed) = inputs.cell(k as u64);
        let record = [
            variant.to_string(),
            seed.to_string(),
            format!("{:.6}", f.availability),
            format!("{:.6}", f.error_rate),
            format!("{:.3}", f.p99_ms),
            f.lost_writes.to_string(),
            fixed(f.recovery_s, 3),
            f.metastable.to_string(),
            f.hypothesis_passed.map_or(String::new(), |p| p.to_string()),
            fixed(f.reconnect_s, 3),
            fixed(f.stopped_at_s, 3),
            f.events.to_string(),
            f.requests.to_string(),
        ];
        csv.write_record(&record).expect(IN_MEMORY);
    }
    csv_text(csv)
}

/// Where the comparison of `scenario` goes under `base`.
pub fn compare_dir(base: &Path, scenario: &str) -> PathBuf {
    base.join(scenario).join("compare")
}

/// Writes `compare.json`, `compare.csv`, `runs.csv` and the report drawn
/// from them into
/// `<base>/<scenario>/compare/`, replacing it whole.
pub fn write(
    base: &Path,
    inputs: &Inputs,
    figures: &[RunFigures],
) -> Result<(PathBuf, Comparison)> {
    let comparison = aggregate(inputs, figures);
    let dir = compare_dir(base, &inputs.scenario.name);
    let staging = Staging::new(&dir)?;
    staging.write_file("compare.json", &comparison.to_json())?;
    staging.write_file("compare.csv", &compare_csv(&comparison))?;
    staging.write_file("runs.csv", &runs_csv(inputs, figures))?;
    crate::report::comparison::write_compare_report(staging.path())?;
    staging.commit()?;
    Ok((dir, comparison))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(availability: f64, p99_ms: f64) -> RunFigures {
        RunFigures {
            availability,
            error_rate: 1.0 - availability,
            p99_ms,
            lost_writes: 0,
            events: 10,
            requests: 5,
            recovery_s: None,
            metastable: false,
            hypothesis_passed: None,
            reconnect_s: None,
            measured_s: 10.0,
            stopped_at_s: None,
            latency_ms: Vec::new(),
        }
    }

    fn inputs(names: &[&str], count: u64) -> Inputs {
        let input = |name: &str| InputRef {
            name: name.into(),
            file: format!("{name}.json"),
            sha256: "0".into(),
        };
        Inputs {
            tool_version: "0".into(),
            scenario: input("s"),
            model: input("m"),
            variants: names
                .iter()
                .map(|n| VariantRef {
                    name: n.to_string(),
                    model_sha256: "0".into(),
                    own_hypotheses: false,
                })
                .collect(),
            seeds: Seeds { first: 7, count },
            minimum_effect: MinimumEffects::default(),
            set: Vec::new(),
            sweep: None,
        }
    }

    #[test]
    fn ranks_by_availability_with_paired_verdicts() {
        let inputs = inputs(&["baseline", "worse", "better", "same"], 3);
        let f = vec![
            figures(0.90, 10.0),
            figures(0.80, 10.0),
            figures(0.85, 10.0),
            figures(0.89, 10.0),
            figures(0.79, 10.0),
            figures(0.84, 10.0),
            figures(0.999, 10.0),
            figures(0.998, 10.0),
            figures(0.999, 10.0),
            figures(0.91, 10.0),
            figures(0.79, 10.0),
            figures(0.85, 10.0),
        ];
        let c = aggregate(&inputs, &f);
        let order: Vec<(&str, RankVerdict)> = c
            .ranking
            .iter()
            .map(|r| (r.variant.as_str(), r.verdict))
            .collect();
        assert_eq!(
            order,
            vec![
                ("better", RankVerdict::Better),
                ("baseline", RankVerdict::Baseline),
                ("same", RankVerdict::NoClearDifference),
                ("worse", RankVerdict::Worse),
            ]
        );
        // Paired: `worse` is exactly 0.01 below on every seed, so its
        // difference has no spread although its own interval is wide.
        let d = &c.variants[1].vs_baseline.as_ref().unwrap().availability;
        assert_eq!(
            (d.mean, d.ci95_low, d.ci95_high),
            (Some(-0.01), Some(-0.01), Some(-0.01))
        );
        assert_eq!(
            c.variants[1]
                .metrics
                .availability
                .overlaps(&c.variants[0].metrics.availability),
            Some(true)
        );
        assert_eq!(c.ranking[0].overlaps_baseline, Some(false));
        assert_eq!(c.variants[0].events, 30);
    }

    #[test]
    fn a_name_with_a_comma_is_quoted_in_the_csv_files() {
        let inputs = inputs(&["baseline", "a,b"], 1);
        let f = vec![figures(1.0, 1.0); 2];
        let c = aggregate(&inputs, &f);
        assert!(compare_csv(&c).contains("\n\"a,b\",2,availability,1,"));
        assert!(runs_csv(&inputs, &f).contains("\n\"a,b\",7,1.000000,"));
    }

    #[test]
    fn unmeasured_figures_are_empty_or_na() {
        let inputs = inputs(&["baseline", "b"], 2);
        let f = vec![figures(1.0, 1.0); 4];
        let c = aggregate(&inputs, &f);
        assert_eq!(c.variants[1].metrics.recovery_s.n, 0);
        let csv = compare_csv(&c);
        assert!(csv.contains("b,2,recovery_s,0,,,,0,,,\n"), "{csv}");
        assert!(
            csv.contains("baseline,1,availability,2,1.000000,1.000000,1.000000,,,,\n"),
            "{csv}"
        );
        let table = table(&c);
        assert!(table.contains("n/a"), "{table}");
        let runs = runs_csv(&inputs, &f);
        assert!(
            runs.lines()
                .nth(3)
                .unwrap()
                .starts_with("b,7,1.000000,0.000000,1.000,0,,false,,,,10,5"),
            "{runs}"
        );
    }
}
