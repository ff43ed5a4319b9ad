//! The report of a search (`search.json`): the minimal breaking sets
//! ranked, the impact of every set run, the cascade of the worst, and what
//! the design survives.

use std::fmt::Write as _;
use std::path::Path;

use super::charts::Impact;
use super::{escape, figure, prose, write_atomic};
use crate::error::Result;
use crate::record::compare::Estimate;
use crate::record::search::{Candidate, SearchReport};

/// The files a search report adds to a search directory.
pub const SEARCH_REPORT_FILES: [&str; 4] = ["report.html", "report.md", "impact.svg", "impact.png"];

/// The most bars the impact chart draws: the sets with the highest error
/// rate, the rest counted under it.
const MAX_BARS: usize = 40;

fn percent(e: &Estimate) -> String {
    match (e.mean, e.ci95_low, e.ci95_high) {
        (Some(m), Some(lo), Some(hi)) => {
            format!("{:.3} % [{:.3}, {:.3}]", m * 100.0, lo * 100.0, hi * 100.0)
        }
        (Some(m), _, _) => format!("{:.3} %", m * 100.0),
        _ => "n/a".to_string(),
    }
}

fn ms(e: &Estimate) -> String {
    e.mean.map_or("n/a".to_string(), |m| format!("{m:.1} ms"))
}

fn impact(s: &SearchReport) -> Impact {
    let mut sets: Vec<&Candidate> = s.candidates.iter().collect();
    sets.sort_by(|a, b| {
        let (ea, eb) = (
            a.error_rate.mean.unwrap_or(0.0),
            b.error_rate.mean.unwrap_or(0.0),
        );
        eb.total_cmp(&ea)
    });
    let shown = sets.len().min(MAX_BARS);
    let footnote = if sets.len() > shown {
        format!(
            "the {shown} sets with the most errors of {} run; the control (no fault) has {}; grey: every hypothesis held",
            sets.len(),
            percent(&s.control.error_rate)
        )
    } else {
        format!(
            "every set run; the control (no fault) has {}; grey: every hypothesis held",
            percent(&s.control.error_rate)
        )
    };
    Impact {
        title: format!("Impact per set of faults: {}", s.scenario.name),
        subtitle: format!(
            "variant {} · {} seed{} · faults at {} s, lasting {} s · in colour: breaks a hypothesis",
            s.variant,
            s.seeds.count,
            if s.seeds.count == 1 { "" } else { "s" },
            s.at_s,
            s.for_s
        ),
        bars: sets
            .iter()
            .take(shown)
            .map(|c| {
                (
                    c.faults.join(" + "),
                    c.error_rate.mean.unwrap_or(0.0) * 100.0,
                    c.broke_runs > 0,
                )
            })
            .collect(),
        footnote,
    }
}

const RANK_HEADER: [&str; 8] = [
    "#",
    "faults",
    "broke on",
    "availability [95 % CI]",
    "p99",
    "hypotheses failed (seeds)",
    "size",
    "scenario",
];

fn rank_rows(s: &SearchReport) -> Vec<Vec<String>> {
    s.minimal
        .iter()
        .map(|c| {
            vec![
                c.rank.unwrap_or(0).to_string(),
                c.faults.join(" + "),
                format!("{}/{}", c.broke_runs, c.runs),
                percent(&c.availability),
                ms(&c.p99_ms),
                c.failed
                    .iter()
                    .map(|(h, n)| format!("{h} ({n})"))
                    .collect::<Vec<_>>()
                    .join(", "),
                c.faults.len().to_string(),
                format!("`{}`", c.scenario.clone().unwrap_or_default()),
            ]
        })
        .collect()
}

const LEVEL_HEADER: [&str; 6] = [
    "size",
    "sets run",
    "break",
    "alike by symmetry",
    "holding a breaking set",
    "an instance twice",
];

fn level_rows(s: &SearchReport) -> Vec<Vec<String>> {
    s.levels
        .iter()
        .map(|l| {
            vec![
                l.size.to_string(),
                l.candidates.to_string(),
                l.broke.to_string(),
                l.symmetric.to_string(),
                l.pruned.to_string(),
                l.same_instance.to_string(),
            ]
        })
        .collect()
}

fn title(s: &SearchReport) -> String {
    format!("Search of `{}` (variant `{}`)", s.scenario.name, s.variant)
}

/// The paragraphs under the title, as plain text with `code` spans.
fn summary(s: &SearchReport) -> Vec<String> {
    let mut out = vec![format!(
        "{} single faults read off the model `{}`, sets of up to {}, each run on {} seeds from {}; every fault starts at {} s and the lasting ones last {} s. Judged by: {}.",
        s.singles,
        s.model.name,
        s.depth,
        s.seeds.count,
        s.seeds.first,
        s.at_s,
        s.for_s,
        s.hypotheses
            .iter()
            .map(|h| format!("`{h}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )];
    out.push(format!(
        "With no fault: availability {}, p99 {}; {}.",
        percent(&s.control.availability),
        ms(&s.control.p99_ms),
        if s.control.broke_runs == 0 {
            "every hypothesis holds".to_string()
        } else {
            format!(
                "hypotheses fail on {} of {} seeds",
                s.control.broke_runs, s.control.runs
            )
        }
    ));
    let singles = s.candidates.iter().filter(|c| c.faults.len() == 1).count();
    out.push(format!(
        "{} minimal breaking sets; the design survives {} of the {} single faults.",
        s.minimal.len(),
        s.survived.len(),
        singles
    ));
    if let Some(why) = &s.stopped {
        out.push(format!("The search stopped early: {why}."));
    }
    out
}

fn run_command(s: &SearchReport) -> Option<String> {
    let w = s.worst.as_ref()?;
    let file = s.minimal.first()?.scenario.clone()?;
    let variant = if s.variant == crate::spec::BASELINE {
        String::new()
    } else {
        format!(" --variant {}", s.variant)
    };
    Some(format!("faultline run {file} --seed {}{variant}", w.seed))
}

/// Draws the impact chart of the search in `dir` and writes the reports
/// beside it.
pub fn write_search_report(dir: &Path) -> Result<()> {
    let s: SearchReport = crate::record::read(&dir.join("search.json"))?;
    let figures = vec![figure(dir, "impact", "Impact per set", &impact(&s))?];
    let ranks = rank_rows(&s);
    let levels = level_rows(&s);
    // HTML.
    let mut html = String::new();
    let _ = write!(
        html,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{}\n</style>\n</head>\n<body>\n",
        super::plain(&title(&s)),
        super::STYLE
    );
    let _ = writeln!(html, "<h1>{}</h1>", prose(&title(&s)));
    for p in summary(&s) {
        let _ = writeln!(html, "<p>{}</p>", prose(&p));
    }
    let _ = writeln!(
        html,
        "<section id=\"minimal\">\n<h2>Minimal breaking sets</h2>"
    );
    if ranks.is_empty() {
        let _ = writeln!(
            html,
            "<p>No set of faults searched breaks a hypothesis.</p>"
        );
    } else {
        super::html_table(&mut html, &RANK_HEADER, ranks.iter().map(|r| r.as_slice()));
    }
    let _ = writeln!(html, "</section>");
    for f in &figures {
        let _ = writeln!(
            html,
            "<section id=\"{}\">\n<h2>{}</h2>\n<div class=\"figure\">{}</div>\n</section>",
            f.name,
            f.title,
            super::strip_xml_declaration(&f.svg)
        );
    }
    if let Some(w) = &s.worst {
        let _ = writeln!(
            html,
            "<section id=\"worst\">\n<h2>The cascade of the worst</h2>\n<p>{} (seed {}):</p>\n<p><code>{}</code></p>\n<p>{}</p>",
            prose(&w.faults.join(" + ")),
            w.seed,
            escape(&w.chain),
            prose(&w.recovery)
        );
        if let Some(cmd) = run_command(&s) {
            let _ = writeln!(
                html,
                "<p>Its timeline, cascade and saturation charts: <code>{}</code> (from this directory).</p>",
                escape(&cmd)
            );
        }
        let _ = writeln!(html, "</section>");
    }
    let _ = writeln!(
        html,
        "<section id=\"survived\">\n<h2>Single faults survived</h2>\n<p>{}</p>\n</section>",
        if s.survived.is_empty() {
            "None.".to_string()
        } else {
            prose(&s.survived.join("; "))
        }
    );
    let _ = writeln!(html, "<section id=\"levels\">\n<h2>Sets run per size</h2>");
    super::html_table(
        &mut html,
        &LEVEL_HEADER,
        levels.iter().map(|r| r.as_slice()),
    );
    let _ = writeln!(html, "<ul>");
    for n in &s.notes {
        let _ = writeln!(html, "<li>{}</li>", prose(n));
    }
    let _ = writeln!(
        html,
        "</ul>\n</section>\n<p class=\"sub\">faultline {}</p>\n</body>\n</html>",
        escape(&s.tool.version)
    );
    // Markdown.
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", title(&s));
    for p in summary(&s) {
        let _ = writeln!(md, "{p}\n");
    }
    let _ = writeln!(md, "## Minimal breaking sets\n");
    if ranks.is_empty() {
        let _ = writeln!(md, "No set of faults searched breaks a hypothesis.");
    } else {
        super::markdown_table(&mut md, &RANK_HEADER, ranks.iter().map(|r| r.as_slice()));
    }
    for f in &figures {
        let _ = writeln!(md, "\n## {}\n\n![{}]({}.png)", f.title, f.title, f.name);
    }
    if let Some(w) = &s.worst {
        let _ = writeln!(
            md,
            "\n## The cascade of the worst\n\n{} (seed {}):\n\n`{}`\n\n{}",
            w.faults.join(" + "),
            w.seed,
            w.chain,
            w.recovery
        );
        if let Some(cmd) = run_command(&s) {
            let _ = writeln!(md, "\nIts timeline, cascade and saturation charts: `{cmd}`");
        }
    }
    let _ = writeln!(
        md,
        "\n## Single faults survived\n\n{}\n\n## Sets run per size\n",
        if s.survived.is_empty() {
            "None.".to_string()
        } else {
            s.survived.join("; ")
        }
    );
    super::markdown_table(&mut md, &LEVEL_HEADER, levels.iter().map(|r| r.as_slice()));
    let _ = writeln!(md);
    for n in &s.notes {
        let _ = writeln!(md, "- {n}");
    }
    write_atomic(&dir.join("report.html"), html.as_bytes())?;
    write_atomic(&dir.join("report.md"), md.as_bytes())?;
    Ok(())
}
