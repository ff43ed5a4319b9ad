//! The command line as a user meets it: exit codes (0 ok, 2 bad input),
//! error messages that name the file, the JSON path and the line and column,
//! nothing written on bad input, and the output of every subcommand.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use tempfile::TempDir;

use crate::common::*;

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Runs the binary in `dir` and fails the test unless it exits with `code`.
fn expect_exit(dir: &Path, args: &[&str], code: i32) -> Output {
    let output = faultline_in(dir, args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "faultline {args:?}: unexpected exit code\nstdout:\n{}\nstderr:\n{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// Every file under `dir`, recursively (none if `dir` does not exist).
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    if let Ok(read) = fs::read_dir(dir) {
        for entry in read {
            let path = entry.unwrap().path();
            if path.is_dir() {
                files.extend(files_under(&path));
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

/// `text` with `from` replaced by `to`; `from` must occur exactly once.
fn edit(text: &str, from: &str, to: &str) -> String {
    assert_eq!(text.matches(from).count(), 1, "`{from}` occurs once");
    text.replace(from, to)
}

/// 1-based (line, column) of the first occurrence of `needle` in `text`.
fn position_in(text: &str, needle: &str) -> (usize, usize) {
    let offset = text
        .find(needle)
        .unwrap_or_else(|| panic!("`{needle}` not in the text"));
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let column = before[before.rfind('\n').map_or(0, |i| i + 1)..]
        .chars()
        .count()
        + 1;
    (line, column)
}

/// The (line, column) that stderr reports for `file` and JSON `path`, from a
/// message of the form "FILE: PATH (line L, column C): ...".
fn reported_position(stderr: &str, file: &str, path: &str) -> (usize, usize) {
    let prefix = format!("{file}: {path} (line ");
    let start = stderr
        .find(&prefix)
        .unwrap_or_else(|| panic!("no position for {file}: {path} in:\n{stderr}"))
        + prefix.len();
    let rest = &stderr[start..];
    let (line, rest) = rest.split_once(", column ").expect("a column follows");
    let (column, _) = rest.split_once(')').expect("the position closes");
    (line.parse().unwrap(), column.parse().unwrap())
}

/// A minimal valid model; the bad-input tests each change one thing.
const MODEL: &str = r#"{
  "name": "m",
  "zones": ["a"],
  "services": {
    "api": {
      "workers": 4,
      "endpoints": { "x": { "work": { "constant": "1ms" } } }
    }
  },
  "workload": { "e": { "endpoint": "api.x", "rate": "10/s" } }
}
"#;

/// A scenario over `model.json` beside it.
const SCENARIO: &str = r#"{
  "name": "s",
  "model": "model.json",
  "duration": "10s",
  "seed": 1
}
"#;

/// A scratch directory with `model.json` and `scenario.json`.
fn inputs(model: &str, scenario: &str) -> TempDir {
    let dir = tempfile::tempdir().expect("a scratch directory");
    fs::write(dir.path().join("model.json"), model).unwrap();
    fs::write(dir.path().join("scenario.json"), scenario).unwrap();
    dir
}

/// Checks that `validate` of each of `files` and `run scenario.json` all
/// exit 2 with every `expected` fragment on stderr, and that `run` writes
/// nothing; returns the stderr of `validate` on the first file.
fn assert_rejected(dir: &Path, files: &[&str], expected: &[&str]) -> String {
    let mut first = None;
    for file in files {
        let output = expect_exit(dir, &["validate", file], 2);
        let err = stderr(&output);
        for fragment in expected {
            assert!(
                err.contains(fragment),
                "validate {file}: `{fragment}` missing from stderr:\n{err}"
            );
        }
        assert!(
            !stdout(&output).contains("ok:"),
            "validate {file} printed ok:\n{}",
            stdout(&output)
        );
        first.get_or_insert(err);
    }
    let out = dir.join("out");
    let output = expect_exit(dir, &["run", "scenario.json", "--out", "out"], 2);
    let err = stderr(&output);
    for fragment in expected {
        assert!(
            err.contains(fragment),
            "run: `{fragment}` missing from stderr:\n{err}"
        );
    }
    assert!(
        files_under(&out).is_empty(),
        "run on bad input wrote {:?}",
        files_under(&out)
    );
    assert!(
        !stdout(&output).contains("wrote"),
        "run on bad input claims to have written:\n{}",
        stdout(&output)
    );
    first.expect("at least one file")
}

/// A bad model: `validate model.json`, `validate scenario.json` (which
/// checks its model) and `run scenario.json` must all reject it.
fn assert_model_rejected(model: &str, expected: &[&str]) -> String {
    let dir = inputs(model, SCENARIO);
    assert_rejected(dir.path(), &["model.json", "scenario.json"], expected)
}

/// A bad scenario over a good model.
fn assert_scenario_rejected(scenario: &str, expected: &[&str]) -> String {
    let dir = inputs(MODEL, scenario);
    assert_rejected(dir.path(), &["scenario.json"], expected)
}

// ---------------------------------------------------------------- validate

#[test]
fn validate_accepts_the_shipped_model_and_scenario() {
    let output = expect_exit(
        &repo(),
        &["validate", "models/shop.json", "scenarios/shop-steady.json"],
        0,
    );
    let out = stdout(&output);
    assert!(out.contains("ok: models/shop.json"), "{out}");
    assert!(out.contains("ok: scenarios/shop-steady.json"), "{out}");
}

#[test]
fn every_shipped_model_and_scenario_validates() {
    let files: Vec<String> = ["models", "scenarios"]
        .iter()
        .flat_map(|dir| files_under(&repo().join(dir)))
        .filter(|f| f.extension().is_some_and(|e| e == "json"))
        .map(|f| {
            f.strip_prefix(repo())
                .unwrap()
                .to_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert!(
        files.iter().any(|f| f.starts_with("models/bench/"))
            && files.iter().any(|f| f.starts_with("scenarios/bench/")),
        "the walk reaches the bench subdirectories: {files:?}"
    );
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let output = expect_exit(&repo(), &args, 0);
    let out = stdout(&output);
    for file in &files {
        assert!(out.contains(&format!("ok: {file}: ")), "{file}:\n{out}");
    }
}

#[test]
fn the_minimal_test_inputs_are_valid_and_run() {
    // The control for the bad-input tests below: each changes one thing.
    let dir = inputs(MODEL, SCENARIO);
    expect_exit(dir.path(), &["validate", "model.json", "scenario.json"], 0);
    let output = expect_exit(dir.path(), &["run", "scenario.json", "--out", "out"], 0);
    assert!(stdout(&output).contains("wrote out/s/baseline/seed-1/"));
    assert_eq!(files_under(&dir.path().join("out")).len(), 14);
}

#[test]
fn misspelt_field_is_rejected_with_path_position_and_suggestion() {
    let model = edit(MODEL, r#""workers": 4"#, r#""wrokers": 4"#);
    let err = assert_model_rejected(
        &model,
        &[
            "model.json: services.api.wrokers (line 6, column ",
            "unknown field `wrokers`",
            "did you mean `workers`",
        ],
    );
    // serde reports where it stopped reading: on the misspelt key.
    let (line, column) = reported_position(&err, "model.json", "services.api.wrokers");
    let (key_line, key_column) = position_in(&model, r#""wrokers""#);
    assert_eq!(line, key_line);
    assert!(
        (key_column..key_column + r#""wrokers""#.len()).contains(&column),
        "column {column} is not on the key (columns {key_column}..): {err}"
    );
}

/// A gateway whose checkout calls `orders.create`, with room for typos.
const GATEWAY_MODEL: &str = r#"{
  "name": "m",
  "zones": ["a"],
  "services": {
    "gateway": {
      "workers": 4,
      "endpoints": {
        "checkout": {
          "work": { "constant": "1ms" },
          "calls": {
            "create-order": { "to": "orders.create" },
            "notify": { "to": "orders.create" }
          }
        }
      }
    },
    "orders": {
      "workers": 4,
      "endpoints": { "create": { "work": { "constant": "1ms" } } }
    }
  },
  "workload": { "checkout": { "endpoint": "gateway.checkout", "rate": "10/s" } }
}
"#;

#[test]
fn unknown_endpoint_reference_is_rejected_with_exact_position_and_suggestion() {
    let model = edit(
        GATEWAY_MODEL,
        r#""create-order": { "to": "orders.create" }"#,
        r#""create-order": { "to": "orders.craete" }"#,
    );
    let path = "services.gateway.endpoints.checkout.calls.create-order.to";
    let err = assert_model_rejected(
        &model,
        &[
            &format!("model.json: {path} (line "),
            "no endpoint `craete`",
            "did you mean `orders.create`",
        ],
    );
    // The position is that of the `"to"` key in the text above: line 11,
    // column 31.
    let expected = position_in(&model, r#""to": "orders.craete""#);
    assert_eq!(expected, (11, 31));
    assert_eq!(reported_position(&err, "model.json", path), expected);
    assert!(
        err.contains(&format!("model.json: {path} (line 11, column 31): ")),
        "{err}"
    );
}

#[test]
fn call_graph_cycle_is_rejected_naming_both_endpoints() {
    let model = r#"{
  "name": "m",
  "zones": ["a"],
  "services": {
    "a": { "workers": 4, "endpoints": { "x": { "work": { "constant": "1ms" }, "calls": { "c": { "to": "b.y" } } } } },
    "b": { "workers": 4, "endpoints": { "y": { "work": { "constant": "1ms" }, "calls": { "c": { "to": "a.x" } } } } }
  },
  "workload": { "e": { "endpoint": "a.x", "rate": "10/s" } }
}
"#;
    let err = assert_model_rejected(model, &["model.json: services.", "cycle"]);
    assert!(
        err.contains("a.x → b.y → a.x") || err.contains("b.y → a.x → b.y"),
        "the cycle is spelt out as a path: {err}"
    );
    // Reported at one endpoint of the cycle, on the line that defines it.
    let (path, line) = if err.contains("model.json: services.a.endpoints.x ") {
        ("services.a.endpoints.x", 5)
    } else {
        ("services.b.endpoints.y", 6)
    };
    assert_eq!(reported_position(&err, "model.json", path).0, line, "{err}");
}

#[test]
fn malformed_duration_is_rejected_at_its_path() {
    let model = edit(MODEL, r#""1ms""#, r#""5 sekunden""#);
    let err = assert_model_rejected(
        &model,
        &[
            "model.json: services.api.endpoints.x.work.constant (line 7, column ",
            "expected a duration",
            "5 sekunden",
        ],
    );
    let (line, _) = reported_position(&err, "model.json", "services.api.endpoints.x.work.constant");
    assert_eq!(line, position_in(&model, "5 sekunden").0);
}

#[test]
fn negative_duration_is_rejected_in_a_model() {
    let model = edit(MODEL, r#""1ms""#, r#""-5s""#);
    assert_model_rejected(
        &model,
        &[
            "model.json: services.api.endpoints.x.work.constant (line 7, column ",
            "cannot be negative",
            "-5s",
        ],
    );
}

#[test]
fn negative_duration_is_rejected_in_a_scenario() {
    let scenario = edit(SCENARIO, r#""10s""#, r#""-5s""#);
    assert_scenario_rejected(
        &scenario,
        &[
            "scenario.json: duration (line 4, column ",
            "cannot be negative",
        ],
    );
}

#[test]
fn zero_workers_are_rejected() {
    let model = edit(MODEL, r#""workers": 4"#, r#""workers": 0"#);
    let err = assert_model_rejected(
        &model,
        &[
            "model.json: services.api.workers (line 6, column 7)",
            "found 0",
        ],
    );
    assert_eq!(
        reported_position(&err, "model.json", "services.api.workers"),
        position_in(&model, r#""workers": 0"#)
    );
}

#[test]
fn scenario_naming_a_missing_model_is_rejected() {
    let scenario = edit(SCENARIO, r#""model.json""#, r#""missing/model.json""#);
    let err = assert_scenario_rejected(
        &scenario,
        &[
            "scenario.json: model (line 3, column 3)",
            "missing/model.json",
            "relative to the scenario file",
        ],
    );
    assert_eq!(
        reported_position(&err, "scenario.json", "model"),
        position_in(&scenario, r#""model""#)
    );
}

#[test]
fn invalid_json_syntax_is_rejected_with_exact_position() {
    // A missing comma after "zones": serde stops at the next key.
    let model = edit(MODEL, r#""zones": ["a"],"#, r#""zones": ["a"]"#);
    let err = assert_model_rejected(&model, &["model.json: ", "expected `,` or `}`"]);
    let expected = position_in(&model, r#""services""#);
    assert_eq!(expected, (4, 3));
    assert!(
        err.contains("(line 4, column 3): expected `,` or `}`"),
        "{err}"
    );
}

#[test]
fn file_that_does_not_exist_is_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let output = expect_exit(dir.path(), &["validate", "nothere.json"], 2);
    assert!(
        stderr(&output).contains("nothere.json: cannot read"),
        "{}",
        stderr(&output)
    );
    let output = expect_exit(dir.path(), &["run", "nothere.json", "--out", "out"], 2);
    assert!(
        stderr(&output).contains("nothere.json: cannot read"),
        "{}",
        stderr(&output)
    );
    assert!(files_under(dir.path()).is_empty(), "nothing is written");
    let output = expect_exit(dir.path(), &["graph", "nothere.json"], 2);
    assert!(stdout(&output).is_empty());
}

#[test]
fn every_problem_in_a_file_is_reported_in_one_run() {
    let model = edit(
        &edit(
            GATEWAY_MODEL,
            r#""create-order": { "to": "orders.create" }"#,
            r#""create-order": { "to": "orders.craete" }"#,
        ),
        r#""notify": { "to": "orders.create" }"#,
        r#""notify": { "to": "ordres.create" }"#,
    );
    let err = assert_model_rejected(
        &model,
        &[
            "model.json: services.gateway.endpoints.checkout.calls.create-order.to (line 11,",
            "model.json: services.gateway.endpoints.checkout.calls.notify.to (line 12,",
            "unknown service `ordres`",
            "2 problems found",
        ],
    );
    assert_eq!(
        err.matches("did you mean `orders.create`").count(),
        2,
        "{err}"
    );
}

#[test]
fn problems_of_different_kinds_are_all_reported() {
    let model = edit(
        &edit(
            &edit(
                GATEWAY_MODEL,
                "\"gateway\": {\n      \"workers\": 4",
                "\"gateway\": {\n      \"workers\": 0",
            ),
            r#""endpoint": "gateway.checkout""#,
            r#""endpoint": "gateway.chekout""#,
        ),
        r#""notify": { "to": "orders.create" }"#,
        r#""notify": { "to": "orders.create", "probability": 1.5 }"#,
    );
    assert_model_rejected(
        &model,
        &[
            "services.gateway.workers (line 6,",
            "workload.checkout.endpoint (line 22,",
            "did you mean `gateway.checkout`",
            "services.gateway.endpoints.checkout.calls.notify.probability",
            "3 problems found",
        ],
    );
}

/// A typo does not hide the problems after it: every structural problem
/// of a file is reported in one pass, each at its own line.
#[test]
fn every_structural_problem_is_reported_at_once() {
    let model = r#"{
  "name": "m",
  "zones": ["a"],
  "services": {
    "api": {
      "wrokers": 4,
      "endpoints": { "x": { "work": { "constant": "1ms" }, "calls": { "d": { "to": "db.q", "timeout": "2 sekonds" } } } }
    },
    "db": {
      "queue": "many",
      "endpoints": { "q": { "work": { "constant": "1ms" } } }
    }
  },
  "workload": { "e": { "endpoint": "api.x", "rate": "10/s" } }
}
"#;
    let stderr = assert_model_rejected(
        model,
        &[
            "services.api.wrokers (line 6,",
            "did you mean `workers`",
            "services.api.endpoints.x.calls.d.timeout (line 7,",
            "services.db.queue (line 10,",
            "3 problems found",
        ],
    );
    // A field taken out to read on is not reported missing.
    assert!(!stderr.contains("missing field"), "{stderr}");
    let scenario = r#"{
  "name": "s",
  "model": "model.json",
  "duraton": "10s",
  "faults": {
    "k": { "kind": "instance_kil", "target": "api" },
    "z": { "kind": "zone_outage", "zone": "a", "at": "6O s", "for": "PT2M" }
  }
}
"#;
    assert_scenario_rejected(
        scenario,
        &[
            "duraton (line 4,",
            "faults.k.kind (line 6,",
            "did you mean `instance_kill`",
            "faults.z.at (line 7,",
            "3 problems found",
        ],
    );
}

/// A scenario with a syntax error is reported as one, where the parser
/// stopped, not as a model with an unknown field `model`.
#[test]
fn validate_reports_a_scenario_syntax_error_where_it_is() {
    let scenario =
        "{\n  \"name\": \"s\",\n  \"model\": \"model.json\",,\n  \"duration\": \"10s\"\n}\n";
    let stderr = assert_scenario_rejected(scenario, &["(line 3, column 2"]);
    assert!(!stderr.contains("unknown field"), "{stderr}");
}

#[test]
fn validate_checks_every_file_given_and_fails_if_any_is_bad() {
    let dir = inputs(&edit(MODEL, r#""workers": 4"#, r#""workers": 0"#), SCENARIO);
    fs::write(dir.path().join("good.json"), MODEL).unwrap();
    let output = expect_exit(
        dir.path(),
        &["validate", "good.json", "model.json", "good.json"],
        2,
    );
    assert_eq!(stdout(&output).matches("ok: good.json").count(), 2);
    assert!(stderr(&output).contains("model.json: services.api.workers"));
}

// -------------------------------------------------------------------- lint

/// Every shipped model and scenario (the benchmark set too) is clean at
/// `--deny warnings`, or carries an allowance that says why.
#[test]
fn the_shipped_files_lint_clean_or_say_why() {
    let mut files = Vec::new();
    for dir in ["models", "models/bench", "scenarios", "scenarios/bench"] {
        for entry in fs::read_dir(repo().join(dir)).unwrap().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") {
                files.push(format!("{dir}/{name}"));
            }
        }
    }
    files.sort();
    assert!(files.len() >= 20, "{files:?}");
    let mut args = vec!["lint", "--deny", "warnings", "--format", "json"];
    args.extend(files.iter().map(String::as_str));
    let output = expect_exit(&repo(), &args, 0);
    let findings: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    for f in findings.as_array().unwrap() {
        let because = f["allowed"]
            .as_str()
            .unwrap_or_else(|| panic!("not allowed: {f}"));
        assert!(because.len() > 20, "a reason, in a sentence: {f}");
    }
}

/// Findings at or above `--deny` exit 1, each at its line with why and
/// what to change; `run` names them before it simulates; bad input is 2.
#[test]
fn lint_finds_the_traps_of_a_design_that_validates() {
    let model = edit(
        MODEL,
        r#""workers": 4"#,
        r#""workers": 4, "instances": {"count": 1}"#,
    );
    let model = edit(
        &model,
        r#""rate": "10/s""#,
        r#""rate": "10/s", "timeout": "5s""#,
    );
    let dir = inputs(&model, SCENARIO);
    let output = expect_exit(dir.path(), &["lint", "model.json"], 0);
    let text = stdout(&output);
    assert!(
        text.contains("warning[L101 single-instance]: model.json:6:"),
        "{text}"
    );
    assert!(text.contains("fix: run two or more instances"), "{text}");
    assert!(text.contains("lint: 1 warning"), "{text}");
    expect_exit(dir.path(), &["lint", "--deny", "warnings", "model.json"], 1);
    expect_exit(
        dir.path(),
        &["lint", "--deny", "warnings", "scenario.json"],
        1,
    );
    let json = stdout(&expect_exit(
        dir.path(),
        &["lint", "--format", "json", "model.json"],
        0,
    ));
    let findings: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(findings[0]["code"], "L101");
    assert_eq!(findings[0]["path"], "services.api.instances");
    assert_eq!(findings[0]["severity"], "warning");
    let run = expect_exit(dir.path(), &["run", "scenario.json", "--out", "out"], 0);
    assert!(
        stderr(&run).contains("warning L101 single-instance: services.api.instances"),
        "{}",
        stderr(&run)
    );
    fs::write(dir.path().join("bad.json"), "{").unwrap();
    expect_exit(dir.path(), &["lint", "bad.json"], 2);
    let rules = stdout(&expect_exit(dir.path(), &["lint", "--rules"], 0));
    assert!(rules.contains("L301 retry-amplification"), "{rules}");
}

// ------------------------------------------------------------------- graph

fn shop_service_names() -> Vec<String> {
    let text = fs::read_to_string(repo().join("models/shop.json")).unwrap();
    let model: serde_json::Value = serde_json::from_str(&text).unwrap();
    model["services"]
        .as_object()
        .expect("services is an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn graph_prints_a_dot_digraph_of_every_service_and_call() {
    let output = expect_exit(
        &repo(),
        &["graph", "models/shop.json", "--format", "dot"],
        0,
    );
    let dot = stdout(&output);
    assert!(dot.trim_start().starts_with("digraph"), "{dot}");
    assert!(dot.trim_end().ends_with('}'), "{dot}");
    let names = shop_service_names();
    assert_eq!(names.len(), 8);
    for name in &names {
        assert!(
            dot.contains(&format!("\"{name}\"")),
            "{name} missing:\n{dot}"
        );
    }
    for edge in [
        "\"gateway\" -> \"orders\"",
        "\"gateway\" -> \"users\"",
        "\"orders\" -> \"payment\"",
        "\"payment\" -> \"card-processor\"",
    ] {
        assert!(dot.contains(edge), "{edge} missing:\n{dot}");
    }
    assert!(!dot.contains("\"orders\" -> \"gateway\""), "{dot}");
    // dot is the default format.
    let default = expect_exit(&repo(), &["graph", "models/shop.json"], 0);
    assert_eq!(stdout(&default), dot);
}

#[test]
fn graph_prints_a_mermaid_flowchart() {
    let output = expect_exit(
        &repo(),
        &["graph", "models/shop.json", "--format", "mermaid"],
        0,
    );
    let mermaid = stdout(&output);
    assert!(mermaid.starts_with("flowchart LR"), "{mermaid}");
    for name in shop_service_names() {
        assert!(mermaid.contains(&name), "{name} missing:\n{mermaid}");
    }
    assert!(mermaid.contains("-->"), "{mermaid}");
}

#[test]
fn graph_of_a_scenario_draws_its_model() {
    for format in ["dot", "mermaid"] {
        let of_model = expect_exit(
            &repo(),
            &["graph", "models/shop.json", "--format", format],
            0,
        );
        let of_scenario = expect_exit(
            &repo(),
            &["graph", "scenarios/shop-steady.json", "--format", format],
            0,
        );
        assert_eq!(stdout(&of_scenario), stdout(&of_model), "{format}");
    }
}

#[test]
fn graph_rejects_an_invalid_model_and_an_unknown_format() {
    let dir = inputs(&edit(MODEL, r#""workers": 4"#, r#""workers": 0"#), SCENARIO);
    let output = expect_exit(dir.path(), &["graph", "model.json"], 2);
    assert!(stderr(&output).contains("model.json: services.api.workers"));
    assert!(stdout(&output).is_empty());
    let output = expect_exit(
        &repo(),
        &["graph", "models/shop.json", "--format", "png"],
        2,
    );
    assert!(stdout(&output).is_empty());
}

// ------------------------------------------------------------------ schema

fn schema(args: &[&str]) -> serde_json::Value {
    let output = expect_exit(&repo(), args, 0);
    serde_json::from_str(&stdout(&output))
        .unwrap_or_else(|e| panic!("faultline {args:?} printed invalid JSON: {e}"))
}

#[test]
fn schema_model_is_json_describing_services_and_workload() {
    let schema = schema(&["schema", "model"]);
    for property in ["services", "workload", "zones", "name"] {
        assert!(
            schema["properties"][property].is_object(),
            "no property {property}"
        );
    }
    let required = schema["required"].as_array().expect("required fields");
    assert!(required.contains(&"services".into()));
}

#[test]
fn schema_scenario_is_json_describing_duration_and_seed() {
    let schema = schema(&["schema", "scenario"]);
    for property in ["duration", "seed", "model", "name"] {
        assert!(
            schema["properties"][property].is_object(),
            "no property {property}"
        );
    }
}

#[test]
fn schema_without_kind_accepts_either_file() {
    let schema = schema(&["schema"]);
    let any_of = schema["anyOf"].as_array().expect("an anyOf schema");
    assert_eq!(any_of.len(), 2);
    assert!(any_of[0]["properties"]["services"].is_object());
    assert!(any_of[1]["properties"]["duration"].is_object());
}

// --------------------------------------------------------------------- run

#[test]
fn demo_run_writes_its_run_directory_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let output = expect_exit(dir.path(), &["run"], 0);
    let out = stdout(&output);
    assert!(
        out.contains("wrote output/slow-database/baseline/seed-42/"),
        "{out}"
    );
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("entry"))
        .take_while(|l| !l.is_empty())
        .collect();
    assert!(
        table[0].contains("requests") && table[0].contains("p99 ms"),
        "{out}"
    );
    assert!(table.iter().any(|l| l.starts_with("product ")), "{out}");
    assert!(table.iter().any(|l| l.starts_with("checkout ")), "{out}");

    let run_dir = dir.path().join("output/slow-database/baseline/seed-42");
    for file in [
        "run.json",
        "metrics.csv",
        "events.jsonl",
        "analysis.json",
        "report.html",
    ] {
        assert!(run_dir.join(file).is_file(), "{file} missing");
    }
    let compare_dir = dir.path().join("output/slow-database/compare");
    for file in ["compare.json", "compare.csv", "runs.csv", "report.html"] {
        assert!(compare_dir.join(file).is_file(), "compare/{file} missing");
    }
    assert_eq!(
        files_under(dir.path()).len(),
        14 + 11,
        "the run and the comparison, nothing else"
    );

    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(run_dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(manifest["seed"], 42);
    assert!(manifest["entries"]["product"]["requests"].as_u64() > Some(0));
    assert!(manifest["entries"]["checkout"]["requests"].as_u64() > Some(0));

    for line in fs::read_to_string(run_dir.join("events.jsonl"))
        .unwrap()
        .lines()
    {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("events.jsonl line is not JSON ({e}): {line}"));
    }
}

#[test]
fn metrics_csv_rows_have_as_many_columns_as_the_header() {
    let dir = tempfile::tempdir().unwrap();
    expect_exit(dir.path(), &["run"], 0);
    let csv = fs::read_to_string(
        dir.path()
            .join("output/slow-database/baseline/seed-42/metrics.csv"),
    )
    .unwrap();
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().expect("a header").split(',').collect();
    for column in ["window_start_s", "component", "arrivals", "latency_p99_ms"] {
        assert!(header.contains(&column), "no column {column}: {header:?}");
    }
    let mut rows = 0;
    for (i, line) in lines.enumerate() {
        assert_eq!(
            line.split(',').count(),
            header.len(),
            "line {} has another column count: {line}",
            i + 2
        );
        rows += 1;
    }
    assert!(rows > 300, "one row per window and component, found {rows}");
}

#[test]
fn run_of_a_scenario_file_writes_under_out() {
    let dir = inputs(MODEL, SCENARIO);
    let output = expect_exit(
        dir.path(),
        &["run", "scenario.json", "--seed", "9", "--out", "results"],
        0,
    );
    assert!(stdout(&output).contains("wrote results/s/baseline/seed-9/"));
    assert!(!stdout(&output).contains("built-in demo"));
    let written: Vec<PathBuf> = files_under(dir.path())
        .into_iter()
        .map(|f| f.strip_prefix(dir.path()).unwrap().to_path_buf())
        .collect();
    let mut expected: Vec<PathBuf> = ["analysis.json", "events.jsonl", "metrics.csv", "run.json"]
        .into_iter()
        .chain(faultline::report::RUN_REPORT_FILES)
        .map(|f| PathBuf::from("results/s/baseline/seed-9").join(f))
        .chain(["model.json", "scenario.json"].map(PathBuf::from))
        .collect();
    expected.sort();
    assert_eq!(written, expected);
}

#[test]
fn run_of_a_model_file_is_rejected() {
    // `run` takes a scenario; a model given by mistake writes nothing.
    let dir = inputs(MODEL, SCENARIO);
    expect_exit(dir.path(), &["run", "model.json", "--out", "out"], 2);
    assert!(files_under(&dir.path().join("out")).is_empty());
}

// ------------------------------------------------------------------- bench

#[test]
fn bench_runs_only_the_selected_benchmark() {
    let dir = tempfile::tempdir().unwrap();
    let output = expect_exit(
        dir.path(),
        &["bench", "--only", "mm8", "--duration", "2s"],
        0,
    );
    let out = stdout(&output);
    assert!(
        out.lines().next().unwrap().starts_with("benchmark"),
        "{out}"
    );
    let rows: Vec<&str> = out.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{out}");
    let cells: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(cells[0], "mm8", "{out}");
    assert_eq!(cells[1], "2s", "{out}");
    assert!(cells[2].parse::<u64>().unwrap() > 0, "events: {out}");
    assert!(files_under(dir.path()).is_empty(), "bench writes no files");
}

#[test]
fn bench_rejects_unknown_benchmarks_and_bad_durations() {
    let dir = tempfile::tempdir().unwrap();
    let output = expect_exit(dir.path(), &["bench", "--only", "nope"], 2);
    assert!(stderr(&output).contains("nope"), "{}", stderr(&output));
    for duration in ["0s", "5 sekunden", "-5s"] {
        expect_exit(
            dir.path(),
            &["bench", "--only", "mm8", "--duration", duration],
            2,
        );
    }
}

// -------------------------------------------------------------- top level

#[test]
fn help_exits_zero_and_lists_the_subcommands() {
    let output = expect_exit(&repo(), &["--help"], 0);
    let out = stdout(&output);
    for command in ["run", "validate", "graph", "schema", "bench"] {
        assert!(out.contains(command), "{command} missing from help:\n{out}");
    }
    expect_exit(&repo(), &["--version"], 0);
}

#[test]
fn unknown_subcommand_exits_two() {
    let output = expect_exit(&repo(), &["frobnicate"], 2);
    assert!(stderr(&output).contains("frobnicate"));
    expect_exit(&repo(), &[], 2);
}

/// Issue 10, defect 4: a model that validates can ask for more than a
/// machine has. A run past its event budget stops, names the limit and the
/// flag that raises it, exits 2 and writes nothing; raised, it completes.
#[test]
fn a_run_past_its_event_budget_stops_naming_the_limit_and_writes_nothing() {
    let dir = inputs(MODEL, SCENARIO);
    let out = expect_exit(
        dir.path(),
        &["run", "scenario.json", "--out", "out", "--max-events", "50"],
        2,
    );
    let err = stderr(&out);
    assert!(
        err.contains("having handled 50 events, its budget"),
        "{err}"
    );
    assert!(err.contains("--max-events"), "{err}");
    assert!(err.contains("nothing was written"), "{err}");
    assert_eq!(files_under(&dir.path().join("out")), Vec::<PathBuf>::new());
    expect_exit(
        dir.path(),
        &[
            "run",
            "scenario.json",
            "--out",
            "out",
            "--max-events",
            "100000",
        ],
        0,
    );
}

/// ...and one whose requests pile up without bound (an external service
/// given long work at a high rate: nothing limits what is in flight) stops
/// at the in-flight budget instead of exhausting memory.
#[test]
fn a_run_whose_requests_pile_up_stops_at_the_in_flight_budget() {
    let model = r#"{
  "name": "m",
  "zones": ["a"],
  "services": {
    "vendor": {
      "kind": "external",
      "endpoints": { "x": { "work": { "constant": "1h" } } }
    }
  },
  "workload": { "e": { "endpoint": "vendor.x", "rate": "100000/s" } }
}
"#;
    let dir = inputs(model, SCENARIO);
    let out = expect_exit(
        dir.path(),
        &[
            "run",
            "scenario.json",
            "--out",
            "out",
            "--max-in-flight",
            "10000",
        ],
        2,
    );
    let err = stderr(&out);
    assert!(
        err.contains("with 10000 requests in the system at once"),
        "{err}"
    );
    assert!(err.contains("--max-in-flight"), "{err}");
    assert_eq!(files_under(&dir.path().join("out")), Vec::<PathBuf>::new());
}

/// Issue 10, defect 11: `faultline run … | head` panicked when the reader
/// went away. Output to a closed pipe is dropped quietly; the run still
/// writes its directory and exits with its own code.
#[test]
fn a_reader_that_goes_away_does_not_panic_the_command() {
    let dir = inputs(MODEL, SCENARIO);
    let mut child = faultline()
        .current_dir(dir.path())
        .args(["run", "scenario.json", "--out", "out"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The reader closes before a line is printed.
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert_eq!(output.status.code(), Some(0), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(dir.path().join("out/s/baseline/seed-1/run.json").is_file());
}

/// Issue 10, defect 12: off a terminal (a CI log) a long run printed
/// nothing until it ended. There, a progress line goes to stderr every few
/// seconds (`FAULTLINE_PROGRESS_EVERY`, here at every chance).
#[test]
fn a_run_off_a_terminal_reports_progress_on_stderr() {
    let dir = inputs(MODEL, SCENARIO);
    let output = faultline()
        .current_dir(dir.path())
        .env("FAULTLINE_PROGRESS_EVERY", "0")
        .args(["run", "scenario.json", "--out", "out"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let err = stderr(&output);
    assert!(
        err.lines()
            .any(|l| l.starts_with("simulating: ") && l.contains("s virtual")),
        "{err}"
    );
}

/// Issue 10, defect 10: messages echoed values whole (a 100 MB zone name
/// gave a 100 MB message) and raw (terminal escape sequences in fault and
/// hypothesis names reached the terminal); names over 255 bytes validated
/// and then could not be written; a byte-order mark hid the whole file.
#[test]
fn names_and_values_in_messages_are_bounded_and_escaped() {
    let long = "z".repeat(100_000);
    let err = assert_model_rejected(
        &edit(
            MODEL,
            r#""zones": ["a"]"#,
            &format!(r#""zones": ["{long}"]"#),
        ),
        &["zone name", "100000 bytes long; at most 100 are allowed"],
    );
    assert!(err.len() < 2_000, "a {} byte message", err.len());
    let scenario = edit(
        SCENARIO,
        r#""seed": 1"#,
        r#""seed": 1, "faults": { "x\u001b[2J": { "kind": "instance_kill", "target": "api", "at": "1s" } },
           "hypothesis": { "ok\u0007": { "probe": "e", "error_rate_below": "1%" } }"#,
    );
    let err = assert_scenario_rejected(&scenario, &["fault name", "hypothesis name"]);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains(r"x\u{1b}[2J"), "{err}");
    // A byte-order mark is allowed, as JSON lets a reader allow it.
    let dir = inputs(&format!("\u{feff}{MODEL}"), SCENARIO);
    expect_exit(dir.path(), &["validate", "model.json"], 0);
}

/// Issue 10, defects 3 and 4: inputs that validated and then froze the
/// clock or exhausted the machine are refused at validation, each saying
/// what the limit is and what to write instead: a consumer that retries at
/// once (the clock never moves), a rate beyond one arrival per nanosecond,
/// four billion connected clients, metrics windows too fine for the run.
#[test]
fn absurd_settings_are_refused_before_the_run_with_the_limit() {
    let queue = edit(
        MODEL,
        r#""api": {"#,
        r#""jobs": { "kind": "queue", "endpoints": {},
                    "consumer": { "concurrency": 1, "timeout": "1s", "retry_after": "0s" } },
           "api": {"#,
    );
    assert_model_rejected(
        &queue,
        &[
            "services.jobs.consumer.retry_after",
            "expected a positive pause",
        ],
    );
    assert_model_rejected(
        &edit(MODEL, r#""rate": "10/s""#, r#""rate": "1e308/ms""#),
        &["workload.e.rate", "more than one arrival per nanosecond"],
    );
    let clients = edit(
        MODEL,
        r#""workload":"#,
        r#""clients": { "crowd": { "count": 4294967295, "think": "1s",
                                   "connect": "api.x", "request": "api.x",
                                   "reconnect": { "backoff": "1s", "jitter": "none" } } },
           "workload":"#,
    );
    assert_model_rejected(&clients, &["clients.crowd.count", "more than 10000000"]);
    let scenario = edit(
        SCENARIO,
        r#""duration": "10s""#,
        r#""duration": "10000s", "window": "1ms""#,
    );
    assert_scenario_rejected(
        &scenario,
        &[
            "window",
            "30000000 rows of metrics",
            "more than 3000000; set a `window` of at least 10ms",
        ],
    );
}

/// Admission-control settings that would mean nothing are refused, each
/// naming the field.
#[test]
fn meaningless_rate_limits_and_retry_quotas_are_refused() {
    let limited = |limit: &str| {
        edit(
            MODEL,
            r#""workers": 4,"#,
            &format!(r#""workers": 4, "rate_limit": {limit},"#),
        )
    };
    assert_model_rejected(
        &limited(r#"{ "rate": "0/s" }"#),
        &["services.api.rate_limit.rate", "expected a rate above zero"],
    );
    assert_model_rejected(
        &limited(r#"{ "rate": "10/s", "burst": 0 }"#),
        &["services.api.rate_limit.burst", "at least 1 request"],
    );
    assert_model_rejected(
        &limited(r#"{ "rate": "10/s", "scope": "zone" }"#),
        &["services.api.rate_limit.scope"],
    );
    let caller = |retry: &str| {
        edit(
            MODEL,
            r#""services": {"#,
            &format!(
                r#""services": {{ "front": {{ "workers": 4, "endpoints": {{ "x": {{ "work": {{ "constant": "1ms" }},
                     "calls": {{ "c": {{ "to": "api.x", "retry": {retry} }} }} }} }} }},"#
            ),
        )
    };
    let at = "services.front.endpoints.x.calls.c.retry";
    assert_model_rejected(
        &caller(r#"{ "max_attempts": 3, "quota": { "cost": 0 } }"#),
        &[&format!("{at}.quota.cost"), "a free retry is no quota"],
    );
    assert_model_rejected(
        &caller(r#"{ "max_attempts": 3, "quota": { "capacity": 0 } }"#),
        &[&format!("{at}.quota.capacity"), "at least 1 token"],
    );
    let throttled = edit(
        &caller(r#"{ "max_attempts": 3 }"#),
        r#""retry": {"#,
        r#""adaptive_throttling": { "k": 0.5, "window": "100ms" }, "retry": {"#,
    );
    assert_model_rejected(
        &throttled,
        &[
            "services.front.endpoints.x.calls.c.adaptive_throttling.k",
            "expected k of at least 1",
            "adaptive_throttling.window",
            "at least 1s",
        ],
    );
    assert_model_rejected(
        &caller(r#"{ "max_attempts": 5000 }"#),
        &[
            &format!("{at}.max_attempts"),
            "at most 1000 attempts, found 5000",
        ],
    );
    // And a sound one is accepted.
    let dir = inputs(&caller(r#"{ "max_attempts": 3, "quota": {} }"#), SCENARIO);
    expect_exit(dir.path(), &["validate", "scenario.json"], 0);
}

/// Percentile precision is a scenario setting: out-of-range digits are
/// refused naming the field and the range; an accepted one is recorded in
/// run.json, changes the percentiles written and nothing simulated.
#[test]
fn percentile_digits_are_checked_recorded_and_change_only_percentiles() {
    for digits in ["0", "4", "\"2\""] {
        let scenario = edit(
            SCENARIO,
            r#""seed": 1"#,
            &format!(r#""seed": 1, "percentile_digits": {digits}"#),
        );
        assert_scenario_rejected(&scenario, &["percentile_digits"]);
    }
    let said = assert_scenario_rejected(
        &edit(
            SCENARIO,
            r#""seed": 1"#,
            r#""seed": 1, "percentile_digits": 4"#,
        ),
        &["expected 1 to 3 significant digits, found 4"],
    );
    assert!(!said.contains("panicked"), "{said}");
    // Work of 1 ms plus an exponential spread: percentiles land inside
    // buckets, so each precision reports them differently.
    let model = edit(
        MODEL,
        r#"{ "constant": "1ms" }"#,
        r#"{ "exponential": { "mean": "3ms" } }"#,
    );
    let mut runs = Vec::new();
    for digits in [1usize, 2, 3] {
        let scenario = edit(
            SCENARIO,
            r#""seed": 1"#,
            &format!(r#""seed": 1, "percentile_digits": {digits}"#),
        );
        let dir = inputs(&model, &scenario);
        expect_exit(dir.path(), &["run", "scenario.json"], 0);
        let run: serde_json::Value = serde_json::from_str(
            &fs::read_to_string(dir.path().join("output/s/baseline/seed-1/run.json")).unwrap(),
        )
        .unwrap();
        assert_eq!(run["percentile_digits"], digits);
        let report =
            fs::read_to_string(dir.path().join("output/s/baseline/seed-1/report.md")).unwrap();
        let margin = ["6.3", "0.8", "0.1"][digits - 1];
        let said = format!("({digits} significant digits: at most {margin} % above the true value");
        assert!(report.contains(&said), "{report}");
        runs.push(run);
    }
    let figure =
        |run: &serde_json::Value, key: &str| run["entries"]["e"]["latency_ms"][key].clone();
    for key in ["mean", "max"] {
        assert_eq!(
            figure(&runs[0], key),
            figure(&runs[2], key),
            "{key} is exact"
        );
    }
    // The buckets nest: each digit more reports a percentile at the top of
    // a narrower bucket inside the coarser one, so never higher.
    for key in ["p50", "p90"] {
        let at: Vec<f64> = runs
            .iter()
            .map(|r| figure(r, key).as_f64().unwrap())
            .collect();
        assert!(
            at[0] >= at[1] && at[1] >= at[2] && at[0] > at[2],
            "{key}: {at:?}"
        );
    }
    let digests: Vec<_> = runs
        .iter()
        .map(|r| r["engine"]["trace_digest"].clone())
        .collect();
    assert!(digests.windows(2).all(|w| w[0] == w[1]), "{digests:?}");
}

// ------------------------------------------------------- command-line habits

#[test]
fn completions_are_printed_for_each_shell_and_name_the_subcommands() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let out = stdout(&expect_exit(dir.path(), &["completions", shell], 0));
        for subcommand in ["run", "compare", "lint", "new"] {
            assert!(out.contains(subcommand), "{shell}: no `{subcommand}`");
        }
    }
    expect_exit(dir.path(), &["completions", "tcsh"], 2);
}

#[test]
fn a_mistyped_subcommand_is_refused_with_the_one_meant() {
    let dir = tempfile::tempdir().unwrap();
    let said = stderr(&expect_exit(dir.path(), &["rnu"], 2));
    assert!(said.contains("faultline run"), "{said}");
    let said = stderr(&expect_exit(dir.path(), &["comapre", "x.json"], 2));
    assert!(said.contains("compare"), "{said}");
}

#[test]
fn colour_marks_verdicts_on_demand_and_never_in_files_or_pipes() {
    let scenario = SCENARIO.replace(
        "\"seed\": 1",
        "\"seed\": 1, \"hypothesis\": {\"h\": {\"probe\": \"e\", \"error_rate_below\": \"1%\"}}",
    );
    let dir = inputs(MODEL, &scenario);
    // Off a terminal there is no colour by default...
    let plain = stdout(&expect_exit(dir.path(), &["run", "scenario.json"], 0));
    assert!(!plain.contains('\u{1b}'), "{plain}");
    // ...unless asked for, and `NO_COLOR` does not override an explicit ask.
    let output = faultline()
        .current_dir(dir.path())
        .args(["--color", "always", "run", "scenario.json"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let coloured = String::from_utf8_lossy(&output.stdout);
    assert!(coloured.contains("\u{1b}["), "{coloured}");
    for file in files_under(dir.path()) {
        if let Ok(text) = fs::read_to_string(&file) {
            assert!(
                !text.contains('\u{1b}'),
                "{} holds an escape",
                file.display()
            );
        }
    }
}

#[test]
fn quiet_prints_the_verdicts_and_the_run_directory_only() {
    let dir = inputs(MODEL, SCENARIO);
    let output = expect_exit(
        dir.path(),
        &["-q", "run", "scenario.json", "-s", "3", "-o", "r"],
        0,
    );
    let out = stdout(&output);
    assert_eq!(
        out.trim_end().lines().last(),
        Some("wrote r/s/baseline/seed-3/"),
        "{out}"
    );
    assert!(!out.contains("requests"), "{out}");
    assert_eq!(stderr(&output), "", "no timings, no progress");
}

#[test]
fn tables_stay_aligned_with_long_names() {
    let long = "a-service-name-of-forty-characters-exact";
    assert_eq!(long.len(), 40);
    let model = MODEL
        .replace("\"api\"", &format!("\"{long}\""))
        .replace("api.x", &format!("{long}.x"));
    let dir = inputs(&model, SCENARIO);
    let out = stdout(&expect_exit(dir.path(), &["run", "scenario.json"], 0));
    let table: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.starts_with("service"))
        .take_while(|l| !l.starts_with("  "))
        .collect();
    assert!(table.len() >= 2, "{out}");
    assert!(table[1].starts_with(long), "{out}");
    // Figures are right-aligned under their headers: every line of the
    // table ends in the same column, the long name notwithstanding.
    let width = table[0].chars().count();
    for row in &table[1..] {
        assert_eq!(row.chars().count(), width, "{}\n{row}", table[0]);
    }
}

#[test]
fn a_run_replacing_one_made_from_other_inputs_says_so() {
    let dir = inputs(MODEL, SCENARIO);
    expect_exit(dir.path(), &["run", "scenario.json"], 0);
    let again = expect_exit(dir.path(), &["run", "scenario.json"], 0);
    assert!(
        !stderr(&again).contains("replacing"),
        "same inputs: nothing to say"
    );
    let scenario = fs::read_to_string(dir.path().join("scenario.json")).unwrap();
    fs::write(dir.path().join("scenario.json"), format!("{scenario}\n")).unwrap();
    let said = stderr(&expect_exit(dir.path(), &["run", "scenario.json"], 0));
    assert!(
        said.contains("warning: replacing output/s/baseline/seed-")
            && said.contains("scenario.json"),
        "{said}"
    );
}
