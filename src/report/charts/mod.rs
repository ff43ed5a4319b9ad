//! The charts of a run report, drawn with plotters onto any backend: SVG
//! for the HTML report, PNG for pasting into documents. Colours come from
//! the Okabe–Ito palette, which colour-blind readers can tell apart; a
//! component keeps its colour in every chart of a report.

use std::path::Path;
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::data::{RunData, Series};
use crate::analysis::{ComponentReport, Health};
use crate::topology::ComponentKind;

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
const FONT: &str = "sans-serif";

pub fn colour(k: usize) -> RGBColor {
    PALETTE[k % PALETTE.len()]
}

/// The bundled font: charts look the same everywhere and need nothing
/// installed.
static FONT_BYTES: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");

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

type Drawn = Result<(), String>;

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Something drawable at a fixed size on any backend.
pub trait Chart {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn;
}

pub fn svg(chart: &impl Chart) -> Result<String, String> {
    register_font();
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, chart.size()).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        chart.draw(&root)?;
        root.present().map_err(err)?;
    }
    Ok(text)
}

pub fn png(chart: &impl Chart, path: &Path) -> Drawn {
    register_font();
    let root = BitMapBackend::new(path, chart.size()).into_drawing_area();
    root.fill(&WHITE).map_err(err)?;
    chart.draw(&root)?;
    root.present().map_err(err)
}

/// Splits a series where windows are missing (no successful request to
/// time), so a line never bridges a gap it has no data for.
fn runs(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
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

fn max_of<'a>(series: impl Iterator<Item = &'a Series>) -> f64 {
    series
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(0.0, f64::max)
}

/// Shades each fault's window (a line for an instant) over `y`.
fn shade_faults<DB: DrawingBackend>(
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, impl Ranged<ValueType = f64>>,
    >,
    faults: &[(String, f64, f64)],
    y: (f64, f64),
    label: bool,
) -> Drawn {
    for (name, start, end) in faults {
        if end > start {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(*start, y.0), (*end, y.1)],
                    FAULT.mix(0.15).filled(),
                )))
                .map_err(err)?;
        } else {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*start, y.0), (*start, y.1)],
                    FAULT.stroke_width(2),
                )))
                .map_err(err)?;
        }
        if label {
            chart
                .draw_series(std::iter::once(Text::new(
                    format!(" {name}"),
                    (*start, y.1),
                    (FONT, 13).into_font().color(&FAULT),
                )))
                .map_err(err)?;
        }
    }
    Ok(())
}

type LinearChart<'a, DB> = ChartContext<
    'a,
    DB,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A panel over virtual time with one line per series (in its colour, with
/// its legend entry); the caller adds shading, markers and the legend.
fn lines_panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    x: std::ops::Range<f64>,
    top: f64,
    y_desc: &str,
    series: &[Series],
) -> Result<LinearChart<'a, DB>, String> {
    let mut chart = ChartBuilder::on(area)
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(70)
        .build_cartesian_2d(x, 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc(y_desc)
        .x_desc("virtual time (s)")
        .axis_desc_style((FONT, 14))
        .label_style((FONT, 12))
        .light_line_style(WHITE)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(err)?;
    for (k, s) in series.iter().enumerate() {
        let c = colour(k);
        chart
            .draw_series(
                runs(&s.points)
                    .into_iter()
                    .map(|r| PathElement::new(r, c.stroke_width(2))),
            )
            .map_err(err)?
            .label(s.name.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2)));
    }
    Ok(chart)
}

/// One of the saturation small multiples: a captioned panel over virtual
/// time, compact labels.
fn small_panel<'a, DB: DrawingBackend>(
    area: &'a DrawingArea<DB, Shift>,
    caption: &str,
    x: std::ops::Range<f64>,
    top: f64,
    y_desc: &str,
) -> Result<LinearChart<'a, DB>, String> {
    let mut chart = ChartBuilder::on(area)
        .caption(caption, (FONT, 15))
        .margin(6)
        .x_label_area_size(22)
        .y_label_area_size(56)
        .build_cartesian_2d(x, 0.0..top)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc(y_desc)
        .axis_desc_style((FONT, 12))
        .label_style((FONT, 11))
        .y_labels(5)
        .x_labels(8)
        .light_line_style(WHITE)
        .x_label_formatter(&|v| format!("{v:.0}"))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// The legend box every timeline panel uses.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), String> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font((FONT, 12))
        .draw()
        .map_err(err)
}

/// Events worth a marker on the timeline, with what the legend says.
const MARKERS: [(&str, &str); 7] = [
    ("instance_killed", "instance killed"),
    ("ejected", "ejected by health check"),
    ("breaker_opened", "circuit breaker opened"),
    ("oom_killed", "OOM kill"),
    ("primary_promoted", "failover: replica promoted"),
    ("scaled_out", "scaled out"),
    ("memory_alert", "memory alert"),
];

/// The components users talk to: the entries, or without open-loop
/// workloads (connected clients only), the busiest endpoints.
fn front_door(data: &RunData) -> (Vec<String>, ComponentKind) {
    let entries = data.components(ComponentKind::Entry);
    if !entries.is_empty() {
        return (entries, ComponentKind::Entry);
    }
    let mut endpoints: Vec<(u64, String)> = data
        .components(ComponentKind::Endpoint)
        .into_iter()
        .map(|e| {
            let finished = data
                .rows
                .iter()
                .filter(|r| r.component == e)
                .map(|r| r.ok + r.errors)
                .sum::<u64>();
            (finished, e)
        })
        .filter(|(n, _)| *n > 0)
        .collect();
    endpoints.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    (
        endpoints.into_iter().take(4).map(|(_, e)| e).collect(),
        ComponentKind::Endpoint,
    )
}

/// Entry throughput, error rate and latency over virtual time, faults
/// shaded, key events marked.
pub struct Timeline<'a> {
    pub data: &'a RunData,
}

impl Chart for Timeline<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 820)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let data = self.data;
        let (entries, what) = front_door(data);
        let faults = data.faults();
        let x = 0.0..data.duration_s().max(1.0);
        let (title, rest) = root.split_vertically(40);
        title
            .draw(&Text::new(
                format!("What the users saw: throughput, errors and latency per {what}"),
                (10, 12),
                (FONT, 20).into_font(),
            ))
            .map_err(err)?;
        let panels = rest.split_evenly((3, 1));

        let throughput: Vec<Series> = entries
            .iter()
            .map(|e| {
                data.series(e, |r| {
                    Some(r.ok as f64 / (r.window_end_s - r.window_start_s))
                })
            })
            .collect();
        let top = max_of(throughput.iter()).max(1.0) * 1.15;
        let mut chart = lines_panel(&panels[0], x.clone(), top, "successes / s", &throughput)?;
        shade_faults(&mut chart, &faults, (0.0, top), true)?;
        // Key events: a tick at the top of the panel, one colour per kind.
        for (k, (event, label)) in MARKERS.iter().enumerate() {
            let times: Vec<f64> = data
                .events
                .iter()
                .filter(|e| e.event == *event)
                .map(|e| e.time_s)
                .collect();
            if times.is_empty() {
                continue;
            }
            let c = colour(k + 2);
            chart
                .draw_series(
                    times
                        .iter()
                        .map(|t| TriangleMarker::new((*t, top * 0.88), 6, c.filled())),
                )
                .map_err(err)?
                .label(format!("{label} ({})", times.len()))
                .legend(move |(x, y)| TriangleMarker::new((x + 9, y), 5, c.filled()));
        }
        legend(&mut chart, SeriesLabelPosition::LowerLeft)?;

        let errors: Vec<Series> = entries
            .iter()
            .map(|e| {
                data.series(e, |r| {
                    let finished = r.ok + r.errors;
                    Some(if finished == 0 {
                        0.0
                    } else {
                        100.0 * r.errors as f64 / finished as f64
                    })
                })
            })
            .collect();
        let top = (max_of(errors.iter()) * 1.15).clamp(1.0, 105.0);
        let mut chart = lines_panel(
            &panels[1],
            x.clone(),
            top,
            "failed (% of finished)",
            &errors,
        )?;
        shade_faults(&mut chart, &faults, (0.0, top), false)?;
        legend(&mut chart, SeriesLabelPosition::UpperRight)?;

        let timed = |e: &String, f: fn(&super::data::MetricRow) -> f64| {
            data.series(e, move |r| (r.ok > 0 && f(r) > 0.0).then(|| f(r)))
        };
        let p99: Vec<Series> = entries
            .iter()
            .map(|e| timed(e, |r| r.latency_p99_ms))
            .collect();
        let p50: Vec<Series> = entries
            .iter()
            .map(|e| timed(e, |r| r.latency_p50_ms))
            .collect();
        let high = max_of(p99.iter()).max(1.0) * 2.0;
        let low = p50
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1))
            .fold(f64::INFINITY, f64::min)
            .min(high / 10.0)
            .max(1e-3)
            / 2.0;
        let mut chart = ChartBuilder::on(&panels[2])
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(70)
            .build_cartesian_2d(x.clone(), (low..high).log_scale())
            .map_err(err)?;
        chart
            .configure_mesh()
            .y_desc("latency (ms, log)")
            .x_desc("virtual time (s)")
            .axis_desc_style((FONT, 14))
            .label_style((FONT, 12))
            .light_line_style(WHITE)
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_label_formatter(&|v| format_ms(*v))
            .draw()
            .map_err(err)?;
        shade_faults(&mut chart, &faults, (low, high), false)?;
        for (k, (s99, s50)) in p99.iter().zip(&p50).enumerate() {
            let c = colour(k);
            chart
                .draw_series(
                    runs(&s99.points)
                        .into_iter()
                        .map(|r| PathElement::new(r, c.stroke_width(2))),
                )
                .map_err(err)?
                .label(format!("{} p99", s99.name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(2))
                });
            chart
                .draw_series(
                    runs(&s50.points).into_iter().map(|r| {
                        plotters::element::DashedPathElement::new(r, 5, 4, c.stroke_width(1))
                    }),
                )
                .map_err(err)?
                .label(format!("{} p50", s50.name))
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(1))
                });
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

fn format_ms(ms: f64) -> String {
    if ms >= 1000.0 {
        format!("{} s", trim_number(ms / 1000.0))
    } else {
        format!("{} ms", trim_number(ms))
    }
}

/// A number without trailing zeros: 0.25, 3, 1500.
pub fn trim_number(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Per service: busy workers and its outgoing pools as a share of
/// capacity, its queue, and memory where instances have a limit.
pub struct Saturation<'a> {
    pub data: &'a RunData,
}

impl Saturation<'_> {
    fn services(&self) -> Vec<String> {
        self.data.components(ComponentKind::Service)
    }

    fn has_memory(&self) -> bool {
        self.data.rows.iter().any(|r| r.memory_max_mib > 0.0)
    }
}

const ROW_HEIGHT: u32 = 150;

impl Chart for Saturation<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 50 + ROW_HEIGHT * self.services().len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let data = self.data;
        let services = self.services();
        let faults = data.faults();
        let x = 0.0..data.duration_s().max(1.0);
        let (title, rest) = root.split_vertically(50);
        title
            .draw(&Text::new(
                "Saturation per service: workers and pools (% of capacity), queue, memory",
                (10, 14),
                (FONT, 20).into_font(),
            ))
            .map_err(err)?;
        let columns = if self.has_memory() { 3 } else { 2 };
        let cells = rest.split_evenly((services.len().max(1), columns));
        let pools = data.components(ComponentKind::Pool);
        for (row, service) in services.iter().enumerate() {
            // Percent of capacity: workers, then each pool this service
            // calls through.
            let mut lines = vec![data.series(service, |r| {
                (r.capacity > 0).then(|| 100.0 * r.busy_avg / r.capacity as f64)
            })];
            lines[0].name = "workers busy".into();
            for pool in pools
                .iter()
                .filter(|p| p.starts_with(&format!("{service}->")))
            {
                let mut s = data.series(pool, |r| {
                    (r.capacity > 0).then(|| 100.0 * r.in_use_avg / r.capacity as f64)
                });
                s.name = format!("pool to {}", &pool[service.len() + 2..]);
                lines.push(s);
            }
            let cell = &cells[row * columns];
            let mut chart = small_panel(cell, service, x.clone(), 105.0, "% in use")?;
            shade_faults(&mut chart, &faults, (0.0, 105.0), false)?;
            for (k, s) in lines.iter().enumerate() {
                let c = colour(k);
                chart
                    .draw_series(
                        runs(&s.points)
                            .into_iter()
                            .map(|r| PathElement::new(r, c.stroke_width(2))),
                    )
                    .map_err(err)?
                    .label(s.name.clone())
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 14, y)], c.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.8))
                .border_style(BLACK.mix(0.2))
                .label_font((FONT, 10))
                .draw()
                .map_err(err)?;

            let queue = data.series(service, |r| Some(r.queue_avg));
            let top = max_of(std::iter::once(&queue)).max(1.0) * 1.15;
            let mut chart = small_panel(
                &cells[row * columns + 1],
                &format!("{service}: queue"),
                x.clone(),
                top,
                "waiting",
            )?;
            shade_faults(&mut chart, &faults, (0.0, top), false)?;
            chart
                .draw_series(
                    AreaSeries::new(queue.points.iter().copied(), 0.0, colour(0).mix(0.3))
                        .border_style(colour(0).stroke_width(1)),
                )
                .map_err(err)?;

            if columns == 3 {
                let memory = data.series(service, |r| Some(r.memory_max_mib));
                let top = max_of(std::iter::once(&memory)).max(1.0) * 1.15;
                let mut chart = small_panel(
                    &cells[row * columns + 2],
                    &format!("{service}: memory"),
                    x.clone(),
                    top,
                    "largest instance (MiB)",
                )?;
                shade_faults(&mut chart, &faults, (0.0, top), false)?;
                chart
                    .draw_series(
                        runs(&memory.points)
                            .into_iter()
                            .map(|r| PathElement::new(r, colour(3).stroke_width(2))),
                    )
                    .map_err(err)?;
            }
        }
        Ok(())
    }
}

/// One row per component, coloured by health over time, ordered by onset.
pub struct CascadeStrip<'a> {
    pub data: &'a RunData,
}

impl CascadeStrip<'_> {
    /// Components in the order of the cascade chain, then the rest.
    fn rows(&self) -> Vec<&ComponentReport> {
        let analysis = &self.data.analysis;
        let mut rows: Vec<&ComponentReport> = analysis.components.iter().collect();
        let rank = |r: &ComponentReport| {
            analysis
                .chain
                .iter()
                .position(|step| step.component == r.component)
                .unwrap_or(usize::MAX)
        };
        rows.sort_by_key(|r| rank(r));
        rows
    }
}

pub fn health_colour(health: Health) -> RGBColor {
    match health {
        Health::Down => DOWN,
        Health::Degraded => DEGRADED,
        Health::Healthy => HEALTHY,
    }
}

impl Chart for CascadeStrip<'_> {
    fn size(&self) -> (u32, u32) {
        (1100, 150 + 24 * self.rows().len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let data = self.data;
        let rows = self.rows();
        let n = rows.len().max(1);
        let (title, rest) = root.split_vertically(40);
        let height = rest.dim_in_pixel().1 as i32;
        let (rest, footer) = rest.split_vertically(height - 36);
        title
            .draw(&Text::new(
                "The cascade: each component's state over time, in the order it was reached",
                (10, 12),
                (FONT, 20).into_font(),
            ))
            .map_err(err)?;
        let labels: Vec<String> = rows
            .iter()
            .map(|r| format!("{} ({})", r.component, r.kind))
            .collect();
        let label_of = |v: &SegmentValue<usize>| match v {
            SegmentValue::CenterOf(i) => labels.get(n - 1 - *i).cloned().unwrap_or_default(),
            _ => String::new(),
        };
        let mut chart = ChartBuilder::on(&rest)
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(230)
            .build_cartesian_2d(0.0..data.duration_s().max(1.0), (0..n - 1).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("virtual time (s)")
            .axis_desc_style((FONT, 14))
            .label_style((FONT, 12))
            .x_label_formatter(&|v| format!("{v:.0}"))
            .y_labels(n)
            .y_label_formatter(&label_of)
            .draw()
            .map_err(err)?;
        for (k, row) in rows.iter().enumerate() {
            // Top row first: row k is drawn in segment n-1-k.
            let lane = n - 1 - k;
            chart
                .draw_series(row.timeline.iter().map(|span| {
                    Rectangle::new(
                        [
                            (span.from_s, SegmentValue::Exact(lane)),
                            (span.to_s, SegmentValue::Exact(lane + 1)),
                        ],
                        health_colour(span.health).filled(),
                    )
                }))
                .map_err(err)?;
        }
        let mut legend: Vec<(String, Option<RGBColor>)> = [
            ("healthy", HEALTHY),
            ("degraded", DEGRADED),
            ("down: half or more failed", DOWN),
        ]
        .into_iter()
        .map(|(l, c)| (l.to_string(), Some(c)))
        .collect();
        for (name, start, end) in data.faults() {
            let style = FAULT.stroke_width(2);
            for t in [start, end] {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(t, SegmentValue::Exact(0)), (t, SegmentValue::Exact(n))],
                        style,
                    )))
                    .map_err(err)?;
            }
            legend.push((
                if end > start {
                    format!("fault {name}: {start:.0}–{end:.0} s")
                } else {
                    format!("fault {name}: at {start:.0} s")
                },
                None,
            ));
        }
        // The legend sits under the chart, in one line, clear of the rows.
        let mut x = 240;
        for (label, c) in legend {
            match c {
                Some(c) => footer
                    .draw(&Rectangle::new([(x, 10), (x + 14, 22)], c.filled()))
                    .map_err(err)?,
                None => footer
                    .draw(&PathElement::new(
                        vec![(x + 7, 8), (x + 7, 24)],
                        FAULT.stroke_width(2),
                    ))
                    .map_err(err)?,
            }
            footer
                .draw(&Text::new(
                    label.clone(),
                    (x + 20, 10),
                    (FONT, 13).into_font(),
                ))
                .map_err(err)?;
            x += 40 + 8 * label.chars().count() as i32;
        }
        Ok(())
    }
}

/// The architecture, entries on the left, each component coloured by the
/// worst state it reached.
pub struct DependencyGraph<'a> {
    pub data: &'a RunData,
}

/// An edge of the drawn graph, by node index. `back`: it closes a loop
/// (services that call each other, or a service calling itself), so it
/// runs against the left-to-right flow and is drawn beneath the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub back: bool,
}

/// Nodes (name, layer) and edges.
pub type Layout = (Vec<(String, usize)>, Vec<Edge>);

/// Node names and their layer, edges by index. Loops are legitimate (a
/// service's endpoints may call each other, two services may call each
/// other), so the layering is Sugiyama's: a depth-first search from the
/// entries marks the edges that close a loop, and each node's layer is its
/// longest path from an entry over the others, which form a DAG.
pub fn layout(data: &RunData) -> Layout {
    use petgraph::graph::{DiGraph, NodeIndex};
    use petgraph::visit::{DfsEvent, depth_first_search};

    let mut names: Vec<String> = Vec::new();
    let index = |name: &str, names: &mut Vec<String>| match names.iter().position(|n| n == name) {
        Some(k) => k,
        None => {
            names.push(name.to_string());
            names.len() - 1
        }
    };
    let mut pairs = Vec::new();
    for d in &data.analysis.dependencies {
        let from = index(&d.from, &mut names);
        let to = index(&d.to, &mut names);
        pairs.push((from, to));
    }
    let mut graph: DiGraph<(), ()> = DiGraph::new();
    let nodes: Vec<NodeIndex> = names.iter().map(|_| graph.add_node(())).collect();
    for (a, b) in &pairs {
        graph.add_edge(nodes[*a], nodes[*b], ());
    }
    // Entries come first among the names (the dependencies list them
    // first), so the search starts from them.
    let mut back = Vec::new();
    depth_first_search(&graph, nodes.iter().copied(), |event| {
        if let DfsEvent::BackEdge(a, b) = event {
            back.push((a.index(), b.index()));
        }
    });
    let edges: Vec<Edge> = pairs
        .iter()
        .map(|&(from, to)| Edge {
            from,
            to,
            back: back.contains(&(from, to)),
        })
        .collect();
    // Longest path by relaxation over the forward edges: acyclic, so n
    // rounds do.
    let mut layer = vec![0usize; names.len()];
    for _ in 0..names.len() {
        for e in edges.iter().filter(|e| !e.back) {
            layer[e.to] = layer[e.to].max(layer[e.from] + 1);
        }
    }
    (names.into_iter().zip(layer).collect(), edges)
}

const NODE_W: i32 = 170;
const NODE_H: i32 = 40;
const LAYER_GAP: i32 = 90;
const ROW_GAP: i32 = 30;

impl Chart for DependencyGraph<'_> {
    fn size(&self) -> (u32, u32) {
        let (nodes, edges) = layout(self.data);
        // Loops run beneath the nodes.
        let loops = if edges.iter().any(|e| e.back) { 20 } else { 0 };
        let layers = nodes.iter().map(|n| n.1).max().unwrap_or(0) as i32 + 1;
        let tallest = (0..layers as usize)
            .map(|l| nodes.iter().filter(|n| n.1 == l).count())
            .max()
            .unwrap_or(1) as i32;
        (
            (40 + layers * (NODE_W + LAYER_GAP)).max(500) as u32,
            (110 + loops + tallest * (NODE_H + ROW_GAP)) as u32,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let (nodes, edges) = layout(self.data);
        root.draw(&Text::new(
            "The architecture, coloured by the worst state each part reached",
            (10, 12),
            (FONT, 18).into_font(),
        ))
        .map_err(err)?;
        let mut slot = vec![0i32; nodes.len()];
        let mut position = Vec::with_capacity(nodes.len());
        for (_, layer) in &nodes {
            let row = slot[*layer];
            slot[*layer] += 1;
            position.push((
                20 + *layer as i32 * (NODE_W + LAYER_GAP),
                60 + row * (NODE_H + ROW_GAP),
            ));
        }
        for e in &edges {
            let (ax, ay) = position[e.from];
            let (bx, by) = position[e.to];
            let path = if e.back {
                // Against the flow: out of the caller's bottom, along under
                // both nodes, up into the callee's bottom.
                let below = ay.max(by) + NODE_H + 12;
                let (out_x, in_x) = (ax + 2 * NODE_W / 3, bx + NODE_W / 3);
                vec![
                    (out_x, ay + NODE_H),
                    (out_x, below),
                    (in_x, below),
                    (in_x, by + NODE_H),
                ]
            } else {
                vec![(ax + NODE_W, ay + NODE_H / 2), (bx, by + NODE_H / 2)]
            };
            let (from, to) = (path[path.len() - 2], path[path.len() - 1]);
            root.draw(&PathElement::new(path, BLACK.mix(0.6).stroke_width(1)))
                .map_err(err)?;
            // An arrowhead along the edge's last leg.
            let (dx, dy) = ((to.0 - from.0) as f64, (to.1 - from.1) as f64);
            let len = (dx * dx + dy * dy).sqrt().max(1.0);
            let (ux, uy) = (dx / len, dy / len);
            let back = (to.0 as f64 - 10.0 * ux, to.1 as f64 - 10.0 * uy);
            let left = ((back.0 - 5.0 * uy) as i32, (back.1 + 5.0 * ux) as i32);
            let right = ((back.0 + 5.0 * uy) as i32, (back.1 - 5.0 * ux) as i32);
            root.draw(&Polygon::new(
                vec![to, left, right],
                BLACK.mix(0.6).filled(),
            ))
            .map_err(err)?;
        }
        for ((name, _), (x, y)) in nodes.iter().zip(&position) {
            let worst = self.data.worst(name);
            root.draw(&Rectangle::new(
                [(*x, *y), (x + NODE_W, y + NODE_H)],
                health_colour(worst).filled(),
            ))
            .map_err(err)?;
            root.draw(&Rectangle::new(
                [(*x, *y), (x + NODE_W, y + NODE_H)],
                BLACK.mix(0.5).stroke_width(1),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                name.clone(),
                (x + 8, y + 8),
                (FONT, 14).into_font(),
            ))
            .map_err(err)?;
            root.draw(&Text::new(
                worst.name(),
                (x + 8, y + 24),
                (FONT, 11).into_font(),
            ))
            .map_err(err)?;
        }
        Ok(())
    }
}
