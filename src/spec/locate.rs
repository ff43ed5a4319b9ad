//! Maps a JSON path back to a line and column of the source text, so that
//! problems found after parsing (an unknown service, a cycle) point at the
//! place in the file an editor can jump to.

use jsonc_parser::ast::Value;
use jsonc_parser::common::Ranged;
use jsonc_parser::{CollectOptions, ParseOptions, parse_to_ast};

use crate::error::{JsonPath, Segment};

/// Byte offset of the deepest node of `path` present in `text`.
fn offset_of(text: &str, path: &JsonPath) -> Option<usize> {
    let parsed = parse_to_ast(text, &CollectOptions::default(), &ParseOptions::default()).ok()?;
    let mut node = parsed.value.as_ref()?;
    let mut offset = node.start();
    for segment in &path.0 {
        match (segment, node) {
            (Segment::Key(key), Value::Object(object)) => match object.get(key) {
                Some(prop) => {
                    offset = prop.start();
                    node = &prop.value;
                }
                None => break,
            },
            (Segment::Index(index), Value::Array(array)) => match array.elements.get(*index) {
                Some(element) => {
                    offset = element.start();
                    node = element;
                }
                None => break,
            },
            _ => break,
        }
    }
    Some(offset)
}

/// 1-based (line, column) of `offset`, counting columns in characters.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column.max(1))
}

/// Line and column of the node at `path`, or of its deepest existing parent.
pub fn position_of(text: &str, path: &JsonPath) -> Option<(usize, usize)> {
    offset_of(text, path).map(|offset| line_column(text, offset))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_nested_keys_and_array_elements() {
        let text = "{\n  \"a\": {\n    \"b\": [1,\n      {\"c\": 2}]\n  }\n}";
        let path = JsonPath::root().key("a").key("b").index(1).key("c");
        assert_eq!(position_of(text, &path), Some((4, 8)));
        let missing = JsonPath::root().key("a").key("zzz");
        assert_eq!(
            position_of(text, &missing),
            Some((2, 3)),
            "falls back to the parent"
        );
    }
}
