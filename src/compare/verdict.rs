//! The verdict of a variant against the baseline, metric by metric and as a
//! whole. A paired difference counts only when its 95 % interval excludes
//! zero *and* its mean is at least the metric's minimum effect: with enough
//! seeds any difference gets a tight interval, and a design review should
//! not hear "better" for a change no user or SLO could tell apart.

use std::cmp::Ordering;

use crate::record::compare::{
    EffectSource, Estimate, Judgement, Metric, MinimumEffects, RankVerdict, Verdicts,
};

/// The rule of the ranking and of every verdict, in words, as
/// `compare.json` carries it.
pub const RULE: &str = "each variant is judged against the baseline on availability, all-requests p99 latency, lost writes, recovery time, hypothesis pass rate and time to reconnect its clients (where measured): a metric is clearly better or worse when the 95% interval of its seed-paired difference excludes zero and the mean difference is at least the metric's minimum effect (defaults: availability 0.1 percentage points; p99 10% of the baseline's mean p99, at least 1 ms; lost writes 1; recovery 10% of the baseline's mean, at least 5 s; hypothesis pass rate 10 percentage points; reconnect 10% of the baseline's mean, at least 1 s; a scenario's compare.minimum_effect replaces them), else no clear difference. verdict: `better` when some metric is clearly better and none clearly worse, `worse` the other way round, `mixed` (a trade-off) when some are better and some worse, `no clear difference` otherwise, `n/a` with fewer than two seeds. ranking: better first, worse last, and between them the baseline with the variants that are mixed or show no clear difference (a trade-off is not an improvement); within each group by mean availability (higher first), then mean p99 (lower first), then the scenario's order";

/// The minimum effect of `metric` for a comparison whose baseline has
/// `baseline_mean`, in the metric's unit, and where it came from; `None`
/// when the metric was not measured.
///
/// Why these defaults:
/// - availability 0.1 percentage points: the step between the usual SLO
///   tiers (99.9 % is 43 minutes of a month); smaller gaps change no
///   decision an architect makes on availability;
/// - p99 10 % of the baseline's, at least 1 ms: a tail a tenth slower is
///   about what users and latency SLOs notice, and the histograms keep two
///   significant digits by default, so 1 % is within their resolution; the
///   floor keeps a sub-millisecond baseline from turning jitter into a
///   verdict;
/// - lost writes 1: any acknowledged write lost on average is a real loss;
///   less than one per run is not a difference in writes;
/// - recovery 10 %, at least 5 s: the analysis times recovery on metrics
///   windows and asks for 5 s back in band, so seconds below that are its
///   own resolution;
/// - hypothesis pass rate 10 percentage points: two seeds of twenty
///   flipping is noise a verdict should not rest on;
/// - reconnect 10 %, at least 1 s: a client reconnects in backoff steps of
///   about a second; a difference inside one step is not a design's.
pub fn minimum_effect(
    metric: Metric,
    baseline_mean: Option<f64>,
    overrides: &MinimumEffects,
) -> (Option<f64>, EffectSource) {
    if let Some(value) = overrides.get(metric) {
        return (baseline_mean.map(|_| value), EffectSource::Scenario);
    }
    let relative = |share: f64, floor: f64| baseline_mean.map(|b| (share * b.abs()).max(floor));
    let value = match metric {
        Metric::Availability => baseline_mean.map(|_| 0.001),
        Metric::P99Ms => relative(0.10, 1.0),
        Metric::LostWrites => baseline_mean.map(|_| 1.0),
        Metric::RecoveryS => relative(0.10, 5.0),
        Metric::HypothesisPassRate => baseline_mean.map(|_| 0.10),
        Metric::ReconnectS => relative(0.10, 1.0),
        Metric::ErrorRate | Metric::MetastableRate => None,
    };
    (value, EffectSource::Default)
}

/// One metric's verdict from its paired difference (variant − baseline).
pub fn judge(metric: Metric, difference: &Estimate, minimum: Option<f64>) -> Judgement {
    let (Some(mean), Some(_), Some(minimum)) = (difference.mean, difference.ci95_low, minimum)
    else {
        return Judgement::NotApplicable;
    };
    let Some(side) = difference.sign() else {
        return Judgement::NoClearDifference;
    };
    if mean.abs() < minimum {
        return Judgement::NoClearDifference;
    }
    if (side == Ordering::Greater) == metric.higher_is_better() {
        Judgement::Better
    } else {
        Judgement::Worse
    }
}

/// A variant's overall verdict from its metrics' verdicts.
pub fn overall(verdicts: &Verdicts) -> RankVerdict {
    let better = !verdicts.with(Judgement::Better).is_empty();
    let worse = !verdicts.with(Judgement::Worse).is_empty();
    let judged = Metric::JUDGED.iter().any(|m| {
        verdicts
            .get(*m)
            .is_some_and(|v| v.verdict != Judgement::NotApplicable)
    });
    match (better, worse) {
        (true, false) => RankVerdict::Better,
        (false, true) => RankVerdict::Worse,
        (true, true) => RankVerdict::Mixed,
        (false, false) if judged => RankVerdict::NoClearDifference,
        (false, false) => RankVerdict::NotApplicable,
    }
}

/// Where a verdict ranks: better first, worse last. A trade-off ranks with
/// the baseline, by its figures: it is not an improvement, and placing it
/// above the baseline would say it is.
pub fn tier(verdict: RankVerdict) -> u8 {
    match verdict {
        RankVerdict::Better => 0,
        RankVerdict::Baseline
        | RankVerdict::Mixed
        | RankVerdict::NoClearDifference
        | RankVerdict::NotApplicable => 1,
        RankVerdict::Worse => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::compare::MetricVerdict;

    fn diff(mean: f64, low: f64, high: f64) -> Estimate {
        Estimate {
            n: 10,
            mean: Some(mean),
            ci95_low: Some(low),
            ci95_high: Some(high),
        }
    }

    #[test]
    fn a_clear_interval_smaller_than_the_minimum_effect_is_no_clear_difference() {
        // +0.025 pp of availability, tightly estimated: not a difference.
        let tiny = diff(0.00025, 0.0002, 0.0003);
        assert_eq!(
            judge(Metric::Availability, &tiny, Some(0.001)),
            Judgement::NoClearDifference
        );
        // The same interval held to a smaller minimum counts.
        assert_eq!(
            judge(Metric::Availability, &tiny, Some(0.0001)),
            Judgement::Better
        );
        // Large but uncertain: no clear difference either.
        let wide = diff(0.05, -0.01, 0.11);
        assert_eq!(
            judge(Metric::Availability, &wide, Some(0.001)),
            Judgement::NoClearDifference
        );
    }

    #[test]
    fn direction_follows_the_metric() {
        let up = diff(50.0, 40.0, 60.0);
        assert_eq!(judge(Metric::P99Ms, &up, Some(10.0)), Judgement::Worse);
        assert_eq!(judge(Metric::RecoveryS, &up, Some(5.0)), Judgement::Worse);
        let down = diff(-50.0, -60.0, -40.0);
        assert_eq!(
            judge(Metric::ReconnectS, &down, Some(1.0)),
            Judgement::Better
        );
        assert_eq!(
            judge(Metric::HypothesisPassRate, &diff(0.5, 0.2, 0.8), Some(0.1)),
            Judgement::Better
        );
        assert_eq!(
            judge(Metric::LostWrites, &diff(3.0, 2.0, 4.0), Some(1.0)),
            Judgement::Worse
        );
    }

    #[test]
    fn without_an_interval_or_a_measure_there_is_no_verdict() {
        let one = Estimate {
            n: 1,
            mean: Some(0.5),
            ci95_low: None,
            ci95_high: None,
        };
        assert_eq!(
            judge(Metric::Availability, &one, Some(0.001)),
            Judgement::NotApplicable
        );
        assert_eq!(
            judge(Metric::RecoveryS, &Estimate::default(), None),
            Judgement::NotApplicable
        );
    }

    #[test]
    fn defaults_scale_with_the_baseline_above_a_floor() {
        let none = MinimumEffects::default();
        assert_eq!(
            minimum_effect(Metric::P99Ms, Some(400.0), &none),
            (Some(40.0), EffectSource::Default)
        );
        assert_eq!(minimum_effect(Metric::P99Ms, Some(3.0), &none).0, Some(1.0));
        assert_eq!(
            minimum_effect(Metric::RecoveryS, Some(20.0), &none).0,
            Some(5.0)
        );
        assert_eq!(
            minimum_effect(Metric::RecoveryS, Some(120.0), &none).0,
            Some(12.0)
        );
        assert_eq!(
            minimum_effect(Metric::ReconnectS, Some(4.0), &none).0,
            Some(1.0)
        );
        assert_eq!(
            minimum_effect(Metric::Availability, Some(0.9), &none).0,
            Some(0.001)
        );
        assert_eq!(minimum_effect(Metric::RecoveryS, None, &none).0, None);
        let set = MinimumEffects {
            p99_ms: Some(250.0),
            ..MinimumEffects::default()
        };
        assert_eq!(
            minimum_effect(Metric::P99Ms, Some(400.0), &set),
            (Some(250.0), EffectSource::Scenario)
        );
    }

    fn verdicts(of: &[(Metric, Judgement)]) -> Verdicts {
        Verdicts::from_fn(|m| MetricVerdict {
            verdict: of
                .iter()
                .find(|(x, _)| *x == m)
                .map_or(Judgement::NoClearDifference, |(_, j)| *j),
            difference: Estimate::default(),
            minimum_effect: None,
            minimum_effect_from: EffectSource::Default,
            per_seed: Vec::new(),
        })
    }

    #[test]
    fn overall_verdict_weighs_every_metric() {
        use Judgement::*;
        let v = verdicts(&[(Metric::Availability, Better)]);
        assert_eq!(overall(&v), RankVerdict::Better);
        let v = verdicts(&[(Metric::Availability, Better), (Metric::RecoveryS, Better)]);
        assert_eq!(overall(&v), RankVerdict::Better);
        let v = verdicts(&[(Metric::P99Ms, Worse)]);
        assert_eq!(overall(&v), RankVerdict::Worse);
        let v = verdicts(&[(Metric::Availability, Better), (Metric::P99Ms, Worse)]);
        assert_eq!(overall(&v), RankVerdict::Mixed);
        assert_eq!(v.with(Better), vec![Metric::Availability]);
        assert_eq!(v.with(Worse), vec![Metric::P99Ms]);
        assert_eq!(
            overall(&v).in_words(&v.with(Better), &v.with(Worse)),
            "mixed: better availability; worse p99"
        );
        assert_eq!(overall(&verdicts(&[])), RankVerdict::NoClearDifference);
        let none: Vec<(Metric, Judgement)> =
            Metric::JUDGED.iter().map(|m| (*m, NotApplicable)).collect();
        assert_eq!(overall(&verdicts(&none)), RankVerdict::NotApplicable);
    }

    #[test]
    fn tiers_put_better_first_and_worse_last() {
        let mut all = [
            RankVerdict::Worse,
            RankVerdict::NoClearDifference,
            RankVerdict::Better,
        ];
        all.sort_by_key(|v| tier(*v));
        assert_eq!(
            all,
            [
                RankVerdict::Better,
                RankVerdict::NoClearDifference,
                RankVerdict::Worse
            ]
        );
        // A trade-off is ranked with the baseline, by its figures.
        assert_eq!(tier(RankVerdict::Mixed), tier(RankVerdict::Baseline));
    }
}
