//! `faultline diff RUN_A RUN_B`: two run directories of one model (seeds,
//! variants, tool versions) set side by side. Where their traces first part
//! (`walk.rs`: both simulated again, every engine event compared in
//! lockstep; the state changes of `events.jsonl` when a run cannot be
//! remade), per window how the key figures of each component differ, and
//! which components' health differs and when (`windows.rs`). With paired
//! random streams, a variant on the baseline's seed parts from it where
//! the variant's change first takes effect.
//!
//! Reads the run directories through `report::data`; writes `diff.json`,
//! `diff.csv` and `diff.svg`/`.png` through a staging directory.

mod walk;
pub mod windows;

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, JsonPath, Problem, Result};
use crate::experiment::output::Staging;
use crate::record::round;
use crate::report::charts::{self, Deltas, Panel};
use crate::report::data::{RunData, Series};
use crate::sim::Budget;
use crate::sim::event::Event;
use crate::spec::Source;
use crate::topology::ComponentKind;
use windows::{ComponentTotals, HealthDiff, WindowPair};

/// One side of the diff.
#[derive(Clone, Debug, Serialize)]
pub struct Side {
    pub dir: String,
    pub scenario: String,
    pub variant: String,
    pub seed: u64,
    pub tool_version: String,
    pub model_sha256: String,
    pub events: u64,
    pub trace_digest: String,
}

impl Side {
    fn of(dir: &Path, data: &RunData) -> Side {
        let m = &data.manifest;
        Side {
            dir: dir.display().to_string(),
            scenario: m.scenario.name.clone(),
            variant: m.variant.clone(),
            seed: m.seed,
            tool_version: m.tool.version.clone(),
            model_sha256: m.model.sha256.clone(),
            events: m.engine.events,
            trace_digest: m.engine.trace_digest.clone(),
        }
    }

    /// `<variant>-seed-<n>`: what names the side in the default output.
    pub fn label(&self) -> String {
        format!("{}-seed-{}", self.variant, self.seed)
    }
}

/// One engine event, named.
#[derive(Clone, Debug, Serialize)]
pub struct Happening {
    pub time_s: f64,
    pub event: String,
    /// `None` for an event the engine drops (its request moved on).
    pub component: Option<String>,
}

impl Happening {
    fn in_words(&self) -> String {
        match &self.component {
            Some(c) => format!("{} (`{c}`)", self.event),
            None => format!("{} (stale: dropped)", self.event),
        }
    }
}

/// Which trace the first divergence is of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Trace {
    /// Every engine event, both runs simulated again.
    EngineEvents,
    /// The lines of `events.jsonl`: state changes only, which may part
    /// later than the events do.
    StateChanges,
}

/// Where the runs first part.
#[derive(Clone, Debug, Serialize)]
pub struct Divergence {
    pub trace: Trace,
    /// The index of the first differing event (or line, from 1) in its
    /// trace.
    pub index: u64,
    pub time_s: f64,
    /// What each run did there; `None`: that run had ended.
    pub a: Option<Happening>,
    pub b: Option<Happening>,
    pub text: String,
}

/// What `faultline diff` found; `diff.json`.
#[derive(Clone, Debug, Serialize)]
pub struct Diff {
    pub a: Side,
    pub b: Side,
    /// `same`, or how the models differ (a variant's patch).
    pub model: String,
    /// Same trace digest and every compared figure equal.
    pub identical: bool,
    /// `None` when the traces do not part.
    pub divergence: Option<Divergence>,
    /// Why the runs could not be simulated again, when the divergence is
    /// of the state changes instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub not_resimulated: Option<String>,
    pub window_s: f64,
    pub components: Vec<ComponentTotals>,
    /// Components out of band differently in the two runs.
    pub health: Vec<HealthDiff>,
    /// The windows that differ most (by failed requests, then p99).
    pub top_windows: Vec<WindowPair>,
    #[serde(skip)]
    pub pairs: Vec<WindowPair>,
}

/// Windows listed in `top_windows`.
pub const TOP: usize = 12;

fn refused(file: PathBuf, path: JsonPath, message: String) -> Error {
    Error::Invalid {
        file,
        problems: vec![Problem::new(path, message)],
    }
}

/// Reads a run directory, refusing one that is not a run with the file
/// that says so.
fn read(dir: &Path) -> Result<RunData> {
    let run_json = dir.join("run.json");
    if !run_json.is_file() {
        let source = Source {
            path: run_json,
            text: String::new(),
        };
        return Err(source.invalid(vec![Problem::new(
            JsonPath::root(),
            format!(
                "not found: {} is not a run directory (expected one such as \
                 output/slow-database/baseline/seed-42)",
                dir.display()
            ),
        )]));
    }
    RunData::read(dir)
}

/// The components of a run's metrics, as (name, kind), sorted.
fn component_set(data: &RunData) -> Vec<(String, &'static str)> {
    let mut set: Vec<(String, &'static str)> = data
        .rows
        .iter()
        .filter(|r| windows::compared(r.kind))
        .map(|r| (r.component.clone(), r.kind.name()))
        .collect();
    set.sort();
    set.dedup();
    set
}

/// Refuses runs that cannot be set side by side; says how the models
/// differ when a variant's patch is all that does.
fn check(dir_b: &Path, a: &RunData, b: &RunData) -> Result<String> {
    let run_json = dir_b.join("run.json");
    let (ma, mb) = (&a.manifest, &b.manifest);
    let model = if ma.model.sha256 == mb.model.sha256 {
        "same".to_string()
    } else if ma.variant == mb.variant {
        return Err(refused(
            run_json,
            JsonPath::root().key("model").key("sha256"),
            format!(
                "a different model from run A's (A: `{}` {}, B: `{}` {}) with the same variant \
                 `{}`: diff sets runs of one model side by side (seeds, variants, tool versions)",
                ma.model.name,
                short(&ma.model.sha256),
                mb.model.name,
                short(&mb.model.sha256),
                mb.variant
            ),
        ));
    } else {
        format!("differs: variant {} vs {}", ma.variant, mb.variant)
    };
    let (ca, cb) = (component_set(a), component_set(b));
    if ca != cb {
        let only = |x: &[(String, &str)], y: &[(String, &str)]| -> String {
            let names: Vec<String> = x
                .iter()
                .filter(|c| !y.contains(c))
                .map(|(n, k)| format!("{n} ({k})"))
                .collect();
            if names.is_empty() {
                "none".into()
            } else {
                names.join(", ")
            }
        };
        return Err(refused(
            run_json,
            JsonPath::root().key("model"),
            format!(
                "the runs' components differ (only in A: {}; only in B: {}): their windows \
                 cannot be set side by side",
                only(&ca, &cb),
                only(&cb, &ca)
            ),
        ));
    }
    if ma.window_s != mb.window_s {
        return Err(refused(
            run_json,
            JsonPath::root().key("window_s"),
            format!(
                "metrics windows of {} s, run A's are {} s: their windows cannot be set side by side",
                mb.window_s, ma.window_s
            ),
        ));
    }
    Ok(model)
}

fn short(sha: &str) -> &str {
    sha.get(..12).unwrap_or(sha)
}

/// Sets run `b` beside run `a`. `built_in` holds the (path, text) of input
/// files built into the binary, for runs made from them.
pub fn diff(a: &Path, b: &Path, built_in: &[(&str, &str)], budget: Budget) -> Result<Diff> {
    let (data_a, data_b) = (read(a)?, read(b)?);
    let model = check(b, &data_a, &data_b)?;
    let (side_a, side_b) = (Side::of(a, &data_a), Side::of(b, &data_b));
    let same_trace = side_a.trace_digest == side_b.trace_digest;
    let (divergence, not_resimulated) = if same_trace {
        (None, None)
    } else {
        match first_divergence(a, b, built_in, budget) {
            Ok(d) => (d, None),
            Err(why) => (state_divergence(&data_a, &data_b), Some(why)),
        }
    };
    let pairs = windows::pairs(&data_a, &data_b);
    let components = windows::totals(&pairs);
    let health = windows::health(&data_a, &data_b);
    let mut top: Vec<WindowPair> = pairs.iter().filter(|p| p.differs()).cloned().collect();
    // Stable: ties keep the files' order (window, then component).
    top.sort_by(|x, y| {
        let (wx, wy) = (x.weight(), y.weight());
        wy.0.cmp(&wx.0).then(wy.1.total_cmp(&wx.1))
    });
    top.truncate(TOP);
    let identical = same_trace && pairs.iter().all(|p| !p.differs()) && health.is_empty();
    Ok(Diff {
        a: side_a,
        b: side_b,
        model,
        identical,
        divergence,
        not_resimulated,
        window_s: data_a.manifest.window_s,
        components,
        health,
        top_windows: top,
        pairs,
    })
}

fn seconds(ns: u64) -> f64 {
    round(ns as f64 / 1e9, 9)
}

/// The first engine event that differs, both runs simulated again;
/// `Err` says why they could not be.
fn first_divergence(
    a: &Path,
    b: &Path,
    built_in: &[(&str, &str)],
    budget: Budget,
) -> std::result::Result<Option<Divergence>, String> {
    let ra = walk::rerun_of(a, built_in).map_err(|e| format!("run A: {e}"))?;
    let rb = walk::rerun_of(b, built_in).map_err(|e| format!("run B: {e}"))?;
    let (index, sa, sb) = match walk::walk(&ra, &rb, budget)? {
        walk::Walk::Same => return Ok(None),
        walk::Walk::Parted { index, a, b } => (index, a, b),
    };
    let name = |run: &walk::Rerun, s: Option<crate::observe::steps::Step>| {
        s.map(|s| Happening {
            time_s: seconds(s.time),
            event: Event::kind_in_words(s.word).to_string(),
            component: s.subject.component(&run.plan.topology, &run.plan.faults),
        })
    };
    let (ha, hb) = (name(&ra, sa), name(&rb, sb));
    let time_s = [&ha, &hb]
        .into_iter()
        .flatten()
        .map(|h| h.time_s)
        .fold(f64::INFINITY, f64::min);
    let side = |h: &Option<Happening>| match h {
        Some(h) if h.time_s == time_s => format!("handles {}", h.in_words()),
        Some(h) => format!(
            "handles nothing then (next: {} at {:.6} s)",
            h.in_words(),
            h.time_s
        ),
        None => "has ended".to_string(),
    };
    let text = format!(
        "at {time_s:.6} s (engine event {}): run A {} where run B {}",
        index + 1,
        side(&ha),
        side(&hb)
    );
    Ok(Some(Divergence {
        trace: Trace::EngineEvents,
        index: index + 1,
        time_s,
        a: ha,
        b: hb,
        text,
    }))
}

/// The first line where the runs' `events.jsonl` differ (time, event and
/// component; causes aside).
fn state_divergence(a: &RunData, b: &RunData) -> Option<Divergence> {
    let same = |x: &crate::report::data::EventLine, y: &crate::report::data::EventLine| {
        x.time_s == y.time_s && x.event == y.event && x.component == y.component
    };
    let k = (0..a.events.len().max(b.events.len())).find(|&k| {
        match (a.events.get(k), b.events.get(k)) {
            (Some(x), Some(y)) => !same(x, y),
            _ => true,
        }
    })?;
    let named = |e: Option<&crate::report::data::EventLine>| {
        e.map(|e| Happening {
            time_s: e.time_s,
            event: e.event.clone(),
            component: Some(e.component.clone()),
        })
    };
    let (ha, hb) = (named(a.events.get(k)), named(b.events.get(k)));
    let time_s = [&ha, &hb]
        .into_iter()
        .flatten()
        .map(|h| h.time_s)
        .fold(f64::INFINITY, f64::min);
    let side = |h: &Option<Happening>| match h {
        Some(h) => format!(
            "`{}` of `{}` at {:.3} s",
            h.event,
            h.component.as_deref().unwrap_or(""),
            h.time_s
        ),
        None => "no more state changes".to_string(),
    };
    let text = format!(
        "the state changes part at {time_s:.3} s (events.jsonl line {}): run A has {} where run B \
         has {} — the engine events may have parted earlier",
        k + 1,
        side(&ha),
        side(&hb)
    );
    Some(Divergence {
        trace: Trace::StateChanges,
        index: k as u64 + 1,
        time_s,
        a: ha,
        b: hb,
        text,
    })
}

impl Diff {
    /// `output/<scenario>/diff-<variant>-seed-<n>-vs-<variant>-seed-<m>`
    /// under `base`.
    pub fn default_dir(&self, base: &Path) -> PathBuf {
        base.join(&self.a.scenario)
            .join(format!("diff-{}-vs-{}", self.a.label(), self.b.label()))
    }

    pub fn to_json(&self) -> String {
        crate::record::to_json(self)
    }

    /// One row per window and component: A, B and B − A of each figure;
    /// empty where a run has no such window or the figure does not apply.
    pub fn to_csv(&self) -> String {
        let mut csv = csv::Writer::from_writer(Vec::new());
        let header = [
            "window_start_s",
            "window_end_s",
            "component",
            "kind",
            "arrivals_a",
            "arrivals_b",
            "arrivals_delta",
            "errors_a",
            "errors_b",
            "errors_delta",
            "error_rate_a",
            "error_rate_b",
            "error_rate_delta",
            "p99_ms_a",
            "p99_ms_b",
            "p99_ms_delta",
            "queue_avg_a",
            "queue_avg_b",
            "queue_avg_delta",
            "in_use_avg_a",
            "in_use_avg_b",
            "in_use_avg_delta",
        ];
        csv.write_record(header).expect("CSV into memory");
        let f = |v: Option<f64>| v.map_or(String::new(), |v| round(v, 6).to_string());
        let n = |v: Option<u64>| v.map_or(String::new(), |v| v.to_string());
        let i = |v: Option<i64>| v.map_or(String::new(), |v| v.to_string());
        for p in &self.pairs {
            let (a, b) = (p.a, p.b);
            let record = [
                p.window_start_s.to_string(),
                p.window_end_s.to_string(),
                p.component.clone(),
                p.kind.name().to_string(),
                n(a.map(|x| x.arrivals)),
                n(b.map(|x| x.arrivals)),
                i(p.arrivals_delta()),
                n(a.map(|x| x.errors)),
                n(b.map(|x| x.errors)),
                i(p.errors_delta()),
                f(a.and_then(|x| x.error_rate)),
                f(b.and_then(|x| x.error_rate)),
                f(p.error_rate_delta()),
                f(a.and_then(|x| x.p99_ms)),
                f(b.and_then(|x| x.p99_ms)),
                f(p.p99_delta()),
                f(a.map(|x| x.queue_avg)),
                f(b.map(|x| x.queue_avg)),
                f(p.queue_delta()),
                f(a.map(|x| x.in_use_avg)),
                f(b.map(|x| x.in_use_avg)),
                f(p.in_use_delta()),
            ];
            csv.write_record(&record).expect("CSV into memory");
        }
        crate::compare::report::csv_text(csv)
    }

    /// The entries' per-window B − A of the error rate and p99.
    fn panels(&self) -> Vec<Panel> {
        let entries: Vec<&str> = self
            .components
            .iter()
            .filter(|c| c.kind == ComponentKind::Entry)
            .map(|c| c.component.as_str())
            .collect();
        let series = |f: &dyn Fn(&WindowPair) -> Option<f64>| -> Vec<Series> {
            entries
                .iter()
                .map(|e| Series {
                    name: e.to_string(),
                    points: self
                        .pairs
                        .iter()
                        .filter(|p| p.component == *e)
                        .filter_map(|p| f(p).map(|v| (p.window_start_s, v)))
                        .collect(),
                    band: Vec::new(),
                })
                .collect()
        };
        vec![
            Panel {
                y_title: "Δ error rate (points of %)".into(),
                series: series(&|p| p.error_rate_delta().map(|d| 100.0 * d)),
            },
            Panel {
                y_title: "Δ p99 of successes (ms)".into(),
                series: series(&|p| p.p99_delta()),
            },
        ]
    }

    /// Writes `diff.json`, `diff.csv` and `diff.svg`/`.png` into `dir`,
    /// whole or not at all.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let staging = Staging::new(dir)?;
        staging.write_file("diff.json", &self.to_json())?;
        staging.write_file("diff.csv", &self.to_csv())?;
        let panels = self.panels();
        let subtitle = format!(
            "B {} minus A {} ({})",
            self.b.label(),
            self.a.label(),
            self.a.scenario
        );
        let duration_s = self
            .pairs
            .iter()
            .map(|p| p.window_end_s)
            .fold(0.0, f64::max);
        let chart = Deltas {
            title: "Per window, run B minus run A: the entries' error rate and p99",
            subtitle: &subtitle,
            duration_s,
            window_s: self.window_s,
            panels: &panels,
            divergence: self
                .divergence
                .as_ref()
                .map(|d| (d.time_s, format!("first divergence, {:.3} s", d.time_s))),
        };
        let failed = |name: &str, m: String| {
            Error::write(
                dir.join(name),
                std::io::Error::other(format!("drawing failed: {m}")),
            )
        };
        let svg = charts::svg(&chart).map_err(|m| failed("diff.svg", m))?;
        staging.write_file("diff.svg", &svg)?;
        charts::png(&chart, &staging.path().join("diff.png")).map_err(|m| failed("diff.png", m))?;
        staging.commit()
    }
}
