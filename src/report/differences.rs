//! The chart behind every verdict of a comparison: per variant and judged
//! metric, the paired difference against the baseline on each seed, their
//! mean and its 95 % interval, the zero line and the band of differences
//! smaller than the minimum effect. A reader sees why a verdict is "no
//! clear difference": the interval crosses zero, or the mean lies inside
//! the band.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::axis;
use super::charts::{self, Chart, FONT, HEADING, Mark, colour};
use crate::record::compare::{Comparison, Judgement, Metric, MetricVerdict, VariantResult};

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// How a metric's differences show: the scale from `compare.json`'s unit
/// and the unit's name.
fn unit(metric: Metric) -> (f64, &'static str) {
    match metric {
        Metric::Availability | Metric::HypothesisPassRate => (100.0, "pp"),
        Metric::P99Ms => (1.0, "ms"),
        Metric::RecoveryS | Metric::ReconnectS => (1.0, "s"),
        Metric::LostWrites => (1.0, "writes"),
        Metric::ErrorRate | Metric::MetastableRate => (100.0, "pp"),
    }
}

const SHADE: RGBColor = RGBColor(120, 120, 120);
const MUTED: RGBColor = RGBColor(90, 90, 90);
const STRIP_H: u32 = 26;
const PANEL_H: u32 = 220;
const WIDTH: u32 = 1100;

pub(super) struct Differences<'a> {
    pub(super) comparison: &'a Comparison,
}

impl Differences<'_> {
    /// The variants compared with the baseline.
    fn variants(&self) -> Vec<(usize, &VariantResult)> {
        self.comparison
            .variants
            .iter()
            .enumerate()
            .filter(|(_, v)| v.verdicts.is_some())
            .collect()
    }

    /// The judged metrics some variant has a per-seed difference of.
    fn metrics(&self) -> Vec<Metric> {
        Metric::JUDGED
            .into_iter()
            .filter(|m| {
                self.comparison.variants.iter().any(|v| {
                    v.verdicts
                        .as_ref()
                        .and_then(|d| d.get(*m))
                        .is_some_and(|d| d.per_seed.iter().any(Option::is_some))
                })
            })
            .collect()
    }

    fn legend(&self) -> Vec<(Mark, String)> {
        vec![
            (
                Mark::Dot(MUTED),
                "one seed: variant − baseline (in the variant's colour)".to_string(),
            ),
            (Mark::Line(MUTED, 2), "mean difference".to_string()),
            (
                Mark::Shade(colour(0), 0.25),
                "its 95 % interval".to_string(),
            ),
            (
                Mark::Shade(SHADE, 0.3),
                "± minimum effect: a mean inside is no clear difference".to_string(),
            ),
            (Mark::Line(BLACK, 1), "zero".to_string()),
        ]
    }
}

impl Chart for Differences<'_> {
    fn size(&self) -> (u32, u32) {
        let legend = charts::legend_height(&self.legend(), WIDTH as i32 - 40, 13) as u32;
        let rows = self.variants().len().max(1) as u32;
        (WIDTH, HEADING + legend + 8 + rows * (STRIP_H + PANEL_H))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let c = self.comparison;
        let (title, rest) = root.split_vertically(HEADING);
        charts::heading(
            &title,
            "Paired differences per seed behind each verdict",
            &super::comparison::compare_subtitle(c),
        )?;
        let legend = self.legend();
        let legend_px = charts::legend_height(&legend, WIDTH as i32 - 40, 13) as u32 + 8;
        let (legend_area, mut rest) = rest.split_vertically(legend_px);
        charts::legend_row(&legend_area, &legend, (20, 0), WIDTH as i32 - 40, 13)?;
        let metrics = self.metrics();
        let variants = self.variants();
        if variants.is_empty() || metrics.is_empty() {
            rest.draw(&Text::new(
                "no variant to compare with the baseline".to_string(),
                (20, 20),
                (FONT, 14).into_font(),
            ))
            .map_err(err)?;
            return Ok(());
        }
        for (k, variant) in variants {
            let (row, below) = rest.split_vertically(STRIP_H + PANEL_H);
            rest = below;
            let (strip, panels) = row.split_vertically(STRIP_H);
            let words = c
                .ranking
                .iter()
                .find(|r| r.variant == variant.name)
                .map(|r| {
                    let (better, worse) = r.drivers();
                    r.verdict.in_words(&better, &worse)
                })
                .unwrap_or_default();
            strip
                .draw(&Text::new(
                    format!("{}: {words}", variant.name),
                    (12, 6),
                    (FONT, 14).into_font().color(&colour(k)),
                ))
                .map_err(err)?;
            let cells = panels.split_evenly((1, metrics.len()));
            let verdicts = variant.verdicts.as_ref().expect("compared variants");
            for (metric, cell) in metrics.iter().zip(cells.iter()) {
                let judged = verdicts.get(*metric).expect("judged metrics");
                panel(cell, *metric, judged, colour(k), c.seeds.first)?;
            }
        }
        Ok(())
    }
}

/// One metric of one variant: its per-seed differences over the bands.
fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    metric: Metric,
    judged: &MetricVerdict,
    c: RGBColor,
    first_seed: u64,
) -> Result<(), String> {
    let (scale, unit_name) = unit(metric);
    // The metric and its verdict on two lines: one would not fit a panel
    // a sixth of the chart wide.
    let (caption, area) = area.split_vertically(36);
    let emphasis = match judged.verdict {
        Judgement::Better | Judgement::Worse => BLACK,
        _ => MUTED,
    };
    let centre = plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Top,
    );
    let middle = caption.dim_in_pixel().0 as i32 / 2 + 24;
    caption
        .draw(&Text::new(
            format!("{} ({unit_name})", metric.label()),
            (middle, 2),
            (FONT, 13).into_font().color(&BLACK).pos(centre),
        ))
        .map_err(err)?;
    caption
        .draw(&Text::new(
            judged.verdict.name().to_string(),
            (middle, 19),
            (FONT, 12).into_font().color(&emphasis).pos(centre),
        ))
        .map_err(err)?;
    let area = &area;
    let points: Vec<(f64, f64)> = judged
        .per_seed
        .iter()
        .enumerate()
        .filter_map(|(i, d)| Some((i as f64, (*d)? * scale)))
        .collect();
    let n = judged.per_seed.len().max(1);
    let d = &judged.difference;
    let mean = d.mean.map(|m| m * scale);
    let interval = d
        .ci95_low
        .zip(d.ci95_high)
        .map(|(l, h)| (l * scale, h * scale));
    let minimum = judged.minimum_effect.map(|m| m * scale);
    let mut values: Vec<f64> = points.iter().map(|p| p.1).collect();
    values.push(0.0);
    values.extend(mean);
    if let Some((l, h)) = interval {
        values.extend([l, h]);
    }
    if let Some(m) = minimum {
        values.extend([-m, m]);
    }
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let span = (high - low).max(1e-9);
    let (low, high) = (low - 0.12 * span, high + 0.12 * span);
    let x_range = -0.5..n as f64 - 0.5;
    let mut chart = ChartBuilder::on(area)
        .margin(6)
        .margin_right(12)
        .x_label_area_size(34)
        .y_label_area_size(54)
        .build_cartesian_2d(x_range.clone(), low..high)
        .map_err(err)?;
    let seed_ticks = n.clamp(1, 4);
    chart
        .configure_mesh()
        .disable_x_mesh()
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.08))
        .x_labels(seed_ticks)
        .y_labels(5)
        .x_desc("seed")
        .x_label_formatter(&|x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 {
                (first_seed + i as u64).to_string()
            } else {
                String::new()
            }
        })
        .y_label_formatter(&|v| axis::trim_number(axis::significant(*v, 3)))
        .axis_desc_style((FONT, 12))
        .label_style((FONT, 11))
        .draw()
        .map_err(err)?;
    if points.is_empty() {
        chart
            .draw_series(std::iter::once(Text::new(
                "not measured",
                (0.0, (low + high) / 2.0),
                (FONT, 12).into_font().color(&MUTED),
            )))
            .map_err(err)?;
        return Ok(());
    }
    let (x0, x1) = (x_range.start, x_range.end);
    if let Some(m) = minimum.filter(|m| *m > 0.0) {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, -m), (x1, m)],
                SHADE.mix(0.22).filled(),
            )))
            .map_err(err)?;
    }
    if let Some((l, h)) = interval {
        // A zero-width interval (every seed the same difference) still
        // shows, as a thin band.
        let pad = (high - low) * 0.004;
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(x0, l - pad), (x1, h + pad)],
                c.mix(0.25).filled(),
            )))
            .map_err(err)?;
    }
    chart
        .draw_series(std::iter::once(PathElement::new(
            vec![(x0, 0.0), (x1, 0.0)],
            BLACK.stroke_width(1),
        )))
        .map_err(err)?;
    if let Some(m) = mean {
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(x0, m), (x1, m)],
                c.stroke_width(2),
            )))
            .map_err(err)?;
    }
    chart
        .draw_series(
            points
                .iter()
                .map(|p| Circle::new(*p, 3, c.filled().stroke_width(1))),
        )
        .map_err(err)?;
    Ok(())
}
