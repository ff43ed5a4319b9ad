//! The charts of a sweep: a heat map of one metric over the grid of two
//! settings (or a strip over one), the cells where some seed never healed
//! marked; and, when the swept setting is a load, goodput against the load
//! offered, per value of the other setting, beside the line where every
//! request offered is served.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};

use super::{Chart, DOWN, Drawn, FONT, HEADING, MUTED, colour, err, heading};
use crate::report::axis;

/// A grid of values: `rows` × `columns`, row-major.
pub struct HeatMap {
    pub title: String,
    pub subtitle: String,
    /// What the colour says, with its unit.
    pub value_title: String,
    pub x_title: String,
    pub x_labels: Vec<String>,
    pub y_title: String,
    pub y_labels: Vec<String>,
    pub values: Vec<Option<f64>>,
    /// Per cell, what to print under its value (such as "metastable 2/5"),
    /// empty for none.
    pub marks: Vec<String>,
    pub decimals: usize,
    /// Whether the better end of the scale is high: it is drawn light.
    pub higher_is_better: bool,
}

const CELL_W: u32 = 120;
const CELL_H: u32 = 54;
const Y_AREA: u32 = 170;
const X_AREA: u32 = 64;
const LEGEND: u32 = 40;

impl Chart for HeatMap {
    fn size(&self) -> (u32, u32) {
        let w = Y_AREA + CELL_W * self.x_labels.len().max(1) as u32 + 30;
        let h = HEADING + LEGEND + CELL_H * self.y_labels.len().max(1) as u32 + X_AREA;
        (w.max(640), h)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let (head, rest) = root.split_vertically(HEADING);
        heading(&head, &self.title, &self.subtitle)?;
        let (legend, grid) = rest.split_vertically(LEGEND);
        let known: Vec<f64> = self.values.iter().flatten().copied().collect();
        let low = known.iter().copied().fold(f64::INFINITY, f64::min);
        let high = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // Viridis runs dark to light; the better end is the light one.
        let shade = |v: f64| -> RGBColor {
            let t = if high > low {
                (v - low) / (high - low)
            } else {
                1.0
            };
            let t = if self.higher_is_better { t } else { 1.0 - t };
            ViridisRGB.get_color_normalized(t, 0.0, 1.0)
        };
        let value_text = |v: f64| format!("{v:.*}", self.decimals);
        let scale = if known.is_empty() {
            format!("{}: nothing measured", self.value_title)
        } else {
            format!(
                "{}: from {} ({}) to {} ({}); the better end light",
                self.value_title,
                value_text(low),
                if self.higher_is_better {
                    "dark"
                } else {
                    "light"
                },
                value_text(high),
                if self.higher_is_better {
                    "light"
                } else {
                    "dark"
                },
            )
        };
        legend
            .draw(&Text::new(scale, (10, 10), (FONT, 13).into_font()))
            .map_err(err)?;
        let columns = self.x_labels.len().max(1);
        let rows = self.y_labels.len().max(1);
        let x0 = Y_AREA as i32;
        for r in 0..rows {
            for c in 0..columns {
                let k = r * columns + c;
                let (left, top) = (x0 + (c as u32 * CELL_W) as i32, (r as u32 * CELL_H) as i32);
                let corner = (left + CELL_W as i32 - 2, top + CELL_H as i32 - 2);
                let value = self.values.get(k).copied().flatten();
                let fill = value.map_or(RGBColor(235, 235, 235), shade);
                grid.draw(&Rectangle::new([(left, top), corner], fill.filled()))
                    .map_err(err)?;
                // Text dark on the light half of the scale, white on the dark.
                let light = (fill.0 as u32 + fill.1 as u32 + fill.2 as u32) > 3 * 140;
                let ink = if light { BLACK } else { WHITE };
                let text = value.map_or("n/a".to_string(), value_text);
                grid.draw(&Text::new(
                    text,
                    (left + 8, top + 8),
                    (FONT, 15).into_font().color(&ink),
                ))
                .map_err(err)?;
                if let Some(mark) = self.marks.get(k).filter(|m| !m.is_empty()) {
                    let frame = [(left + 2, top + 2), (corner.0 - 2, corner.1 - 2)];
                    grid.draw(&Rectangle::new(frame, DOWN.stroke_width(4)))
                        .map_err(err)?;
                    grid.draw(&Text::new(
                        mark.clone(),
                        (left + 8, top + 30),
                        (FONT, 12).into_font().color(&ink),
                    ))
                    .map_err(err)?;
                }
            }
        }
        for (r, label) in self.y_labels.iter().enumerate() {
            grid.draw(&Text::new(
                label.clone(),
                (10, (r as u32 * CELL_H) as i32 + CELL_H as i32 / 2 - 7),
                (FONT, 13).into_font(),
            ))
            .map_err(err)?;
        }
        let bottom = (rows as u32 * CELL_H) as i32;
        for (c, label) in self.x_labels.iter().enumerate() {
            grid.draw(&Text::new(
                label.clone(),
                (x0 + (c as u32 * CELL_W) as i32 + 8, bottom + 8),
                (FONT, 13).into_font(),
            ))
            .map_err(err)?;
        }
        grid.draw(&Text::new(
            format!("{} →", self.x_title),
            (x0, bottom + 32),
            (FONT, 13).into_font().color(&MUTED),
        ))
        .map_err(err)?;
        grid.draw(&Text::new(
            format!("{} ↓", self.y_title),
            (10, bottom + 32),
            (FONT, 13).into_font().color(&MUTED),
        ))
        .map_err(err)
    }
}

/// A point of the goodput curve: offered/s, goodput/s and the goodput's
/// 95 % interval as (low, high) where there is one.
pub(super) type GoodputPoint = (f64, f64, Option<(f64, f64)>);

/// Goodput against offered load, one line per value of another setting:
/// each point the mean over seeds, its 95 % interval as a bar.
pub struct Goodput {
    pub title: String,
    pub subtitle: String,
    /// Per line: its label and its points.
    pub lines: Vec<(String, Vec<GoodputPoint>)>,
}

const WIDTH: u32 = 900;
const HEIGHT: u32 = 520;

impl Chart for Goodput {
    fn size(&self) -> (u32, u32) {
        (WIDTH, HEADING + HEIGHT)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let (head, area) = root.split_vertically(HEADING);
        heading(&head, &self.title, &self.subtitle)?;
        let top = self
            .lines
            .iter()
            .flat_map(|(_, points)| points.iter().map(|p| p.0.max(p.2.map_or(p.1, |ci| ci.1))))
            .fold(1.0, f64::max)
            * 1.05;
        let mut chart = ChartBuilder::on(&area)
            .margin(10)
            .x_label_area_size(48)
            .y_label_area_size(80)
            .build_cartesian_2d(0.0..top, 0.0..top)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("offered load (requests/s arrived after the warm-up)")
            .y_desc("goodput (requests/s served)")
            .axis_desc_style((FONT, 13))
            .label_style((FONT, 12))
            .light_line_style(WHITE)
            .bold_line_style(BLACK.mix(0.08))
            .x_label_formatter(&|v| axis::trim_number(*v))
            .y_label_formatter(&|v| axis::trim_number(*v))
            .draw()
            .map_err(err)?;
        chart
            .draw_series(LineSeries::new(
                [(0.0, 0.0), (top, top)],
                MUTED.mix(0.6).stroke_width(1),
            ))
            .map_err(err)?
            .label("every request offered served")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 18, y)], MUTED.stroke_width(1)));
        for (k, (label, points)) in self.lines.iter().enumerate() {
            let c = colour(k);
            chart
                .draw_series(LineSeries::new(
                    points.iter().map(|p| (p.0, p.1)),
                    c.stroke_width(2),
                ))
                .map_err(err)?
                .label(label.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], c.stroke_width(2)));
            chart
                .draw_series(
                    points
                        .iter()
                        .map(|p| Circle::new((p.0, p.1), 4, c.filled())),
                )
                .map_err(err)?;
            chart
                .draw_series(points.iter().filter_map(|p| {
                    let (low, high) = p.2?;
                    Some(PathElement::new(
                        [(p.0, low), (p.0, high)],
                        c.stroke_width(1),
                    ))
                }))
                .map_err(err)?;
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .label_font((FONT, 12))
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK.mix(0.2))
            .draw()
            .map_err(err)
    }
}
