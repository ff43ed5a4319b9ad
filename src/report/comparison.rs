//! The report of a comparison (`compare.json`): per variant, each figure's
//! mean with its 95 % interval, the latency curves overlaid, and the
//! ranking. A variant keeps its colour in every chart.

use std::fmt::Write as _;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::axis;
use super::charts::{self, Chart, FONT, HEADING, Mark, colour};
use super::{Figure, escape, figure, prose, write_atomic};
use crate::error::{JsonPath, Problem, Result};
use crate::record::compare::{Comparison, Metric, Rank, VariantResult};
use crate::spec::Source;

/// The files a comparison report adds to a `compare/` directory.
pub const COMPARE_REPORT_FILES: [&str; 8] = [
    "report.html",
    "report.md",
    "intervals.svg",
    "intervals.png",
    "differences.svg",
    "differences.png",
    "latency.svg",
    "latency.png",
];

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// A figure of the comparison and how its values show.
struct Panel {
    metric: Metric,
    title: &'static str,
    scale: f64,
    unit: Unit,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Percent,
    Ms,
    Seconds,
    Writes,
}

impl Unit {
    /// A value as a bar's label: three significant digits are what a
    /// comparison over a few seeds can tell apart.
    fn label(self, v: f64) -> String {
        let v = axis::significant(v, 3);
        match self {
            Unit::Percent => format!("{} %", axis::trim_number(v)),
            Unit::Ms => axis::format_ms(v),
            Unit::Seconds => format!("{} s", axis::trim_number(v)),
            Unit::Writes => axis::trim_number(v),
        }
    }

    fn axis_title(self, log: bool) -> &'static str {
        match (self, log) {
            (Unit::Percent, _) => "%",
            (Unit::Ms, false) => "ms",
            (Unit::Ms, true) => "ms (log)",
            (Unit::Seconds, false) => "s",
            (Unit::Seconds, true) => "s (log)",
            (Unit::Writes, _) => "writes",
        }
    }
}

const PANELS: [Panel; 7] = [
    Panel {
        metric: Metric::Availability,
        title: "availability (higher is better)",
        scale: 100.0,
        unit: Unit::Percent,
    },
    Panel {
        metric: Metric::P99Ms,
        title: "p99 latency (lower is better)",
        scale: 1.0,
        unit: Unit::Ms,
    },
    Panel {
        metric: Metric::RecoveryS,
        title: "time to recover after the faults (lower is better)",
        scale: 1.0,
        unit: Unit::Seconds,
    },
    Panel {
        metric: Metric::LostWrites,
        title: "writes lost in failovers (lower is better)",
        scale: 1.0,
        unit: Unit::Writes,
    },
    Panel {
        metric: Metric::HypothesisPassRate,
        title: "runs whose hypothesis held (higher is better)",
        scale: 100.0,
        unit: Unit::Percent,
    },
    Panel {
        metric: Metric::MetastableRate,
        title: "runs that never healed: metastable (lower is better)",
        scale: 100.0,
        unit: Unit::Percent,
    },
    Panel {
        metric: Metric::ReconnectS,
        title: "time until every client reconnected (lower is better)",
        scale: 1.0,
        unit: Unit::Seconds,
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

/// Values spread over more than this ratio are drawn on a log axis: a
/// 16 ms bar beside a 9 s one is invisible on a linear one.
const LOG_ABOVE: f64 = 20.0;

/// How a panel's values map to its axis: linear from zero, or log10 over
/// the decades the values span (bars then start at the axis' left end).
#[derive(Clone, Copy)]
struct Scale {
    log: bool,
    low: f64,
    high: f64,
}

impl Scale {
    fn of(values: &[Option<(f64, f64, f64)>], unit: Unit) -> Scale {
        let all: Vec<f64> = values
            .iter()
            .flatten()
            .flat_map(|(m, l, h)| [*m, *l, *h])
            .collect();
        let top = all.iter().copied().fold(0.0, f64::max);
        let least = all
            .iter()
            .copied()
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let log = matches!(unit, Unit::Ms | Unit::Seconds)
            && least.is_finite()
            && top / least > LOG_ABOVE;
        if log {
            Scale {
                log: true,
                low: (least / 2.0).log10(),
                high: (top * 3.0).log10(),
            }
        } else if unit == Unit::Percent {
            Scale {
                log: false,
                low: 0.0,
                high: 100.0,
            }
        } else {
            Scale {
                log: false,
                low: 0.0,
                high: (top * 1.3).max(1.0),
            }
        }
    }

    /// A value's position on the axis.
    fn at(&self, v: f64) -> f64 {
        if self.log {
            v.max(10f64.powf(self.low)).log10()
        } else {
            v
        }
    }

    /// The value at a position of the axis.
    fn value(&self, x: f64) -> f64 {
        if self.log { 10f64.powf(x) } else { x }
    }

    fn ticks(&self, length_px: f64) -> Option<Vec<f64>> {
        self.log.then(|| {
            axis::log_ticks(self.value(self.low), self.value(self.high), length_px, 64.0)
                .into_iter()
                .map(|t| t.log10())
                .collect()
        })
    }
}

const PANEL_H: u32 = 70;
const LANE_H: u32 = 26;

impl Intervals<'_> {
    /// The panels to draw: reconnect times only where clients lost
    /// connections.
    fn panels(&self) -> Vec<&'static Panel> {
        PANELS
            .iter()
            .filter(|p| {
                p.metric != Metric::ReconnectS
                    || self
                        .comparison
                        .variants
                        .iter()
                        .any(|v| v.metrics.reconnect_s.mean.is_some())
            })
            .collect()
    }

    fn rows(&self) -> usize {
        self.panels().len().div_ceil(2)
    }
}

impl Chart for Intervals<'_> {
    fn size(&self) -> (u32, u32) {
        let n = self.comparison.variants.len().max(1) as u32;
        (1100, HEADING + self.rows() as u32 * (PANEL_H + LANE_H * n))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let c = self.comparison;
        let vs = &c.variants;
        let n = vs.len().max(1);
        let (title, rest) = root.split_vertically(HEADING);
        charts::heading(
            &title,
            "Figures per variant: mean over the seeds and its 95 % interval",
            &compare_subtitle(c),
        )?;
        let cells = rest.split_evenly((self.rows(), 2));
        let names: Vec<&str> = vs.iter().map(|v| v.name.as_str()).collect();
        let label_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) if *i < n => names[n - 1 - *i].to_string(),
            _ => String::new(),
        };
        for (panel, cell) in self.panels().into_iter().zip(cells.iter()) {
            let values: Vec<Option<(f64, f64, f64)>> = vs
                .iter()
                .map(|v| estimate(v, panel.metric, panel.scale))
                .collect();
            let scale = Scale::of(&values, panel.unit);
            let plot_w = cell.dim_in_pixel().0 as f64 - 160.0 - 16.0;
            let range = axis::Ticked {
                range: scale.low..scale.high,
                ticks: scale
                    .ticks(plot_w)
                    .unwrap_or_else(|| linear_ticks(scale.high)),
            };
            let mut chart = ChartBuilder::on(cell)
                .caption(panel.title, (FONT, 14))
                .margin(8)
                .x_label_area_size(36)
                .y_label_area_size(160)
                .build_cartesian_2d(range, (0..n - 1).into_segmented())
                .map_err(err)?;
            let unit = panel.unit;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .light_line_style(WHITE)
                .bold_line_style(BLACK.mix(0.1))
                .y_labels(n)
                .y_label_formatter(&label_of)
                .x_desc(unit.axis_title(scale.log))
                .x_label_formatter(&|v| {
                    if scale.log {
                        unit.label(scale.value(*v))
                    } else {
                        axis::trim_number(*v)
                    }
                })
                .axis_desc_style((FONT, 12))
                .label_style((FONT, 12))
                .draw()
                .map_err(err)?;
            for (k, value) in values.iter().enumerate() {
                let lane = n - 1 - k;
                let c = colour(k);
                let Some((mean, low, high)) = value else {
                    chart
                        .draw_series(std::iter::once(Text::new(
                            " not measured",
                            (scale.low, SegmentValue::CenterOf(lane)),
                            (FONT, 12).into_font(),
                        )))
                        .map_err(err)?;
                    continue;
                };
                let (m, lo, hi) = (scale.at(*mean), scale.at(*low), scale.at(*high));
                let mut bar = Rectangle::new(
                    [
                        (scale.low, SegmentValue::Exact(lane)),
                        (m, SegmentValue::Exact(lane + 1)),
                    ],
                    c.mix(0.75).filled(),
                );
                bar.set_margin(4, 4, 0, 0);
                chart.draw_series(std::iter::once(bar)).map_err(err)?;
                // The 95 % interval: a line with end caps across the bar.
                let mid = SegmentValue::CenterOf(lane);
                let whisker = BLACK.stroke_width(2);
                for x in [lo, hi] {
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
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(lo, mid.clone()), (hi, mid.clone())],
                        whisker,
                    )))
                    .map_err(err)?;
                // The value in words beside the bar, or inside its end when
                // the bar reaches the right edge.
                let text = unit.label(*mean);
                let span = scale.high - scale.low;
                let inside = hi - scale.low > 0.8 * span;
                let (x, style) = if inside {
                    (
                        scale.low + 0.02 * span,
                        (FONT, 12).into_font().color(&WHITE),
                    )
                } else {
                    (hi + 0.015 * span, (FONT, 12).into_font().color(&BLACK))
                };
                chart
                    .draw_series(std::iter::once(Text::new(
                        text,
                        (x, mid),
                        style.pos(plotters::style::text_anchor::Pos::new(
                            plotters::style::text_anchor::HPos::Left,
                            plotters::style::text_anchor::VPos::Center,
                        )),
                    )))
                    .map_err(err)?;
            }
        }
        Ok(())
    }
}

/// About six round ticks from zero to `top`.
fn linear_ticks(top: f64) -> Vec<f64> {
    let raw = top / 6.0;
    let magnitude = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(raw);
    (0..)
        .map(|k| k as f64 * step)
        .take_while(|v| *v <= top * (1.0 + 1e-9))
        .collect()
}

pub(super) fn compare_subtitle(c: &Comparison) -> String {
    format!(
        "scenario {} · {} variants · {} seeds from {} · differences against {}",
        c.scenario.name,
        c.variants.len(),
        c.seeds.count,
        c.seeds.first,
        baseline_words(c).replace('`', "")
    )
}

/// Each variant's latency distribution (mean over seeds per quantile).
struct Latency<'a> {
    comparison: &'a Comparison,
}

impl Latency<'_> {
    fn legend(&self) -> Vec<(Mark, String)> {
        self.comparison
            .variants
            .iter()
            .enumerate()
            .map(|(k, v)| (Mark::Line(colour(k), 3), v.name.clone()))
            .collect()
    }
}

impl Chart for Latency<'_> {
    fn size(&self) -> (u32, u32) {
        let legend = charts::legend_height(&self.legend(), 1060, 13) as u32;
        (1100, HEADING + legend + 520)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let c = self.comparison;
        let (title, rest) = root.split_vertically(HEADING);
        charts::heading(
            &title,
            "Latency of successful requests per variant (mean over seeds at each percentile)",
            &compare_subtitle(c),
        )?;
        let legend = self.legend();
        let legend_px = charts::legend_height(&legend, 1060, 13) as u32;
        let (legend_area, plot) = rest.split_vertically(legend_px);
        charts::legend_row(&legend_area, &legend, (70, 0), 1000, 13)?;
        let curves: Vec<(String, Vec<(f64, f64)>)> = c
            .variants
            .iter()
            .map(|v| {
                let points = v
                    .latency_ms
                    .iter()
                    .zip(&c.latency_quantiles)
                    .filter(|(ms, _)| **ms > 0.0)
                    .map(|(ms, q)| (*ms, axis::tail_position(*q)))
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
        let top = c.latency_quantiles.iter().copied().fold(0.9, f64::max);
        let top = axis::tail_position(top) * 1.04;
        let plot_w = plot.dim_in_pixel().0 as f64 - 24.0 - 80.0;
        let x_ticks = axis::log_ticks(low, high, plot_w, 56.0);
        let mut chart = ChartBuilder::on(&plot)
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(
                (low..high).log_scale().with_key_points(x_ticks),
                axis::Ticked {
                    range: 0.0..top,
                    ticks: axis::tail_ticks(top),
                },
            )
            .map_err(err)?;
        chart
            .configure_mesh()
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.1))
            .x_desc("latency (ms, log)")
            .y_desc("requests at most this slow (tail spread out)")
            .axis_desc_style((FONT, 13))
            .label_style((FONT, 12))
            .x_label_formatter(&|v| axis::format_ms(*v))
            .y_label_formatter(&|v| axis::format_share(axis::tail_share(*v)))
            .draw()
            .map_err(err)?;
        for (k, (_, points)) in curves.iter().enumerate() {
            let c = colour(k);
            chart
                .draw_series(LineSeries::new(points.iter().copied(), c.stroke_width(2)))
                .map_err(err)?;
        }
        Ok(())
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
            "differences",
            "Paired differences behind the verdicts",
            &super::differences::Differences {
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

/// Whether any variant measured a reconnect time (a column then).
fn has_reconnect(ranked: &[(&Rank, &VariantResult)]) -> bool {
    ranked
        .iter()
        .any(|(_, v)| v.metrics.reconnect_s.mean.is_some())
}

fn header(reconnect: bool) -> Vec<&'static str> {
    let mut h = vec![
        "rank",
        "variant",
        "availability %",
        "Δ availability pp",
        "p99 ms",
        "recovery s",
        "metastable %",
        "hypothesis held %",
    ];
    if reconnect {
        h.push("reconnect s");
    }
    h.push("verdict: what drove it");
    h
}

/// The ranking as table rows.
fn rows(ranked: &[(&Rank, &VariantResult)]) -> Vec<Vec<String>> {
    let reconnect = has_reconnect(ranked);
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
            // A variant whose guard stopped the experiment is not the
            // experiment the others ran: said beside its name.
            let name = if v.stopped > 0 {
                format!(
                    "{} (stopped by a guard on {} of {} seeds)",
                    rank.variant, v.stopped, v.runs
                )
            } else {
                rank.variant.clone()
            };
            let mut row = vec![
                rank.rank.to_string(),
                name,
                cell(v, Metric::Availability, 100.0, 3),
                delta,
                cell(v, Metric::P99Ms, 1.0, 1),
                cell(v, Metric::RecoveryS, 1.0, 1),
                cell(v, Metric::MetastableRate, 100.0, 0),
                if v.own_hypotheses {
                    format!(
                        "{} (its own checks, not judged)",
                        cell(v, Metric::HypothesisPassRate, 100.0, 0)
                    )
                } else {
                    cell(v, Metric::HypothesisPassRate, 100.0, 0)
                },
            ];
            if reconnect {
                row.push(cell(v, Metric::ReconnectS, 1.0, 1));
            }
            let (better, worse) = rank.drivers();
            row.push(rank.verdict.in_words(&better, &worse));
            row
        })
        .collect()
}

/// Per compared variant, each judged metric's difference against the
/// minimum effect it was held to, as table rows.
fn verdict_rows(c: &Comparison) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for v in &c.variants {
        let Some(verdicts) = &v.verdicts else {
            continue;
        };
        for metric in Metric::JUDGED {
            let Some(judged) = verdicts.get(metric) else {
                continue;
            };
            if judged.verdict == crate::record::compare::Judgement::NotApplicable
                && judged.difference.mean.is_none()
            {
                continue;
            }
            let (scale, unit, decimals) = match metric {
                Metric::Availability | Metric::HypothesisPassRate => (100.0, "pp", 3),
                Metric::P99Ms => (1.0, "ms", 1),
                Metric::LostWrites => (1.0, "writes", 1),
                _ => (1.0, "s", 2),
            };
            let d = &judged.difference;
            let difference = match (d.mean, d.ci95_low, d.ci95_high) {
                (Some(m), Some(lo), Some(hi)) => format!(
                    "{:+.decimals$} [{:+.decimals$}, {:+.decimals$}] {unit}",
                    m * scale,
                    lo * scale,
                    hi * scale
                ),
                (Some(m), ..) => format!("{:+.decimals$} {unit}", m * scale),
                _ => "n/a".into(),
            };
            let minimum = judged.minimum_effect.map_or("n/a".into(), |m| {
                format!(
                    "{:.decimals$} {unit} ({})",
                    m * scale,
                    match judged.minimum_effect_from {
                        crate::record::compare::EffectSource::Default => "default",
                        crate::record::compare::EffectSource::Scenario => "scenario",
                    }
                )
            });
            out.push(vec![
                v.name.clone(),
                metric.label().to_string(),
                difference,
                minimum,
                judged.verdict.name().to_string(),
            ]);
        }
    }
    out
}

const VERDICT_HEADER: [&str; 5] = [
    "variant",
    "metric",
    "Δ mean [95 % interval]",
    "minimum effect",
    "verdict",
];

fn title(c: &Comparison) -> String {
    format!(
        "{} — {} variants over {} seeds ({}…)",
        c.scenario.name,
        c.variants.len(),
        c.seeds.count,
        c.seeds.first
    )
}

/// The variant differences are taken against, named once: "the baseline
/// variant", or "the baseline variant, `x`" when it has another name.
fn baseline_words(c: &Comparison) -> String {
    if c.baseline == "baseline" {
        "the baseline variant".to_string()
    } else {
        format!("the baseline variant, `{}`", c.baseline)
    }
}

fn html(c: &Comparison, ranked: &[(&Rank, &VariantResult)], figures: &[Figure]) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n<style>\n{}\n</style>\n</head>\n<body>\n",
        super::plain(&title(c)),
        super::STYLE
    );
    let _ = writeln!(out, "<h1>{}</h1>", prose(&title(c)));
    let _ = writeln!(
        out,
        "<p class=\"sub\">Every variant sees the same traffic and fault timing on each seed, so differences are paired; each is measured against {}. faultline {}</p>",
        prose(&baseline_words(c)),
        escape(&c.tool.version)
    );
    let _ = writeln!(out, "<section id=\"ranking\">\n<h2>Ranking</h2>");
    let header = header(has_reconnect(ranked));
    let rows = rows(ranked);
    super::html_table(&mut out, &header, rows.iter().map(|r| r.as_slice()));
    let _ = writeln!(
        out,
        "<p>Values are means with their 95 % intervals over the seeds; Δ is the seed-paired difference against {}. Rule: {}.</p>\n</section>",
        prose(&baseline_words(c)),
        prose(&c.ranking_rule)
    );
    let verdicts = verdict_rows(c);
    if !verdicts.is_empty() {
        let _ = writeln!(
            out,
            "<section id=\"verdicts\">\n<h2>Verdicts per metric</h2>\n<p>A metric is clearly better or worse only when the interval of its paired difference excludes zero and the mean difference is at least the minimum effect.</p>"
        );
        super::html_table(
            &mut out,
            &VERDICT_HEADER,
            verdicts.iter().map(|r| r.as_slice()),
        );
        let _ = writeln!(out, "</section>");
    }
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
        "Every variant sees the same traffic and fault timing on each seed, so differences are paired. Values are means with their 95 % intervals; Δ is the seed-paired difference against {}.\n",
        baseline_words(c)
    );
    let header = header(has_reconnect(ranked));
    let rows = rows(ranked);
    super::markdown_table(&mut out, &header, rows.iter().map(|r| r.as_slice()));
    let _ = writeln!(out, "\nRule: {}.", c.ranking_rule);
    let verdicts = verdict_rows(c);
    if !verdicts.is_empty() {
        let _ = writeln!(
            out,
            "\n## Verdicts per metric\n\nA metric is clearly better or worse only when the interval of its paired difference excludes zero and the mean difference is at least the minimum effect.\n"
        );
        super::markdown_table(
            &mut out,
            &VERDICT_HEADER,
            verdicts.iter().map(|r| r.as_slice()),
        );
    }
    for f in figures {
        let _ = writeln!(out, "\n## {}\n\n![{}]({}.png)", f.title, f.title, f.name);
    }
    out
}
