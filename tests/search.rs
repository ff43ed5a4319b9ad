//! `faultline search`: on a small model whose weak points are known by
//! reading it — one database instance in one zone, two api instances that
//! survive the loss of either but not of both — the search finds exactly
//! those, every set it calls minimal breaks while its subsets do not, and
//! the output does not depend on threads or shards.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::common::{faultline_in, succeeded};

/// Two api instances (one per zone, health-checked) over one database in
/// zone `a`, at 50 requests/s; the hypothesis allows 5 % errors, so losing
/// one api instance (refused until the health check ejects it) is survived.
const MODEL: &str = r#"{
  "name": "small",
  "zones": ["a", "b"],
  "services": {
    "api": {
      "instances": { "per_zone": PER_ZONE },
      "workers": 8,
      "queue": 64,
      "load_balancer": {
        "policy": "round_robin",
        "health_check": { "interval": "1s", "timeout": "200ms", "unhealthy_after": 2, "healthy_after": 2 }
      },
      "endpoints": {
        "get": {
          "work": { "exponential": { "mean": "1ms" } },
          "calls": { "query": { "to": "db.query", "timeout": "500ms" } }
        }
      }
    },
    "db": {
      "kind": "database",
      "instances": { "placement": { "a": 1 } },
      "workers": 8,
      "queue": 64,
      "endpoints": { "query": { "work": { "exponential": { "mean": "2ms" } } } }
    }
  },
  "workload": { "users": { "endpoint": "api.get", "rate": "50/s" } }
}"#;

const SCENARIO: &str = r#"{
  "name": "small-search",
  "model": "model.json",
  "duration": "60s",
  "warmup": "10s",
  "seed": 7,
  "hypothesis": { "served": { "probe": "users", "error_rate_below": "5%" } }
}"#;

/// A directory with the model (`per_zone` api instances per zone) and the
/// scenario (`scenario`, or the one above).
fn fixture(per_zone: u32, scenario: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("model.json"),
        MODEL.replace("PER_ZONE", &per_zone.to_string()),
    )
    .unwrap();
    fs::write(dir.path().join("scenario.json"), scenario).unwrap();
    dir
}

fn search(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec!["search", "scenario.json", "--seeds", "2"];
    args.extend_from_slice(extra);
    succeeded(&faultline_in(dir, &args))
}

fn read_json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).unwrap()).unwrap()
}

fn labels(candidate: &Value) -> Vec<String> {
    candidate["faults"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap().to_string())
        .collect()
}

/// Every file under `dir` (relative path → bytes), sorted.
fn tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(PathBuf, Vec<u8>)>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push((
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    fs::read(&path).unwrap(),
                ));
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

#[test]
fn search_finds_the_single_database_and_the_pair_of_api_instances() {
    let dir = fixture(1, SCENARIO);
    let stdout = search(dir.path(), &["--depth", "2"]);
    let found = read_json(&dir.path().join("output/small-search/search/search.json"));
    assert_eq!(found["control"]["broke_runs"], 0, "{stdout}");
    assert_eq!(found["complete"], true);
    let minimal: Vec<Vec<String>> = found["minimal"]
        .as_array()
        .unwrap()
        .iter()
        .map(labels)
        .collect();
    let has = |set: &[&str]| minimal.iter().any(|m| m == set);
    // The single database instance, and the zone it is in.
    assert!(
        has(&["crash db-a-1 (the primary)"]) || has(&["crash db-a-1"]),
        "{minimal:?}"
    );
    assert!(has(&["zone a out"]), "{minimal:?}");
    assert!(has(&["api ↛ db partitioned"]), "{minimal:?}");
    // Either api instance alone is survived; both together are not.
    let survived: Vec<&str> = found["survived"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    for single in ["crash api-a-1", "crash api-b-1", "zone b out"] {
        assert!(survived.contains(&single), "{single} in {survived:?}");
    }
    assert!(has(&["crash api-a-1", "crash api-b-1"]), "{minimal:?}");
    assert!(has(&["crash api-a-1", "zone b out"]), "{minimal:?}");
    // Minimal: no breaking set holds another one.
    for (i, a) in minimal.iter().enumerate() {
        for (j, b) in minimal.iter().enumerate() {
            if i != j {
                assert!(
                    !a.iter().all(|f| b.contains(f)),
                    "{a:?} is inside {b:?}, which cannot then be minimal"
                );
            }
        }
    }
    // A pair with a breaking single in it is never run.
    let levels = found["levels"].as_array().unwrap();
    assert!(levels[1]["pruned"].as_u64().unwrap() > 0);
    for c in found["candidates"].as_array().unwrap() {
        let faults = labels(c);
        if faults.len() == 2 {
            assert!(
                !minimal
                    .iter()
                    .any(|m| m.len() == 1 && faults.contains(&m[0])),
                "{faults:?} holds a breaking single yet was run"
            );
        }
    }
    // Ranked: break rate never rises down the list.
    let rates: Vec<f64> = found["minimal"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["break_rate"].as_f64().unwrap())
        .collect();
    assert!(rates.windows(2).all(|w| w[0] >= w[1]), "{rates:?}");
    assert!(stdout.contains("minimal breaking sets:"), "{stdout}");
}

#[test]
fn each_minimal_set_is_a_scenario_that_runs_and_breaks_the_hypothesis() {
    let dir = fixture(1, SCENARIO);
    succeeded(&faultline_in(
        dir.path(),
        &["search", "scenario.json", "--depth", "1", "--seeds", "1"],
    ));
    let search_dir = dir.path().join("output/small-search/search");
    let found = read_json(&search_dir.join("search.json"));
    let first = &found["minimal"][0];
    let file = search_dir.join(first["scenario"].as_str().unwrap());
    let written = read_json(&file);
    assert_eq!(written["model"], "../../../../model.json");
    assert!(written.get("stop").is_none());
    let faults = written["faults"].as_object().unwrap();
    assert_eq!(faults.len(), 1);
    // Run from elsewhere: the model path is relative to the file.
    let output = faultline_in(
        dir.path(),
        &[
            "run",
            file.to_str().unwrap(),
            "--out",
            "rerun",
            "--seed",
            &found["worst"]["seed"].to_string(),
        ],
    );
    assert_eq!(
        output.status.code(),
        Some(1),
        "the minimal set breaks the hypothesis when run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let name = written["name"].as_str().unwrap();
    assert_eq!(name, "small-search-minimal-1");
    let run = read_json(&dir.path().join(format!(
        "rerun/{name}/baseline/seed-{}/run.json",
        found["worst"]["seed"]
    )));
    assert_eq!(run["hypothesis"][0]["passed"], false);
    // Judged over the window it was searched in, to the same figure.
    assert_eq!(written["analysis"]["during"]["from"], "26s");
    let measured = run["hypothesis"][0]["checks"][0]["measured"]
        .as_f64()
        .unwrap();
    let searched = first["error_rate"]["mean"].as_f64().unwrap();
    assert!(
        (measured - searched).abs() < 1e-5,
        "{measured} against {searched}"
    );
    // The report draws the impact of every set and names the worst.
    let html = fs::read_to_string(search_dir.join("report.html")).unwrap();
    assert!(html.contains("Minimal breaking sets") && html.contains("<svg"));
    assert!(search_dir.join("impact.png").is_file());
    let csv = fs::read_to_string(search_dir.join("search.csv")).unwrap();
    assert_eq!(
        csv.lines().count(),
        1 + 1 + found["candidates"].as_array().unwrap().len()
    );
}

#[test]
fn identical_instances_are_searched_once_and_in_pairs_as_two_of_a_group() {
    let dir = fixture(2, SCENARIO);
    search(dir.path(), &["--depth", "2"]);
    let found = read_json(&dir.path().join("output/small-search/search/search.json"));
    let levels = found["levels"].as_array().unwrap();
    // api-a-2 and api-b-2 (crashed and host down) stand for api-a-1, api-b-1.
    assert_eq!(levels[0]["symmetric"], 4);
    let run: Vec<Vec<String>> = found["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(labels)
        .collect();
    assert!(
        !run.iter()
            .any(|s| s.iter().any(|f| f.contains("api-a-2")) && s.len() == 1)
    );
    // Two of one zone's api instances are one case: the group's first two.
    assert!(
        run.contains(&vec![
            "crash api-a-1".to_string(),
            "crash api-a-2".to_string()
        ]),
        "{run:?}"
    );
}

#[test]
fn results_do_not_depend_on_threads_or_shards() {
    let dir = fixture(1, SCENARIO);
    search(dir.path(), &["--depth", "2", "--jobs", "1", "--out", "one"]);
    search(dir.path(), &["--depth", "2", "--jobs", "2", "--out", "two"]);
    let one = tree(&dir.path().join("one/small-search/search"));
    assert_eq!(one, tree(&dir.path().join("two/small-search/search")));
    for i in 0..3 {
        let shard = format!("{i}/3");
        search(
            dir.path(),
            &["--depth", "2", "--shard", &shard, "--out", "shards"],
        );
    }
    // A missing shard is refused, named.
    let partial = faultline_in(
        dir.path(),
        &[
            "merge",
            "shards/small-search/search-shard-0-of-3",
            "shards/small-search/search-shard-2-of-3",
            "--out",
            "merged",
        ],
    );
    assert_eq!(partial.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&partial.stderr).contains("shards missing: 1/3"));
    assert!(!dir.path().join("merged").exists());
    succeeded(&faultline_in(
        dir.path(),
        &["merge", "shards/small-search", "--out", "merged"],
    ));
    // `merged/` sits as deep as `one/`: the scenario files name the model alike.
    assert_eq!(one, tree(&dir.path().join("merged/small-search/search")));
    // Shards of another search do not merge with these.
    search(
        dir.path(),
        &["--depth", "1", "--shard", "1/3", "--out", "other"],
    );
    let mixed = faultline_in(
        dir.path(),
        &[
            "merge",
            "shards/small-search/search-shard-0-of-3",
            "other/small-search/search-shard-1-of-3",
            "shards/small-search/search-shard-2-of-3",
            "--out",
            "mixed",
        ],
    );
    assert_eq!(
        mixed.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&mixed.stderr)
    );
    assert!(String::from_utf8_lossy(&mixed.stderr).contains("does not belong with"));
}

#[test]
fn the_budget_is_printed_first_and_stops_a_level_past_it() {
    let dir = fixture(1, SCENARIO);
    let output = faultline_in(
        dir.path(),
        &[
            "search",
            "scenario.json",
            "--seeds",
            "1",
            "--depth",
            "2",
            "--max-candidates",
            "20",
        ],
    );
    succeeded(&output);
    let stderr = String::from_utf8_lossy(&output.stderr);
    let budget = stderr.find("budget:").expect("the budget is printed");
    assert!(
        stderr[budget..].starts_with("budget: 1 control + 13 singles + at most"),
        "{stderr}"
    );
    let found = read_json(&dir.path().join("output/small-search/search/search.json"));
    assert_eq!(found["complete"], false);
    assert!(
        found["stopped"]
            .as_str()
            .unwrap()
            .contains("--max-candidates 20"),
        "{found}"
    );
    assert_eq!(
        found["levels"].as_array().unwrap().len(),
        1,
        "the singles ran, the pairs did not"
    );
}

#[test]
fn a_scenario_without_hypotheses_or_a_window_outside_the_run_is_refused() {
    let bare = SCENARIO.replace(
        r#""hypothesis": { "served": { "probe": "users", "error_rate_below": "5%" } }"#,
        r#""hypothesis": {}"#,
    );
    let dir = fixture(1, &bare);
    let output = faultline_in(dir.path(), &["search", "scenario.json"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("scenario.json") && stderr.contains("hypothesis"),
        "{stderr}"
    );
    assert!(!dir.path().join("output").exists());
    let dir = fixture(1, SCENARIO);
    for (flag, value) in [
        ("--at", "2m"),
        ("--at", "5s"),
        ("--slow-factor", "0.5"),
        ("--error-share", "1.5"),
    ] {
        let output = faultline_in(dir.path(), &["search", "scenario.json", flag, value]);
        assert_eq!(output.status.code(), Some(2), "{flag} {value}");
        assert!(
            String::from_utf8_lossy(&output.stderr).contains(flag),
            "{flag}"
        );
    }
    assert!(!dir.path().join("output").exists());
}

#[test]
fn a_hypothesis_that_fails_with_no_fault_stops_the_search_before_the_singles() {
    let strict = SCENARIO.replace("error_rate_below\": \"5%\"", "p99_below\": \"1ms\"");
    let dir = fixture(1, &strict);
    search(dir.path(), &["--depth", "2"]);
    let found = read_json(&dir.path().join("output/small-search/search/search.json"));
    assert_eq!(found["control"]["broke_runs"], 2);
    assert!(
        found["stopped"]
            .as_str()
            .unwrap()
            .contains("with no fault at all")
    );
    assert!(found["minimal"].as_array().unwrap().is_empty());
    assert!(found["candidates"].as_array().unwrap().is_empty());
}

#[test]
fn triples_run_only_where_no_pair_or_single_in_them_breaks() {
    let dir = fixture(2, SCENARIO);
    search(dir.path(), &["--depth", "3"]);
    let found = read_json(&dir.path().join("output/small-search/search/search.json"));
    let levels = found["levels"].as_array().unwrap();
    assert_eq!(levels.len(), 3, "singles, pairs and triples");
    let breaking: Vec<Vec<String>> = found["minimal"]
        .as_array()
        .unwrap()
        .iter()
        .map(labels)
        .collect();
    for c in found["candidates"].as_array().unwrap() {
        let faults = labels(c);
        if faults.len() == 3 {
            for b in &breaking {
                assert!(
                    b.len() == 3 || !b.iter().all(|f| faults.contains(f)),
                    "{faults:?} holds the breaking {b:?} yet was run"
                );
            }
        }
    }
    assert!(levels[2]["pruned"].as_u64().unwrap() > 0);
}

#[test]
fn a_variant_is_searched_as_patched_and_its_minimal_sets_run_with_it() {
    let with_variant = SCENARIO.replace(
        r#""seed": 7,"#,
        r#""seed": 7,
  "variants": { "replicated-api": { "services": { "api": { "instances": { "per_zone": 3 } } } } },"#,
    );
    let dir = fixture(1, &with_variant);
    search(dir.path(), &["--depth", "1", "--variant", "replicated-api"]);
    let search_dir = dir.path().join("output/small-search/search-replicated-api");
    let found = read_json(&search_dir.join("search.json"));
    assert_eq!(found["variant"], "replicated-api");
    // Three api instances per zone: one single per zone, two alike left out per mode.
    assert_eq!(found["levels"][0]["symmetric"], 8);
    let html = fs::read_to_string(search_dir.join("report.html")).unwrap();
    assert!(
        html.contains("--variant replicated-api"),
        "the command to see the worst names the variant"
    );
    let written = read_json(&search_dir.join("minimal/1.json"));
    assert!(written["variants"]["replicated-api"].is_object());
}

#[test]
fn a_tampered_partial_is_refused_naming_the_file_and_the_path() {
    let dir = fixture(1, SCENARIO);
    for i in 0..2 {
        let shard = format!("{i}/2");
        search(
            dir.path(),
            &["--depth", "2", "--shard", &shard, "--out", "shards"],
        );
    }
    let file = dir
        .path()
        .join("shards/small-search/search-shard-1-of-2/partial.json");
    let mut partial = read_json(&file);
    partial["last"]["enumerated"]["sets"][0] = serde_json::json!([999, 1]);
    fs::write(&file, serde_json::to_string(&partial).unwrap()).unwrap();
    let output = faultline_in(
        dir.path(),
        &["merge", "shards/small-search", "--out", "merged"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("search-shard-1-of-2/partial.json") && stderr.contains("fault 999"),
        "{stderr}"
    );
    assert!(!dir.path().join("merged").exists());
    // A runs list that does not fit its sets.
    partial["last"]["enumerated"]["sets"][0] = serde_json::json!([0, 1]);
    partial["levels"][1]["runs"].as_array_mut().unwrap().pop();
    fs::write(&file, serde_json::to_string(&partial).unwrap()).unwrap();
    let output = faultline_in(
        dir.path(),
        &["merge", "shards/small-search", "--out", "merged"],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("levels[1].runs"), "{stderr}");
    // Cut short.
    fs::write(&file, "{\"format\": \"faultline-search-partial/1\", \"sea").unwrap();
    let output = faultline_in(
        dir.path(),
        &["merge", "shards/small-search", "--out", "merged"],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(!dir.path().join("merged").exists());
}

#[test]
fn a_during_span_outside_the_measured_run_is_refused_at_its_path() {
    let bad = SCENARIO.replace(
        r#""seed": 7,"#,
        r#""seed": 7, "analysis": { "during": { "from": "5s", "to": "2m" } },"#,
    );
    let dir = fixture(1, &bad);
    let output = faultline_in(dir.path(), &["validate", "scenario.json"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("analysis.during.from") && stderr.contains("analysis.during.to"),
        "{stderr}"
    );
}
