//! The report of a comparison (`compare.json`): per variant, each figure's
//! mean with its 95 % interval, the latency curves overlaid, and the
//! ranking. A variant keeps its colour in every chart.

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::charts::{self, Chart, colour};
use super::{Figure, escape, figure, write_atomic};
use crate::error::{JsonPath, Problem, Result};
use crate::record::compare::{Comparison, Metric, Rank, VariantResult};
use crate::spec::Source;

/// The files a comparison report adds to a `compare/` directory.
pub const COMPARE_REPORT_FILES: [&str; 6] = [
    "report.html",
    "report.md",
    "intervals.svg",
    "intervals.png",
    "latency.svg",
    "latency.png",
];

const FONT: &str = "sans-serif";

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A figure of the comparison and how its values show.
struct Panel {
    metric: Metric,
    title: &'static str,
    scale: f64,
    unit: &'static str,
}

const PANELS: [Panel; 6] = [
    Panel {
        metric: Metric::Availability,
        title: "availability (higher is better)",
        scale: 100.0,
        unit: "%",
    },
    Panel {
        metric: Metric::P99Ms,
        title: "p99 latency (lower is better)",
        scale: 1.0,
        unit: "ms",
    },
    Panel {
        metric: Metric::RecoveryS,
        title: "time to recover after the faults (lower is better)",
        scale: 1.0,
        unit: "s",
    },
    Panel {
        metric: Metric::LostWrites,
        title: "writes lost in failovers (lower is better)",
        scale: 1.0,
        unit: "writes",
    },
    Panel {
        metric: Metric::HypothesisPassRate,
        title: "runs whose hypothesis held (higher is better)",
        scale: 100.0,
        unit: "%",
    },
    Panel {
        metric: Metric::MetastableRate,
        title: "runs that never healed: metastable (lower is better)",
        scale: 100.0,
        unit: "%",
    },
];

/// (mean, low, high) of a variant's figure, scaled; `None` when not
/// measured.
fn estimate(v: &VariantResult, metric: Metric, scale: f64) -> Option<(f64, f64, f64)> {
    let e = v.metrics.get(metric);
    let mean = e.mean? * scale;
    let low = e.ci95_low.map_or(mean, |x| x * scale);
    let high = e.ci95_high.map_or(mean, |x| x * scale);
    Some((mean, low, high))
}

/// Horizontal bars with 95 % whiskers, one panel per figure.
struct Intervals<'a> {
    comparison: &'a Comparison,
}

impl Chart for Intervals<'_> {
    fn size(&self) -> (u32, u32) {
        let n = self.comparison.variants.len().max(1) as u32;
        (1100, 60 + 3 * (70 + 26 * n))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let c = self.comparison;
        let vs = &c.variants;
        let n = vs.len().max(1);
        let (title, rest) = root.split_vertically(50);
        title
            .draw(&Text::new(
                format!(
                    "Variants of `{}` over {} seeds: mean and 95 % interval",
                    c.scenario.name, c.seeds.count
                ),
                (10, 14),
                (FONT, 20).into_font(),
            ))
            .map_err(err)?;
        let cells = rest.split_evenly((3, 2));
        let names: Vec<&str> = vs.iter().map(|v| v.name.as_str()).collect();
        let label_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => names[n - 1 - *i].to_string(),
            _ => String::new(),
        };
        for (panel, cell) in PANELS.iter().zip(cells.iter()) {
            let values: Vec<Option<(f64, f64, f64)>> = vs
                .iter()
                .map(|v| estimate(v, panel.metric, panel.scale))
                .collect();
            let top = values
                .iter()
                .flatten()
                .map(|(m, _, h)| m.max(*h))
                .fold(0.0, f64::max);
            let top = if panel.unit == "%" {
                100.0
            } else {
                (top * 1.15).max(1.0)
            };
            let mut chart = ChartBuilder::on(cell)
                .caption(panel.title, (FONT, 14))
                .margin(8)
                .x_label_area_size(36)
                .y_label_area_size(160)
                .build_cartesian_2d(0.0..top, (0..n - 1).into_segmented())
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .light_line_style(WHITE)
                .y_labels(n)
                .y_label_formatter(&label_of)
                .x_desc(panel.unit)
                .x_label_formatter(&|v| charts::trim_number(*v))
                .axis_desc_style((FONT, 12))
                .label_style((FONT, 12))
                .draw()
                .map_err(err)?;
            for (k, value) in values.iter().enumerate() {
                let lane = n - 1 - k;
                let c = colour(k);
                match value {
                    Some((mean, low, high)) => {
                        let mut bar = Rectangle::new(
                            [
                                (0.0, SegmentValue::Exact(lane)),
                                (*mean, SegmentValue::Exact(lane + 1)),
                            ],
                            c.mix(0.75).filled(),
                        );
                        bar.set_margin(4, 4, 0, 0);
                        chart.draw_series(std::iter::once(bar)).map_err(err)?;
                        // The 95 % interval: a line with end caps across the bar.
                        let mid = SegmentValue::CenterOf(lane);
                        let whisker = BLACK.stroke_width(2);
                        let mut lines = vec![PathElement::new(
                            vec![(*low, mid.clone()), (*high, mid)],
                            whisker,
                        )];
                        for x in [*low, *high] {
                            let mut cap = Rectangle::new(
                                [
                                    (x, SegmentValue::Exact(lane)),
                                    (x, SegmentValue::Exact(lane + 1)),
                                ],
                                whisker,
                            );
                            cap.set_margin(7, 7, 0, 0);
                            chart.draw_series(std::iter::once(cap)).map_err(err)?;
                        }
                        chart.draw_series(lines.drain(..)).map_err(err)?;
                    }
                    None => {
                        chart
                            .draw_series(std::iter::once(Text::new(
                                " not measured",
                                (0.0, SegmentValue::CenterOf(lane)),
                                (FONT, 12).into_font(),
                            )))
                            .map_err(err)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// Each variant's latency distribution (mean over seeds per quantile).
struct Latency<'a> {
    comparison: &'a Comparison,
}

impl Chart for Latency<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let c = self.comparison;
        let curves: Vec<(String, Vec<(f64, f64)>)> = c
            .variants
            .iter()
            .map(|v| {
                let points = v
                    .latency_ms
                    .iter()
                    .zip(&c.latency_quantiles)
                    .filter(|(ms, _)| **ms > 0.0)
                    .map(|(ms, q)| (*ms, *q * 100.0))
                    .collect();
                (v.name.clone(), points)
            })
            .collect();
        let all = curves.iter().flat_map(|(_, p)| p.iter().map(|x| x.0));
        let (low, high) = all.fold((f64::INFINITY, 0.0f64), |(lo, hi), x| {
            (lo.min(x), hi.max(x))
        });
        let (low, high) = if low.is_finite() {
            (low / 1.5, high * 1.5)
        } else {
            (0.1, 10.0)
        };
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Latency of successful requests per variant (mean over seeds at each percentile)",
                (FONT, 18),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((low..high).log_scale(), 0.0..100.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .x_desc("latency (ms, log)")
            .y_desc("share of requests at most this fast (%)")
            .axis_desc_style((FONT, 13))
            .label_style((FONT, 12))
            .x_label_formatter(&|v| charts::trim_number(*v))
            .draw()
            .map_err(err)?;
        for (k, (name, points)) in curves.iter().enumerate() {
            let c = colour(k);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                .map_err(err)?
                .label(name.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.3))
            .label_font((FONT, 13))
            .draw()
            .map_err(err)
    }
}

/// Draws the comparison charts in `dir` (a `compare/` directory) and
/// writes its reports.
pub fn write_compare_report(dir: &Path) -> Result<()> {
    let source = Source::read(&dir.join("compare.json"))?;
    let comparison: Comparison = crate::spec::deserialize(&source)?;
    let ranked = ranked(&comparison).map_err(|problems| source.invalid(problems))?;
    let figures = vec![
        figure(
            dir,
            "intervals",
            "Figures per variant",
            &Intervals {
                comparison: &comparison,
            },
        )?,
        figure(
            dir,
            "latency",
            "Latency curves",
            &Latency {
                comparison: &comparison,
            },
        )?,
    ];
    write_atomic(
        &dir.join("report.html"),
        html(&comparison, &ranked, &figures).as_bytes(),
    )?;
    write_atomic(
        &dir.join("report.md"),
        markdown(&comparison, &ranked, &figures).as_bytes(),
    )?;
    Ok(())
}

/// Each rank with the variant it names; a name the file does not hold is
/// a problem at its JSON path.
fn ranked(c: &Comparison) -> std::result::Result<Vec<(&Rank, &VariantResult)>, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut ranked = Vec::with_capacity(c.ranking.len());
    for (k, rank) in c.ranking.iter().enumerate() {
        match c.variant(&rank.variant) {
            Some(v) => ranked.push((rank, v)),
            None => problems.push(Problem::new(
                JsonPath::root().key("ranking").index(k).key("variant"),
                format!("`{}` is not among the variants", rank.variant),
            )),
        }
    }
    if problems.is_empty() {
        Ok(ranked)
    } else {
        Err(problems)
    }
}

fn cell(v: &VariantResult, metric: Metric, scale: f64, decimals: usize) -> String {
    match estimate(v, metric, scale) {
        Some((m, lo, hi)) => format!("{m:.decimals$} [{lo:.decimals$}, {hi:.decimals$}]"),
        None => "n/a".into(),
    }
}

const HEADER: [&str; 9] = [
    "rank",
    "variant",
    "availability %",
    "Δ availability pp",
    "p99 ms",
    "recovery s",
    "metastable %",
    "hypothesis held %",
    "verdict",
];

/// The ranking as table rows.
fn rows(ranked: &[(&Rank, &VariantResult)]) -> Vec<[String; 9]> {
    ranked
        .iter()
        .map(|(rank, v)| {
            let diff = v.vs_baseline.as_ref().map(|d| &d.availability);
            let delta = match diff.map(|d| (d.mean, d.ci95_low, d.ci95_high)) {
                Some((Some(m), Some(lo), Some(hi))) => {
                    format!("{:+.3} [{:+.3}, {:+.3}]", m * 100.0, lo * 100.0, hi * 100.0)
                }
                Some((Some(m), ..)) => format!("{:+.3}", m * 100.0),
                _ => "—".into(),
            };
            [
                rank.rank.to_string(),
                rank.variant.clone(),
                cell(v, Metric::Availability, 100.0, 3),
                delta,
                cell(v, Metric::P99Ms, 1.0, 1),
                cell(v, Metric::RecoveryS, 1.0, 1),
                cell(v, Metric::MetastableRate, 100.0, 0),
                cell(v, Metric::HypothesisPassRate, 100.0, 0),
                rank.verdict.name().to_string(),
            ]
        })
        .collect()
}

fn title(c: &Comparison) -> String {
    format!(
        "{} — {} variants over {} seeds ({}…)",
        c.scenario.name,
        c.variants.len(),
        c.seeds.count,
        c.seeds.first
    )
}

fn html(c: &Comparison, ranked: &[(&Rank, &VariantResult)], figures: &[Figure]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{}\n</style>\n</head>\n<body>\n",
        escape(&title(c)),
        super::STYLE
    );
    let _ = writeln!(out, "<h1>{}</h1>", escape(&title(c)));
    let _ = writeln!(
        out,
        "<p class=\"sub\">every variant sees the same traffic and fault timing on each seed, so differences are paired; baseline: {}; faultline {}</p>",
        escape(&c.baseline),
        escape(&c.tool.version)
    );
    let _ = writeln!(out, "<section id=\"ranking\">\n<h2>Ranking</h2>");
    let rows = rows(ranked);
    super::html_table(&mut out, &HEADER, rows.iter().map(|r| r.as_slice()));
    let _ = writeln!(
        out,
        "<p>Values are means with their 95 % intervals over the seeds; Δ is the seed-paired difference against the baseline. Ranking: {}.</p>\n</section>",
        escape(&c.ranking_rule)
    );
    for f in figures {
        let _ = writeln!(
            out,
            "<section id=\"{}\">\n<h2>{}</h2>\n<div class=\"figure\">{}</div>\n</section>",
            f.name,
            f.title,
            super::strip_xml_declaration(&f.svg)
        );
    }
    let _ = writeln!(out, "</body>\n</html>");
    out
}

fn markdown(c: &Comparison, ranked: &[(&Rank, &VariantResult)], figures: &[Figure]) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {}\n", title(c));
    let _ = writeln!(
        out,
        "Every variant sees the same traffic and fault timing on each seed, so differences are paired. Values are means with their 95 % intervals; Δ is the seed-paired difference against `{}`.\n",
        c.baseline
    );
    let rows = rows(ranked);
    super::markdown_table(&mut out, &HEADER, rows.iter().map(|r| r.as_slice()));
    let _ = writeln!(out, "\nRanking: {}.", c.ranking_rule);
    for f in figures {
        let _ = writeln!(out, "\n## {}\n\n![{}]({}.png)", f.title, f.title, f.name);
    }
    out
}
