//! What a report reads back from a run directory: the files are the
//! interface, so `faultline report DIR` can redraw any run without
//! simulating it again. `run.json` and `analysis.json` are read into the
//! structs that wrote them.

use std::path::Path;

use serde::Deserialize;

use crate::analysis::{Analysis, Health};
use crate::error::{Error, JsonPath, Problem, Result};
use crate::record::{self, run::Manifest};
use crate::spec::Source;
use crate::topology::ComponentKind;

/// The columns of `metrics.csv` the charts draw.
#[derive(Clone, Debug, Deserialize)]
pub struct MetricRow {
    pub window_start_s: f64,
    pub window_end_s: f64,
    pub component: String,
    pub kind: ComponentKind,
    pub arrivals: u64,
    pub ok: u64,
    pub errors: u64,
    pub retries: u64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub queue_avg: f64,
    pub queue_max: u64,
    pub busy_avg: f64,
    pub capacity: u64,
    pub in_use_avg: f64,
    pub memory_max_mib: f64,
}

/// One line of `events.jsonl`, as far as the charts need it.
#[derive(Clone, Debug, Deserialize)]
pub struct EventLine {
    pub time_s: f64,
    pub event: String,
    pub component: String,
}

/// One metric of one component over the windows, one point per drawn
/// step (a window, or several merged; see `RunData::step`).
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
    /// `(x, lowest, highest)` of the windows merged into each point, when
    /// windows were merged: drawn as a band, so a spike one window wide
    /// still shows.
    pub band: Vec<(f64, f64, f64)>,
}

/// How the windows merged into one drawn point combine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Merge {
    /// Their mean: a level averaged over time (busy workers, queue).
    Mean,
    /// The highest: a worst case that must not be averaged away (p99).
    Max,
    /// The middle one: a typical value (p50).
    Median,
}

/// At most this many points per series are drawn: a chart is about a
/// thousand pixels wide, and a line of 600,000 windows would write tens of
/// megabytes of SVG for the same picture.
pub const MAX_POINTS: usize = 1000;

/// Windows merged into one drawn point, for `windows` windows.
pub fn windows_per_point(windows: usize) -> usize {
    windows.div_ceil(MAX_POINTS).max(1)
}

/// Merges consecutive values, `per` windows at a time, keyed by window
/// index; `values` in window order. Deterministic: the grouping depends on
/// the window index alone.
fn merge_values(values: &[(usize, f64)], per: usize, merge: Merge, window_s: f64) -> Series {
    let mut series = Series::default();
    let mut k = 0;
    while k < values.len() {
        let group = values[k].0 / per;
        let end = values[k..]
            .iter()
            .position(|v| v.0 / per != group)
            .map_or(values.len(), |n| k + n);
        let ys: Vec<f64> = values[k..end].iter().map(|v| v.1).collect();
        let x = (group * per) as f64 * window_s;
        let (low, high) = ys
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
                (lo.min(*y), hi.max(*y))
            });
        let y = match merge {
            Merge::Mean => ys.iter().sum::<f64>() / ys.len() as f64,
            Merge::Max => high,
            Merge::Median => {
                let mut sorted = ys.clone();
                sorted.sort_by(f64::total_cmp);
                sorted[(sorted.len() - 1) / 2]
            }
        };
        series.points.push((x, y));
        if per > 1 {
            series.band.push((x, low, high));
        }
        k = end;
    }
    series
}

/// A run directory, read back.
pub struct RunData {
    pub manifest: Manifest,
    pub analysis: Analysis,
    pub rows: Vec<MetricRow>,
    pub events: Vec<EventLine>,
}

fn unreadable(path: &Path, what: impl std::fmt::Display) -> Error {
    let source = Source {
        path: path.to_path_buf(),
        text: String::new(),
    };
    source.invalid(vec![Problem::new(
        JsonPath::root(),
        format!("cannot be read as faultline output: {what}"),
    )])
}

impl RunData {
    pub fn read(dir: &Path) -> Result<RunData> {
        let manifest: Manifest = record::read(&dir.join("run.json"))?;
        let analysis: Analysis = record::read(&dir.join("analysis.json"))?;
        let metrics = dir.join("metrics.csv");
        let mut reader = csv::Reader::from_path(&metrics).map_err(|e| unreadable(&metrics, e))?;
        let mut rows = reader
            .deserialize()
            .collect::<std::result::Result<Vec<MetricRow>, _>>()
            .map_err(|e| unreadable(&metrics, e))?;
        // Per-instance rows (`run --per-instance`) are for notebooks; the
        // charts draw services, and the same with or without them.
        rows.retain(|r| r.kind != ComponentKind::Instance);
        let events_path = dir.join("events.jsonl");
        let events_text = Source::read(&events_path)?.text;
        let events = events_text
            .lines()
            .enumerate()
            .map(|(k, line)| {
                serde_json::from_str::<EventLine>(line)
                    .map_err(|e| unreadable(&events_path, format!("line {}: {e}", k + 1)))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(RunData {
            manifest,
            analysis,
            rows,
            events,
        })
    }

    /// The simulated time (s), warm-up included.
    pub fn duration_s(&self) -> f64 {
        self.manifest.duration_s
    }

    /// Names of the components of `kind`, in file order.
    pub fn components(&self, kind: ComponentKind) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for row in self.rows.iter().filter(|r| r.kind == kind) {
            if !names.contains(&row.component) {
                names.push(row.component.clone());
            }
        }
        names
    }

    /// Windows merged into one drawn point.
    pub fn per_point(&self) -> usize {
        let windows = (self.duration_s() / self.manifest.window_s).round() as usize;
        windows_per_point(windows)
    }

    /// The time one drawn point covers (s): a window, or several merged.
    pub fn step_s(&self) -> f64 {
        self.per_point() as f64 * self.manifest.window_s
    }

    fn window_index(&self, row: &MetricRow) -> usize {
        (row.window_start_s / self.manifest.window_s).round() as usize
    }

    /// A metric of one component, one point per step at the step's start;
    /// `None` leaves a window out (no successful request to time). Windows
    /// merged into a step combine by `merge`, and their range is kept.
    pub fn series(
        &self,
        component: &str,
        merge: Merge,
        f: impl Fn(&MetricRow) -> Option<f64>,
    ) -> Series {
        let values: Vec<(usize, f64)> = self
            .rows
            .iter()
            .filter(|r| r.component == component)
            .filter_map(|r| f(r).map(|v| (self.window_index(r), v)))
            .collect();
        let mut series = merge_values(&values, self.per_point(), merge, self.manifest.window_s);
        series.name = component.to_string();
        series
    }

    /// A ratio of sums over each step, `scale × Σ numerator / Σ
    /// denominator` (successes per second, the failed share): merged
    /// windows give the ratio over the step, not a mean of ratios. A step
    /// whose denominator is zero is left out.
    pub fn ratio_series(
        &self,
        component: &str,
        scale: f64,
        numerator: impl Fn(&MetricRow) -> f64,
        denominator: impl Fn(&MetricRow) -> f64,
    ) -> Series {
        let per = self.per_point();
        let mut sums: Vec<(usize, f64, f64)> = Vec::new();
        for r in self.rows.iter().filter(|r| r.component == component) {
            let group = self.window_index(r) / per;
            match sums.last_mut() {
                Some(last) if last.0 == group => {
                    last.1 += numerator(r);
                    last.2 += denominator(r);
                }
                _ => sums.push((group, numerator(r), denominator(r))),
            }
        }
        Series {
            name: component.to_string(),
            points: sums
                .into_iter()
                .filter(|s| s.2 > 0.0)
                .map(|(group, n, d)| ((group * per) as f64 * self.manifest.window_s, scale * n / d))
                .collect(),
            band: Vec::new(),
        }
    }

    /// `(name, start, end)` of each fault; `end` is the run's end for a
    /// fault that lasts, the start for an instant.
    pub fn faults(&self) -> Vec<(String, f64, f64)> {
        self.analysis
            .faults
            .iter()
            .map(|f| {
                let end = f.end_s.unwrap_or(self.duration_s());
                (f.name.clone(), f.start_s, end)
            })
            .collect()
    }

    /// The worst state a component reached; one the analysis does not
    /// judge (it is in no report) was never out of band.
    pub fn worst(&self, component: &str) -> Health {
        self.analysis
            .components
            .iter()
            .find(|c| c.component == component)
            .map_or(Health::Healthy, |c| c.worst)
    }

    /// What a component's state is judged over: from the first fault to
    /// the end of the run (the whole run after the warm-up without a
    /// fault), against the length of the fault window.
    pub fn judged_period(&self) -> Period {
        let end = self.duration_s();
        let faults = self.faults();
        let Some(from) = faults.iter().map(|f| f.1).min_by(f64::total_cmp) else {
            let from = self.analysis.steady_to_s.min(end);
            return Period {
                from_s: from,
                to_s: end,
                base_s: end - from,
            };
        };
        // An instant fault (a kill) leaves its damage until something
        // repairs it: its window runs to the end of the run.
        let mut windows: Vec<(f64, f64)> = faults
            .iter()
            .map(|(_, start, stop)| (*start, if stop > start { *stop } else { end }))
            .collect();
        windows.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut base = 0.0;
        let mut reach = f64::NEG_INFINITY;
        for (start, stop) in windows {
            let start = start.max(reach);
            if stop > start {
                base += stop - start;
            }
            reach = reach.max(stop);
        }
        Period {
            from_s: from,
            to_s: end,
            base_s: base,
        }
    }

    /// A component's sustained state over `judged_period`.
    pub fn sustained(&self, component: &str) -> Sustained {
        let period = self.judged_period();
        let timeline = self
            .analysis
            .components
            .iter()
            .find(|c| c.component == component)
            .map_or(&[][..], |c| c.timeline.as_slice());
        sustained(timeline, period)
    }
}

/// What a component's state is judged over.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Period {
    pub from_s: f64,
    pub to_s: f64,
    /// The fault window's length (s), what shares are of.
    pub base_s: f64,
}

/// A state held for at least this share of the fault window is sustained:
/// long enough that an architect should weigh it, unlike the seconds a
/// health check takes to eject an instance of a zone that went dark.
pub const SUSTAINED_SHARE: f64 = 0.1;

/// How a component fared over the judged period.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sustained {
    /// The worst state held for `SUSTAINED_SHARE` of the fault window,
    /// counting time in a worse state towards it.
    pub health: Health,
    /// The worst state of any window.
    pub worst: Health,
    pub degraded_s: f64,
    pub down_s: f64,
    /// Out of band (degraded or down) as a share of the fault window, at
    /// most 1.
    pub share: f64,
}

/// The sustained state of a component from its timeline.
pub fn sustained(timeline: &[crate::analysis::Span], period: Period) -> Sustained {
    let (mut degraded_s, mut down_s) = (0.0, 0.0);
    let mut worst = Health::Healthy;
    for span in timeline {
        let overlap = span.to_s.min(period.to_s) - span.from_s.max(period.from_s);
        if overlap <= 0.0 {
            continue;
        }
        worst = worst.max(span.health);
        match span.health {
            Health::Degraded => degraded_s += overlap,
            Health::Down => down_s += overlap,
            Health::Healthy => {}
        }
    }
    let share_of = |s: f64| {
        if period.base_s > 0.0 {
            (s / period.base_s).min(1.0)
        } else if s > 0.0 {
            1.0
        } else {
            0.0
        }
    };
    let health = if share_of(down_s) >= SUSTAINED_SHARE {
        Health::Down
    } else if share_of(down_s + degraded_s) >= SUSTAINED_SHARE {
        Health::Degraded
    } else {
        Health::Healthy
    };
    Sustained {
        health,
        worst,
        degraded_s,
        down_s,
        share: share_of(down_s + degraded_s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::Span;

    fn span(from_s: f64, to_s: f64, health: Health) -> Span {
        Span {
            from_s,
            to_s,
            health,
            reason: None,
        }
    }

    /// The zone outage the design survives at 98.9 %: the entry went down
    /// for two seconds and was degraded for six while a health check
    /// ejected the dark zone's instances, then served for the rest of the
    /// two-minute outage. Its worst window was down; its sustained state
    /// is healthy.
    #[test]
    fn a_survived_outage_is_not_painted_down() {
        let timeline = [
            span(0.0, 60.0, Health::Healthy),
            span(60.0, 61.0, Health::Degraded),
            span(61.0, 63.0, Health::Down),
            span(63.0, 64.0, Health::Degraded),
            span(64.0, 65.0, Health::Healthy),
            span(65.0, 69.0, Health::Degraded),
            span(69.0, 240.0, Health::Healthy),
        ];
        let period = Period {
            from_s: 60.0,
            to_s: 240.0,
            base_s: 120.0,
        };
        let s = sustained(&timeline, period);
        assert_eq!(s.worst, Health::Down);
        assert_eq!(s.health, Health::Healthy);
        assert_eq!((s.down_s, s.degraded_s), (2.0, 6.0));
    }

    /// The slow database: the gateway failed half its requests or more for
    /// nearly the whole fault, and that is what its colour says.
    #[test]
    fn an_outage_that_lasts_is_down() {
        let timeline = [
            span(0.0, 61.0, Health::Healthy),
            span(61.0, 64.0, Health::Degraded),
            span(64.0, 180.0, Health::Down),
            span(180.0, 240.0, Health::Healthy),
        ];
        let period = Period {
            from_s: 60.0,
            to_s: 240.0,
            base_s: 120.0,
        };
        assert_eq!(sustained(&timeline, period).health, Health::Down);
        // Degraded for long, down for a moment: degraded.
        let timeline = [
            span(60.0, 62.0, Health::Down),
            span(62.0, 100.0, Health::Degraded),
        ];
        assert_eq!(sustained(&timeline, period).health, Health::Degraded);
    }

    /// A spike one window wide survives merging, and the merged point
    /// stands for its step.
    #[test]
    fn merged_windows_keep_their_extremes() {
        let windows = 600_000;
        let per = windows_per_point(windows);
        assert_eq!(per, 600);
        let values: Vec<(usize, f64)> = (0..windows)
            .map(|k| (k, if k == 123_457 { 5000.0 } else { (k % 7) as f64 }))
            .collect();
        for merge in [Merge::Mean, Merge::Max, Merge::Median] {
            let s = merge_values(&values, per, merge, 0.001);
            assert!(s.points.len() <= MAX_POINTS);
            assert_eq!(s.band.len(), s.points.len());
            let high = s.band.iter().map(|b| b.2).fold(0.0, f64::max);
            assert_eq!(high, 5000.0, "{merge:?}");
            assert!(s.band.iter().all(|b| b.1 == 0.0));
            let spike = s.band.iter().find(|b| b.2 == 5000.0).unwrap();
            assert_eq!(spike.0, (123_457 / per * per) as f64 * 0.001);
        }
        let s = merge_values(&values, per, Merge::Max, 0.001);
        assert_eq!(s.points.iter().map(|p| p.1).fold(0.0, f64::max), 5000.0);
        // Unmerged, a series is its windows.
        let s = merge_values(&values[..10], 1, Merge::Mean, 1.0);
        assert_eq!(s.points.len(), 10);
        assert!(s.band.is_empty());
    }
}
