//! The impact of each set of faults a search ran: a bar per set, its error
//! rate over the measured run (mean over the seeds), the sets that break a
//! hypothesis in the colour of a failure, the worst at the top.

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{Chart, DOWN, Drawn, FONT, HEADING, MUTED, err, heading};
use crate::report::axis;

pub struct Impact {
    pub title: String,
    pub subtitle: String,
    /// Per bar: its label, the value (%), and whether the set breaks.
    pub bars: Vec<(String, f64, bool)>,
    /// What the bars leave out, said under them ("and 40 sets below 0.01 %").
    pub footnote: String,
}

const BAR_H: u32 = 22;
const LABEL_AREA: u32 = 380;
const FOOT: u32 = 76;
const HELD: RGBColor = RGBColor(150, 150, 150);

impl Chart for Impact {
    fn size(&self) -> (u32, u32) {
        (
            1000,
            HEADING + 10 + BAR_H * self.bars.len().max(1) as u32 + FOOT,
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> Drawn {
        let (head, rest) = root.split_vertically(HEADING);
        heading(&head, &self.title, &self.subtitle)?;
        let (_, h) = rest.dim_in_pixel();
        let (rest, foot) = rest.split_vertically(h.saturating_sub(26));
        let n = self.bars.len().max(1) as f64;
        let top = self.bars.iter().map(|b| b.1).fold(0.0, f64::max);
        let x_max = if top > 0.0 { top * 1.12 } else { 1.0 };
        let mut chart = ChartBuilder::on(&rest)
            .margin_right(30)
            .margin_top(10)
            .x_label_area_size(40)
            .y_label_area_size(LABEL_AREA)
            .build_cartesian_2d(0.0..x_max, 0.0..n)
            .map_err(err)?;
        let labels: Vec<String> = self.bars.iter().map(|b| b.0.clone()).collect();
        chart
            .configure_mesh()
            .disable_y_mesh()
            .light_line_style(WHITE)
            .y_labels(self.bars.len().max(1) * 2 + 1)
            .y_label_formatter(&|y: &f64| {
                // A label at the middle of each bar, the first bar on top.
                let slot = n - y - 0.5;
                let k = slot.round();
                if (slot - k).abs() < 1e-6 && k >= 0.0 && (k as usize) < labels.len() {
                    labels[k as usize].clone()
                } else {
                    String::new()
                }
            })
            .x_desc("error rate of the entry endpoints after the warm-up, % (mean over the seeds)")
            .x_label_formatter(&|x: &f64| axis::trim_number(axis::significant(*x, 3)))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(err)?;
        for (k, (_, value, broke)) in self.bars.iter().enumerate() {
            let y0 = n - k as f64 - 0.85;
            let y1 = n - k as f64 - 0.15;
            let colour = if *broke { DOWN } else { HELD };
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, y0), (*value, y1)],
                    colour.filled(),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(Text::new(
                    format!("{} %", axis::trim_number(axis::significant(*value, 3))),
                    (*value + x_max * 0.005, n - k as f64 - 0.25),
                    (FONT, 11).into_font().color(&MUTED),
                )))
                .map_err(err)?;
        }
        foot.draw(&Text::new(
            self.footnote.clone(),
            (10, 6),
            (FONT, 12).into_font().color(&MUTED),
        ))
        .map_err(err)?;
        Ok(())
    }
}
