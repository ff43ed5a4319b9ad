//! Tick values and their labels. plotters' own choice on a log axis piles
//! labels up ("60 ms" to "90 ms" in one place, "100 ms" twice) and leaves
//! nothing below 10 ms, so the log axes here get their ticks from
//! `log_ticks`, which picks the densest 1-2-5 style set whose labels keep
//! apart at the axis' pixel length, and `format_ms`, which writes each
//! distinct tick as a distinct label.

use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};

/// Mantissas per decade, densest first; then whole decades, then every
/// second and third decade for spans a panel cannot label decade by decade.
const MANTISSAS: [&[f64]; 4] = [
    &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    &[1.0, 2.0, 5.0],
    &[1.0, 3.0],
    &[1.0],
];

/// Ticks over `[low, high]` on a log axis `length_px` long, at least
/// `min_gap_px` apart, at least two of them when the axis can hold two.
pub(crate) fn log_ticks(low: f64, high: f64, length_px: f64, min_gap_px: f64) -> Vec<f64> {
    if !(low > 0.0 && high > low && low.is_finite() && high.is_finite()) {
        return Vec::new();
    }
    let span = (high / low).ln();
    let fits = |ticks: &[f64]| {
        ticks
            .windows(2)
            .all(|w| length_px * (w[1] / w[0]).ln() / span >= min_gap_px)
    };
    let first = low.log10().floor() as i32;
    let last = high.log10().ceil() as i32;
    for mantissas in MANTISSAS {
        let ticks = decade_ticks(low, high, first, last, 1, mantissas);
        if ticks.len() >= 2 && fits(&ticks) {
            return ticks;
        }
    }
    for every in 2..=6 {
        let ticks = decade_ticks(low, high, first, last, every, &[1.0]);
        if ticks.len() >= 2 && fits(&ticks) {
            return ticks;
        }
    }
    // No round set fits two labels (a third of a decade over a short
    // axis): every mantissa that keeps its distance from the last kept.
    let mut thinned: Vec<f64> = Vec::new();
    for t in decade_ticks(low, high, first, last, 1, MANTISSAS[0]) {
        if thinned.last().is_none_or(|last| fits(&[*last, t])) {
            thinned.push(t);
        }
    }
    if thinned.len() >= 2 {
        return thinned;
    }
    // Narrower than the step between mantissas (say 41–47 ms): the two
    // ends, rounded inward to two significant digits.
    let ends = [round_sig(low, 2, f64::ceil), round_sig(high, 2, f64::floor)];
    if ends[0] < ends[1] && fits(&ends) {
        return ends.to_vec();
    }
    if thinned.is_empty() {
        thinned.push(ends[0]);
    }
    thinned
}

fn decade_ticks(
    low: f64,
    high: f64,
    first: i32,
    last: i32,
    every: i32,
    mantissas: &[f64],
) -> Vec<f64> {
    let mut out = Vec::new();
    let mut exponent = first - first.rem_euclid(every);
    while exponent <= last {
        for m in mantissas {
            // `m * 10^e` through a decimal string: 3 × 10^-1 is 0.3, not
            // 0.30000000000000004, so labels and positions agree.
            let value: f64 = format!("{m}e{exponent}").parse().unwrap_or(f64::NAN);
            if value >= low * (1.0 - 1e-9) && value <= high * (1.0 + 1e-9) {
                out.push(value);
            }
        }
        exponent += every;
    }
    out
}

fn round_sig(v: f64, digits: i32, round: fn(f64) -> f64) -> f64 {
    let scale = 10f64.powi(digits - 1 - v.log10().floor() as i32);
    round(v * scale) / scale
}

/// A latency in milliseconds as a short label: `0.2 ms`, `15 ms`, `2 s`,
/// `50 µs`. Distinct ticks of `log_ticks` get distinct labels.
pub(crate) fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", trim_number(ms / 1000.0))
    } else if ms >= 0.1 || ms == 0.0 {
        format!("{} ms", trim_number(ms))
    } else {
        format!("{} µs", trim_number(ms * 1000.0))
    }
}

/// A number without trailing zeros: 0.25, 3, 1500; at most three decimals.
pub(crate) fn trim_number(v: f64) -> String {
    let text = format!("{v:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

/// `v` rounded to `digits` significant digits (99.95 → 100, 16.581 → 16.6).
pub(crate) fn significant(v: f64, digits: i32) -> f64 {
    if v == 0.0 || !v.is_finite() {
        return v;
    }
    let scale = 10f64.powi(digits - 1 - v.abs().log10().floor() as i32);
    (v * scale).round() / scale
}

/// The share of requests at most a latency, drawn so the tail has room:
/// the axis is `-log10(1 - q)`, where 90 %, 99 % and 99.9 % are equally
/// far apart, as a latency tail's decades are.
pub(crate) fn tail_position(q: f64) -> f64 {
    -(1.0 - q.clamp(0.0, 0.999_999)).log10()
}

/// The share (0–1) at a position of `tail_position`.
pub(crate) fn tail_share(position: f64) -> f64 {
    1.0 - 10f64.powf(-position)
}

/// Ticks of a tail axis up to `top` (a position): 0, 50, 90, 99, 99.9 %…
pub(crate) fn tail_ticks(top: f64) -> Vec<f64> {
    let mut out = vec![0.0, tail_position(0.5)];
    let mut nines = 1;
    while (nines as f64) <= top + 1e-9 {
        out.push(nines as f64);
        nines += 1;
    }
    out
}

/// A share (0–1) as a percentage label, with as many decimals as its nines
/// need: `50 %`, `99 %`, `99.9 %`.
pub(crate) fn format_share(q: f64) -> String {
    let percent = q * 100.0;
    let text = format!("{percent:.4}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text} %")
}

/// A linear axis over `range` whose ticks are exactly `ticks`: plotters'
/// own key points on a float axis cannot be replaced while keeping a label
/// formatter.
#[derive(Clone)]
pub(crate) struct Ticked {
    pub(crate) range: std::ops::Range<f64>,
    pub(crate) ticks: Vec<f64>,
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, limit: (i32, i32)) -> i32 {
        let span = self.range.end - self.range.start;
        if span == 0.0 {
            return (limit.0 + limit.1) / 2;
        }
        let share = (v - self.range.start) / span;
        limit.0 + ((limit.1 - limit.0) as f64 * share + 1e-3).floor() as i32
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Over axis spans from a fraction of a millisecond to minutes and
    /// lengths from a small panel to a tall one: every tick inside the
    /// range, labels distinct, neighbours at least a label's height apart,
    /// and two ticks or more.
    #[test]
    fn log_ticks_are_distinct_inside_and_apart() {
        let lows = [0.003, 0.04, 0.25, 0.9, 1.0, 3.3, 20.0, 41.0, 99.0, 700.0];
        let ratios = [1.15, 1.5, 3.0, 7.0, 12.0, 40.0, 300.0, 1e4, 1e6];
        for low in lows {
            for ratio in ratios {
                for length in [80.0, 150.0, 300.0] {
                    let high = low * ratio;
                    let ticks = log_ticks(low, high, length, 16.0);
                    let case = format!("{low}..{high} over {length} px: {ticks:?}");
                    assert!(ticks.len() >= 2 || ratio < 1.2, "{case}");
                    assert!(!ticks.is_empty(), "{case}");
                    for t in &ticks {
                        assert!(*t >= low * 0.999 && *t <= high * 1.001, "{case}");
                    }
                    let labels: Vec<String> = ticks.iter().map(|t| format_ms(*t)).collect();
                    let mut distinct = labels.clone();
                    distinct.dedup();
                    assert_eq!(distinct.len(), labels.len(), "{case}: {labels:?}");
                    let span = (high / low).ln();
                    for w in ticks.windows(2) {
                        assert!(w[0] < w[1], "{case}");
                        assert!(length * (w[1] / w[0]).ln() / span >= 16.0, "{case}");
                    }
                }
            }
        }
    }

    #[test]
    fn log_ticks_below_ten_milliseconds_are_round() {
        assert_eq!(
            log_ticks(0.8, 40.0, 200.0, 16.0),
            vec![1.0, 2.0, 5.0, 10.0, 20.0]
        );
        let ticks = log_ticks(0.5, 8.0, 200.0, 16.0);
        for t in [0.5, 1.0, 2.0, 5.0] {
            assert!(ticks.contains(&t), "{ticks:?}");
        }
        let ticks = log_ticks(2.0, 60.0, 220.0, 16.0);
        assert!(ticks.contains(&5.0) && ticks.contains(&10.0), "{ticks:?}");
    }

    #[test]
    fn labels_read_naturally() {
        assert_eq!(format_ms(0.3), "0.3 ms");
        assert_eq!(format_ms(0.05), "50 µs");
        assert_eq!(format_ms(2.0), "2 ms");
        assert_eq!(format_ms(100.0), "100 ms");
        assert_eq!(format_ms(2000.0), "2 s");
        assert_eq!(format_ms(1500.0), "1.5 s");
        assert_eq!(format_share(tail_share(3.0)), "99.9 %");
        assert_eq!(format_share(tail_share(tail_position(0.5))), "50 %");
        assert_eq!(format_ms(significant(16.581, 3)), "16.6 ms");
        assert_eq!(format_ms(significant(8992.588, 3)), "8.99 s");
        assert_eq!(significant(334.496, 3), 334.0);
    }

    #[test]
    fn the_tail_axis_spreads_the_nines() {
        let ticks = tail_ticks(tail_position(0.999));
        let labels: Vec<String> = ticks.iter().map(|t| format_share(tail_share(*t))).collect();
        assert_eq!(labels, ["0 %", "50 %", "90 %", "99 %", "99.9 %"]);
    }
}
