//! `sweep`: one variant of a scenario over a grid of what-if settings ×
//! seeds. Each axis is a path and its values (`--set PATH=V1,V2,…`); each
//! cell of the grid is the scenario with one value of every axis set, and
//! runs on every seed, paired as in `compare` (seed `s` gives every cell
//! the same traffic and fault timing where the settings do not change
//! them).
//!
//! A sweep is a comparison whose "variants" are the cells (`cell-<k>`): it
//! runs on `compare`'s grid, in parallel and sharded the same way, and its
//! figures are put back in grid order before anything is summed, so the
//! output does not depend on the thread count or on the sharding.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compare::report::{AxisRef, Inputs, SweepRef, csv_text, measure};
use crate::compare::stats::estimate;
use crate::compare::{RunFigures, Seeds};
use crate::error::{Error, JsonPath, Problem, Result};
use crate::experiment::output::Staging;
use crate::plan::Plan;
use crate::record::Tool;
use crate::record::compare::{Estimate, InputRef, Metric};
use crate::report::charts::{self, Goodput, HeatMap};
use crate::spec::Setting;

/// The most cells a sweep runs: each is compiled and run on every seed,
/// and the heat map draws each.
pub const MAX_CELLS: usize = 400;

/// The metrics a sweep's heat map can show.
pub use crate::compare::report::SWEEP_METRICS as METRICS;

/// Parses `PATH=V1,V2,…` into an axis: values split at commas outside
/// brackets, braces and quotes, so a JSON value may hold commas.
pub fn parse_axis(text: &str) -> std::result::Result<AxisRef, String> {
    let (path, values) = text.split_once('=').ok_or_else(|| {
        format!("expected PATH=V1,V2,… (such as `workload.users.rate=200/s,400/s`), found `{text}`")
    })?;
    let mut parts = Vec::new();
    let (mut depth, mut quoted, mut start) = (0i32, false, 0);
    let bytes = values.as_bytes();
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' if i == 0 || bytes[i - 1] != b'\\' => quoted = !quoted,
            b'[' | b'{' if !quoted => depth += 1,
            b']' | b'}' if !quoted => depth -= 1,
            b',' if !quoted && depth == 0 => {
                parts.push(values[start..i].trim().to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(values[start..].trim().to_string());
    if parts.iter().any(String::is_empty) {
        return Err(format!("`{text}` has an empty value"));
    }
    // Each value must make a setting (the path is checked once here).
    Setting::parse(&format!("{path}={}", parts[0]))?;
    let mut seen = Vec::new();
    for p in &parts {
        if seen.contains(&p) {
            return Err(format!("`{text}` gives `{p}` twice"));
        }
        seen.push(p);
    }
    Ok(AxisRef {
        path: path.to_string(),
        values: parts,
    })
}

/// How many cells the axes make, or `None` past `MAX_CELLS`.
fn cell_count(axes: &[AxisRef]) -> Option<usize> {
    axes.iter()
        .try_fold(1usize, |n, a| n.checked_mul(a.values.len()))
        .filter(|n| *n <= MAX_CELLS)
}

/// The value index of every axis at cell `k` (the last axis fastest).
fn coords(axes: &[AxisRef], mut k: usize) -> Vec<usize> {
    let mut out = vec![0; axes.len()];
    for (a, axis) in axes.iter().enumerate().rev() {
        out[a] = k % axis.values.len();
        k /= axis.values.len();
    }
    out
}

/// The settings of cell `k`: the fixed ones, then one per axis.
fn cell_settings(sweep: &SweepRef, k: usize) -> Vec<String> {
    let mut out = sweep.fixed.clone();
    for (axis, i) in sweep.axes.iter().zip(coords(&sweep.axes, k)) {
        out.push(format!("{}={}", axis.path, axis.values[i]));
    }
    out
}

/// Every cell's plan, compiled once: the scenario with the cell's
/// settings, its variant `sweep.variant`. A cell whose settings break the
/// files is bad input, named by its settings.
pub fn plans(scenario: &Path, sweep: &SweepRef) -> Result<Vec<Plan>> {
    let Some(cells) = cell_count(&sweep.axes) else {
        return Err(Error::Invalid {
            file: PathBuf::from("--set"),
            problems: vec![Problem::new(
                JsonPath::root(),
                format!(
                    "the axes make more than {MAX_CELLS} cells; sweep fewer values, or split the sweep"
                ),
            )],
        });
    };
    (0..cells)
        .map(|k| {
            let sets: Vec<Setting> = cell_settings(sweep, k)
                .iter()
                .map(|text| Setting::parse(text).expect("checked when the axis was read"))
                .collect();
            Plan::load_all_with(scenario, &sets)?
                .swap_remove(0)
                .with_variant(&sweep.variant)
        })
        .collect()
}

/// The grid's inputs: `compare`'s, with the cells as its variants.
pub fn inputs(plans: &[Plan], seeds: Seeds, sweep: SweepRef) -> Inputs {
    let mut inputs = Inputs::from_variants(plans, seeds);
    for (k, v) in inputs.variants.iter_mut().enumerate() {
        v.name = format!("cell-{k}");
        v.own_hypotheses = false;
    }
    // The settings are the sweep's: its fixed ones and axes say them.
    inputs.set = Vec::new();
    inputs.sweep = Some(sweep);
    inputs
}

/// One cell over its seeds.
#[derive(Clone, Debug, Serialize)]
pub struct CellResult {
    pub index: usize,
    /// Per axis, the value set in this cell.
    pub settings: indexmap::IndexMap<String, String>,
    pub runs: usize,
    pub availability: Estimate,
    pub error_rate: Estimate,
    pub p99_ms: Estimate,
    /// Requests answered with success per second after the warm-up.
    pub goodput_per_s: Estimate,
    /// Requests that arrived per second after the warm-up.
    pub offered_per_s: Estimate,
    pub recovery_s: Estimate,
    /// Share of the seeds whose run never healed (metastable).
    pub metastable_rate: f64,
    pub metastable_runs: usize,
    pub hypothesis_pass_rate: Estimate,
}

/// What `sweep.json` holds.
#[derive(Clone, Debug, Serialize)]
pub struct Sweep {
    pub tool: Tool,
    pub scenario: InputRef,
    pub model: InputRef,
    pub variant: String,
    pub seeds: Seeds,
    pub fixed: Vec<String>,
    pub axes: Vec<AxisRef>,
    pub metric: String,
    /// How each figure is taken, in words.
    pub notes: Vec<String>,
    pub cells: Vec<CellResult>,
}

const NOTES: [&str; 4] = [
    "each figure is the mean over the seeds with its 95% interval (Student t); the runs are the scenario with the cell's settings, measured after the warm-up over all entry endpoints together",
    "availability: share of the requests that arrived that succeeded (degraded successes count; errors and requests never answered do not); p99: of all requests, failures at the time they failed and unanswered ones at their age at the end (a lower bound then)",
    "goodput: successful requests per second; offered: requests that arrived per second; both over the measured part of the run",
    "recovery: seconds from the last fault's end until every component stayed inside its steady band; a run that never healed counts the rest of the run (a lower bound) and is metastable",
];

fn goodput(f: &RunFigures) -> Option<f64> {
    (f.measured_s > 0.0).then(|| f.requests as f64 * f.availability / f.measured_s)
}

fn offered(f: &RunFigures) -> Option<f64> {
    (f.measured_s > 0.0).then(|| f.requests as f64 / f.measured_s)
}

/// Summarises every cell's runs, given in grid order.
pub fn aggregate(inputs: &Inputs, figures: &[RunFigures]) -> Sweep {
    let sweep = inputs.sweep.clone().expect("a sweep's inputs");
    let per = inputs.seeds.count as usize;
    let of = |runs: &[RunFigures], metric: Metric| {
        let m = measure(metric);
        let values: Vec<f64> = runs.iter().filter_map(m.get).collect();
        estimate(&values).rounded(m.decimals)
    };
    let per_second = |runs: &[RunFigures], get: fn(&RunFigures) -> Option<f64>| {
        let values: Vec<f64> = runs.iter().filter_map(get).collect();
        estimate(&values).rounded(3)
    };
    let cells = figures
        .chunks(per)
        .enumerate()
        .map(|(k, runs)| {
            let metastable_runs = runs.iter().filter(|r| r.metastable).count();
            CellResult {
                index: k,
                settings: sweep
                    .axes
                    .iter()
                    .zip(coords(&sweep.axes, k))
                    .map(|(a, i)| (a.path.clone(), a.values[i].clone()))
                    .collect(),
                runs: runs.len(),
                availability: of(runs, Metric::Availability),
                error_rate: of(runs, Metric::ErrorRate),
                p99_ms: of(runs, Metric::P99Ms),
                goodput_per_s: per_second(runs, goodput),
                offered_per_s: per_second(runs, offered),
                recovery_s: of(runs, Metric::RecoveryS),
                metastable_rate: crate::record::round(
                    metastable_runs as f64 / runs.len().max(1) as f64,
                    6,
                ),
                metastable_runs,
                hypothesis_pass_rate: of(runs, Metric::HypothesisPassRate),
            }
        })
        .collect();
    Sweep {
        tool: Tool {
            name: "faultline".to_string(),
            version: inputs.tool_version.clone(),
        },
        scenario: inputs.scenario.clone(),
        model: inputs.model.clone(),
        variant: sweep.variant.clone(),
        seeds: inputs.seeds,
        fixed: sweep.fixed.clone(),
        axes: sweep.axes.clone(),
        metric: sweep.metric.clone(),
        notes: NOTES.iter().map(|n| n.to_string()).collect(),
        cells,
    }
}

/// A cell's value of `metric` (its mean), the decimals it is shown with,
/// and whether higher is better.
fn metric_of(cell: &CellResult, metric: &str) -> (Option<f64>, usize, bool) {
    match metric {
        "availability" => (cell.availability.mean.map(|v| v * 100.0), 3, true),
        "error_rate" => (cell.error_rate.mean.map(|v| v * 100.0), 3, false),
        "p99_ms" => (cell.p99_ms.mean, 1, false),
        "goodput" => (cell.goodput_per_s.mean, 1, true),
        "recovery_s" => (cell.recovery_s.mean, 1, false),
        "metastable_rate" => (Some(cell.metastable_rate * 100.0), 0, false),
        _ => (cell.hypothesis_pass_rate.mean.map(|v| v * 100.0), 0, true),
    }
}

fn metric_title(metric: &str) -> &'static str {
    match metric {
        "availability" => "availability %",
        "error_rate" => "error rate %",
        "p99_ms" => "p99 latency of all requests, ms",
        "goodput" => "goodput, successful requests/s",
        "recovery_s" => "recovery, s",
        "metastable_rate" => "runs metastable %",
        _ => "runs whose hypotheses held %",
    }
}

/// The grid as (row labels, column labels, row title, column title): the
/// first axis down, the second across (one column without a second).
fn layout(s: &Sweep) -> (Vec<String>, Vec<String>, String, String) {
    let rows = s.axes[0].values.clone();
    let (columns, column_title) = match s.axes.get(1) {
        Some(a) => (a.values.clone(), a.path.clone()),
        None => (vec![String::new()], String::new()),
    };
    (rows, columns, s.axes[0].path.clone(), column_title)
}

fn metastable_mark(cell: &CellResult) -> String {
    if cell.metastable_runs > 0 {
        format!("metastable {}/{}", cell.metastable_runs, cell.runs)
    } else {
        String::new()
    }
}

/// The heat map of the sweep's metric: the first axis down, the second
/// (if any) across.
fn heat_map(s: &Sweep) -> HeatMap {
    let (rows, columns, y_title, x_title) = layout(s);
    let cells = &s.cells;
    let (_, decimals, higher) = metric_of(&cells[0], &s.metric);
    HeatMap {
        title: format!(
            "Sweep of `{}`: {}",
            s.scenario.name,
            metric_title(&s.metric)
        ),
        subtitle: format!(
            "variant {} · mean over {} seeds ({}..={}) per cell · framed in red: some seed never healed (metastable)",
            s.variant,
            s.seeds.count,
            s.seeds.first,
            s.seeds.nth(s.seeds.count.saturating_sub(1))
        ),
        value_title: metric_title(&s.metric).to_string(),
        x_title: if x_title.is_empty() {
            "(one axis)".to_string()
        } else {
            x_title
        },
        x_labels: columns,
        y_title,
        y_labels: rows,
        values: cells.iter().map(|c| metric_of(c, &s.metric).0).collect(),
        marks: cells.iter().map(metastable_mark).collect(),
        decimals,
        higher_is_better: higher,
    }
}

/// Whether the first axis is a load: a workload's or a client group's.
fn swept_load(s: &Sweep) -> bool {
    let path = s.axes[0].path.trim_start_matches("model.");
    path.starts_with("workload.") || path.starts_with("clients.")
}

/// Goodput against offered load along the first axis, a line per value of
/// the second.
fn goodput_chart(s: &Sweep) -> Goodput {
    let (rows, columns, _, x_title) = layout(s);
    let lines = (0..columns.len())
        .map(|c| {
            let label = if x_title.is_empty() {
                s.variant.clone()
            } else {
                format!("{x_title}={}", columns[c])
            };
            let points = (0..rows.len())
                .filter_map(|r| {
                    let cell = s.cells.get(r * columns.len() + c)?;
                    let ci = match (cell.goodput_per_s.ci95_low, cell.goodput_per_s.ci95_high) {
                        (Some(l), Some(h)) => Some((l, h)),
                        _ => None,
                    };
                    Some((cell.offered_per_s.mean?, cell.goodput_per_s.mean?, ci))
                })
                .collect();
            (label, points)
        })
        .collect();
    Goodput {
        title: format!(
            "Sweep of `{}`: goodput against offered load ({})",
            s.scenario.name, s.axes[0].path
        ),
        subtitle: format!(
            "variant {} · mean over {} seeds per point, bars: 95% interval · measured after the warm-up",
            s.variant, s.seeds.count
        ),
        lines,
    }
}

/// The sweep as a terminal table: the metric per cell, metastable cells
/// marked.
pub fn table(s: &Sweep) -> String {
    let (rows, columns, y_title, x_title) = layout(s);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "sweep of `{}` (variant `{}`): {} cells x {} seeds ({}..={}); {} per cell, mean over seeds; M: some seed metastable",
        s.scenario.name,
        s.variant,
        s.cells.len(),
        s.seeds.count,
        s.seeds.first,
        s.seeds.nth(s.seeds.count.saturating_sub(1)),
        metric_title(&s.metric)
    );
    let corner = if x_title.is_empty() {
        y_title.clone()
    } else {
        format!("{y_title} \\ {x_title}")
    };
    let mut headers: Vec<&str> = vec![&corner];
    headers.extend(columns.iter().map(|c| {
        if c.is_empty() {
            metric_title(&s.metric)
        } else {
            c.as_str()
        }
    }));
    let mut table = crate::report::terminal::table(&headers);
    crate::report::terminal::left(&mut table, 0);
    for (r, label) in rows.iter().enumerate() {
        let mut row = vec![label.clone()];
        for c in 0..columns.len() {
            let cell = &s.cells[r * columns.len() + c];
            let (value, decimals, _) = metric_of(cell, &s.metric);
            let mut text = value.map_or("n/a".to_string(), |v| format!("{v:.decimals$}"));
            if cell.metastable_runs > 0 {
                let _ = write!(text, " M{}/{}", cell.metastable_runs, cell.runs);
            }
            row.push(text);
        }
        table.add_row(row);
    }
    let _ = writeln!(out, "{}", table.trim_fmt());
    out
}

fn cell_csv(s: &Sweep) -> String {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = s.axes.iter().map(|a| a.path.clone()).collect();
    for name in [
        "availability",
        "error_rate",
        "p99_ms",
        "goodput_per_s",
        "offered_per_s",
        "recovery_s",
        "hypothesis_pass_rate",
    ] {
        for part in ["mean", "ci95_low", "ci95_high"] {
            header.push(format!("{name}_{part}"));
        }
    }
    header.extend(["metastable_rate".to_string(), "runs".to_string()]);
    csv.write_record(&header).expect("in memory");
    let f = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    for c in &s.cells {
        let mut row: Vec<String> = c.settings.values().cloned().collect();
        for e in [
            &c.availability,
            &c.error_rate,
            &c.p99_ms,
            &c.goodput_per_s,
            &c.offered_per_s,
            &c.recovery_s,
            &c.hypothesis_pass_rate,
        ] {
            row.extend([f(e.mean), f(e.ci95_low), f(e.ci95_high)]);
        }
        row.extend([c.metastable_rate.to_string(), c.runs.to_string()]);
        csv.write_record(&row).expect("in memory");
    }
    csv_text(csv)
}

fn runs_csv(inputs: &Inputs, s: &Sweep, figures: &[RunFigures]) -> String {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let mut header: Vec<String> = s.axes.iter().map(|a| a.path.clone()).collect();
    header.extend(
        [
            "seed",
            "availability",
            "p99_ms",
            "goodput_per_s",
            "offered_per_s",
            "recovery_s",
            "metastable",
            "hypothesis_passed",
            "events",
        ]
        .map(String::from),
    );
    csv.write_record(&header).expect("in memory");
    let f = |v: Option<f64>| v.map_or(String::new(), |v| crate::record::round(v, 6).to_string());
    for (k, run) in figures.iter().enumerate() {
        let per = inputs.seeds.count as usize;
        let cell = &s.cells[k / per];
        let mut row: Vec<String> = cell.settings.values().cloned().collect();
        row.extend([
            inputs.seeds.nth((k % per) as u64).to_string(),
            f(Some(run.availability)),
            f(Some(run.p99_ms)),
            f(goodput(run)),
            f(offered(run)),
            f(run.recovery_s),
            run.metastable.to_string(),
            run.hypothesis_passed
                .map_or(String::new(), |p| p.to_string()),
            run.events.to_string(),
        ]);
        csv.write_record(&row).expect("in memory");
    }
    csv_text(csv)
}

/// Where a scenario's sweep goes under `base`.
pub fn sweep_dir(base: &Path, scenario: &str) -> PathBuf {
    base.join(scenario).join("sweep")
}

/// Writes the sweep atomically: `sweep.json`, `sweep.csv`, `runs.csv`,
/// the heat map and, for a swept load, the goodput curve (SVG and PNG).
pub fn write(base: &Path, inputs: &Inputs, figures: &[RunFigures]) -> Result<(PathBuf, Sweep)> {
    let sweep = aggregate(inputs, figures);
    let dir = sweep_dir(base, &inputs.scenario.name);
    let staging = Staging::new(&dir)?;
    let mut json = serde_json::to_string_pretty(&sweep).expect("sweeps serialise");
    json.push('\n');
    staging.write_file("sweep.json", &json)?;
    staging.write_file("sweep.csv", &cell_csv(&sweep))?;
    staging.write_file("runs.csv", &runs_csv(inputs, &sweep, figures))?;
    let drawn = |e: String| Error::Write {
        path: dir.clone(),
        source: std::io::Error::other(e),
    };
    let map = heat_map(&sweep);
    staging.write_file("heatmap.svg", &charts::svg(&map).map_err(drawn)?)?;
    charts::png(&map, &staging.path().join("heatmap.png")).map_err(drawn)?;
    if swept_load(&sweep) {
        let curve = goodput_chart(&sweep);
        staging.write_file("goodput.svg", &charts::svg(&curve).map_err(drawn)?)?;
        charts::png(&curve, &staging.path().join("goodput.png")).map_err(drawn)?;
    }
    staging.commit()?;
    Ok((dir, sweep))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_split_at_top_level_commas_and_cells_count_the_last_axis_fastest() {
        let a = parse_axis("workload.users.rate=100/s,200/s").unwrap();
        assert_eq!(a.values, ["100/s", "200/s"]);
        let b = parse_axis(
            r#"faults.slow.add={"constant": "5ms"},{"uniform": {"low": "1ms", "high": "9ms"}}"#,
        )
        .unwrap();
        assert_eq!(b.values.len(), 2);
        assert!(parse_axis("services.app.workers").is_err());
        assert!(parse_axis("services.app.workers=1,,2").is_err());
        assert!(parse_axis("services.app.workers=1,1").is_err());
        let axes = [a, b];
        assert_eq!(cell_count(&axes), Some(4));
        assert_eq!(coords(&axes, 1), [0, 1]);
        assert_eq!(coords(&axes, 2), [1, 0]);
    }
}
