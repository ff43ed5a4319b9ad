//! Text of an SVG chart in the bundled font. The SVG carries the glyphs it
//! uses as a small TrueType subset of DejaVu Sans in an `@font-face` rule,
//! so a browser draws the labels in the face the PNG was laid out with,
//! installed or not; a viewer that ignores the rule falls back to DejaVu
//! Sans if installed, then to any sans serif.
//!
//! The subset (see [`subset`]) keeps the glyphs of the characters used.
//! Its family name is derived from its bytes, since the four charts
//! inlined in one HTML page declare four subsets that must not stand in
//! for one another.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use read_fonts::FontRef;
use read_fonts::collections::IntSet;
use read_fonts::types::{NameId, Tag};
use skera::{Plan, SubsetFlags};

use super::charts::{FONT, FONT_BYTES};

/// The SVG plotters wrote, with its text's glyphs embedded and its text
/// pointed at them.
pub(crate) fn embed(svg: &str) -> String {
    let chars = text_chars(svg);
    let fallback = format!("{FONT}, sans-serif");
    let Some(subset) = subset(FONT_BYTES, &chars) else {
        return svg.replace(
            &format!("font-family=\"{FONT}\""),
            &format!("font-family=\"{fallback}\""),
        );
    };
    let family = format!("faultline-{:016x}", xxhash_rust::xxh3::xxh3_64(&subset));
    let mut out = svg.replace(
        &format!("font-family=\"{FONT}\""),
        &format!("font-family=\"{family}, {fallback}\""),
    );
    let style = format!(
        "<defs><style>@font-face{{font-family:\"{family}\";src:url(data:font/ttf;base64,{}) format(\"truetype\");}}</style></defs>",
        BASE64.encode(&subset)
    );
    if let Some(open) = out.find("<svg")
        && let Some(end) = out[open..].find('>')
    {
        out.insert_str(open + end + 1, &format!("\n{style}"));
    }
    out
}

/// Every character inside a `<text>` element; none when the SVG does not
/// parse (the text then falls back to the installed font).
fn text_chars(svg: &str) -> BTreeSet<char> {
    let Ok(doc) = roxmltree::Document::parse(svg) else {
        return BTreeSet::new();
    };
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .flat_map(|n| n.descendants().filter_map(|t| t.text()))
        .flat_map(str::chars)
        .filter(|c| !c.is_control())
        .collect()
}

/// A TrueType subset of `font` with the glyphs of `chars` (and the parts of
/// composite glyphs), through skera, the fontations port of HarfBuzz's
/// subsetter: unlike the PDF-only subsetters it keeps the character map a
/// browser needs. Layout tables go: plotters lays text out without them.
/// The name table keeps IDs 0–6 (family, style, version), not the licence
/// text, which ships beside the font in `assets/fonts`.
pub(crate) fn subset(font: &[u8], chars: &BTreeSet<char>) -> Option<Vec<u8>> {
    let font = FontRef::new(font).ok()?;
    let unicodes: IntSet<u32> = chars.iter().map(|&c| u32::from(c)).collect();
    let drop_tables: IntSet<Tag> = [
        Tag::new(b"GSUB"),
        Tag::new(b"GPOS"),
        Tag::new(b"GDEF"),
        Tag::new(b"kern"),
    ]
    .into_iter()
    .collect();
    let mut name_ids = IntSet::<NameId>::empty();
    name_ids.insert_range(NameId::from(0)..=NameId::from(6));
    let mut name_languages = IntSet::<u16>::empty();
    name_languages.insert(0x0409);
    let plan = Plan::new(
        &IntSet::empty(),
        &unicodes,
        &font,
        SubsetFlags::default(),
        &drop_tables,
        &IntSet::empty(),
        &IntSet::empty(),
        &name_ids,
        &name_languages,
    );
    skera::subset_font(&font, &plan).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ab_glyph::{Font, FontRef};

    /// The subset draws each character it keeps exactly as the full font
    /// does: same advance, same outline bounds; characters it does not
    /// keep are missing from it.
    #[test]
    fn the_subset_draws_what_the_font_draws() {
        let full = FontRef::try_from_slice(FONT_BYTES).unwrap();
        let text = "What the users saw: p99 ≤ 10 µs · 60–180 s → Δ 99.9 % Åå (fi)";
        let chars: BTreeSet<char> = text.chars().collect();
        let bytes = subset(FONT_BYTES, &chars).unwrap();
        assert!(bytes.len() < 40_000, "{} bytes", bytes.len());
        let small = FontRef::try_from_slice(&bytes).unwrap();
        for c in chars {
            let (a, b) = (full.glyph_id(c), small.glyph_id(c));
            assert_ne!(a.0, 0, "{c:?} is in DejaVu Sans");
            assert_ne!(b.0, 0, "{c:?} is in the subset");
            assert_eq!(
                full.h_advance_unscaled(a),
                small.h_advance_unscaled(b),
                "{c:?}"
            );
            let bounds = |f: &FontRef<'_>, g| f.outline(g).map(|o| o.bounds);
            assert_eq!(bounds(&full, a), bounds(&small, b), "{c:?}");
        }
        assert_eq!(small.glyph_id('Z').0, 0);
        // The same characters give the same bytes.
        assert_eq!(bytes, subset(FONT_BYTES, &text.chars().collect()).unwrap());
    }

    #[test]
    fn an_svg_carries_its_glyphs_and_names_them() {
        let svg = "<?xml version=\"1.0\"?>\n<svg width=\"10\" height=\"10\" xmlns=\"http://www.w3.org/2000/svg\">\n<text x=\"1\" font-family=\"DejaVu Sans\">\na &amp; b → c\n</text>\n</svg>\n";
        assert_eq!(text_chars(svg).into_iter().collect::<String>(), " &abc→");
        let out = embed(svg);
        let doc = roxmltree::Document::parse(&out).unwrap();
        let style = doc.descendants().find(|n| n.has_tag_name("style")).unwrap();
        assert!(
            style
                .text()
                .unwrap()
                .starts_with("@font-face{font-family:\"faultline-")
        );
        let text = doc.descendants().find(|n| n.has_tag_name("text")).unwrap();
        let family = text.attribute("font-family").unwrap();
        assert!(family.starts_with("faultline-") && family.ends_with(", DejaVu Sans, sans-serif"));
    }
}
