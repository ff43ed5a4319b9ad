//! Text of an SVG chart in the bundled font: the SVG names the font's
//! family with a generic fallback, so a viewer without it still draws sans
//! serif rather than its default serif face.

use super::charts::FONT;

/// The SVG plotters wrote, its text pointed at the bundled font.
pub(crate) fn embed(svg: &str) -> String {
    svg.replace(
        &format!("font-family=\"{FONT}\""),
        &format!("font-family=\"{FONT}, sans-serif\""),
    )
}
