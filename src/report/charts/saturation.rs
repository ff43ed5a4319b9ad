//! Per service, small multiples on one time axis: busy workers and each
//! outgoing pool as a share of capacity, the queue, and memory against its
//! limit and alert levels. Services with nothing to show are named under
//! the chart instead of drawn as flat lines.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{
    Chart, DOWN, Drawn, FONT, HEADING, MUTED, Mark, TimeAxis, colour, draw_lines, err, heading,
    legend_row, max_of, period_items, run_subtitle, shade_periods, x_label_area,
};
use crate::report::axis;
use crate::report::data::{Merge, RunData, Series};
use crate::topology::ComponentKind;

/// Per service: busy workers and its outgoing pools as a share of
/// capacity, its queue, and memory where instances have a limit.
pub struct Saturation<'a> {
    pub data: &'a RunData,
}

/// A line of percentages has something to show when it moves by this many
/// points or reaches `BUSY`: a service idling at 0.4 % busy does not.
const MOVES: f64 = 2.0;
const BUSY: f64 = 50.0;

const WIDTH: u32 = 1100;
const ROW_HEAD: u32 = 24;
const PANEL: u32 = 150;
const LABEL: u32 = 11;
const Y_AREA: u32 = 64;
const FOOT: u32 = 26;

/// What one service's row draws.
struct Row {
    service: String,
    usage: Vec<Series>,
    queue: Option<Series>,
    memory: Option<Series>,
}

fn shows_something(s: &Series) -> bool {
    let values = s
        .points
        .iter()
        .map(|p| p.1)
        .chain(s.band.iter().flat_map(|b| [b.1, b.2]));
    let (low, high) = values.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
        (lo.min(v), hi.max(v))
    });
    high >= BUSY || high - low >= MOVES
}

impl Saturation<'_> {
    /// Rows worth drawing, and the services left out.
    fn rows(&self) -> (Vec<Row>, Vec<String>) {
        let data = self.data;
        let pools = data.components(ComponentKind::Pool);
        let (mut rows, mut idle) = (Vec::new(), Vec::new());
        for service in data.components(ComponentKind::Service) {
            let mut usage = Vec::new();
            let mut busy = data.series(&service, Merge::Mean, |r| {
                (r.capacity > 0).then(|| 100.0 * r.busy_avg / r.capacity as f64)
            });
            busy.name = "workers busy".into();
            usage.push(busy);
            for pool in pools
                .iter()
                .filter(|p| p.starts_with(&format!("{service}->")))
            {
                let mut s = data.series(pool, Merge::Mean, |r| {
                    (r.capacity > 0).then(|| 100.0 * r.in_use_avg / r.capacity as f64)
                });
                s.name = format!("pool to {}", &pool[service.len() + 2..]);
                usage.push(s);
            }
            let queued = data
                .rows
                .iter()
                .any(|r| r.component == service && r.queue_max > 0);
            let queue = queued.then(|| {
                let mut s = data.series(&service, Merge::Mean, |r| Some(r.queue_avg));
                s.name = "waiting".into();
                s
            });
            let memory = data.manifest.memory.contains_key(&service).then(|| {
                let mut s = data.series(&service, Merge::Max, |r| Some(r.memory_max_mib));
                s.name = "largest instance".into();
                s
            });
            if usage.iter().any(shows_something) || queue.is_some() || memory.is_some() {
                rows.push(Row {
                    service,
                    usage,
                    queue,
                    memory,
                });
            } else {
                idle.push(service);
            }
        }
        (rows, idle)
    }
}

impl Chart for Saturation<'_> {
    fn size(&self) -> (u32, u32) {
        let (rows, _) = self.rows();
        let bottom_extra = x_label_area(true, LABEL) - x_label_area(false, LABEL);
        (
            WIDTH,
            HEADING + (ROW_HEAD + PANEL) * rows.len().max(1) as u32 + bottom_extra + FOOT,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let data = self.data;
        let (rows, idle) = self.rows();
        let x = 0.0..data.duration_s().max(1.0);
        let (head, rest) = root.split_vertically(HEADING);
        heading(
            &head,
            "Saturation per service: workers and pools (% of capacity), queue, memory",
            &run_subtitle(data),
        )?;
        let with_queue = rows.iter().any(|r| r.queue.is_some());
        let with_memory = rows.iter().any(|r| r.memory.is_some());
        let columns = 1 + with_queue as usize + with_memory as usize;
        let (body, foot) = rest.split_vertically(rest.dim_in_pixel().1 - FOOT);
        let bottom_extra = x_label_area(true, LABEL) - x_label_area(false, LABEL);
        let mut area = body;
        for (k, row) in rows.iter().enumerate() {
            let last = k + 1 == rows.len();
            let height = ROW_HEAD + PANEL + if last { bottom_extra } else { 0 };
            let (this, below) = area.split_vertically(height);
            area = below;
            let (row_head, panels) = this.split_vertically(ROW_HEAD);
            let mut items: Vec<(Mark, String)> = row
                .usage
                .iter()
                .enumerate()
                .map(|(j, s)| (Mark::Line(colour(j), 2), s.name.clone()))
                .collect();
            if row.queue.is_some() {
                items.push((
                    Mark::Shade(colour(4), 0.5),
                    "queue: requests waiting".into(),
                ));
            }
            if let Some(limit) = data.manifest.memory.get(&row.service) {
                items.push((
                    Mark::Line(colour(3), 2),
                    "memory of the largest instance".into(),
                ));
                items.push((Mark::Line(DOWN, 2), "memory limit (OOM kill)".into()));
                if !limit.alerts.is_empty() {
                    items.push((Mark::Dashed(MUTED), "memory alert levels".into()));
                }
            }
            if k == 0 {
                items.extend(period_items(data));
                if data.per_point() > 1 {
                    items.push((
                        Mark::Shade(colour(0), 0.25),
                        format!(
                            "lighter band: lowest to highest of the {} windows in each {} s",
                            data.per_point(),
                            axis::trim_number(data.step_s())
                        ),
                    ));
                }
            }
            row_head
                .draw(&Text::new(
                    row.service.clone(),
                    (10, 4),
                    (FONT, 15).into_font().style(FontStyle::Bold),
                ))
                .map_err(err)?;
            let name_w = (FONT, 15)
                .into_font()
                .style(FontStyle::Bold)
                .box_size(&row.service)
                .map_err(err)?
                .0 as i32;
            legend_row(
                &row_head,
                &items,
                (30 + name_w, 5),
                WIDTH as i32 - 40 - name_w,
                LABEL,
            )?;
            let cells = panels.split_evenly((1, columns));
            let axis_of = |y_title| TimeAxis {
                y_title,
                x_title: last,
                label_size: LABEL,
            };
            let refs: Vec<&Series> = row.usage.iter().collect();
            let colours: Vec<RGBColor> = (0..refs.len()).map(colour).collect();
            panel(
                &cells[0],
                data,
                x.clone(),
                105.0,
                &axis_of("% in use"),
                |chart| draw_lines(chart, &refs, &colours, 2, data.step_s()),
            )?;
            let mut next = 1;
            if with_queue {
                match &row.queue {
                    Some(queue) => {
                        let top = max_of(std::iter::once(queue)).max(1.0) * 1.1;
                        panel(
                            &cells[next],
                            data,
                            x.clone(),
                            top,
                            &axis_of("waiting"),
                            |chart| {
                                draw_lines(chart, &[queue], &[colour(4)], 1, data.step_s())?;
                                chart
                                    .draw_series(AreaSeries::new(
                                        queue.points.iter().copied(),
                                        0.0,
                                        colour(4).mix(0.35),
                                    ))
                                    .map_err(err)?;
                                Ok(())
                            },
                        )?;
                    }
                    None => note(&cells[next], "no request queued at any time")?,
                }
                next += 1;
            }
            if with_memory {
                match (&row.memory, data.manifest.memory.get(&row.service)) {
                    (Some(memory), Some(limit)) => {
                        let top = max_of(std::iter::once(memory)).max(limit.limit_mib) * 1.1;
                        panel(
                            &cells[next],
                            data,
                            x.clone(),
                            top,
                            &axis_of("MiB"),
                            |chart| {
                                for share in &limit.alerts {
                                    let y = share * limit.limit_mib;
                                    chart
                                        .draw_series(std::iter::once(
                                            plotters::element::DashedPathElement::new(
                                                vec![(0.0, y), (data.duration_s(), y)],
                                                6,
                                                4,
                                                MUTED.stroke_width(1),
                                            ),
                                        ))
                                        .map_err(err)?;
                                    let right_above = Pos::new(HPos::Right, VPos::Bottom);
                                    chart
                                        .draw_series(std::iter::once(Text::new(
                                            format!(
                                                "alert {} % ",
                                                axis::trim_number(share * 100.0)
                                            ),
                                            (data.duration_s(), y),
                                            (FONT, 10).into_font().color(&MUTED).pos(right_above),
                                        )))
                                        .map_err(err)?;
                                }
                                chart
                                    .draw_series(std::iter::once(PathElement::new(
                                        vec![
                                            (0.0, limit.limit_mib),
                                            (data.duration_s(), limit.limit_mib),
                                        ],
                                        DOWN.stroke_width(2),
                                    )))
                                    .map_err(err)?;
                                draw_lines(chart, &[memory], &[colour(3)], 2, data.step_s())
                            },
                        )?;
                    }
                    _ => note(&cells[next], "no memory limit")?,
                }
            }
        }
        if !idle.is_empty() {
            foot.draw(&Text::new(
                format!(
                    "Not drawn, nothing to show (workers and pools below {BUSY} % and flat, no queue, no memory limit): {}",
                    idle.join(", ")
                ),
                (10, 6),
                (FONT, 12).into_font().color(&MUTED),
            ))
            .map_err(err)?;
        }
        Ok(())
    }
}

type Panel<'a, DB> = super::TimeChart<'a, DB, plotters::coord::types::RangedCoordf64>;

fn panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &RunData,
    x: std::ops::Range<f64>,
    top: f64,
    axis_style: &TimeAxis<'_>,
    draw: impl FnOnce(&mut Panel<'_, DB>) -> Drawn,
) -> Drawn {
    let mut chart = ChartBuilder::on(area)
        .margin(6)
        .x_label_area_size(x_label_area(axis_style.x_title, axis_style.label_size))
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(x, 0.0..top)
        .map_err(err)?;
    super::linear_mesh(&mut chart, axis_style, 5)?;
    shade_periods(&mut chart, data, (0.0, top))?;
    draw(&mut chart)
}

/// A cell with nothing to plot says so.
fn note<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, text: &str) -> Drawn {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(
        text.to_string(),
        (w as i32 / 2 - 4 * text.len() as i32, h as i32 / 2 - 8),
        (FONT, 12).into_font().color(&MUTED),
    ))
    .map_err(err)
}
