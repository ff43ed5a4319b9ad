//! Starting points: `faultline new` writes designs that validate, lint
//! clean and run as written, with the story their comments tell.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::common::*;

fn expect(dir: &Path, args: &[&str], code: i32) -> Output {
    let output = faultline_in(dir, args);
    assert_eq!(
        output.status.code(),
        Some(code),
        "faultline {args:?}\nstdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn run_json(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&fs::read_to_string(dir.join("run.json")).unwrap()).unwrap()
}

fn hypothesis_passed(manifest: &serde_json::Value, name: &str) -> bool {
    manifest["hypothesis"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == name)
        .unwrap_or_else(|| panic!("no verdict {name}: {manifest}"))["passed"]
        .as_bool()
        .unwrap()
}

#[test]
fn the_three_tier_template_loses_writes_to_a_slow_failover_and_its_variant_fixes_it() {
    let dir = tempfile::tempdir().unwrap();
    let said = expect(dir.path(), &["new", "my-design"], 0);
    let said = String::from_utf8_lossy(&said.stdout);
    assert!(
        said.contains("faultline run my-design/scenario.yaml"),
        "{said}"
    );
    let design = dir.path().join("my-design");
    let written: Vec<String> = fs::read_dir(&design)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(written, ["model.yaml", "scenario.yaml"]);
    let model = fs::read_to_string(design.join("model.yaml")).unwrap();
    assert!(
        model.contains("\n# ") && model.contains("name: my-design"),
        "commented and named"
    );

    expect(dir.path(), &["validate", "my-design/scenario.yaml"], 0);
    expect(
        dir.path(),
        &["lint", "--deny", "warnings", "my-design/scenario.yaml"],
        0,
    );
    // The zone with the database's primary is lost: pages survive on the
    // other zones, writes wait out the failover and fail the hypothesis...
    expect(dir.path(), &["run", "my-design/scenario.yaml"], 1);
    let baseline = run_json(&dir.path().join("output/my-design/baseline/seed-1"));
    assert!(hypothesis_passed(&baseline, "pages-served"));
    assert!(!hypothesis_passed(&baseline, "orders-mostly-served"));
    // ...which a faster failover fixes.
    expect(
        dir.path(),
        &[
            "run",
            "my-design/scenario.yaml",
            "--variant",
            "faster-failover",
        ],
        0,
    );
    let faster = run_json(&dir.path().join("output/my-design/faster-failover/seed-1"));
    let availability =
        |m: &serde_json::Value| m["entries"]["orders"]["availability"].as_f64().unwrap();
    assert!(
        availability(&faster) > availability(&baseline),
        "{} vs {}",
        availability(&faster),
        availability(&baseline)
    );
}

#[test]
fn the_checkout_template_in_json_runs_as_the_demo_does() {
    let dir = tempfile::tempdir().unwrap();
    expect(
        dir.path(),
        &["new", "shop", "--template", "checkout", "--format", "json"],
        0,
    );
    let scenario: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.path().join("shop/scenario.json")).unwrap())
            .unwrap();
    assert_eq!(scenario["model"], "model.json");
    expect(dir.path(), &["run", "shop/scenario.json"], 1);
    expect(dir.path(), &["run", "--out", "demo"], 0);
    let template = run_json(&dir.path().join("output/shop/baseline/seed-42"));
    let demo = run_json(&dir.path().join("demo/slow-database/baseline/seed-42"));
    // Another name, the same design, seed and traffic: the same outcomes.
    assert_eq!(template["entries"], demo["entries"]);
    assert_eq!(template["hypothesis"], demo["hypothesis"]);
}

#[test]
fn new_refuses_an_existing_directory_and_a_bad_name_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("taken")).unwrap();
    fs::write(dir.path().join("taken/notes.txt"), "mine").unwrap();
    let out = expect(dir.path(), &["new", "taken"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("taken already exists"));
    assert_eq!(
        fs::read_to_string(dir.path().join("taken/notes.txt")).unwrap(),
        "mine"
    );
    let out = expect(
        dir.path(),
        &["new", "no/../..", "--template", "checkout"],
        2,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("design name"));
    let out = expect(dir.path(), &["new", "x", "--template", "nonesuch"], 2);
    assert!(String::from_utf8_lossy(&out.stderr).contains("three-tier"));
    let left: Vec<_> = fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(left.len(), 1, "only the directory that was there");
}
