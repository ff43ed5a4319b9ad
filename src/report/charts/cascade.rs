//! The cascade strip: one row per component in the order the cascade
//! reached it, coloured healthy / degraded / down over time; when what
//! happened fills a small part of the run, a second strip zooms on it.

use plotters::coord::Shift;
use plotters::coord::ranged1d::SegmentValue;
use plotters::prelude::*;

use super::{
    Chart, DEGRADED, DOWN, Drawn, FAULT, FONT, HEADING, HEALTHY, MUTED, Mark, WARMUP, err, heading,
    health_colour, legend_height, legend_row, period_items, run_subtitle, seconds_label,
};
use crate::analysis::{ComponentReport, Health, Span};
use crate::report::axis;
use crate::report::data::{MAX_POINTS, RunData};

/// One row per component, coloured by health over time, ordered by onset.
pub struct CascadeStrip<'a> {
    pub data: &'a RunData,
}

const WIDTH: u32 = 1100;
const ROW: u32 = 24;
const X_AREA: u32 = 44;
const CAPTION: u32 = 24;
/// A zoom is drawn when what happened spans less than this share of the
/// run: a two-second outage in a three-minute run is a sliver otherwise.
const ZOOM_BELOW: f64 = 0.5;

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

    /// The window that matters, `(from, to)` in seconds, when it is small
    /// enough to zoom on: from the first fault to the last moment any
    /// component was out of band, with a margin either side.
    fn zoom(&self) -> Option<(f64, f64)> {
        let data = self.data;
        let end = data.duration_s();
        let first = data.faults().iter().map(|f| f.1).min_by(f64::total_cmp)?;
        let last = data
            .analysis
            .components
            .iter()
            .flat_map(|c| c.timeline.iter())
            .filter(|s| s.health != Health::Healthy && s.to_s > first)
            .map(|s| s.to_s)
            .fold(first, f64::max);
        let pad = ((last - first) * 0.25).max(data.manifest.window_s * 3.0);
        let from = (first - pad).max(0.0);
        let to = (last + pad).min(end);
        (to - from < ZOOM_BELOW * end).then_some((from, to))
    }

    fn legend(&self) -> Vec<(Mark, String)> {
        let mut items = vec![
            (Mark::Box(HEALTHY), "healthy".to_string()),
            (
                Mark::Box(DEGRADED),
                "degraded: out of its steady band".to_string(),
            ),
            (Mark::Box(DOWN), "down: half or more failed".to_string()),
        ];
        // Faults cross the strip as lines, whatever their length.
        items.extend(
            period_items(self.data)
                .into_iter()
                .map(|(mark, label)| match mark {
                    Mark::Shade(c, _) if c == FAULT => (Mark::Rule(FAULT), label),
                    other => (other, label),
                }),
        );
        items
    }

    fn strip_height(&self) -> u32 {
        ROW * self.rows().len().max(1) as u32 + X_AREA + 16
    }
}

/// A component's spans within `(from, to)`, at most `MAX_POINTS` of them:
/// a timeline that flickers window by window is drawn per step, each step
/// in the worst state it held, so a one-window outage still shows.
fn drawn_spans(timeline: &[Span], (from, to): (f64, f64)) -> Vec<(f64, f64, Health)> {
    let clipped: Vec<(f64, f64, Health)> = timeline
        .iter()
        .filter(|s| s.to_s > from && s.from_s < to)
        .map(|s| (s.from_s.max(from), s.to_s.min(to), s.health))
        .collect();
    if clipped.len() <= MAX_POINTS {
        return clipped;
    }
    let step = (to - from) / MAX_POINTS as f64;
    let mut worst = vec![Health::Healthy; MAX_POINTS];
    for (a, b, health) in &clipped {
        let first = (((a - from) / step).floor() as usize).min(MAX_POINTS - 1);
        let last = ((((b - from) / step).ceil() as usize).max(first + 1)).min(MAX_POINTS);
        for w in &mut worst[first..last] {
            *w = (*w).max(*health);
        }
    }
    let mut out: Vec<(f64, f64, Health)> = Vec::new();
    for (k, health) in worst.into_iter().enumerate() {
        let (a, b) = (from + k as f64 * step, from + (k + 1) as f64 * step);
        match out.last_mut() {
            Some(last) if last.2 == health => last.1 = b,
            _ => out.push((a, b, health)),
        }
    }
    out
}

impl Chart for CascadeStrip<'_> {
    fn size(&self) -> (u32, u32) {
        let strips = if self.zoom().is_some() { 2 } else { 1 };
        let legend = legend_height(&self.legend(), WIDTH as i32 - 20, 13) as u32;
        (
            WIDTH,
            HEADING + legend + 8 + strips * (CAPTION + self.strip_height()),
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let data = self.data;
        let (head, rest) = root.split_vertically(HEADING);
        heading(
            &head,
            "The cascade: each component's state over time, in the order it was reached",
            &run_subtitle(data),
        )?;
        let legend = legend_height(&self.legend(), WIDTH as i32 - 20, 13) as u32 + 8;
        let (legend_area, rest) = rest.split_vertically(legend);
        legend_row(&legend_area, &self.legend(), (10, 0), WIDTH as i32 - 20, 13)?;
        let zoom = self.zoom();
        let height = CAPTION + self.strip_height();
        let (overview, rest) = rest.split_vertically(height);
        let whole = (0.0, data.duration_s().max(1.0));
        let caption = match zoom {
            Some(_) => "The whole run (the outlined window is enlarged below)".to_string(),
            None => "The whole run".to_string(),
        };
        self.strip(&overview, &caption, whole, zoom)?;
        if let Some(window) = zoom {
            let caption = format!(
                "Enlarged: {}–{} s, from the first fault to the last component back in band",
                axis::trim_number(window.0),
                axis::trim_number(window.1)
            );
            self.strip(&rest, &caption, window, None)?;
        }
        Ok(())
    }
}

impl CascadeStrip<'_> {
    fn strip<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        caption: &str,
        (from, to): (f64, f64),
        outline: Option<(f64, f64)>,
    ) -> Drawn {
        let data = self.data;
        let rows = self.rows();
        let n = rows.len().max(1);
        let (caption_area, area) = area.split_vertically(CAPTION);
        caption_area
            .draw(&Text::new(
                caption.to_string(),
                (240, 4),
                (FONT, 13).into_font().color(&MUTED),
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
        let mut chart = ChartBuilder::on(&area)
            .margin(8)
            .x_label_area_size(X_AREA)
            .y_label_area_size(230)
            .build_cartesian_2d(from..to, (0..n - 1).into_segmented())
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .x_desc("virtual time (s)")
            .axis_desc_style((FONT, 13))
            .label_style((FONT, 12))
            .x_labels(12)
            .x_label_formatter(&seconds_label)
            .y_labels(n)
            .y_label_formatter(&label_of)
            .draw()
            .map_err(err)?;
        for (k, row) in rows.iter().enumerate() {
            // Top row first: row k is drawn in segment n-1-k.
            let lane = n - 1 - k;
            chart
                .draw_series(drawn_spans(&row.timeline, (from, to)).into_iter().map(
                    |(a, b, health)| {
                        Rectangle::new(
                            [
                                (a, SegmentValue::Exact(lane)),
                                (b, SegmentValue::Exact(lane + 1)),
                            ],
                            health_colour(health).filled(),
                        )
                    },
                ))
                .map_err(err)?;
        }
        // The warm-up, where the bands were learned, under a light wash.
        let warmup = data.manifest.warmup_s.min(to);
        if warmup > from {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [
                        (from, SegmentValue::Exact(0)),
                        (warmup, SegmentValue::Exact(n)),
                    ],
                    WARMUP.mix(0.25).filled(),
                )))
                .map_err(err)?;
        }
        // Row separators, so a long row is read along its own line.
        chart
            .draw_series((1..n).map(|k| {
                PathElement::new(
                    vec![(from, SegmentValue::Exact(k)), (to, SegmentValue::Exact(k))],
                    WHITE.stroke_width(2),
                )
            }))
            .map_err(err)?;
        for (_, start, end) in data.faults() {
            for t in [start, end] {
                if t >= from && t <= to {
                    chart
                        .draw_series(std::iter::once(PathElement::new(
                            vec![(t, SegmentValue::Exact(0)), (t, SegmentValue::Exact(n))],
                            FAULT.stroke_width(2),
                        )))
                        .map_err(err)?;
                }
            }
        }
        if let Some((a, b)) = outline {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(a, SegmentValue::Exact(0)), (b, SegmentValue::Exact(n))],
                    BLACK.stroke_width(2),
                )))
                .map_err(err)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A timeline that flips every window over 600,000 windows is drawn in
    /// at most `MAX_POINTS` spans, and its outages still show.
    #[test]
    fn a_flickering_timeline_is_drawn_per_step_keeping_the_worst() {
        let timeline: Vec<Span> = (0..600_000)
            .map(|k| Span {
                from_s: k as f64 * 0.001,
                to_s: (k + 1) as f64 * 0.001,
                health: match k {
                    300_001 => Health::Down,
                    k if k % 2 == 0 => Health::Healthy,
                    _ => Health::Degraded,
                },
                reason: None,
            })
            .collect();
        let spans = drawn_spans(&timeline, (0.0, 600.0));
        assert!(spans.len() <= MAX_POINTS, "{}", spans.len());
        let down: Vec<_> = spans.iter().filter(|s| s.2 == Health::Down).collect();
        assert_eq!(down.len(), 1);
        assert!(down[0].0 <= 300.001 && down[0].1 >= 300.002, "{down:?}");
    }
}
