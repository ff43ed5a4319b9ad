//! `faultline diff`: per window, run B's figures minus run A's, for each
//! entry, one panel per figure, with the instant the runs first parted
//! marked. A zero line runs through every panel: above it, B is higher.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    Chart, Drawn, HEADING, LABEL, MARGIN, Mark, TimeAxis, Y_AREA, colour, draw_lines, err, heading,
    legend_height, legend_row, linear_mesh, x_label_area,
};
use crate::report::data::Series;

/// A panel: its y-axis title and one series per component.
pub struct Panel {
    pub y_title: String,
    pub series: Vec<Series>,
}

pub struct Deltas<'a> {
    pub title: &'a str,
    pub subtitle: &'a str,
    pub duration_s: f64,
    pub window_s: f64,
    pub panels: &'a [Panel],
    /// Where the runs first part (s), and its label.
    pub divergence: Option<(f64, String)>,
}

const WIDTH: u32 = 1100;
const PANEL: u32 = 220;

impl Deltas<'_> {
    fn legend(&self) -> Vec<(Mark, String)> {
        let mut items: Vec<(Mark, String)> = self
            .panels
            .first()
            .map(|p| {
                p.series
                    .iter()
                    .enumerate()
                    .map(|(k, s)| (Mark::Line(colour(k), 3), s.name.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if let Some((_, label)) = &self.divergence {
            items.push((Mark::Rule(BLACK), label.clone()));
        }
        items
    }

    fn legend_px(&self) -> u32 {
        legend_height(&self.legend(), WIDTH as i32 - 20, LABEL) as u32 + 4
    }
}

impl Chart for Deltas<'_> {
    fn size(&self) -> (u32, u32) {
        let bottom_extra = x_label_area(true, LABEL) - x_label_area(false, LABEL);
        let panels = self.panels.len().max(1) as u32;
        (
            WIDTH,
            HEADING + self.legend_px() + panels * PANEL + bottom_extra,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let (head, rest) = root.split_vertically(HEADING);
        heading(&head, self.title, self.subtitle)?;
        let (legend_area, mut rest) = rest.split_vertically(self.legend_px());
        legend_row(
            &legend_area,
            &self.legend(),
            (10, 0),
            WIDTH as i32 - 20,
            LABEL,
        )?;
        for (k, panel) in self.panels.iter().enumerate() {
            let last = k + 1 == self.panels.len();
            let (area, below) = if last {
                (rest.clone(), rest.clone())
            } else {
                rest.split_vertically(PANEL)
            };
            self.panel(&area, panel, last)?;
            rest = below;
        }
        Ok(())
    }
}

impl Deltas<'_> {
    fn panel<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        panel: &Panel,
        x_title: bool,
    ) -> Drawn {
        // Symmetric about zero, so that the sign reads at a glance.
        let reach = panel
            .series
            .iter()
            .flat_map(|s| s.points.iter().map(|p| p.1.abs()))
            .fold(0.0, f64::max);
        let top = if reach > 0.0 { reach * 1.1 } else { 1.0 };
        let x = 0.0..self.duration_s.max(1.0);
        let mut chart = ChartBuilder::on(area)
            .margin(MARGIN)
            .x_label_area_size(x_label_area(x_title, LABEL))
            .y_label_area_size(Y_AREA)
            .build_cartesian_2d(x, -top..top)
            .map_err(err)?;
        linear_mesh(
            &mut chart,
            &TimeAxis {
                y_title: &panel.y_title,
                x_title,
                label_size: LABEL,
            },
            5,
        )?;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(0.0, 0.0), (self.duration_s, 0.0)],
                BLACK.mix(0.4).stroke_width(1),
            )))
            .map_err(err)?;
        if let Some((at, _)) = &self.divergence {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*at, -top), (*at, top)],
                    BLACK.stroke_width(1),
                )))
                .map_err(err)?;
        }
        let refs: Vec<&Series> = panel.series.iter().collect();
        let colours: Vec<RGBColor> = (0..refs.len()).map(colour).collect();
        draw_lines(&mut chart, &refs, &colours, 2, self.window_s)
    }
}
