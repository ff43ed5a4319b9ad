//! Per window and component, run A's key figures beside run B's, read from
//! both `metrics.csv`; and which components' health differs, and when, from
//! both `analysis.json`.

use serde::Serialize;

use crate::analysis::{Health, Span};
use crate::record::round;
use crate::report::data::{MetricRow, RunData};
use crate::topology::ComponentKind;

/// The figures compared, per window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Figures {
    pub arrivals: u64,
    pub errors: u64,
    /// errors / (ok + errors); `None` when nothing finished.
    pub error_rate: Option<f64>,
    /// `None` when nothing succeeded, so there was no latency to take.
    pub p99_ms: Option<f64>,
    pub queue_avg: f64,
    pub in_use_avg: f64,
}

impl Figures {
    fn of(row: &MetricRow) -> Figures {
        let finished = row.ok + row.errors;
        Figures {
            arrivals: row.arrivals,
            errors: row.errors,
            error_rate: (finished > 0).then(|| row.errors as f64 / finished as f64),
            p99_ms: (row.ok > 0).then_some(row.latency_p99_ms),
            queue_avg: row.queue_avg,
            in_use_avg: row.in_use_avg,
        }
    }
}

/// One component in one window, in both runs (`None`: the run has no such
/// window, e.g. one a stop guard or the budget cut short).
#[derive(Clone, Debug, Serialize)]
pub struct WindowPair {
    pub window_start_s: f64,
    pub window_end_s: f64,
    pub component: String,
    pub kind: ComponentKind,
    pub a: Option<Figures>,
    pub b: Option<Figures>,
}

fn delta(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    Some(b? - a?)
}

impl WindowPair {
    pub fn differs(&self) -> bool {
        self.a != self.b
    }

    pub fn errors_delta(&self) -> Option<i64> {
        Some(self.b?.errors as i64 - self.a?.errors as i64)
    }

    pub fn arrivals_delta(&self) -> Option<i64> {
        Some(self.b?.arrivals as i64 - self.a?.arrivals as i64)
    }

    pub fn error_rate_delta(&self) -> Option<f64> {
        delta(self.a?.error_rate, self.b?.error_rate)
    }

    pub fn p99_delta(&self) -> Option<f64> {
        delta(self.a?.p99_ms, self.b?.p99_ms)
    }

    pub fn queue_delta(&self) -> Option<f64> {
        Some(self.b?.queue_avg - self.a?.queue_avg)
    }

    pub fn in_use_delta(&self) -> Option<f64> {
        Some(self.b?.in_use_avg - self.a?.in_use_avg)
    }

    /// How much the window differs, for ranking: first the failed
    /// requests, then the tail latency.
    pub fn weight(&self) -> (u64, f64) {
        (
            self.errors_delta().map_or(0, i64::unsigned_abs),
            self.p99_delta().map_or(0.0, f64::abs),
        )
    }
}

/// The components a diff looks at: what users see (entries), what serves
/// them (services) and what connects them (pools).
pub fn compared(kind: ComponentKind) -> bool {
    matches!(
        kind,
        ComponentKind::Entry | ComponentKind::Service | ComponentKind::Pool
    )
}

/// Every (window, component) of either run, in A's component order within
/// each window, window by window.
pub fn pairs(a: &RunData, b: &RunData) -> Vec<WindowPair> {
    let window_s = a.manifest.window_s;
    let index = |r: &MetricRow| (r.window_start_s / window_s).round() as usize;
    let key = |r: &MetricRow| (index(r), r.component.clone());
    let mut from_b: std::collections::BTreeMap<(usize, String), &MetricRow> = b
        .rows
        .iter()
        .filter(|r| compared(r.kind))
        .map(|r| (key(r), r))
        .collect();
    let mut out: Vec<WindowPair> = Vec::new();
    for r in a.rows.iter().filter(|r| compared(r.kind)) {
        let theirs = from_b.remove(&key(r));
        out.push(WindowPair {
            window_start_s: r.window_start_s,
            window_end_s: r.window_end_s,
            component: r.component.clone(),
            kind: r.kind,
            a: Some(Figures::of(r)),
            b: theirs.map(Figures::of),
        });
    }
    // Windows only B has (A ended earlier) follow, in B's order.
    for r in b.rows.iter().filter(|r| compared(r.kind)) {
        if from_b.remove(&key(r)).is_some() {
            out.push(WindowPair {
                window_start_s: r.window_start_s,
                window_end_s: r.window_end_s,
                component: r.component.clone(),
                kind: r.kind,
                a: None,
                b: Some(Figures::of(r)),
            });
        }
    }
    out
}

/// A stretch of time a component spent out of its steady band.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Episode {
    pub from_s: f64,
    pub to_s: f64,
    /// The worst it got: `degraded` or `down`.
    pub health: Health,
}

/// A component whose health differs between the runs.
#[derive(Clone, Debug, Serialize)]
pub struct HealthDiff {
    pub component: String,
    pub kind: ComponentKind,
    pub a: Vec<Episode>,
    pub b: Vec<Episode>,
    /// The first instant its state differs (a window's start).
    pub differs_from_s: f64,
}

/// Consecutive spans out of band in the same state, merged.
fn episodes(timeline: &[Span]) -> Vec<Episode> {
    let mut out: Vec<Episode> = Vec::new();
    for span in timeline.iter().filter(|s| s.health != Health::Healthy) {
        match out.last_mut() {
            Some(last) if (last.to_s - span.from_s).abs() < 1e-9 && last.health == span.health => {
                last.to_s = span.to_s;
            }
            _ => out.push(Episode {
                from_s: span.from_s,
                to_s: span.to_s,
                health: span.health,
            }),
        }
    }
    out
}

fn health_at(timeline: &[Span], t: f64) -> Health {
    timeline
        .iter()
        .find(|s| s.from_s <= t && t < s.to_s)
        .map_or(Health::Healthy, |s| s.health)
}

/// The components whose health over time differs, in A's order (then
/// those only B judged).
pub fn health(a: &RunData, b: &RunData) -> Vec<HealthDiff> {
    let window_s = a.manifest.window_s;
    let end = a.duration_s().max(b.duration_s());
    let windows = (end / window_s).round() as usize;
    let empty: &[Span] = &[];
    let mut names: Vec<(String, ComponentKind)> = Vec::new();
    for c in a.analysis.components.iter().chain(&b.analysis.components) {
        if !names.iter().any(|(n, _)| *n == c.component) {
            names.push((c.component.clone(), c.kind));
        }
    }
    let timeline = |data: &RunData, name: &str| -> Vec<Span> {
        data.analysis
            .components
            .iter()
            .find(|c| c.component == name)
            .map_or_else(|| empty.to_vec(), |c| c.timeline.clone())
    };
    names
        .into_iter()
        .filter_map(|(component, kind)| {
            let (ta, tb) = (timeline(a, &component), timeline(b, &component));
            let first = (0..windows).find(|&k| {
                // The middle of the window: clear of the spans' edges.
                let t = (k as f64 + 0.5) * window_s;
                health_at(&ta, t) != health_at(&tb, t)
            })?;
            Some(HealthDiff {
                component,
                kind,
                a: episodes(&ta),
                b: episodes(&tb),
                differs_from_s: round(first as f64 * window_s, 3),
            })
        })
        .collect()
}

/// Per component over the whole run: the windows that differ and the
/// totals of what failed.
#[derive(Clone, Debug, Serialize)]
pub struct ComponentTotals {
    pub component: String,
    pub kind: ComponentKind,
    pub windows_differing: usize,
    pub first_differing_s: Option<f64>,
    pub errors_a: u64,
    pub errors_b: u64,
    pub arrivals_a: u64,
    pub arrivals_b: u64,
    /// The largest |B − A| of a window's p99 (ms), where both timed one.
    pub max_p99_delta_ms: f64,
}

pub fn totals(pairs: &[WindowPair]) -> Vec<ComponentTotals> {
    let mut out: Vec<ComponentTotals> = Vec::new();
    for p in pairs {
        let k = match out.iter().position(|t| t.component == p.component) {
            Some(k) => k,
            None => {
                out.push(ComponentTotals {
                    component: p.component.clone(),
                    kind: p.kind,
                    windows_differing: 0,
                    first_differing_s: None,
                    errors_a: 0,
                    errors_b: 0,
                    arrivals_a: 0,
                    arrivals_b: 0,
                    max_p99_delta_ms: 0.0,
                });
                out.len() - 1
            }
        };
        let t = &mut out[k];
        if p.differs() {
            t.windows_differing += 1;
            t.first_differing_s.get_or_insert(p.window_start_s);
        }
        if let Some(a) = p.a {
            t.errors_a += a.errors;
            t.arrivals_a += a.arrivals;
        }
        if let Some(b) = p.b {
            t.errors_b += b.errors;
            t.arrivals_b += b.arrivals;
        }
        if let Some(d) = p.p99_delta() {
            t.max_p99_delta_ms = round(t.max_p99_delta_ms.max(d.abs()), 3);
        }
    }
    out
}
