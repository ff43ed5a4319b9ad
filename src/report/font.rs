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

use ab_glyph::Font as _;
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
    let mut out = sized_as_drawn(svg).replace(
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

/// The SVG with its text sized and placed as the PNG draws it.
///
/// plotters writes an SVG's `font-size` as its size ÷ 1.24 and places the
/// baseline by `dy` (0.76 em below the anchor for text hung from its top,
/// ±0.5 ex for centred and bottom text), but draws a bitmap's glyphs with
/// ab_glyph, where the size is the font's ascent-to-descent height (so the
/// em is size × units per em ÷ height, 6 % more than size ÷ 1.24 for
/// DejaVu Sans) and the baseline lies half the size below a top anchor,
/// less half or all of the layout height (size ÷ 1.24) for a centre or
/// bottom anchor. The labels were laid out by those bitmap metrics; left
/// as written, SVG text came out 6 % smaller than the PNG's and up to a
/// fifth of its size off its line.
fn sized_as_drawn(svg: &str) -> String {
    let Ok(font) = ab_glyph::FontRef::try_from_slice(FONT_BYTES) else {
        return svg.to_string();
    };
    let Some(upem) = font.units_per_em() else {
        return svg.to_string();
    };
    // The em, per unit of plotters' size.
    let em = upem / font.height_unscaled();
    let mut out = String::with_capacity(svg.len());
    let mut rest = svg;
    while let Some(start) = rest.find("<text ") {
        let Some(len) = rest[start..].find('>') else {
            break;
        };
        out.push_str(&rest[..start]);
        let tag = &rest[start..start + len];
        let written = attribute(tag, "font-size").and_then(|v| v.parse::<f32>().ok());
        let drop = match attribute(tag, "dy") {
            Some("0.76em") => Some(0.0),
            Some("0.5ex") => Some(0.5),
            Some("-0.5ex") => Some(1.0),
            _ => None,
        };
        match (written, drop) {
            (Some(written), Some(drop)) => {
                let size = written * 1.24;
                let baseline_em = (0.5 - drop / 1.24) / em;
                let tag = replace_attribute(tag, "font-size", &format!("{}", size * em));
                out.push_str(&replace_attribute(
                    &tag,
                    "dy",
                    &format!("{baseline_em:.3}em"),
                ));
            }
            _ => out.push_str(tag),
        }
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// The value of `name="…"` in a tag.
fn attribute<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let from = tag.find(&key)? + key.len();
    let len = tag[from..].find('"')?;
    Some(&tag[from..from + len])
}

fn replace_attribute(tag: &str, name: &str, value: &str) -> String {
    match attribute(tag, name) {
        Some(old) => tag.replacen(
            &format!(" {name}=\"{old}\""),
            &format!(" {name}=\"{value}\""),
            1,
        ),
        None => tag.to_string(),
    }
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

    /// A label as wide in the SVG as in the PNG: at the font size the SVG
    /// states, its advance (in font units scaled by size ÷ units per em,
    /// as a browser lays it out) is the width ab_glyph drew it with; and
    /// its baseline lies where ab_glyph put it, half the size below a top
    /// anchor.
    #[test]
    fn svg_text_is_sized_and_placed_as_the_png_draws_it() {
        use ab_glyph::ScaleFont;
        let size = 20.0_f32;
        let label = "What the users saw: p99 60–180 s";
        let svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\">\n<text x=\"1\" y=\"2\" dy=\"0.76em\" font-family=\"DejaVu Sans\" font-size=\"{}\">{label}</text>\n</svg>",
            size / 1.24
        );
        let out = sized_as_drawn(&svg);
        let doc = roxmltree::Document::parse(&out).unwrap();
        let text = doc.descendants().find(|n| n.has_tag_name("text")).unwrap();
        let font_size: f32 = text.attribute("font-size").unwrap().parse().unwrap();
        let dy: f32 = text
            .attribute("dy")
            .unwrap()
            .strip_suffix("em")
            .unwrap()
            .parse()
            .unwrap();
        let font = FontRef::try_from_slice(FONT_BYTES).unwrap();
        let upem = font.units_per_em().unwrap();
        let advance = |f: &dyn Fn(ab_glyph::GlyphId) -> f32| {
            label.chars().map(|c| f(font.glyph_id(c))).sum::<f32>()
        };
        let browser = advance(&|g| font.h_advance_unscaled(g)) * font_size / upem;
        let scaled = font.as_scaled(size);
        let drawn = advance(&|g| scaled.h_advance(g));
        assert!(
            (browser - drawn).abs() < 0.01 * drawn,
            "{browser} vs {drawn}"
        );
        assert!((dy * font_size - size / 2.0).abs() < 0.01 * size, "{dy}em");
        // Text that is not plotters' is left alone.
        let plain = "<svg><text x=\"1\">a</text></svg>";
        assert_eq!(sized_as_drawn(plain), plain);
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
