//! Reports an architect can open in a browser or paste into a design doc:
//! `report.html` (self-contained, the charts inline as SVG) and
//! `report.md` with PNG charts, drawn from a run directory's files alone.

mod axis;
pub mod charts;
pub mod comparison;
pub mod data;
mod differences;
mod font;
mod scaled;
pub mod search;
pub mod terminal;

use std::fmt::Write as _;
use std::fs;
use std::path::Path;

use crate::analysis::hypothesis::{CheckResult, Verdict, format_value};
use crate::analysis::{Analysis, StepKind};
use crate::error::{Error, Result};
use crate::plan::Phase;
use crate::record::run::Manifest;
use charts::{CascadeStrip, Chart, DependencyGraph, Saturation, Timeline};
use data::RunData;

/// The chart a run report adds when the model has connected clients.
pub const CLIENT_REPORT_FILES: [&str; 2] = ["clients.svg", "clients.png"];

/// The files a run report adds to a run directory.
pub const RUN_REPORT_FILES: [&str; 10] = [
    "report.html",
    "report.md",
    "timeline.svg",
    "timeline.png",
    "saturation.svg",
    "saturation.png",
    "cascade.svg",
    "cascade.png",
    "graph.svg",
    "graph.png",
];

fn drawing_failed(path: &Path, message: String) -> Error {
    Error::write(path, std::io::Error::other(message))
}

/// Writes `text` under a temporary name and renames it into place, so a
/// report that exists is whole.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = tmp_name(path);
    fs::write(&tmp, bytes).map_err(|e| Error::write(&tmp, e))?;
    fs::rename(&tmp, path).map_err(|e| Error::write(path, e))
}

fn tmp_name(path: &Path) -> std::path::PathBuf {
    // The PNG encoder picks its format by extension: keep it last.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".partial-{name}"))
}

struct Figure {
    name: &'static str,
    title: &'static str,
    svg: String,
}

fn figure(
    dir: &Path,
    name: &'static str,
    title: &'static str,
    chart: &impl Chart,
) -> Result<Figure> {
    let svg_path = dir.join(format!("{name}.svg"));
    let svg = charts::svg(chart).map_err(|m| drawing_failed(&svg_path, m))?;
    write_atomic(&svg_path, svg.as_bytes())?;
    let png_path = dir.join(format!("{name}.png"));
    let tmp = tmp_name(&png_path);
    charts::png(chart, &tmp).map_err(|m| drawing_failed(&png_path, m))?;
    fs::rename(&tmp, &png_path).map_err(|e| Error::write(&png_path, e))?;
    Ok(Figure { name, title, svg })
}

/// Draws the charts of the run in `dir` and writes the reports beside
/// them.
pub fn write_run_report(dir: &Path) -> Result<()> {
    let data = RunData::read(dir)?;
    let mut figures = vec![
        figure(dir, "timeline", "Timeline", &Timeline { data: &data })?,
        figure(dir, "cascade", "Cascade", &CascadeStrip { data: &data })?,
        figure(dir, "saturation", "Saturation", &Saturation { data: &data })?,
        figure(
            dir,
            "graph",
            "Dependency graph",
            &DependencyGraph { data: &data },
        )?,
    ];
    if !data.manifest.clients.is_empty() {
        figures.insert(
            1,
            figure(
                dir,
                "clients",
                "Connected clients",
                &charts::Clients { data: &data },
            )?,
        );
    }
    write_atomic(&dir.join("report.html"), html(&data, &figures).as_bytes())?;
    write_atomic(&dir.join("report.md"), markdown(&data, &figures).as_bytes())?;
    Ok(())
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Text for the body of an HTML report: escaped, and the Markdown-style
/// `code` spans the messages use set as code rather than shown as
/// backticks. An unpaired backtick stays as written.
fn prose(text: &str) -> String {
    let mut out = String::new();
    let mut parts = text.split('`').peekable();
    let mut inside = false;
    while let Some(part) = parts.next() {
        if inside {
            if parts.peek().is_some() {
                let _ = write!(out, "<code>{}</code>", escape(part));
            } else {
                let _ = write!(out, "`{}", escape(part));
            }
        } else {
            out.push_str(&escape(part));
        }
        inside = !inside;
    }
    out
}

/// A title for `<title>`, where markup does not apply.
fn plain(text: &str) -> String {
    escape(&text.replace('`', ""))
}

/// The facts both reports tell, as (heading, rows) tables and lines.
struct Story {
    title: String,
    subtitle: String,
    description: Option<String>,
    entries: Vec<[String; 9]>,
    /// What the entries table counts.
    entries_caption: String,
    clients: Vec<[String; 6]>,
    /// Per cache endpoint with keys, its lookups.
    caches: Vec<[String; 6]>,
    /// Per service that gave a worker to anything, its queueing.
    queueing: Vec<[String; 6]>,
    queueing_caption: String,
    verdicts: Vec<(bool, String, Vec<String>)>,
    /// The stop guards in words (`StopSummary::lines`); empty without.
    stop: Vec<String>,
    chain: Vec<String>,
    times: Vec<String>,
    /// Per entry, from the first fault on.
    impact: Vec<[String; 5]>,
    impact_caption: String,
    blast: Vec<String>,
}

fn story(data: &RunData) -> Story {
    let (m, a) = (&data.manifest, &data.analysis);
    let chain = chain_lines(a);
    // Without a fault there is no cascade to time or measure.
    let faulted = !chain.is_empty();
    Story {
        title: format!("{} — {} (seed {})", m.scenario.name, m.variant, m.seed),
        subtitle: subtitle(m),
        description: m.description.clone(),
        entries: entry_rows(m),
        clients: client_rows(m),
        caches: cache_rows(m),
        entries_caption: format!(
            "Requests that arrived after the warm-up ({}–{} s), each counted once by how it ended{}; p50 and p99 of the successful ones, p99 all of every request (failures at the time they failed). {}",
            axis::trim_number(m.warmup_s),
            axis::trim_number(m.duration_s),
            match m.entries.values().map(|e| e.in_flight).sum::<u64>() {
                0 => String::new(),
                n => format!(" ({n} still in flight at the end, not judged)"),
            },
            precision_note(m.percentile_digits),
        ),
        queueing: queueing_rows(m),
        queueing_caption: format!(
            "Queueing per service after the warm-up ({}–{} s): of the requests that got a worker, the share that waited in a queue first and their wait for it (zeros included; requests turned away, evicted or still queued at the end are not counted); in system: requests queued or holding a worker, time-averaged and at most.",
            axis::trim_number(m.warmup_s),
            axis::trim_number(m.duration_s),
        ),
        verdicts: m.hypothesis.iter().map(verdict).collect(),
        stop: m.stop.as_ref().map(|s| s.lines()).unwrap_or_default(),
        times: if faulted { times(a) } else { Vec::new() },
        impact: if faulted { impact_rows(a) } else { Vec::new() },
        impact_caption: impact_caption(data),
        blast: blast_radius(a, faulted)
            .into_iter()
            .chain(replica_lines(m))
            .collect(),
        chain,
    }
}

/// A number as the JSON files spell it (`60.0`, not `60`): the reports
/// quote these figures as `run.json` holds them.
fn as_written(value: f64) -> String {
    serde_json::Value::from(value).to_string()
}

fn subtitle(m: &Manifest) -> String {
    format!(
        "model {}, {} s simulated after a {} s warm-up, faultline {}, trace digest {}",
        m.model.name,
        as_written(m.duration_s),
        as_written(m.warmup_s),
        m.tool.version,
        m.engine.trace_digest
    )
}

const NO_ENTRIES: &str = "No open-loop workload: the model's users are its connected clients.";

const CLIENTS_CAPTION: &str = "Over the whole run: connections lost when instances died, the fewest clients connected at once, connect attempts after a lost connection (failed ones included), and the time from the first lost connection until every client was connected again — a lower bound, marked never, when some were still not connected at the end.";

const CLIENT_HEADER: [&str; 6] = [
    "clients",
    "count",
    "connections lost",
    "fewest connected",
    "reconnect attempts",
    "all reconnected",
];

const CACHES_CAPTION: &str = "Cache lookups after the warm-up: hits found their key stored and fresh; misses did not (the read behind the cache followed), coalesced ones waited for another caller's read of the same key instead. Evicted, expired and flushed keys over the whole run.";

const CACHE_HEADER: [&str; 6] = [
    "cache",
    "lookups",
    "hit ratio",
    "misses (coalesced)",
    "evicted / expired",
    "flushed",
];

/// One row per cache endpoint with keys, in `CACHE_HEADER`'s columns.
fn cache_rows(m: &Manifest) -> Vec<[String; 6]> {
    m.caches
        .iter()
        .map(|(name, c)| {
            [
                name.clone(),
                c.lookups.to_string(),
                c.hit_ratio
                    .map_or("–".to_string(), |h| format!("{:.2} %", 100.0 * h)),
                format!("{} ({})", c.misses, c.coalesced),
                format!("{} / {}", c.evicted, c.expired),
                c.flushed.to_string(),
            ]
        })
        .collect()
}

/// One row per client group, in `CLIENT_HEADER`'s columns.
fn client_rows(m: &Manifest) -> Vec<[String; 6]> {
    m.clients
        .iter()
        .map(|(name, c)| {
            let back = match (c.time_to_reconnect_s, c.all_reconnected) {
                (None, _) => "no connection lost".to_string(),
                (Some(t), true) => format!(
                    "after {} s (at {} s)",
                    axis::trim_number(t),
                    axis::trim_number(c.all_reconnected_s.unwrap_or_default())
                ),
                (Some(t), false) => format!(
                    "never: {} not connected at the end, more than {} s after the first lost connection",
                    c.clients - c.connected_at_end,
                    axis::trim_number(t)
                ),
            };
            [
                name.clone(),
                c.clients.to_string(),
                c.connections_lost.to_string(),
                format!(
                    "{} ({:.1} %)",
                    c.fewest_connected,
                    100.0 * c.fewest_connected as f64 / c.clients.max(1) as f64
                ),
                c.reconnect_attempts.to_string(),
                back,
            ]
        })
        .collect()
}

/// One row per entry, in `ENTRY_HEADER`'s columns.
/// What a percentile in the tables is: the top of its histogram bucket,
/// so a bound on the true value, as tight as the run's precision.
fn precision_note(digits: u8) -> String {
    let margin = crate::base::Precision::new(digits)
        .unwrap_or_default()
        .relative_error();
    format!(
        "Percentiles are the top of their histogram bucket ({digits} significant digits: at most {} % above the true value, never above the maximum); means and maxima are exact.",
        axis::trim_number((margin * 1000.0).round() / 10.0)
    )
}

fn entry_rows(m: &Manifest) -> Vec<[String; 9]> {
    m.entries
        .iter()
        .map(|(name, e)| {
            [
                name.clone(),
                e.requests.to_string(),
                e.ok.to_string(),
                e.errors.to_string(),
                e.unanswered.to_string(),
                format!("{:.3} %", e.availability * 100.0),
                format!("{:.1}", e.latency_ms.p50),
                format!("{:.1}", e.latency_ms.p99),
                format!(
                    "{:.1}{}",
                    e.latency_all_ms.p99,
                    if e.unanswered > 0 { " or more" } else { "" }
                ),
            ]
        })
        .collect()
}

/// One row per service that started any request, in `QUEUEING_HEADER`'s
/// columns.
fn queueing_rows(m: &Manifest) -> Vec<[String; 6]> {
    m.services
        .iter()
        .filter(|(_, s)| s.started > 0)
        .map(|(name, s)| {
            [
                name.clone(),
                s.started.to_string(),
                format!("{:.1} %", s.waited_share * 100.0),
                format!("{:.3}", s.wait_ms.mean),
                format!("{:.3}", s.wait_ms.p99),
                format!("{:.2} (max {})", s.in_system_mean, s.in_system_max),
            ]
        })
        .collect()
}

/// One row per entry, in `IMPACT_HEADER`'s columns.
fn impact_rows(a: &Analysis) -> Vec<[String; 5]> {
    a.blast_radius
        .entries
        .iter()
        .map(|e| {
            [
                e.entry.clone(),
                e.requests.to_string(),
                e.failed.to_string(),
                format!("{:.2} %", e.failed_share * 100.0),
                if e.affected { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect()
}

fn impact_caption(data: &RunData) -> String {
    // The analysis counts each entry from the first fault until everything
    // was back in band: a part of the requests counted above.
    let span = data
        .analysis
        .blast_radius
        .entries
        .first()
        .map_or((data.judged_period().from_s, data.duration_s()), |e| {
            (e.from_s, e.to_s)
        });
    format!(
        "From the first fault until everything was back in band ({}–{} s), a part of the requests counted above.",
        axis::trim_number(span.0),
        axis::trim_number(span.1)
    )
}

/// Whether a hypothesis held, its headline, and one line per check.
fn verdict(v: &Verdict) -> (bool, String, Vec<String>) {
    let when = match v.phase {
        Phase::Before => "before the fault",
        Phase::During => "during the fault",
        Phase::After => "after the fault",
        Phase::Whole => "over the run after the warm-up",
    };
    let head = format!(
        "{} — {}, {when} ({}–{} s)",
        v.name,
        v.probe,
        as_written(v.from_s),
        as_written(v.to_s)
    );
    (v.passed, head, v.checks.iter().map(check_line).collect())
}

fn check_line(c: &CheckResult) -> String {
    let measured = match c.measured {
        Some(x) => format_value(x, c.unit),
        None => "nothing to measure".into(),
    };
    format!(
        "{} {}: measured {measured}, threshold {}",
        if c.passed { "✓" } else { "✗" },
        c.check,
        format_value(c.threshold, c.unit)
    )
}

/// The cascade, one line per link: the fault, then each component by onset.
fn chain_lines(a: &Analysis) -> Vec<String> {
    a.chain
        .iter()
        .map(|s| {
            let at = s.onset_s;
            match s.kind {
                StepKind::Fault => {
                    format!("{at:.1} s — fault {} ({})", s.component, s.reason)
                }
                StepKind::Component(kind) => {
                    let via = s
                        .via
                        .as_ref()
                        .map(|v| format!(", via {v}"))
                        .unwrap_or_default();
                    format!(
                        "{at:.1} s — {kind} {} {}: {}{via}",
                        s.component, s.health, s.reason
                    )
                }
            }
        })
        .collect()
}

/// When the system noticed, whether users were spared while the faults
/// acted, and recovery — in the words `run` prints.
fn times(a: &Analysis) -> Vec<String> {
    vec![
        format!("Detected: {}", a.detection_text()),
        format!("Mitigated: {}", a.mitigation_text()),
        format!("Recovered: {}", a.recovery_text),
    ]
}

/// After a fault, the data lost (what users lost is `impact_rows`).
fn blast_radius(a: &Analysis, faulted: bool) -> Vec<String> {
    let b = &a.blast_radius;
    let mut lines = Vec::new();
    if faulted {
        lines.push(format!("Writes lost in failovers: {}", b.lost_writes));
        if b.divergent_writes > 0 {
            lines.push(format!(
                "Writes taken by a deposed primary (split brain, discarded when it rejoins): {}",
                b.divergent_writes
            ));
        }
        lines.push(format!(
            "Queued work never done: {}",
            b.queued_work_never_done
        ));
    }
    lines
}

/// Per replicated database that answered reads: how many a replica
/// answered stale, and how far behind its replicas were seen.
fn replica_lines(m: &Manifest) -> Vec<String> {
    m.databases
        .iter()
        .filter(|(_, d)| d.reads > 0)
        .map(|(name, d)| {
            format!(
                "Reads of {name} answered stale by a replica (a write acknowledged before them not yet applied): {} of {} ({:.2} %); replica lag at most {} s at a window's end{}",
                d.stale_reads,
                d.reads,
                100.0 * d.stale_read_share.unwrap_or(0.0),
                axis::trim_number((d.max_lag_s * 1000.0).round() / 1000.0),
                match d.lag_alerts {
                    0 => String::new(),
                    n => format!("; lag alerts raised {n}"),
                }
            )
        })
        .collect()
}

/// An HTML table: the first column left-aligned (names), the rest numbers.
fn html_table<'a>(out: &mut String, header: &[&str], rows: impl Iterator<Item = &'a [String]>) {
    let _ = write!(out, "<table>\n<tr>");
    for h in header {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    let _ = writeln!(out, "</tr>");
    for row in rows {
        let _ = write!(out, "<tr>");
        for cell in row {
            let _ = write!(out, "<td>{}</td>", prose(cell));
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(out, "</table>");
}

/// The same table in Markdown, numbers right-aligned.
fn markdown_table<'a>(out: &mut String, header: &[&str], rows: impl Iterator<Item = &'a [String]>) {
    let _ = writeln!(out, "| {} |", header.join(" | "));
    let align: Vec<&str> = (0..header.len())
        .map(|k| if k == 0 { "---" } else { "---:" })
        .collect();
    let _ = writeln!(out, "|{}|", align.join("|"));
    for row in rows {
        let _ = writeln!(out, "| {} |", row.join(" | "));
    }
}

const ENTRY_HEADER: [&str; 9] = [
    "entry",
    "requests",
    "ok",
    "failed",
    "unanswered",
    "availability",
    "p50 ms",
    "p99 ms",
    "p99 all ms",
];

const QUEUEING_HEADER: [&str; 6] = [
    "service",
    "started",
    "waited",
    "wait mean ms",
    "wait p99 ms",
    "in system",
];

const IMPACT_HEADER: [&str; 5] = [
    "entry",
    "requests",
    "failed",
    "failed share",
    "left its steady band",
];

fn html(data: &RunData, figures: &[Figure]) -> String {
    let s = story(data);
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{}\n</style>\n</head>\n<body>\n",
        plain(&s.title),
        STYLE
    );
    let _ = writeln!(
        out,
        "<h1>{}</h1>\n<p class=\"sub\">{}</p>",
        prose(&s.title),
        prose(&s.subtitle)
    );
    if let Some(d) = &s.description {
        let _ = writeln!(out, "<p class=\"lead\">{}</p>", prose(d));
    }
    let _ = writeln!(out, "<section id=\"numbers\">\n<h2>Key numbers</h2>");
    if s.entries.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", prose(NO_ENTRIES));
    } else {
        let _ = writeln!(out, "<p>{}</p>", prose(&s.entries_caption));
        html_table(
            &mut out,
            &ENTRY_HEADER,
            s.entries.iter().map(|r| r.as_slice()),
        );
    }
    if !s.clients.is_empty() {
        let _ = writeln!(
            out,
            "<h3>Connected clients</h3>\n<p>{}</p>",
            prose(CLIENTS_CAPTION)
        );
        html_table(
            &mut out,
            &CLIENT_HEADER,
            s.clients.iter().map(|r| r.as_slice()),
        );
    }
    if !s.caches.is_empty() {
        let _ = writeln!(out, "<h3>Caches</h3>\n<p>{}</p>", prose(CACHES_CAPTION));
        html_table(
            &mut out,
            &CACHE_HEADER,
            s.caches.iter().map(|r| r.as_slice()),
        );
    }
    if !s.queueing.is_empty() {
        let _ = writeln!(out, "<p>{}</p>", prose(&s.queueing_caption));
        html_table(
            &mut out,
            &QUEUEING_HEADER,
            s.queueing.iter().map(|r| r.as_slice()),
        );
    }
    let _ = writeln!(out, "</section>");
    let _ = writeln!(out, "<section id=\"hypothesis\">\n<h2>Hypothesis</h2>");
    if s.verdicts.is_empty() {
        let _ = writeln!(out, "<p>This scenario states no hypothesis.</p>");
    }
    for (passed, head, checks) in &s.verdicts {
        let (class, word) = if *passed {
            ("pass", "PASS")
        } else {
            ("fail", "FAIL")
        };
        let _ = writeln!(
            out,
            "<p><span class=\"{class}\">{word}</span> {}</p>\n<ul>",
            prose(head)
        );
        for c in checks {
            let _ = writeln!(out, "<li>{}</li>", prose(c));
        }
        let _ = writeln!(out, "</ul>");
    }
    if !s.stop.is_empty() {
        let _ = writeln!(out, "<h3>Stop guards</h3>\n<ul>");
        for line in &s.stop {
            let _ = writeln!(out, "<li>{}</li>", prose(line.trim()));
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(
        out,
        "</section>\n<section id=\"cascade\">\n<h2>Cascade</h2>"
    );
    if s.chain.is_empty() {
        let _ = writeln!(out, "<p>No faults were injected: nothing to trace.</p>");
    } else {
        let _ = writeln!(out, "<ol>");
        for step in &s.chain {
            let _ = writeln!(out, "<li>{}</li>", prose(step));
        }
        let _ = writeln!(out, "</ol>\n<ul>");
        for line in &s.times {
            let _ = writeln!(out, "<li>{}</li>", prose(line));
        }
        let _ = writeln!(out, "</ul>\n<h3>Blast radius</h3>");
        let _ = writeln!(out, "<p>{}</p>", prose(&s.impact_caption));
        html_table(
            &mut out,
            &IMPACT_HEADER,
            s.impact.iter().map(|r| r.as_slice()),
        );
        let _ = writeln!(out, "<ul>");
        for line in &s.blast {
            let _ = writeln!(out, "<li>{}</li>", prose(line));
        }
        let _ = writeln!(out, "</ul>");
    }
    let _ = writeln!(out, "</section>");
    for f in figures {
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h2>{}</h2>\n<div class=\"figure\">{}</div>\n</section>",
            f.name,
            f.title,
            strip_xml_declaration(&f.svg)
        );
    }
    let _ = writeln!(out, "</body>\n</html>");
    out
}

fn strip_xml_declaration(svg: &str) -> &str {
    match svg.find("<svg") {
        Some(k) => &svg[k..],
        None => svg,
    }
}

const STYLE: &str = "body{font-family:'DejaVu Sans',Verdana,sans-serif;max-width:1140px;margin:2em auto;padding:0 1em;color:#222}\
h1{font-size:1.6em;margin-bottom:0}.sub{color:#666;margin-top:.3em}.lead{font-size:1.1em}\
table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}\
td:first-child,th:first-child{text-align:left}.pass{background:#009E73;color:#fff;padding:0 .4em}\
.fail{background:#D55E00;color:#fff;padding:0 .4em}.figure svg{max-width:100%;height:auto}";

fn markdown(data: &RunData, figures: &[Figure]) -> String {
    let s = story(data);
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n\n{}\n", s.title, s.subtitle);
    if let Some(d) = &s.description {
        let _ = writeln!(out, "{d}\n");
    }
    if s.entries.is_empty() {
        let _ = writeln!(out, "## Key numbers\n\n{NO_ENTRIES}");
    } else {
        let _ = writeln!(out, "## Key numbers\n\n{}\n", s.entries_caption);
        markdown_table(
            &mut out,
            &ENTRY_HEADER,
            s.entries.iter().map(|r| r.as_slice()),
        );
    }
    if !s.clients.is_empty() {
        let _ = writeln!(out, "\n### Connected clients\n\n{CLIENTS_CAPTION}\n");
        markdown_table(
            &mut out,
            &CLIENT_HEADER,
            s.clients.iter().map(|r| r.as_slice()),
        );
    }
    if !s.caches.is_empty() {
        let _ = writeln!(out, "\n### Caches\n\n{CACHES_CAPTION}\n");
        markdown_table(
            &mut out,
            &CACHE_HEADER,
            s.caches.iter().map(|r| r.as_slice()),
        );
    }
    if !s.queueing.is_empty() {
        let _ = writeln!(out, "\n{}\n", s.queueing_caption);
        markdown_table(
            &mut out,
            &QUEUEING_HEADER,
            s.queueing.iter().map(|r| r.as_slice()),
        );
    }
    let _ = writeln!(out, "\n## Hypothesis\n");
    if s.verdicts.is_empty() {
        let _ = writeln!(out, "This scenario states no hypothesis.");
    }
    for (passed, head, checks) in &s.verdicts {
        let _ = writeln!(
            out,
            "**{}** {head}\n",
            if *passed { "PASS" } else { "FAIL" }
        );
        for c in checks {
            let _ = writeln!(out, "- {c}");
        }
        let _ = writeln!(out);
    }
    if !s.stop.is_empty() {
        let _ = writeln!(out, "\n### Stop guards\n");
        for line in &s.stop {
            let _ = writeln!(out, "- {}", line.trim());
        }
    }
    let _ = writeln!(out, "\n## Cascade\n");
    if s.chain.is_empty() {
        let _ = writeln!(out, "No faults were injected: nothing to trace.");
    } else {
        for (k, step) in s.chain.iter().enumerate() {
            let _ = writeln!(out, "{}. {step}", k + 1);
        }
        let _ = writeln!(out);
        for line in &s.times {
            let _ = writeln!(out, "- {line}");
        }
        let _ = writeln!(out, "\n### Blast radius\n\n{}\n", s.impact_caption);
        markdown_table(
            &mut out,
            &IMPACT_HEADER,
            s.impact.iter().map(|r| r.as_slice()),
        );
        let _ = writeln!(out);
        for line in &s.blast {
            let _ = writeln!(out, "- {line}");
        }
    }
    for f in figures {
        let _ = writeln!(out, "\n## {}\n\n![{}]({}.png)", f.title, f.title, f.name);
    }
    let _ = writeln!(out, "\n```mermaid\n{}```", mermaid(data));
    out
}

/// The dependency graph as Mermaid, nodes classed by their worst state.
fn mermaid(data: &RunData) -> String {
    let (nodes, edges) = charts::layout(data);
    let id = |k: usize| format!("n{k}");
    let mut out = String::from("flowchart LR\n");
    for (k, (name, _)) in nodes.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {}[\"{}<br/>{}\"]:::{}",
            id(k),
            name,
            charts::describe(&data.sustained(name)),
            data.sustained(name).health
        );
    }
    for e in edges {
        let _ = writeln!(out, "  {} --> {}", id(e.from), id(e.to));
    }
    out.push_str("  classDef healthy fill:#D6EADF,stroke:#555\n");
    out.push_str("  classDef degraded fill:#E69F00,stroke:#555\n");
    out.push_str("  classDef down fill:#D55E00,stroke:#555,color:#fff\n");
    out
}
