//! The charts of a run report, drawn with plotters onto any backend: SVG
//! for the HTML report, PNG at twice the size for documents. Colours come
//! from the Okabe–Ito palette, which colour-blind readers can tell apart; a
//! component keeps its colour in every chart of a report. Legends sit
//! outside the plotting areas, so they never hide data.

mod cascade;
mod clients;
mod deltas;
mod graph;
mod impact;
mod saturation;
mod sweep;
mod timeline;

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::axis;
use super::data::{RunData, Series};
use super::scaled::{SCALE, Scaled};
use crate::analysis::Health;

pub use cascade::CascadeStrip;
pub use clients::Clients;
pub use deltas::{Deltas, Panel};
pub use graph::{DependencyGraph, Edge, Layout, describe, layout};
pub use impact::Impact;
pub use saturation::Saturation;
pub use sweep::{Goodput, HeatMap};
pub use timeline::Timeline;

/// Okabe & Ito (2008): eight colours distinguishable with any colour
/// vision; black last, for the rare ninth line.
pub const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),   // blue
    RGBColor(230, 159, 0),   // orange
    RGBColor(0, 158, 115),   // bluish green
    RGBColor(204, 121, 167), // reddish purple
    RGBColor(86, 180, 233),  // sky blue
    RGBColor(213, 94, 0),    // vermillion
    RGBColor(240, 228, 66),  // yellow
    RGBColor(0, 0, 0),       // black
];

pub const HEALTHY: RGBColor = RGBColor(214, 234, 223);
pub const DEGRADED: RGBColor = RGBColor(230, 159, 0);
pub const DOWN: RGBColor = RGBColor(213, 94, 0);
const FAULT: RGBColor = RGBColor(120, 120, 120);
const WARMUP: RGBColor = RGBColor(86, 180, 233);
const MUTED: RGBColor = RGBColor(90, 90, 90);
/// The family the charts name: the bundled font, registered under its own
/// name so that an SVG names it too (see `svg`).
pub const FONT: &str = "DejaVu Sans";

pub fn colour(k: usize) -> RGBColor {
    PALETTE[k % PALETTE.len()]
}

/// The bundled font: charts look the same everywhere and need nothing
/// installed.
pub static FONT_BYTES: &[u8] = include_bytes!("../../../assets/fonts/DejaVuSans.ttf");

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold] {
            if plotters::style::register_font(FONT, style, FONT_BYTES).is_err() {
                unreachable!("the bundled font parses");
            }
        }
    });
}

pub type Drawn = Result<(), String>;

pub fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Something drawable at a fixed size on any backend.
pub trait Chart {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn;
}

/// The chart as SVG text, its text in the bundled font (see `font`).
pub fn svg(chart: &impl Chart) -> Result<String, String> {
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, chart.size()).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(super::font::embed(&text))
}

/// The chart as a PNG, `SCALE` times the SVG's size each way.
pub fn png(chart: &impl Chart, path: &Path) -> Drawn {
    register_font();
    let (w, h) = chart.size();
    let scale = SCALE as u32;
    let inner = BitMapBackend::new(path, (w * scale, h * scale));
    let root = Scaled { inner }.into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    chart.draw(&root)?;
    root.present().map_err(err)
}

/// Splits a series where windows are missing (no successful request to
/// time), so a line never bridges a gap it has no data for.
pub fn runs(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let step = points
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .fold(f64::INFINITY, f64::min);
    let mut out: Vec<Vec<(f64, f64)>> = Vec::new();
    for (k, p) in points.iter().enumerate() {
        if k == 0 || p.0 - points[k - 1].0 > 1.5 * step {
            out.push(Vec::new());
        }
        out.last_mut().expect("a run was started").push(*p);
    }
    // A lone window still shows: as a stroke across its own width.
    for run in out.iter_mut().filter(|r| r.len() == 1) {
        let (x, y) = run[0];
        run.push((x + if step.is_finite() { step } else { 1.0 }, y));
    }
    out
}

pub fn max_of<'a>(series: impl Iterator<Item = &'a Series>) -> f64 {
    series
        .flat_map(|s| {
            s.points
                .iter()
                .map(|p| p.1)
                .chain(s.band.iter().map(|b| b.2))
        })
        .fold(0.0, f64::max)
}

/// A title and, under it, what the chart is of: scenario, variant, seed.
pub fn heading<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> Drawn {
    area.draw(&Text::new(
        title.to_string(),
        (10, 8),
        (FONT, 20).into_font(),
    ))
    .map_err(err)?;
    area.draw(&Text::new(
        subtitle.to_string(),
        (10, 34),
        (FONT, 13).into_font().color(&MUTED),
    ))
    .map_err(err)
}

/// Height of `heading`.
pub const HEADING: u32 = 56;

/// The subtitle every chart of a run carries.
pub fn run_subtitle(data: &RunData) -> String {
    let m = &data.manifest;
    format!(
        "scenario {} · variant {} · seed {} · {} s simulated, the first {} s warm-up",
        m.scenario.name,
        m.variant,
        m.seed,
        axis::trim_number(m.duration_s),
        axis::trim_number(m.warmup_s)
    )
}

/// How a legend entry is marked.
#[derive(Clone, Copy, Debug)]
pub enum Mark {
    Line(RGBColor, u32),
    Dashed(RGBColor),
    Box(RGBColor),
    Shade(RGBColor, f64),
    Rule(RGBColor),
    Triangle(RGBColor),
    Dot(RGBColor),
}

/// Legend entries in a row (wrapping) from `(x, y)` within `width`; the
/// height used.
pub fn legend_row<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    items: &[(Mark, String)],
    (x0, y0): (i32, i32),
    width: i32,
    size: u32,
) -> Result<i32, String> {
    let font = (FONT, size).into_font();
    let line = size as i32 + 8;
    let (mut x, mut y) = (x0, y0);
    for (mark, label) in items {
        let text_w = font.box_size(label).map_err(err)?.0 as i32;
        let item_w = 26 + text_w + 18;
        if x > x0 && x + item_w > x0 + width {
            x = x0;
            y += line;
        }
        let mid = y + size as i32 / 2 + 1;
        match *mark {
            Mark::Line(c, w) => area
                .draw(&PathElement::new(
                    vec![(x, mid), (x + 20, mid)],
                    c.stroke_width(w),
                ))
                .map_err(err)?,
            Mark::Dashed(c) => {
                for k in 0..3 {
                    area.draw(&PathElement::new(
                        vec![(x + 8 * k, mid), (x + 8 * k + 4, mid)],
                        c.stroke_width(1),
                    ))
                    .map_err(err)?;
                }
            }
            Mark::Box(c) => area
                .draw(&Rectangle::new(
                    [(x + 3, mid - 6), (x + 17, mid + 6)],
                    c.filled(),
                ))
                .map_err(err)?,
            Mark::Shade(c, alpha) => {
                area.draw(&Rectangle::new(
                    [(x, mid - 7), (x + 20, mid + 7)],
                    c.mix(alpha).filled(),
                ))
                .map_err(err)?;
            }
            Mark::Rule(c) => area
                .draw(&PathElement::new(
                    vec![(x + 10, mid - 8), (x + 10, mid + 8)],
                    c.stroke_width(2),
                ))
                .map_err(err)?,
            Mark::Triangle(c) => area
                .draw(&TriangleMarker::new((x + 10, mid), 6, c.filled()))
                .map_err(err)?,
            Mark::Dot(c) => area
                .draw(&Circle::new((x + 10, mid), 4, c.filled()))
                .map_err(err)?,
        }
        area.draw(&Text::new(label.clone(), (x + 26, y), font.clone()))
            .map_err(err)?;
        x += item_w;
    }
    Ok(y + line - y0)
}

/// The height `legend_row` will take, measured with the bundled font.
pub fn legend_height(items: &[(Mark, String)], width: i32, size: u32) -> i32 {
    register_font();
    let font = (FONT, size).into_font();
    let line = size as i32 + 8;
    let (mut x, mut lines) = (0, 1);
    for (_, label) in items {
        let text_w = font.box_size(label).map_or(8 * label.len() as u32, |b| b.0) as i32;
        let item_w = 26 + text_w + 18;
        if x > 0 && x + item_w > width {
            x = 0;
            lines += 1;
        }
        x += item_w;
    }
    lines * line
}

pub type TimeChart<'a, DB, Y> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, Y>>;

/// Shades the warm-up and each fault's window (a line for an instant) over
/// `y`.
pub fn shade_periods<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut TimeChart<'_, DB, Y>,
    data: &RunData,
    y: (f64, f64),
) -> Drawn {
    let warmup = data.manifest.warmup_s;
    if warmup > 0.0 {
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(0.0, y.0), (warmup, y.1)],
                WARMUP.mix(0.12).filled(),
            )))
            .map_err(err)?;
    }
    for (_, start, end) in data.faults() {
        if end > start {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(start, y.0), (end, y.1)],
                    FAULT.mix(0.15).filled(),
                )))
                .map_err(err)?;
        } else {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(start, y.0), (start, y.1)],
                    FAULT.stroke_width(2),
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

/// Legend entries for the warm-up and the faults.
pub fn period_items(data: &RunData) -> Vec<(Mark, String)> {
    let mut items = Vec::new();
    if data.manifest.warmup_s > 0.0 {
        items.push((
            Mark::Shade(WARMUP, 0.25),
            format!(
                "warm-up (0–{} s, the steady band)",
                axis::trim_number(data.manifest.warmup_s)
            ),
        ));
    }
    for (name, start, end) in data.faults() {
        if end > start {
            items.push((
                Mark::Shade(FAULT, 0.3),
                format!(
                    "fault {name} ({}–{} s)",
                    axis::trim_number(start),
                    axis::trim_number(end)
                ),
            ));
        } else {
            items.push((
                Mark::Rule(FAULT),
                format!("fault {name} (at {} s)", axis::trim_number(start)),
            ));
        }
    }
    items
}

/// Lines over time in their colours, each drawn over the band of the
/// windows merged into its points (when merged).
pub fn draw_lines<DB: DrawingBackend, Y: Ranged<ValueType = f64>>(
    chart: &mut TimeChart<'_, DB, Y>,
    series: &[&Series],
    colours: &[RGBColor],
    width: u32,
    step: f64,
) -> Drawn {
    for (s, c) in series.iter().zip(colours) {
        if !s.band.is_empty() {
            chart
                .draw_series(s.band.iter().map(|(x, low, high)| {
                    Rectangle::new([(*x, *low), (*x + step, *high)], c.mix(0.25).filled())
                }))
                .map_err(err)?;
        }
    }
    for (s, c) in series.iter().zip(colours) {
        chart
            .draw_series(
                runs(&s.points)
                    .into_iter()
                    .map(|r| PathElement::new(r, c.stroke_width(width))),
            )
            .map_err(err)?;
    }
    Ok(())
}

/// Axis styling shared by the time panels: tick labels always, the axis
/// title only on the bottom panel (`x_title`), clear of the labels.
pub struct TimeAxis<'a> {
    pub y_title: &'a str,
    pub x_title: bool,
    pub label_size: u32,
}

/// Pixels to leave under a time panel for its tick labels and, if shown,
/// the axis title beneath them.
pub fn x_label_area(x_title: bool, label_size: u32) -> u32 {
    if x_title {
        2 * label_size + 22
    } else {
        label_size + 10
    }
}

/// The x labels: whole seconds, or as many decimals as a short run needs.
pub fn seconds_label(v: &f64) -> String {
    axis::trim_number(*v)
}

/// Draws the mesh of a time panel with a linear y axis.
pub fn linear_mesh<DB: DrawingBackend>(
    chart: &mut TimeChart<'_, DB, RangedCoordf64>,
    axis_style: &TimeAxis<'_>,
    y_labels: usize,
) -> Drawn {
    let mut mesh = chart.configure_mesh();
    mesh.y_desc(axis_style.y_title)
        .axis_desc_style((FONT, axis_style.label_size + 1))
        .label_style((FONT, axis_style.label_size))
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.08))
        .y_labels(y_labels)
        .x_labels(10)
        .x_label_formatter(&seconds_label)
        .y_label_formatter(&|v| axis::trim_number(*v));
    if axis_style.x_title {
        mesh.x_desc("virtual time (s)");
    }
    mesh.draw().map_err(err)
}

pub fn health_colour(health: Health) -> RGBColor {
    match health {
        Health::Down => DOWN,
        Health::Degraded => DEGRADED,
        Health::Healthy => HEALTHY,
    }
}

/// The layout of panels over virtual time (timeline, clients): the room
/// for the y labels and title, the margin, the label size.
pub(super) const Y_AREA: u32 = 76;
pub(super) const MARGIN: u32 = 8;
pub(super) const LABEL: u32 = 12;

/// A panel of lines over virtual time on a linear axis from 0 to `top`,
/// with the warm-up and faults shaded; "none" when no series has a point.
pub(super) fn linear_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &RunData,
    x: std::ops::Range<f64>,
    top: f64,
    y_title: &str,
    x_title: bool,
    series: &[Series],
) -> Drawn {
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .x_label_area_size(x_label_area(x_title, LABEL))
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(x, 0.0..top)
        .map_err(err)?;
    linear_mesh(
        &mut chart,
        &TimeAxis {
            y_title,
            x_title,
            label_size: LABEL,
        },
        6,
    )?;
    shade_periods(&mut chart, data, (0.0, top))?;
    let refs: Vec<&Series> = series.iter().collect();
    let colours: Vec<RGBColor> = (0..series.len()).map(colour).collect();
    draw_lines(&mut chart, &refs, &colours, 2, data.step_s())?;
    if series.iter().all(|s| s.points.is_empty()) {
        chart
            .draw_series(std::iter::once(Text::new(
                "none",
                (0.0, top / 2.0),
                (FONT, LABEL).into_font(),
            )))
            .map_err(err)?;
    }
    Ok(())
}
