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
}
