//! `check`: every scenario and variant run once and judged against what
//! the scenario expects of it, as a table and as JUnit XML; the shipped
//! scenarios pass it (each story fails where it says it fails).

use std::path::Path;

use crate::common::*;

/// The crash scenario expecting `expect` (JSON members), with a host
/// loss as its variant.
fn kill_scenario(dir: &Path, expect: &str, served: &str) -> String {
    let members = format!(
        r#""expect": {{ {expect} }},
  "variants": {{ "host-down": {{ "faults": {{ "crash-1": {{ "mode": "host_down" }} }} }} }}"#
    );
    let path = crash_scenario(dir, served, &members);
    path.to_str().unwrap().to_string()
}

#[test]
fn the_shipped_scenarios_come_out_as_they_say_and_the_junit_names_each_hypothesis() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let scenarios = repo().join("scenarios");
    let junit = d.join("check.xml");
    let out = faultline_in(
        d,
        &[
            "check",
            scenarios.to_str().unwrap(),
            "--junit",
            junit.to_str().unwrap(),
            "--jobs",
            "2",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(" 0 failed, 0 expected to fail and held"),
        "{stdout}"
    );
    // The demo's baseline fails as its story says, and the enqueue
    // fallback holds every hypothesis.
    let line = |variant: &str| {
        stdout
            .lines()
            .find(|l| {
                l.starts_with("slow-database") && l.split_whitespace().nth(1) == Some(variant)
            })
            .unwrap_or_else(|| panic!("{variant}: {stdout}"))
            .to_string()
    };
    assert!(
        line("baseline").contains("fails as expected"),
        "{}",
        line("baseline")
    );
    assert!(
        line("enqueue-fallback").contains("3/3  PASS"),
        "{}",
        line("enqueue-fallback")
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(xml.contains(r#"<testsuite name="slow-database""#), "{xml}");
    assert!(
        xml.contains(r#"<testcase name="enqueue-fallback: checkout-mostly-served" classname="slow-database">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="0""#));
    // One test case per variant and hypothesis of every shipped scenario.
    let expected: usize = shipped_scenarios()
        .iter()
        .map(|s| {
            let plans = faultline::plan::Plan::load_all(&repo().join("scenarios").join(s)).unwrap();
            plans.iter().map(|p| p.hypotheses.len()).sum::<usize>()
        })
        .sum();
    assert_eq!(xml.matches("<testcase ").count(), expected);

    // The same bytes on one thread.
    let again = d.join("again.xml");
    let one = faultline_in(
        d,
        &[
            "check",
            scenarios.to_str().unwrap(),
            "--junit",
            again.to_str().unwrap(),
            "--jobs",
            "1",
        ],
    );
    assert_eq!(
        String::from_utf8_lossy(&one.stdout).replace("again.xml", "check.xml"),
        stdout
    );
    assert_eq!(std::fs::read(&again).unwrap(), xml.as_bytes());
}

#[test]
fn a_story_that_no_longer_happens_or_a_design_that_regressed_fails_the_check() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // A crash with 5 % allowed: both hold. Expecting the baseline to fail
    // is now wrong, and the check says so.
    let scenario = kill_scenario(d, r#""baseline": "fail""#, "5%");
    let junit = d.join("j.xml");
    let out = faultline_in(d, &["check", &scenario, "--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("FAIL (expected to fail, held)"), "{stdout}");
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<testcase name="baseline: expected to fail" classname="kill">"#),
        "{xml}"
    );
    assert!(xml.contains(r#"failures="1""#), "{xml}");

    // A bar no variant meets: each hypothesis that did not hold is a
    // failing test case with what was measured.
    let scenario = kill_scenario(d, "", "0.01%");
    let out = faultline_in(d, &["check", &scenario, "--junit", junit.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert_eq!(xml.matches("<failure ").count(), 2, "{xml}");
    assert!(
        xml.contains("✗ error_rate_below")
            && xml.contains("measured")
            && xml.contains("against 0.010 %"),
        "{xml}"
    );

    // Expecting a variant the scenario does not have is bad input.
    let scenario = kill_scenario(d, r#""host-dwn": "fail""#, "2%");
    let out = faultline_in(d, &["check", &scenario]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("expect.host-dwn") && err.contains("did you mean `host-down`?"),
        "{err}"
    );
    // So is a directory without a scenario.
    let empty = d.join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = faultline_in(d, &["check", empty.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no scenario file"));
}
