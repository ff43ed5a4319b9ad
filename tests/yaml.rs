//! Model and scenario files in YAML: the same run as their JSON, byte for
//! byte; problems at their YAML line and column; replay from YAML inputs.

use std::fs;
use std::path::Path;

use serde_json::Value;

use crate::common::*;

/// Block-style YAML of a JSON tree: mappings and lists indented, strings
/// double-quoted (JSON's escapes are YAML's), so that the file exercises
/// YAML's own syntax rather than JSON read as YAML.
fn to_yaml(value: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, v) in map {
                out.push_str(&format!("{pad}{}:", serde_json::to_string(key).unwrap()));
                block(v, indent, out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for v in items {
                out.push_str(&format!("{pad}-"));
                block(v, indent, out);
            }
        }
        other => out.push_str(&format!("{pad}{other}\n")),
    }
}

fn block(value: &Value, indent: usize, out: &mut String) {
    match value {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            to_yaml(value, indent + 2, out);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            to_yaml(value, indent + 2, out);
        }
        other => out.push_str(&format!(" {other}\n")),
    }
}

fn yaml_of(json: &str) -> String {
    let value: Value = serde_json::from_str(json).unwrap();
    let mut out = String::from("# written from its JSON by the test\n");
    to_yaml(&value, 0, &mut out);
    out
}

/// The slow-database scenario and its model in JSON and in YAML, in one
/// scratch directory: `json/` and `yaml/`.
fn both(dir: &Path) {
    let scenario = fs::read_to_string(repo().join("scenarios/slow-database.json")).unwrap();
    let model = fs::read_to_string(repo().join("models/checkout.json")).unwrap();
    for (sub, ext) in [("json", "json"), ("yaml", "yaml")] {
        let at = dir.join(sub);
        fs::create_dir_all(&at).unwrap();
        let mut s: Value = serde_json::from_str(&scenario).unwrap();
        s["model"] = Value::String(format!("model.{ext}"));
        s.as_object_mut().unwrap().remove("$schema");
        let mut m: Value = serde_json::from_str(&model).unwrap();
        m.as_object_mut().unwrap().remove("$schema");
        let (s, m) = (s.to_string(), m.to_string());
        let (s, m) = if ext == "yaml" {
            (yaml_of(&s), yaml_of(&m))
        } else {
            (s, m)
        };
        fs::write(at.join(format!("scenario.{ext}")), s).unwrap();
        fs::write(at.join(format!("model.{ext}")), m).unwrap();
    }
}

#[test]
fn a_yaml_scenario_runs_as_its_json_byte_for_byte() {
    let dir = tempfile::tempdir().unwrap();
    both(dir.path());
    for (sub, ext) in [("json", "json"), ("yaml", "yaml")] {
        let out = faultline_in(
            &dir.path().join(sub),
            &[
                "run",
                &format!("scenario.{ext}"),
                "--out",
                "out",
                "--variant",
                "short-timeouts",
            ],
        );
        assert_eq!(
            out.status.code(),
            Some(1),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let run = |sub: &str| {
        dir.path()
            .join(sub)
            .join("out/slow-database/short-timeouts/seed-42")
    };
    for file in ["metrics.csv", "events.jsonl", "analysis.json", "report.md"] {
        assert!(
            fs::read(run("json").join(file)).unwrap() == fs::read(run("yaml").join(file)).unwrap(),
            "{file} differs"
        );
    }
    // run.json differs only in the names and hashes of the inputs.
    let manifest = |sub: &str| -> Value {
        let mut m: Value =
            serde_json::from_str(&fs::read_to_string(run(sub).join("run.json")).unwrap()).unwrap();
        for input in ["scenario", "model"] {
            m[input].as_object_mut().unwrap().retain(|k, _| k == "name");
        }
        m
    };
    assert_eq!(manifest("json"), manifest("yaml"));
    // And a run from YAML replays from its YAML files.
    let out = faultline_in(
        &dir.path().join("yaml"),
        &["replay", "out/slow-database/short-timeouts/seed-42"],
    );
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_problem_in_a_yaml_file_is_shown_at_its_yaml_line() {
    let dir = tempfile::tempdir().unwrap();
    let model = "name: m
zones: [a]
services:
  api:
    wrokers: 4
    endpoints:
      x:
        work: {constant: 1ms}
        calls:
          d: {to: api.nope, timeout: 1s}
workload:
  e: {endpoint: api.x, rate: 10/s}
";
    fs::write(dir.path().join("model.yaml"), model).unwrap();
    let out = faultline_in(dir.path(), &["validate", "model.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("model.yaml: services.api.wrokers (line 5, column 5)"),
        "{err}"
    );
    assert!(err.contains("did you mean `workers`"), "{err}");
    // Once it reads, a name that does not resolve, at its line too.
    fs::write(
        dir.path().join("model.yaml"),
        model.replace("wrokers", "workers"),
    )
    .unwrap();
    let out = faultline_in(dir.path(), &["validate", "model.yaml"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("services.api.endpoints.x.calls.d.to (line 10, column 15)"),
        "{err}"
    );
    // A YAML syntax error where the parser stopped.
    fs::write(dir.path().join("bad.yml"), "name: [m\nzones: a\n").unwrap();
    let out = faultline_in(dir.path(), &["validate", "bad.yml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("(line 2, column"));
}
