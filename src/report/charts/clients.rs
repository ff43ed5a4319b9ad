//! Connected clients over virtual time: per client group, the share
//! connected (a time-weighted mean per window) and the reconnect attempts
//! per second, with the warm-up and faults shaded. Drawn only for models
//! with connected clients.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    Chart, Drawn, HEADING, LABEL, Mark, colour, heading, legend_height, legend_row, linear_panel,
    max_of, period_items, run_subtitle, x_label_area,
};
use crate::report::axis;
use crate::report::data::{Merge, RunData, Series};
use crate::topology::ComponentKind;

pub struct Clients<'a> {
    pub data: &'a RunData,
}

const WIDTH: u32 = 1100;
const PANEL: u32 = 200;

impl Clients<'_> {
    fn groups(&self) -> Vec<String> {
        self.data.components(ComponentKind::Clients)
    }

    fn legend(&self) -> Vec<(Mark, String)> {
        let mut items: Vec<(Mark, String)> = self
            .groups()
            .into_iter()
            .enumerate()
            .map(|(k, g)| {
                let count = self
                    .data
                    .manifest
                    .clients
                    .get(&g)
                    .map_or(String::new(), |c| format!(" ({} clients)", c.clients));
                (Mark::Line(colour(k), 3), format!("{g}{count}"))
            })
            .collect();
        items.extend(period_items(self.data));
        items
    }

    fn legend_px(&self) -> u32 {
        legend_height(&self.legend(), WIDTH as i32 - 20, LABEL) as u32 + 4
    }
}

impl Chart for Clients<'_> {
    fn size(&self) -> (u32, u32) {
        let bottom_extra = x_label_area(true, LABEL) - x_label_area(false, LABEL);
        (WIDTH, HEADING + self.legend_px() + 2 * PANEL + bottom_extra)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let data = self.data;
        let groups = self.groups();
        let x = 0.0..data.duration_s().max(1.0);
        let (head, rest) = root.split_vertically(HEADING);
        heading(
            &head,
            "Connected clients: the share connected and the reconnect attempts",
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
        let (top, bottom) = rest.split_vertically(PANEL);
        let per = if data.per_point() > 1 {
            format!(", per {} s", axis::trim_number(data.step_s()))
        } else {
            String::new()
        };
        let share: Vec<Series> = groups
            .iter()
            .map(|g| {
                data.series(g, Merge::Mean, |r| {
                    (r.capacity > 0).then(|| 100.0 * r.in_use_avg / r.capacity as f64)
                })
            })
            .collect();
        linear_panel(
            &top,
            data,
            x.clone(),
            102.0,
            &format!("connected (% of clients{per})"),
            false,
            &share,
        )?;
        let attempts: Vec<Series> = groups
            .iter()
            .map(|g| {
                data.ratio_series(
                    g,
                    1.0,
                    |r| r.retries as f64,
                    |r| r.window_end_s - r.window_start_s,
                )
            })
            .collect();
        let top_y = max_of(attempts.iter()).max(1.0) * 1.08;
        linear_panel(
            &bottom,
            data,
            x,
            top_y,
            &format!("reconnect attempts / s{per}"),
            true,
            &attempts,
        )
    }
}
