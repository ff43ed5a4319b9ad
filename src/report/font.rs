//! Text of an SVG chart in the bundled font. The SVG carries the glyphs it
//! uses as a small TrueType subset of DejaVu Sans in an `@font-face` rule,
//! so a browser draws the labels in the face the PNG was laid out with,
//! installed or not; a viewer that ignores the rule falls back to DejaVu
//! Sans if installed, then to any sans serif.
//!
//! The subset keeps the glyphs of the characters used (and the parts of
//! composite glyphs), renumbered from zero, with their metrics and hinting,
//! a format 4 character map, and the name table without the long licence
//! text (the licence ships beside the font in `assets/fonts`). Layout
//! tables (kerning, ligatures) are left out: plotters lays text out
//! without them. Its family name is derived from its bytes, since the four
//! charts inlined in one HTML page declare four subsets that must not
//! stand in for one another.

use std::collections::{BTreeMap, BTreeSet};

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
        base64(&subset)
    );
    if let Some(open) = out.find("<svg")
        && let Some(end) = out[open..].find('>')
    {
        out.insert_str(open + end + 1, &format!("\n{style}"));
    }
    out
}

/// Every character inside a `<text>` element, entities decoded.
fn text_chars(svg: &str) -> BTreeSet<char> {
    let mut chars = BTreeSet::new();
    let mut rest = svg;
    while let Some(start) = rest.find("<text") {
        rest = &rest[start..];
        let Some(open_end) = rest.find('>') else {
            break;
        };
        let Some(close) = rest.find("</text>") else {
            break;
        };
        if close > open_end {
            chars.extend(unescape(&rest[open_end + 1..close]).chars());
        }
        rest = &rest[close.max(open_end)..];
        rest = rest.get(1..).unwrap_or("");
    }
    chars.retain(|c| !c.is_control());
    chars
}

fn unescape(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let tail = &rest[amp..];
        let Some(semi) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = &tail[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .and_then(|h| u32::from_str_radix(h, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=semi]),
        }
        rest = &tail[semi + 1..];
    }
    out.push_str(rest);
    out
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The tables of a TrueType font by tag.
fn tables(font: &[u8]) -> Option<BTreeMap<[u8; 4], &[u8]>> {
    let count = u16_at(font, 4)? as usize;
    let mut out = BTreeMap::new();
    for k in 0..count {
        let record = 12 + 16 * k;
        let tag: [u8; 4] = font.get(record..record + 4)?.try_into().ok()?;
        let offset = u32_at(font, record + 8)? as usize;
        let length = u32_at(font, record + 12)? as usize;
        out.insert(tag, font.get(offset..offset + length)?);
    }
    Some(out)
}

/// The glyph of a character through the format 4 map (Windows, Unicode
/// BMP); 0 (the missing glyph) when it has none.
fn glyph_of(cmap: &[u8], c: char) -> Option<u16> {
    let code = u32::from(c);
    if code > 0xFFFF {
        return Some(0);
    }
    let code = code as u16;
    let count = u16_at(cmap, 2)? as usize;
    let sub = (0..count).find_map(|k| {
        let record = 4 + 8 * k;
        let (platform, encoding) = (u16_at(cmap, record)?, u16_at(cmap, record + 2)?);
        let offset = u32_at(cmap, record + 4)? as usize;
        (platform == 3 && encoding == 1 && u16_at(cmap, offset)? == 4).then_some(offset)
    })?;
    let segments = u16_at(cmap, sub + 6)? as usize / 2;
    let ends = sub + 14;
    let starts = ends + 2 * segments + 2;
    let deltas = starts + 2 * segments;
    let ranges = deltas + 2 * segments;
    for s in 0..segments {
        if code > u16_at(cmap, ends + 2 * s)? {
            continue;
        }
        let start = u16_at(cmap, starts + 2 * s)?;
        if code < start {
            return Some(0);
        }
        let delta = u16_at(cmap, deltas + 2 * s)?;
        let range = u16_at(cmap, ranges + 2 * s)? as usize;
        if range == 0 {
            return Some(code.wrapping_add(delta));
        }
        let at = ranges + 2 * s + range + 2 * (code - start) as usize;
        let glyph = u16_at(cmap, at)?;
        return Some(if glyph == 0 {
            0
        } else {
            glyph.wrapping_add(delta)
        });
    }
    Some(0)
}

/// A composite glyph's parts: `(offset of the glyph index, index)`.
fn components(glyph: &[u8]) -> Option<Vec<(usize, u16)>> {
    let mut out = Vec::new();
    if glyph.len() < 10 || (u16_at(glyph, 0)? as i16) >= 0 {
        return Some(out);
    }
    let mut at = 10;
    loop {
        let flags = u16_at(glyph, at)?;
        out.push((at + 2, u16_at(glyph, at + 2)?));
        at += 4 + if flags & 0x1 != 0 { 4 } else { 2 };
        at += if flags & 0x8 != 0 {
            2
        } else if flags & 0x40 != 0 {
            4
        } else if flags & 0x80 != 0 {
            8
        } else {
            0
        };
        if flags & 0x20 == 0 {
            return Some(out);
        }
    }
}

/// A TrueType font holding the glyphs of `chars` alone; `None` if the font
/// cannot be read as expected.
pub(crate) fn subset(font: &[u8], chars: &BTreeSet<char>) -> Option<Vec<u8>> {
    let t = tables(font)?;
    let table = |tag: &[u8; 4]| t.get(tag).copied();
    let (head, maxp, hhea, hmtx) = (
        table(b"head")?,
        table(b"maxp")?,
        table(b"hhea")?,
        table(b"hmtx")?,
    );
    let (loca, glyf, cmap) = (table(b"loca")?, table(b"glyf")?, table(b"cmap")?);
    let glyph_count = u16_at(maxp, 4)? as usize;
    let long_loca = u16_at(head, 50)? == 1;
    let offset = |g: usize| -> Option<usize> {
        if long_loca {
            Some(u32_at(loca, 4 * g)? as usize)
        } else {
            Some(2 * u16_at(loca, 2 * g)? as usize)
        }
    };
    let glyph = |g: usize| -> Option<&[u8]> {
        if g >= glyph_count {
            return None;
        }
        glyf.get(offset(g)?..offset(g + 1)?)
    };

    // The glyphs needed: the missing glyph, each character's, and the
    // parts of composites, to any depth.
    let mut char_glyphs: Vec<(char, u16)> = Vec::new();
    let mut needed: BTreeSet<u16> = BTreeSet::from([0]);
    for c in chars {
        let g = glyph_of(cmap, *c)?;
        if g != 0 {
            char_glyphs.push((*c, g));
            needed.insert(g);
        }
    }
    let mut todo: Vec<u16> = needed.iter().copied().collect();
    while let Some(g) = todo.pop() {
        for (_, part) in components(glyph(g as usize)?)? {
            if needed.insert(part) {
                todo.push(part);
            }
        }
    }
    let order: Vec<u16> = needed.into_iter().collect();
    let new_id: BTreeMap<u16, u16> = order
        .iter()
        .enumerate()
        .map(|(k, g)| (*g, k as u16))
        .collect();

    let mut new_glyf = Vec::new();
    let mut new_loca = Vec::new();
    let mut new_hmtx = Vec::new();
    let metrics = u16_at(hhea, 34)? as usize;
    for g in &order {
        new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());
        let mut data = glyph(*g as usize)?.to_vec();
        for (at, part) in components(&data)? {
            data[at..at + 2].copy_from_slice(&new_id.get(&part)?.to_be_bytes());
        }
        new_glyf.extend_from_slice(&data);
        while new_glyf.len() % 4 != 0 {
            new_glyf.push(0);
        }
        let g = *g as usize;
        let advance = u16_at(hmtx, 4 * g.min(metrics - 1))?;
        let bearing = if g < metrics {
            u16_at(hmtx, 4 * g + 2)?
        } else {
            u16_at(hmtx, 4 * metrics + 2 * (g - metrics))?
        };
        new_hmtx.extend_from_slice(&advance.to_be_bytes());
        new_hmtx.extend_from_slice(&bearing.to_be_bytes());
    }
    new_loca.extend_from_slice(&(new_glyf.len() as u32).to_be_bytes());
    let count = order.len() as u16;

    let mut new_head = head.to_vec();
    new_head[8..12].copy_from_slice(&[0; 4]);
    new_head[50..52].copy_from_slice(&1u16.to_be_bytes());
    let mut new_maxp = maxp.to_vec();
    new_maxp[4..6].copy_from_slice(&count.to_be_bytes());
    let mut new_hhea = hhea.to_vec();
    new_hhea[34..36].copy_from_slice(&count.to_be_bytes());
    let mut new_post = table(b"post")?.get(..32)?.to_vec();
    new_post[0..4].copy_from_slice(&0x0003_0000u32.to_be_bytes());
    let mapped: Vec<(u16, u16)> = char_glyphs
        .iter()
        .map(|(c, g)| Some((u32::from(*c) as u16, *new_id.get(g)?)))
        .collect::<Option<_>>()?;

    let mut out_tables: Vec<([u8; 4], Vec<u8>)> = vec![
        (*b"cmap", cmap4(&mapped)),
        (*b"glyf", new_glyf),
        (*b"head", new_head),
        (*b"hhea", new_hhea),
        (*b"hmtx", new_hmtx),
        (*b"loca", new_loca),
        (*b"maxp", new_maxp),
        (*b"name", names(table(b"name")?)?),
        (*b"post", new_post),
    ];
    for tag in [b"OS/2", b"cvt ", b"fpgm", b"gasp", b"prep"] {
        if let Some(t) = table(tag) {
            out_tables.push((*tag, t.to_vec()));
        }
    }
    out_tables.sort_by_key(|t| t.0);
    Some(assemble(&out_tables))
}

/// A `cmap` with one format 4 subtable, a segment per character.
fn cmap4(mapped: &[(u16, u16)]) -> Vec<u8> {
    let mut segments: Vec<(u16, u16, u16)> = mapped
        .iter()
        .map(|(c, g)| (*c, *c, g.wrapping_sub(*c)))
        .collect();
    segments.push((0xFFFF, 0xFFFF, 1));
    let n = segments.len() as u16;
    let search = 2 * (1u16 << (15 - n.leading_zeros() as u16));
    let selector = (search / 2).trailing_zeros() as u16;
    let mut sub = Vec::new();
    let length = 16 + 8 * n;
    for v in [4, length, 0, 2 * n, search, selector, 2 * n - search] {
        sub.extend_from_slice(&v.to_be_bytes());
    }
    for s in &segments {
        sub.extend_from_slice(&s.1.to_be_bytes());
    }
    sub.extend_from_slice(&0u16.to_be_bytes());
    for s in &segments {
        sub.extend_from_slice(&s.0.to_be_bytes());
    }
    for s in &segments {
        sub.extend_from_slice(&s.2.to_be_bytes());
    }
    for _ in &segments {
        sub.extend_from_slice(&0u16.to_be_bytes());
    }
    let mut out = Vec::new();
    for v in [0u16, 1, 3, 1] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    out.extend_from_slice(&12u32.to_be_bytes());
    out.extend(sub);
    out
}

/// The name table without its licence description (name 13), which is
/// most of its bytes; the licence's address (name 14) stays.
fn names(name: &[u8]) -> Option<Vec<u8>> {
    let count = u16_at(name, 2)? as usize;
    let strings = u16_at(name, 4)? as usize;
    let mut records = Vec::new();
    let mut storage: Vec<u8> = Vec::new();
    for k in 0..count {
        let r = 6 + 12 * k;
        if u16_at(name, r + 6)? == 13 {
            continue;
        }
        let length = u16_at(name, r + 8)? as usize;
        let offset = u16_at(name, r + 10)? as usize;
        let text = name.get(strings + offset..strings + offset + length)?;
        records.extend_from_slice(name.get(r..r + 8)?);
        records.extend_from_slice(&(length as u16).to_be_bytes());
        records.extend_from_slice(&(storage.len() as u16).to_be_bytes());
        storage.extend_from_slice(text);
    }
    let kept = (records.len() / 12) as u16;
    let mut out = Vec::new();
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&kept.to_be_bytes());
    out.extend_from_slice(&(6 + 12 * kept).to_be_bytes());
    out.extend(records);
    out.extend(storage);
    Some(out)
}

fn checksum(data: &[u8]) -> u32 {
    data.chunks(4).fold(0u32, |sum, chunk| {
        let mut word = [0u8; 4];
        word[..chunk.len()].copy_from_slice(chunk);
        sum.wrapping_add(u32::from_be_bytes(word))
    })
}

/// The font file: the table directory, then each table on a four-byte
/// boundary, with checksums and `head`'s whole-file adjustment.
fn assemble(tables: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let n = tables.len() as u16;
    let search = 16 * (1u16 << (15 - n.leading_zeros() as u16));
    let selector = (search / 16).trailing_zeros() as u16;
    let mut out = Vec::new();
    out.extend_from_slice(&0x0001_0000u32.to_be_bytes());
    for v in [n, search, selector, 16 * n - search] {
        out.extend_from_slice(&v.to_be_bytes());
    }
    let mut offset = 12 + 16 * tables.len();
    let mut head_at = None;
    for (tag, data) in tables {
        out.extend_from_slice(tag);
        out.extend_from_slice(&checksum(data).to_be_bytes());
        out.extend_from_slice(&(offset as u32).to_be_bytes());
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        if tag == b"head" {
            head_at = Some(offset);
        }
        offset += data.len().div_ceil(4) * 4;
    }
    for (_, data) in tables {
        out.extend_from_slice(data);
        while out.len() % 4 != 0 {
            out.push(0);
        }
    }
    if let Some(at) = head_at {
        let adjustment = 0xB1B0_AFBAu32.wrapping_sub(checksum(&out));
        out[at + 8..at + 12].copy_from_slice(&adjustment.to_be_bytes());
    }
    out
}

fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * k)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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

    #[test]
    fn base64_pads_as_the_standard_says() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }
}
