//! What the users saw: per entry, successes per second, the failed share
//! and latency over virtual time, with the warm-up and faults shaded and
//! the key events marked in a lane of their own above the panels.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    Chart, Drawn, FAULT, FONT, HEADING, LABEL, MARGIN, MUTED, Mark, Y_AREA, colour, err, heading,
    legend_height, legend_row, linear_panel, max_of, period_items, run_subtitle, runs,
    seconds_label, shade_periods, x_label_area,
};
use crate::report::axis;
use crate::report::data::{Merge, MetricRow, RunData, Series};
use crate::topology::ComponentKind;

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

const WIDTH: u32 = 1100;
const PANEL: u32 = 240;
const LANE: u32 = 40;

/// When each kind of marked event happened, one time per drawn step (a
/// thousand breaker openings in one step are one marker), with its count.
fn markers(data: &RunData) -> Vec<(usize, &'static str, Vec<f64>, usize)> {
    let step = data.step_s();
    MARKERS
        .iter()
        .enumerate()
        .filter_map(|(k, (event, label))| {
            let times: Vec<f64> = data
                .events
                .iter()
                .filter(|e| e.event == *event)
                .map(|e| e.time_s)
                .collect();
            let count = times.len();
            let mut shown: Vec<f64> = Vec::new();
            for t in times {
                if shown
                    .last()
                    .is_none_or(|last| (t / step).floor() > (last / step).floor())
                {
                    shown.push(t);
                }
            }
            (count > 0).then_some((k, *label, shown, count))
        })
        .collect()
}

impl Timeline<'_> {
    fn legend(&self) -> Vec<(Mark, String)> {
        let (entries, _) = front_door(self.data);
        let mut items: Vec<(Mark, String)> = entries
            .iter()
            .enumerate()
            .map(|(k, e)| (Mark::Line(colour(k), 3), e.clone()))
            .collect();
        if self.data.per_point() > 1 {
            let step = axis::trim_number(self.data.step_s());
            items.push((
                Mark::Line(MUTED, 2),
                format!("p99 (the highest window's, per {step} s)"),
            ));
            items.push((
                Mark::Dashed(BLACK),
                format!("p50 (the median window's, per {step} s)"),
            ));
        } else {
            items.push((Mark::Line(MUTED, 2), "p99".into()));
            items.push((Mark::Dashed(BLACK), "p50".into()));
        }
        for (k, label, _, count) in markers(self.data) {
            items.push((Mark::Triangle(colour(k + 2)), format!("{label} ({count})")));
        }
        items.extend(period_items(self.data));
        items
    }

    fn legend_px(&self) -> u32 {
        legend_height(&self.legend(), WIDTH as i32 - 20, LABEL) as u32 + 4
    }
}

impl Chart for Timeline<'_> {
    fn size(&self) -> (u32, u32) {
        let bottom_extra = x_label_area(true, LABEL) - x_label_area(false, LABEL);
        (
            WIDTH,
            HEADING + self.legend_px() + LANE + 3 * PANEL + bottom_extra,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let data = self.data;
        let (entries, what) = front_door(data);
        let x = 0.0..data.duration_s().max(1.0);
        let (head, rest) = root.split_vertically(HEADING);
        heading(
            &head,
            &format!("What the users saw: throughput, errors and latency per {what}"),
            &run_subtitle(data),
        )?;
        let legend_px = self.legend_px();
        let (legend_area, rest) = rest.split_vertically(legend_px);
        legend_row(
            &legend_area,
            &self.legend(),
            (10, 0),
            WIDTH as i32 - 20,
            LABEL,
        )?;
        let (lane, rest) = rest.split_vertically(LANE);
        draw_lane(&lane, data, x.clone())?;
        let (top, rest) = rest.split_vertically(PANEL);
        let (middle, bottom) = rest.split_vertically(PANEL);
        let merged = data.per_point() > 1;
        let per = if merged {
            format!(", per {} s", axis::trim_number(data.step_s()))
        } else {
            String::new()
        };

        let throughput: Vec<Series> = entries
            .iter()
            .map(|e| {
                data.ratio_series(
                    e,
                    1.0,
                    |r| r.ok as f64,
                    |r| r.window_end_s - r.window_start_s,
                )
            })
            .collect();
        let top_y = max_of(throughput.iter()).max(1.0) * 1.08;
        let title = format!("successes / s{per}");
        linear_panel(&top, data, x.clone(), top_y, &title, false, &throughput)?;

        let errors: Vec<Series> = entries
            .iter()
            .map(|e| data.ratio_series(e, 100.0, |r| r.errors as f64, |r| (r.ok + r.errors) as f64))
            .collect();
        let top_y = (max_of(errors.iter()) * 1.08).clamp(1.0, 102.0);
        let title = format!("failed (% of finished{per})");
        linear_panel(&middle, data, x.clone(), top_y, &title, false, &errors)?;

        latency_panel(&bottom, data, x, &entries)
    }
}

/// The lane above the panels: a marker per key event, the faults named
/// where they start.
fn draw_lane<DB: DrawingBackend>(
    lane: &DrawingArea<DB, Shift>,
    data: &RunData,
    x: std::ops::Range<f64>,
) -> Drawn {
    let mut chart = ChartBuilder::on(lane)
        .margin_left(MARGIN)
        .margin_right(MARGIN)
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(x, 0.0..1.0)
        .map_err(err)?;
    for (name, start, _) in data.faults() {
        chart
            .draw_series(std::iter::once(Text::new(
                format!("▾ {name}"),
                (start, 0.95),
                (FONT, 12).into_font().color(&FAULT),
            )))
            .map_err(err)?;
    }
    // Kinds at staggered heights: a kill and the ejection it causes a
    // second later would otherwise hide one another.
    for (row, (k, _, times, _)) in markers(data).into_iter().enumerate() {
        let c = colour(k + 2);
        let y = 0.12 + 0.2 * (row % 2) as f64;
        chart
            .draw_series(
                times
                    .iter()
                    .map(|t| TriangleMarker::new((*t, y), 6, c.filled())),
            )
            .map_err(err)?;
    }
    Ok(())
}

fn latency_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    data: &RunData,
    x: std::ops::Range<f64>,
    entries: &[String],
) -> Drawn {
    let timed = |e: &String, merge: Merge, f: fn(&MetricRow) -> f64| {
        let mut s = data.series(e, merge, move |r| (r.ok > 0 && f(r) > 0.0).then(|| f(r)));
        // Latency draws its line alone: a band of merged p99s would cover
        // the p50 line.
        s.band.clear();
        s
    };
    let p99: Vec<Series> = entries
        .iter()
        .map(|e| timed(e, Merge::Max, |r| r.latency_p99_ms))
        .collect();
    let p50: Vec<Series> = entries
        .iter()
        .map(|e| timed(e, Merge::Median, |r| r.latency_p50_ms))
        .collect();
    let high = max_of(p99.iter()).max(1e-3) * 1.6;
    let low = p50
        .iter()
        .chain(&p99)
        .flat_map(|s| s.points.iter().map(|p| p.1))
        .fold(f64::INFINITY, f64::min)
        .min(high / 10.0)
        .max(1e-4)
        / 1.6;
    let x_area = x_label_area(true, LABEL);
    let plot_px = area.dim_in_pixel().1 as f64 - 2.0 * MARGIN as f64 - x_area as f64;
    let ticks = axis::log_ticks(low, high, plot_px, LABEL as f64 + 6.0);
    let mut chart = ChartBuilder::on(area)
        .margin(MARGIN)
        .x_label_area_size(x_area)
        .y_label_area_size(Y_AREA)
        .build_cartesian_2d(x, (low..high).log_scale().with_key_points(ticks))
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc("latency (ms, log)")
        .x_desc("virtual time (s)")
        .axis_desc_style((FONT, LABEL + 1))
        .label_style((FONT, LABEL))
        .light_line_style(WHITE)
        .bold_line_style(BLACK.mix(0.08))
        .x_labels(10)
        .x_label_formatter(&seconds_label)
        .y_label_formatter(&|v| axis::format_ms(*v))
        .draw()
        .map_err(err)?;
    shade_periods(&mut chart, data, (low, high))?;
    for (k, (s99, s50)) in p99.iter().zip(&p50).enumerate() {
        let c = colour(k);
        chart
            .draw_series(
                runs(&s99.points)
                    .into_iter()
                    .map(|r| PathElement::new(r, c.stroke_width(2))),
            )
            .map_err(err)?;
        chart
            .draw_series(
                runs(&s50.points)
                    .into_iter()
                    .map(|r| plotters::element::DashedPathElement::new(r, 5, 4, c.stroke_width(1))),
            )
            .map_err(err)?;
    }
    Ok(())
}
