//! Model and scenario files in YAML. A YAML file is read into the same
//! JSON tree a JSON file is, and from there on goes the same way (the same
//! types, the same checks, the same run); what YAML needs of its own is
//! the tree and where a JSON path lies in its text.
//!
//! saphyr (YAML 1.2, core schema) reads it: a plain scalar is a null, a
//! boolean, an integer or a float when it reads as one, else a string, and
//! a quoted one is always a string. Every node keeps its span, which is
//! what places a problem at its line and column. An alias (`*name`) reads
//! as a copy of its anchored value: a problem inside it has the path of the
//! place that uses it, and is shown where the anchored value is written.

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};
use serde_json::{Map, Number, Value};

use crate::error::{JsonPath, Segment};

/// A problem reading a YAML file, where it is (1-based line and column).
#[derive(Debug)]
pub(crate) struct YamlError {
    pub position: Option<(usize, usize)>,
    pub message: String,
}

fn at(node: &MarkedYaml<'_>) -> Option<(usize, usize)> {
    let start = node.span.start;
    Some((start.line(), start.col() + 1))
}

fn error(node: &MarkedYaml<'_>, message: impl Into<String>) -> YamlError {
    YamlError {
        position: at(node),
        message: message.into(),
    }
}

fn document(text: &str) -> Result<MarkedYaml<'_>, YamlError> {
    let mut documents = MarkedYaml::load_from_str(text).map_err(|e| YamlError {
        position: Some((e.marker().line(), e.marker().col() + 1)),
        message: e.info().to_string(),
    })?;
    match documents.len() {
        1 => Ok(documents.remove(0)),
        0 => Err(YamlError {
            position: None,
            message: "the file holds no YAML document".into(),
        }),
        n => Err(error(
            &documents[1],
            format!(
                "the file holds {n} YAML documents (separated by `---`); a model or a scenario is one"
            ),
        )),
    }
}

/// The JSON tree of a YAML file.
pub(crate) fn to_json(text: &str) -> Result<Value, YamlError> {
    convert(&document(text)?)
}

fn scalar(node: &MarkedYaml<'_>, value: &Scalar<'_>) -> Result<Value, YamlError> {
    Ok(match value {
        Scalar::Null => Value::Null,
        Scalar::Boolean(b) => Value::Bool(*b),
        Scalar::Integer(i) => Value::Number((*i).into()),
        Scalar::FloatingPoint(f) => Number::from_f64(f.into_inner())
            .map(Value::Number)
            .ok_or_else(|| {
                error(
                    node,
                    "infinity and NaN have no place in a model or a scenario",
                )
            })?,
        Scalar::String(s) => Value::String(s.to_string()),
    })
}

fn convert(node: &MarkedYaml<'_>) -> Result<Value, YamlError> {
    match &node.data {
        YamlData::Value(value) => scalar(node, value),
        YamlData::Representation(text, style, tag) => {
            match Scalar::parse_from_cow_and_metadata(text.clone(), *style, tag.as_ref()) {
                Some(value) => scalar(node, &value),
                None => Err(error(
                    node,
                    format!("`{text}` does not read as its tag says"),
                )),
            }
        }
        YamlData::Sequence(items) => items
            .iter()
            .map(convert)
            .collect::<Result<_, _>>()
            .map(Value::Array),
        YamlData::Mapping(entries) => {
            let mut map = Map::new();
            for (key, value) in entries {
                let name = key_text(key)?;
                if map.insert(name.clone(), convert(value)?).is_some() {
                    return Err(error(key, format!("duplicate key `{name}`")));
                }
            }
            Ok(Value::Object(map))
        }
        YamlData::Tagged(_, inner) => convert(inner),
        YamlData::Alias(_) => Err(error(
            node,
            "aliases (`*name`) are not read: write the value out where it is used",
        )),
        YamlData::BadValue => Err(error(node, "not a value")),
    }
}

/// A mapping key as the name JSON would have: its text.
fn key_text(key: &MarkedYaml<'_>) -> Result<String, YamlError> {
    match &key.data {
        YamlData::Value(Scalar::String(s)) => Ok(s.to_string()),
        YamlData::Value(Scalar::Integer(i)) => Ok(i.to_string()),
        YamlData::Value(Scalar::Boolean(b)) => Ok(b.to_string()),
        YamlData::Value(Scalar::Null) => Ok("null".into()),
        YamlData::Value(Scalar::FloatingPoint(f)) => Ok(f.to_string()),
        YamlData::Representation(text, ..) => Ok(text.to_string()),
        _ => Err(error(key, "a key must be a name, not a list or a mapping")),
    }
}

/// 1-based (line, column) of the value at `path`: of its key in a mapping
/// (where a JSON file's problem is shown too), of the item in a list; the
/// nearest enclosing one when the path goes further than the file.
pub(crate) fn position_of(text: &str, path: &JsonPath) -> Option<(usize, usize)> {
    let root = document(text).ok()?;
    let mut node = &root;
    let mut found = at(node);
    for segment in &path.0 {
        let next = match (segment, &node.data) {
            (Segment::Key(name), YamlData::Mapping(entries)) => entries
                .iter()
                .find(|(k, _)| key_text(k).is_ok_and(|k| &k == name))
                .map(|(k, v)| (at(k), v)),
            (Segment::Index(i), YamlData::Sequence(items)) => items.get(*i).map(|v| (at(v), v)),
            _ => None,
        };
        let Some((position, child)) = next else {
            break;
        };
        found = position;
        node = child;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name: m
zones: [a, b]
services:
  api:
    workers: 4
    ratio: 0.5
    quoted: \"4\"
    empty:
    endpoints:
      x: {work: {constant: 1ms}}
list:
  - one
  - two: 2
";

    #[test]
    fn a_yaml_file_reads_as_the_json_tree_it_means() {
        let value = to_json(TEXT).unwrap();
        assert_eq!(
            value,
            serde_json::json!({
                "name": "m", "zones": ["a", "b"],
                "services": {"api": {"workers": 4, "ratio": 0.5, "quoted": "4", "empty": null,
                                     "endpoints": {"x": {"work": {"constant": "1ms"}}}}},
                "list": ["one", {"two": 2}]
            })
        );
        let keys: Vec<&String> = value["services"]["api"]
            .as_object()
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            keys,
            ["workers", "ratio", "quoted", "empty", "endpoints"],
            "in file order"
        );
    }

    #[test]
    fn a_path_is_placed_at_its_key_or_item() {
        let path = |p: &[&str]| {
            JsonPath(
                p.iter()
                    .map(|s| match s.parse::<usize>() {
                        Ok(i) => Segment::Index(i),
                        Err(_) => Segment::Key(s.to_string()),
                    })
                    .collect(),
            )
        };
        assert_eq!(
            position_of(TEXT, &path(&["services", "api", "workers"])),
            Some((5, 5))
        );
        assert_eq!(
            position_of(TEXT, &path(&["services", "api", "endpoints", "x", "work"])),
            Some((10, 11))
        );
        assert_eq!(
            position_of(TEXT, &path(&["list", "1", "two"])),
            Some((13, 5))
        );
        // Past the file: the nearest enclosing key.
        assert_eq!(
            position_of(TEXT, &path(&["services", "api", "nope"])),
            Some((4, 3))
        );
    }

    #[test]
    fn what_yaml_allows_and_a_model_cannot_mean_is_refused_where_it_is() {
        let err = |text: &str| {
            to_json(text)
                .err()
                .map(|e| (e.position, e.message))
                .unwrap()
        };
        assert_eq!(
            to_json("a: &x {b: 1}\nc: *x\n").unwrap(),
            serde_json::json!({"a": {"b": 1}, "c": {"b": 1}})
        );
        assert_eq!(err("a: 1\nb: .inf\n").0, Some((2, 4)));
        assert!(err("a: 1\n---\nb: 2\n").1.contains("2 YAML documents"));
        let (position, message) = err("a: [1, 2\nb: 3\n");
        assert!(position.is_some(), "{message}");
        assert!(err("a: 1\na: 2\n").1.contains("duplicate"));
    }
}
