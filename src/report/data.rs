//! What a report reads back from a run directory: the files are the
//! interface, so `faultline report DIR` can redraw any run without
//! simulating it again.

use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::error::{Error, JsonPath, Problem, Result};
use crate::spec::Source;

/// The columns of `metrics.csv` the charts draw.
#[derive(Clone, Debug, Deserialize)]
pub struct MetricRow {
    pub window_start_s: f64,
    pub window_end_s: f64,
    pub component: String,
    pub kind: String,
    pub ok: u64,
    pub errors: u64,
    pub latency_p50_ms: f64,
    pub latency_p99_ms: f64,
    pub queue_avg: f64,
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

/// One metric of one component over the windows.
#[derive(Clone, Debug, Default)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// A run directory, read back.
pub struct RunData {
    pub manifest: Value,
    pub analysis: Value,
    pub rows: Vec<MetricRow>,
    pub events: Vec<EventLine>,
    pub duration_s: f64,
    pub warmup_s: f64,
}

pub(crate) fn read_json(path: &Path) -> Result<Value> {
    let source = Source::read(path)?;
    serde_json::from_str(&source.text).map_err(|e| {
        source.invalid(vec![Problem::new(
            JsonPath::root(),
            format!("not the JSON faultline writes ({e})"),
        )])
    })
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
        let manifest = read_json(&dir.join("run.json"))?;
        let analysis = read_json(&dir.join("analysis.json"))?;
        let metrics = dir.join("metrics.csv");
        let mut reader = csv::Reader::from_path(&metrics).map_err(|e| unreadable(&metrics, e))?;
        let rows = reader
            .deserialize()
            .collect::<std::result::Result<Vec<MetricRow>, _>>()
            .map_err(|e| unreadable(&metrics, e))?;
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
        let number = |key: &str| manifest[key].as_f64().unwrap_or(0.0);
        Ok(RunData {
            duration_s: number("duration_s"),
            warmup_s: number("warmup_s"),
            manifest,
            analysis,
            rows,
            events,
        })
    }

    /// Names of the components of `kind`, in file order.
    pub fn components(&self, kind: &str) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for row in self.rows.iter().filter(|r| r.kind == kind) {
            if !names.contains(&row.component) {
                names.push(row.component.clone());
            }
        }
        names
    }

    /// A metric of one component, one point per window at the window's
    /// start; `None` leaves a window out (no successful request to time).
    pub fn series(&self, component: &str, f: impl Fn(&MetricRow) -> Option<f64>) -> Series {
        Series {
            name: component.to_string(),
            points: self
                .rows
                .iter()
                .filter(|r| r.component == component)
                .filter_map(|r| f(r).map(|v| (r.window_start_s, v)))
                .collect(),
        }
    }

    /// `(name, start, end)` of each fault; `end` is the run's end for a
    /// fault that lasts, the start for an instant.
    pub fn faults(&self) -> Vec<(String, f64, f64)> {
        self.analysis["faults"]
            .as_array()
            .map(|faults| {
                faults
                    .iter()
                    .map(|f| {
                        let start = f["start_s"].as_f64().unwrap_or(0.0);
                        let end = f["end_s"].as_f64().unwrap_or(self.duration_s);
                        (
                            f["name"].as_str().unwrap_or("fault").to_string(),
                            start,
                            end,
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }
}
