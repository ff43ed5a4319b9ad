//! The JSON files read back through the structs that wrote them give the
//! same bytes again, so the report sees every field the writer wrote; and
//! a file that lacks a field is bad input that names the file and the
//! field, not a `?` in a report.

use std::fs;
use std::path::{Path, PathBuf};

use crate::common::*;
use faultline::analysis::Analysis;
use faultline::compare::{self, Seeds, report};
use faultline::plan::Plan;
use faultline::record::{self, compare::Comparison, run::Manifest};
use faultline::sim::Budget;

/// `file` read into `T` and written again, beside the bytes on disk.
fn round_trip<T>(file: &Path, to_json: impl Fn(&T) -> String) -> (String, String)
where
    T: serde::de::DeserializeOwned,
{
    let written = fs::read_to_string(file).unwrap();
    let read: T = record::read(file).unwrap_or_else(|e| panic!("{e}"));
    (written, to_json(&read))
}

fn run(scenario: &str, variant: &str, out: &Path) -> PathBuf {
    let plan = Plan::load(&repo().join("scenarios").join(scenario))
        .and_then(|p| p.with_variant(variant))
        .unwrap();
    faultline::experiment::run(&plan, None, out, Budget::DEFAULT, |_| {}, || {})
        .unwrap()
        .dir
}

#[test]
fn run_json_and_analysis_json_read_back_to_the_same_bytes() {
    let out = tempfile::tempdir().unwrap();
    let mut runs: Vec<PathBuf> = fs::read_dir(repo().join("scenarios"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| {
            run(
                p.file_name().unwrap().to_str().unwrap(),
                "baseline",
                out.path(),
            )
        })
        .collect();
    // The only shipped design with a queue service: `queues` in run.json.
    runs.push(run("slow-database.json", "enqueue-fallback", out.path()));
    let mut seen = [false; 4];
    for dir in &runs {
        let (written, again) = round_trip(&dir.join("run.json"), Manifest::to_json);
        assert!(
            written == again,
            "{}/run.json reads back differently",
            dir.display()
        );
        let (written, again) = round_trip(&dir.join("analysis.json"), Analysis::to_json);
        assert!(
            written == again,
            "{}/analysis.json reads back differently",
            dir.display()
        );
        let manifest: Manifest = record::read(&dir.join("run.json")).unwrap();
        seen[0] |= !manifest.hypothesis.is_empty();
        seen[1] |= !manifest.queues.is_empty();
        seen[2] |= !manifest.databases.is_empty();
        seen[3] |= manifest.description.is_none();
    }
    // Every field written only sometimes was written at least once (but
    // for a missing description: every shipped scenario has one).
    assert_eq!(seen, [true, true, true, false]);
}

#[test]
fn compare_json_reads_back_to_the_same_bytes() {
    let out = tempfile::tempdir().unwrap();
    // Two seeds give intervals and verdicts; one seed gives neither.
    for (scenario, count) in [("slow-database.json", 2), ("retry-storm.json", 1)] {
        let variants = Plan::load_all(&repo().join("scenarios").join(scenario)).unwrap();
        let seeds = Seeds {
            first: variants[0].config.seed,
            count,
        };
        let inputs = report::Inputs::from_variants(&variants, seeds);
        let cells: Vec<u64> = (0..inputs.cells()).collect();
        let figures =
            compare::run_cells(&variants, seeds, &cells, 2, Budget::DEFAULT, &|| {}).unwrap();
        let (dir, _) = report::write(out.path(), &inputs, &figures).unwrap();
        let (written, again) = round_trip(&dir.join("compare.json"), Comparison::to_json);
        assert!(
            written == again,
            "{scenario}: compare.json reads back differently"
        );
    }
}

#[test]
fn a_file_without_a_field_the_report_reads_is_bad_input_naming_both() {
    let out = tempfile::tempdir().unwrap();
    let dir = run("kill-app-server.json", "baseline", out.path());
    let run_json = dir.join("run.json");
    let text = fs::read_to_string(&run_json).unwrap();
    fs::write(&run_json, text.replace("\"warmup_s\"", "\"warm_up_s\"")).unwrap();
    let output = faultline().arg("report").arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("run.json"), "{stderr}");
    assert!(stderr.contains("missing field `warmup_s`"), "{stderr}");
    fs::write(&run_json, text).unwrap();

    let analysis_json = dir.join("analysis.json");
    let text = fs::read_to_string(&analysis_json).unwrap();
    fs::write(
        &analysis_json,
        text.replace("\"health\": \"down\"", "\"health\": \"dead\""),
    )
    .unwrap();
    let output = faultline().arg("report").arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("analysis.json: chain[0].health"),
        "{stderr}"
    );
    assert!(stderr.contains("unknown variant `dead`"), "{stderr}");
}

#[test]
fn a_ranking_that_names_no_variant_is_bad_input() {
    let out = tempfile::tempdir().unwrap();
    let output = faultline_in(
        &repo(),
        &[
            "compare",
            "scenarios/retry-storm.json",
            "--seeds",
            "1",
            "--out",
            out.path().to_str().unwrap(),
        ],
    );
    assert!(matches!(output.status.code(), Some(0 | 1)), "{output:?}");
    let compare_json = out.path().join("retry-storm/compare/compare.json");
    let text = fs::read_to_string(&compare_json).unwrap();
    fs::write(
        &compare_json,
        text.replacen("\"variant\": \"baseline\"", "\"variant\": \"base-line\"", 1),
    )
    .unwrap();
    let output = faultline().arg("report").arg(out.path()).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("compare.json: ranking["), "{stderr}");
    assert!(
        stderr.contains("`base-line` is not among the variants"),
        "{stderr}"
    );
}
