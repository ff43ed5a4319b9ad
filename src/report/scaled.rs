//! A drawing backend that draws a chart laid out at one size onto a bitmap
//! `SCALE` times larger: the PNGs for documents are sharp on high-density
//! screens and in print, while every chart keeps one layout (in the SVG's
//! pixels) for both formats. Coordinates, stroke widths and font sizes are
//! scaled; text is measured at the logical size, so layout decisions do not
//! depend on the output.

use plotters::prelude::*;
use plotters::style::FontDesc;
use plotters_backend::{
    BackendColor, BackendCoord, BackendStyle, BackendTextStyle, DrawingErrorKind,
};

/// How many bitmap pixels a chart pixel becomes, each way.
pub(crate) const SCALE: i32 = 2;

pub(crate) struct Scaled<B: DrawingBackend> {
    pub(crate) inner: B,
}

/// A style with its stroke scaled.
struct Stroke {
    color: BackendColor,
    width: u32,
}

impl BackendStyle for Stroke {
    fn color(&self) -> BackendColor {
        self.color
    }
    fn stroke_width(&self) -> u32 {
        self.width
    }
}

fn stroke<S: BackendStyle>(style: &S) -> Stroke {
    Stroke {
        color: style.color(),
        width: style.stroke_width().max(1) * SCALE as u32,
    }
}

fn at(p: BackendCoord) -> BackendCoord {
    (p.0 * SCALE, p.1 * SCALE)
}

/// The centre of a scaled pixel: a one-pixel line lands in the middle of
/// the band it covers.
fn mid(p: BackendCoord) -> BackendCoord {
    (p.0 * SCALE + SCALE / 2, p.1 * SCALE + SCALE / 2)
}

type Failed<B> = DrawingErrorKind<<B as DrawingBackend>::ErrorType>;

impl<B: DrawingBackend> DrawingBackend for Scaled<B> {
    type ErrorType = B::ErrorType;

    fn get_size(&self) -> (u32, u32) {
        let (w, h) = self.inner.get_size();
        (w / SCALE as u32, h / SCALE as u32)
    }

    fn ensure_prepared(&mut self) -> Result<(), Failed<B>> {
        self.inner.ensure_prepared()
    }

    fn present(&mut self) -> Result<(), Failed<B>> {
        self.inner.present()
    }

    fn draw_pixel(&mut self, point: BackendCoord, color: BackendColor) -> Result<(), Failed<B>> {
        let (x, y) = at(point);
        self.inner
            .draw_rect((x, y), (x + SCALE - 1, y + SCALE - 1), &color, true)
    }

    fn draw_line<S: BackendStyle>(
        &mut self,
        from: BackendCoord,
        to: BackendCoord,
        style: &S,
    ) -> Result<(), Failed<B>> {
        self.inner.draw_path([mid(from), mid(to)], &stroke(style))
    }

    fn draw_rect<S: BackendStyle>(
        &mut self,
        upper_left: BackendCoord,
        bottom_right: BackendCoord,
        style: &S,
        fill: bool,
    ) -> Result<(), Failed<B>> {
        if fill {
            // Inclusive corners: the far corner's pixel is covered whole.
            let (x1, y1) = at(bottom_right);
            self.inner.draw_rect(
                at(upper_left),
                (x1 + SCALE - 1, y1 + SCALE - 1),
                &style.color(),
                true,
            )
        } else {
            let (a, b) = (mid(upper_left), mid(bottom_right));
            self.inner
                .draw_path([a, (b.0, a.1), b, (a.0, b.1), a], &stroke(style))
        }
    }

    fn draw_path<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        path: I,
        style: &S,
    ) -> Result<(), Failed<B>> {
        let points: Vec<BackendCoord> = path.into_iter().map(mid).collect();
        self.inner.draw_path(points, &stroke(style))
    }

    fn draw_circle<S: BackendStyle>(
        &mut self,
        center: BackendCoord,
        radius: u32,
        style: &S,
        fill: bool,
    ) -> Result<(), Failed<B>> {
        self.inner
            .draw_circle(mid(center), radius * SCALE as u32, &stroke(style), fill)
    }

    fn fill_polygon<S: BackendStyle, I: IntoIterator<Item = BackendCoord>>(
        &mut self,
        vert: I,
        style: &S,
    ) -> Result<(), Failed<B>> {
        let points: Vec<BackendCoord> = vert.into_iter().map(mid).collect();
        self.inner.fill_polygon(points, &style.color())
    }

    fn draw_text<T: BackendTextStyle>(
        &mut self,
        text: &str,
        style: &T,
        pos: BackendCoord,
    ) -> Result<(), Failed<B>> {
        let font = FontDesc::new(style.family(), style.size() * SCALE as f64, style.style())
            .transform(style.transform());
        let scaled = TextStyle {
            font,
            color: style.color(),
            pos: style.anchor(),
        };
        self.inner.draw_text(text, &scaled, at(pos))
    }
}
