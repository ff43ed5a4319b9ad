//! A run is a pure function of its inputs and seed: the same scenario and
//! seed give byte-identical run directories, another seed gives another
//! trace, nothing in a run directory depends on the wall clock, and a run
//! replaces its directory whole, leaving no staging debris behind.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use tempfile::TempDir;

use crate::common::*;

/// Every file of a run directory, sorted: the data and the report drawn
/// from it.
static RUN_FILES: std::sync::LazyLock<Vec<String>> = std::sync::LazyLock::new(|| {
    let mut names: Vec<String> = ["analysis.json", "events.jsonl", "metrics.csv", "run.json"]
        .into_iter()
        .chain(faultline::report::RUN_REPORT_FILES)
        .map(str::to_string)
        .collect();
    names.sort();
    names
});

/// Where `faultline run scenarios/shop-steady.json --out OUT` writes a run
/// with seed `seed`, relative to `OUT`.
fn shop_run_dir(out: &Path, seed: u64) -> PathBuf {
    out.join("shop-steady")
        .join("baseline")
        .join(format!("seed-{seed}"))
}

/// A scratch directory holding `models/shop.json` and
/// `scenarios/shop-steady.json` (the scenario shortened to 60 s with a 10 s
/// warm-up), laid out as in the repository so the scenario's relative model
/// path resolves. `edit_model` may change the model before it is written.
fn shop_fixture(edit_model: impl FnOnce(&mut serde_json::Value)) -> TempDir {
    let dir = tempfile::tempdir().expect("a scratch directory");
    fs::create_dir(dir.path().join("models")).unwrap();
    fs::create_dir(dir.path().join("scenarios")).unwrap();

    let model_text = fs::read_to_string(repo().join("models/shop.json")).unwrap();
    let mut model: serde_json::Value = serde_json::from_str(&model_text).unwrap();
    let original = model.clone();
    edit_model(&mut model);
    let model_text = if model == original {
        model_text // byte for byte, when there is nothing to change
    } else {
        serde_json::to_string_pretty(&model).unwrap()
    };
    fs::write(dir.path().join("models/shop.json"), model_text).unwrap();

    let scenario_text = fs::read_to_string(repo().join("scenarios/shop-steady.json")).unwrap();
    let mut scenario: serde_json::Value = serde_json::from_str(&scenario_text).unwrap();
    assert_eq!(scenario["model"], "../models/shop.json");
    assert_eq!(scenario["seed"], 42, "these tests expect the demo seed 42");
    scenario["duration"] = "60s".into();
    scenario["warmup"] = "10s".into();
    if model != original {
        // An edited shop need not meet the shipped shop's hypotheses; these
        // tests are about identical output, not verdicts.
        scenario.as_object_mut().unwrap().remove("hypothesis");
    }
    fs::write(
        dir.path().join("scenarios/shop-steady.json"),
        serde_json::to_string_pretty(&scenario).unwrap(),
    )
    .unwrap();
    dir
}

/// The shop fixture as shipped (only the scenario shortened).
fn shop() -> TempDir {
    shop_fixture(|_| {})
}

/// Runs the binary in `dir` and fails the test unless it exits 0.
fn run_ok(dir: &Path, args: &[&str]) -> Output {
    let output = faultline_in(dir, args);
    assert!(
        output.status.success(),
        "faultline {args:?} exited with {:?}\nstdout:\n{}\nstderr:\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

/// Runs the shortened shop scenario in `fixture` with output under `out`.
fn run_shop(fixture: &Path, out: &Path, extra: &[&str]) -> Output {
    let out = out.to_str().expect("a UTF-8 path");
    let mut args = vec!["run", "scenarios/shop-steady.json", "--out", out];
    args.extend_from_slice(extra);
    run_ok(fixture, &args)
}

/// Every file under `dir` (hidden ones included), keyed by its path relative
/// to `dir`.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let relative = path.strip_prefix(root).unwrap().to_path_buf();
                files.insert(relative, fs::read(&path).unwrap());
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// The names of the entries directly inside `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn file_names(tree: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    tree.keys().map(|p| p.display().to_string()).collect()
}

/// Fails with the first differing line of the first differing file.
fn assert_same_tree(a: &Path, b: &Path) {
    let (ta, tb) = (tree(a), tree(b));
    assert_eq!(
        file_names(&ta),
        file_names(&tb),
        "{} and {} hold different files",
        a.display(),
        b.display()
    );
    for (name, bytes_a) in &ta {
        let bytes_b = &tb[name];
        if bytes_a == bytes_b {
            continue;
        }
        let (text_a, text_b) = (
            String::from_utf8_lossy(bytes_a),
            String::from_utf8_lossy(bytes_b),
        );
        let (line, (la, lb)) = text_a
            .lines()
            .chain(std::iter::repeat("<end of file>"))
            .zip(text_b.lines().chain(std::iter::repeat("<end of file>")))
            .enumerate()
            .find(|(_, (la, lb))| la != lb)
            .expect("files that differ have a differing line");
        panic!(
            "{} differs between runs at line {}:\n  {la}\n  {lb}",
            name.display(),
            line + 1
        );
    }
}

fn run_json(dir: &Path) -> serde_json::Value {
    let text = fs::read_to_string(dir.join("run.json")).unwrap();
    serde_json::from_str(&text).expect("run.json is JSON")
}

fn trace_digest(dir: &Path) -> String {
    run_json(dir)["engine"]["trace_digest"]
        .as_str()
        .expect("run.json has engine.trace_digest")
        .to_string()
}

#[test]
fn same_scenario_and_seed_give_byte_identical_run_directories() {
    let fixture = shop();
    // One output base relative to the working directory, one absolute: where
    // the output goes must not leak into it.
    let first = fixture.path().join("first");
    run_shop(fixture.path(), Path::new("first"), &[]);
    // Later in wall-clock time: a timestamp with second resolution would show.
    std::thread::sleep(Duration::from_millis(1100));
    let second = fixture.path().join("second");
    run_shop(fixture.path(), &second, &[]);

    let (a, b) = (shop_run_dir(&first, 42), shop_run_dir(&second, 42));
    assert_eq!(file_names(&tree(&a)), *RUN_FILES);
    let metrics = fs::read_to_string(a.join("metrics.csv")).unwrap();
    assert!(
        metrics.lines().count() > 60,
        "one row per window and component"
    );
    assert_same_tree(&a, &b);
}

#[test]
fn run_with_state_changes_is_byte_identical_including_events() {
    // An orders database of one connection slot and a queue of two: it
    // overflows, so events.jsonl has state changes to compare.
    let fixture = shop_fixture(|model| {
        let db = &mut model["services"]["orders-db"];
        db["workers"] = 1.into();
        db["queue"] = 2.into();
    });
    run_shop(fixture.path(), Path::new("first"), &[]);
    run_shop(fixture.path(), Path::new("second"), &[]);
    let (a, b) = (
        shop_run_dir(&fixture.path().join("first"), 42),
        shop_run_dir(&fixture.path().join("second"), 42),
    );
    let events = fs::read_to_string(a.join("events.jsonl")).unwrap();
    assert!(
        events.contains("queue_full"),
        "the overloaded database logs queue_full events:\n{events}"
    );
    assert!(run_json(&a)["engine"]["state_changes"].as_u64() > Some(0));
    assert_same_tree(&a, &b);
}

#[test]
fn built_in_demo_gives_identical_output_in_different_working_directories() {
    let (one, two) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    run_ok(one.path(), &["run"]);
    run_ok(two.path(), &["run"]);
    let run = Path::new("slow-database/baseline/seed-42");
    let compare = Path::new("slow-database/compare");
    for dir in [&one, &two] {
        let written = file_names(&tree(&dir.path().join("output")));
        let (runs, compared): (Vec<String>, Vec<String>) = written
            .into_iter()
            .partition(|f| f.starts_with(run.to_str().unwrap()));
        let expected: Vec<String> = RUN_FILES
            .iter()
            .map(|f| run.join(f).display().to_string())
            .collect();
        assert_eq!(runs, expected, "the demo writes one run directory");
        assert!(
            compared
                .iter()
                .all(|f| f.starts_with(compare.to_str().unwrap()))
                && compared.iter().any(|f| f.ends_with("compare.json")),
            "and its comparison, nothing else: {compared:?}"
        );
    }
    let output = |dir: &TempDir, sub: &Path| dir.path().join("output").join(sub);
    assert_same_tree(&output(&one, run), &output(&two, run));
    assert_same_tree(&output(&one, compare), &output(&two, compare));
}

#[test]
fn explicit_seed_equal_to_the_scenario_seed_gives_the_same_run() {
    let fixture = shop();
    run_shop(fixture.path(), Path::new("implicit"), &[]);
    run_shop(fixture.path(), Path::new("explicit"), &["--seed", "42"]);
    assert_same_tree(
        &shop_run_dir(&fixture.path().join("implicit"), 42),
        &shop_run_dir(&fixture.path().join("explicit"), 42),
    );
}

#[test]
fn another_seed_gives_another_trace_and_lands_in_its_own_seed_directory() {
    let fixture = shop();
    let out = fixture.path().join("out");
    run_shop(fixture.path(), &out, &[]);
    let output = run_shop(fixture.path(), &out, &["--seed", "7"]);

    assert_eq!(
        entries(&out.join("shop-steady/baseline")),
        ["seed-42", "seed-7"],
        "each seed has its own directory"
    );
    let (seed42, seed7) = (shop_run_dir(&out, 42), shop_run_dir(&out, 7));
    assert_eq!(file_names(&tree(&seed7)), *RUN_FILES);
    assert_eq!(run_json(&seed7)["seed"], 7);
    assert_eq!(run_json(&seed42)["seed"], 42);
    assert_ne!(
        trace_digest(&seed42),
        trace_digest(&seed7),
        "seeds 42 and 7 produced the same trace"
    );
    assert_ne!(
        fs::read(seed42.join("metrics.csv")).unwrap(),
        fs::read(seed7.join("metrics.csv")).unwrap()
    );
    // Same inputs: only the outcome differs.
    for input in ["scenario", "model"] {
        assert_eq!(run_json(&seed42)[input], run_json(&seed7)[input]);
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("seed 7"), "{stdout}");
    assert!(stdout.contains("seed-7"), "{stdout}");
}

#[test]
fn run_directory_holds_no_wall_clock_data() {
    let fixture = shop();
    let out = fixture.path().join("out");
    let output = run_shop(fixture.path(), &out, &[]);

    // The wall-clock figures go to the terminal ...
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("events/s"), "stderr: {stderr}");
    assert!(stderr.contains("wall clock"), "stderr: {stderr}");

    // ... and never into the run directory.
    let dir = shop_run_dir(&out, 42);
    for (name, bytes) in tree(&dir) {
        let text = String::from_utf8_lossy(&bytes).to_lowercase();
        for word in ["wall", "elapsed", "timestamp", "events/s"] {
            assert!(!text.contains(word), "{} mentions `{word}`", name.display());
        }
    }
}

#[test]
fn rerun_replaces_an_existing_run_directory_completely() {
    let fixture = shop();
    let out = fixture.path().join("out");
    run_shop(fixture.path(), &out, &[]);
    let dir = shop_run_dir(&out, 42);

    // Leave debris a complete replacement must remove: a stray file, a stray
    // subdirectory, and a damaged run file.
    fs::write(dir.join("stale.txt"), "from an older run").unwrap();
    fs::create_dir(dir.join("old")).unwrap();
    fs::write(dir.join("old/notes.md"), "stale").unwrap();
    fs::write(dir.join("metrics.csv"), "not,the,real,metrics\n").unwrap();

    run_shop(fixture.path(), &out, &[]);
    assert_eq!(
        entries(&dir),
        *RUN_FILES,
        "the rerun left stale entries behind"
    );
    run_shop(fixture.path(), Path::new("fresh"), &[]);
    assert_same_tree(&dir, &shop_run_dir(&fixture.path().join("fresh"), 42));
}

#[test]
fn no_hidden_staging_directory_remains_after_a_run() {
    let fixture = shop();
    let out = fixture.path().join("out");
    // First run creates the directory, the second replaces it.
    for _ in 0..2 {
        run_shop(fixture.path(), &out, &[]);
        for dir in [
            out.clone(),
            out.join("shop-steady"),
            out.join("shop-steady/baseline"),
        ] {
            let hidden: Vec<String> = entries(&dir)
                .into_iter()
                .filter(|n| n.starts_with('.'))
                .collect();
            assert!(
                hidden.is_empty(),
                "{} holds hidden entries {hidden:?}",
                dir.display()
            );
        }
        assert_eq!(entries(&out.join("shop-steady/baseline")), ["seed-42"]);
    }
}

#[test]
fn reformatting_the_inputs_changes_only_their_file_hashes() {
    let plain = shop();
    let reformatted = shop();
    // Extra indentation and blank lines: the same JSON, other bytes. (A JSON
    // string cannot span lines, so whitespace at line ends is outside tokens.)
    for file in ["models/shop.json", "scenarios/shop-steady.json"] {
        let path = reformatted.path().join(file);
        let text = fs::read_to_string(&path).unwrap();
        let text: Vec<String> = text.lines().map(|l| format!("  {l} ")).collect();
        fs::write(&path, text.join("\n\n")).unwrap();
    }
    run_shop(plain.path(), Path::new("out"), &[]);
    run_shop(reformatted.path(), Path::new("out"), &[]);
    let a = shop_run_dir(&plain.path().join("out"), 42);
    let b = shop_run_dir(&reformatted.path().join("out"), 42);

    for file in ["metrics.csv", "events.jsonl"] {
        assert_eq!(
            fs::read(a.join(file)).unwrap(),
            fs::read(b.join(file)).unwrap(),
            "{file} changed with the formatting of the inputs"
        );
    }
    let (mut ra, mut rb) = (run_json(&a), run_json(&b));
    for input in ["scenario", "model"] {
        assert_eq!(
            ra[input]["sha256"], rb[input]["sha256"],
            "the canonical hash of the {input} ignores formatting"
        );
        assert_ne!(
            ra[input]["file_sha256"], rb[input]["file_sha256"],
            "the byte hash of the {input} sees any edit"
        );
        ra[input]["file_sha256"] = serde_json::Value::Null;
        rb[input]["file_sha256"] = serde_json::Value::Null;
    }
    assert_eq!(ra, rb, "run.json differs beyond the file hashes");
}

#[test]
fn staging_directory_left_by_a_killed_run_is_swept_by_the_next_run() {
    let fixture = shop();
    let out = fixture.path().join("out");
    let variant = out.join("shop-steady/baseline");
    // What a run killed before its commit leaves: a hidden, partial copy of
    // the run directory beside the target, named after a dead process.
    let leftover = variant.join(".seed-42.partial-4000000");
    fs::create_dir_all(&leftover).unwrap();
    fs::write(leftover.join("metrics.csv"), "half a file").unwrap();

    run_shop(fixture.path(), &out, &[]);
    assert_eq!(
        entries(&variant),
        ["seed-42"],
        "the leftover staging directory was not swept"
    );
    assert_eq!(entries(&shop_run_dir(&out, 42)), *RUN_FILES);
}

/// The trace of every shipped scenario, as recorded when this test was
/// written. A run is replayable only while these hold: a change to the
/// engine, a default or a dependency's sampling that moves one must be
/// deliberate, and the commit that updates this table says why. (Last
/// moved when each kind of event got a tag of its own in the digest: seven
/// kinds shared tags with others before; the events are the same. The
/// reconnect storm's moved again when connected clients' lost connections
/// and their complete reconnection became state changes: the same engine
/// events, two more lines in its trace.)
const SHIPPED_DIGESTS: [(&str, u64, &str, u64); 12] = [
    ("cache-stampede.json", 7, "0da237e8e08c7e79", 3_637_095),
    ("death-spiral.json", 19, "7111122b2dd5c93c", 220_947),
    ("kill-app-server.json", 7, "7b7247c327751391", 323_582),
    ("memory-leak.json", 21, "0127d399a63bc0bf", 269_956),
    ("network-split.json", 5, "fca88c3c10184429", 586_412),
    ("reconnect-storm.json", 17, "14d083a65294f0fb", 242_228),
    ("replication-failover.json", 13, "a17b968d3029077d", 215_099),
    ("retry-storm.json", 3, "20dc8ee0cbae7bcc", 1_085_243),
    ("rolling-deploy.json", 23, "083dae12f49b7aeb", 427_201),
    ("shop-steady.json", 42, "4134931822e78ba2", 741_619),
    ("slow-database.json", 42, "3adc4cfe356f531a", 212_172),
    ("zone-outage.json", 11, "74122495a1af8a55", 647_897),
];

#[test]
fn shipped_scenarios_keep_their_recorded_traces() {
    let shipped = shipped_scenarios();
    assert_eq!(
        shipped.len(),
        SHIPPED_DIGESTS.len(),
        "a shipped scenario without a recorded digest: add it to SHIPPED_DIGESTS"
    );
    for (name, seed, digest, events) in SHIPPED_DIGESTS {
        let plan = faultline::plan::Plan::load(&repo().join("scenarios").join(name))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(plan.config.seed, seed, "{name}");
        let (summary, _) = faultline::sim::simulate(
            &plan.topology,
            &plan.faults,
            plan.config,
            faultline::observe::NullObserver,
        );
        assert_eq!(
            (summary.trace_digest.as_str(), summary.events),
            (digest, events),
            "{name}: the trace moved"
        );
    }
}

/// Issue 10, defect 6: two runs into one directory at once made the loser
/// fail with "Directory not empty". A run finds the target's lock held by a
/// live process (here, this test's own), says so, exits 3 and leaves the
/// run already there untouched; once the lock is gone it goes ahead.
#[test]
fn a_run_into_a_directory_another_run_is_writing_is_refused() {
    let fixture = shop();
    let out = fixture.path().join("out");
    run_shop(fixture.path(), &out, &[]);
    let before = tree(&shop_run_dir(&out, 42));
    let lock = out.join("shop-steady/baseline/.seed-42.lock");
    fs::write(&lock, std::process::id().to_string()).unwrap();
    let output = faultline_in(
        fixture.path(),
        &[
            "run",
            "scenarios/shop-steady.json",
            "--out",
            out.to_str().unwrap(),
        ],
    );
    assert_eq!(output.status.code(), Some(3));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(&format!(
            "another faultline (process {})",
            std::process::id()
        )),
        "{stderr}"
    );
    assert_eq!(tree(&shop_run_dir(&out, 42)), before);
    fs::remove_file(&lock).unwrap();
    run_shop(fixture.path(), &out, &[]);
    assert_eq!(tree(&shop_run_dir(&out, 42)), before);
}
