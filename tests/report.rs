//! Reports: every run writes them, `faultline report` redraws them from the
//! files alone, byte for byte; the SVGs parse, the PNGs have the size the
//! charts ask for, and the HTML stands alone with every section.

use std::fs;
use std::path::Path;

use crate::common::*;
use faultline::report::RUN_REPORT_FILES;

fn run_scenario_into(scenario: &str, out: &Path) -> std::path::PathBuf {
    let output = faultline()
        .current_dir(repo())
        .args(["run", &format!("scenarios/{scenario}.json"), "--out"])
        .arg(out)
        .output()
        .unwrap();
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let scenario_dir = out.join(scenario).join("baseline");
    let seed = fs::read_dir(&scenario_dir)
        .unwrap()
        .flatten()
        .next()
        .unwrap();
    seed.path()
}

fn png_size(path: &Path) -> (u32, u32) {
    let bytes = fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is a PNG",
        path.display()
    );
    // The first chunk is IHDR: width and height, big-endian.
    let word = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(&bytes[12..16], b"IHDR");
    (word(16), word(20))
}

#[test]
fn a_run_writes_well_formed_charts_and_a_self_contained_report() {
    let out = tempfile::tempdir().unwrap();
    let dir = run_scenario_into("slow-database", out.path());
    for file in RUN_REPORT_FILES {
        assert!(dir.join(file).is_file(), "{file} missing");
    }
    for chart in ["timeline", "saturation", "cascade", "graph"] {
        let svg = fs::read_to_string(dir.join(format!("{chart}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{chart}.svg: {e}"));
        let root = doc.root_element();
        assert_eq!(root.tag_name().name(), "svg");
        let width: u32 = root.attribute("width").unwrap().parse().unwrap();
        let height: u32 = root.attribute("height").unwrap().parse().unwrap();
        // The PNG is the same drawing at twice the size, for documents.
        assert_eq!(
            png_size(&dir.join(format!("{chart}.png"))),
            (2 * width, 2 * height),
            "{chart}"
        );
        assert!(width >= 500 && height >= 200, "{chart}: {width}×{height}");
    }
    let timeline = fs::read_to_string(dir.join("timeline.svg")).unwrap();
    for label in [
        "db-slow",
        "product",
        "checkout",
        "virtual time (s)",
        "latency (ms, log)",
    ] {
        assert!(timeline.contains(label), "the timeline says {label}");
    }
    let cascade = fs::read_to_string(dir.join("cascade.svg")).unwrap();
    assert!(
        cascade.contains("orders-db (service)") && cascade.contains("fault db-slow (60–180 s)")
    );

    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    for section in [
        "id=\"numbers\"",
        "id=\"hypothesis\"",
        "id=\"cascade\"",
        "id=\"timeline\"",
        "id=\"saturation\"",
        "id=\"graph\"",
    ] {
        assert!(html.contains(section), "report.html has {section}");
    }
    assert_eq!(html.matches("<svg").count(), 4, "the four charts inline");
    assert!(html.contains("The orders database answers one second slower"));
    assert!(html.contains("fault db-slow (latency on orders-db)"));
    // Nothing to fetch: no scripts, stylesheets or images from elsewhere.
    for external in ["<script", "<link", "src=\"http", "href=\"http", "url(http"] {
        assert!(!html.contains(external), "report.html holds {external}");
    }

    let md = fs::read_to_string(dir.join("report.md")).unwrap();
    for png in ["timeline.png", "cascade.png", "saturation.png", "graph.png"] {
        assert!(md.contains(&format!("({png})")), "report.md shows {png}");
    }
    assert!(md.contains("```mermaid\nflowchart LR"));
    assert!(md.contains(":::degraded") || md.contains(":::down"));
}

#[test]
fn report_redraws_a_run_from_its_files_byte_for_byte() {
    let out = tempfile::tempdir().unwrap();
    let dir = run_scenario_into("kill-app-server", out.path());
    let before: Vec<Vec<u8>> = RUN_REPORT_FILES
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();
    for f in RUN_REPORT_FILES {
        fs::remove_file(dir.join(f)).unwrap();
    }
    // Any directory above run directories will do.
    let output = faultline().arg("report").arg(out.path()).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let after: Vec<Vec<u8>> = RUN_REPORT_FILES
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();
    assert!(
        before == after,
        "the redrawn report is the one the run drew"
    );
    // Nothing half-written is left beside it.
    let stray: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(stray.is_empty(), "{stray:?}");
}

#[test]
fn report_of_a_directory_without_runs_is_bad_input() {
    let empty = tempfile::tempdir().unwrap();
    let output = faultline()
        .arg("report")
        .arg(empty.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no run directory"));
    // A run directory with a garbled metrics file names the file.
    let out = tempfile::tempdir().unwrap();
    let dir = run_scenario_into("kill-app-server", out.path());
    fs::write(dir.join("metrics.csv"), "window_start_s\nnot-a-number\n").unwrap();
    let output = faultline().arg("report").arg(&dir).output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("metrics.csv"), "{stderr}");
}

#[test]
fn the_cascade_strip_lists_components_in_chain_order() {
    let out = tempfile::tempdir().unwrap();
    let dir = run_scenario_into("slow-database", out.path());
    let analysis: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("analysis.json")).unwrap()).unwrap();
    let chain: Vec<String> = analysis["chain"].as_array().unwrap()[1..]
        .iter()
        .map(|s| {
            format!(
                "{} ({})",
                s["component"].as_str().unwrap(),
                s["kind"].as_str().unwrap()
            )
        })
        .collect();
    let svg = fs::read_to_string(dir.join("cascade.svg")).unwrap();
    let positions: Vec<usize> = chain
        .iter()
        .map(|c| {
            let escaped = c.replace('>', "&gt;");
            svg.find(&escaped)
                .unwrap_or_else(|| panic!("{escaped} not in the strip"))
        })
        .collect();
    // The axis labels are written bottom row first: the first in the chain,
    // drawn at the top, comes last in the file.
    let mut sorted = positions.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(positions, sorted, "{chain:?}");
}

#[test]
fn a_comparison_draws_intervals_and_latency_curves_and_redraws_them_identically() {
    let out = tempfile::tempdir().unwrap();
    let output = faultline()
        .current_dir(repo())
        .args([
            "compare",
            "scenarios/kill-app-server.json",
            "--seeds",
            "3",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dir = out.path().join("kill-app-server/compare");
    for chart in ["intervals", "differences", "latency"] {
        let svg = fs::read_to_string(dir.join(format!("{chart}.svg"))).unwrap();
        let doc = roxmltree::Document::parse(&svg).unwrap_or_else(|e| panic!("{chart}.svg: {e}"));
        let root = doc.root_element();
        let size = (
            root.attribute("width").unwrap().parse::<u32>().unwrap(),
            root.attribute("height").unwrap().parse::<u32>().unwrap(),
        );
        assert_eq!(
            png_size(&dir.join(format!("{chart}.png"))),
            (2 * size.0, 2 * size.1),
            "{chart}"
        );
        for variant in ["baseline", "round-robin"] {
            assert!(svg.contains(variant), "{chart} names {variant}");
        }
    }
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    for part in [
        "id=\"ranking\"",
        "id=\"intervals\"",
        "id=\"differences\"",
        "id=\"verdicts\"",
        "id=\"latency\"",
        "round-robin",
        "Rule:",
    ] {
        assert!(html.contains(part), "report.html has {part}");
    }
    assert_eq!(html.matches("<svg").count(), 3);
    let md = fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        md.contains("(intervals.png)")
            && md.contains("(differences.png)")
            && md.contains("(latency.png)")
    );

    let files = faultline::report::comparison::COMPARE_REPORT_FILES;
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();
    for f in files {
        fs::remove_file(dir.join(f)).unwrap();
    }
    let output = faultline().arg("report").arg(&dir).output().unwrap();
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let after: Vec<Vec<u8>> = files
        .iter()
        .map(|f| fs::read(dir.join(f)).unwrap())
        .collect();
    assert!(
        before == after,
        "the redrawn comparison is the one compare drew"
    );
}

/// Issue 10, defect 2: a service-level loop validated, simulated, then
/// panicked the graph layout. Services that call each other — two of them,
/// or one calling itself — are legitimate designs: they are drawn, the loop
/// edges beneath the nodes, and the Mermaid graph keeps every edge.
#[test]
fn services_that_call_each_other_are_drawn() {
    let dir = tempfile::tempdir().unwrap();
    let model = r#"{
      "name": "loop",
      "zones": ["az-a"],
      "services": {
        "a": {
          "instances": { "per_zone": 1 }, "workers": 8, "queue": 16,
          "endpoints": {
            "x": { "work": { "constant": "1ms" }, "calls": { "c": { "to": "b.y", "timeout": "1s" } } },
            "w": { "work": { "constant": "1ms" }, "calls": { "d": { "to": "a.v", "timeout": "1s" } } },
            "v": { "work": { "constant": "1ms" } }
          }
        },
        "b": {
          "instances": { "per_zone": 1 }, "workers": 8, "queue": 16,
          "endpoints": {
            "y": { "work": { "constant": "1ms" }, "calls": { "c": { "to": "a.w", "timeout": "1s" } } }
          }
        }
      },
      "workload": { "users": { "endpoint": "a.x", "rate": "50/s" } }
    }"#;
    fs::write(dir.path().join("loop-model.json"), model).unwrap();
    fs::write(
        dir.path().join("loop.json"),
        r#"{ "name": "loop", "model": "loop-model.json", "duration": "20s", "warmup": "5s", "seed": 1 }"#,
    )
    .unwrap();
    let output = faultline_in(dir.path(), &["run", "loop.json", "--out", "out"]);
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let run = dir.path().join("out/loop/baseline/seed-1");
    for file in RUN_REPORT_FILES {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let svg = fs::read_to_string(run.join("graph.svg")).unwrap();
    roxmltree::Document::parse(&svg).unwrap();
    // users → a, a → b, b → a (a loop), a → a (a service calling itself).
    let md = fs::read_to_string(run.join("report.md")).unwrap();
    let mermaid = &md[md.find("```mermaid").unwrap()..];
    for edge in ["n0 --> n1", "n1 --> n2", "n2 --> n1", "n1 --> n1"] {
        assert!(mermaid.contains(edge), "{edge} missing from\n{mermaid}");
    }
}

/// Issue 10, defect 9: `report DIR` followed directory links, so a link
/// back up the tree redrew a run 41 times, and two never ended. Links
/// below DIR are not followed: each run is drawn once.
#[cfg(unix)]
#[test]
fn report_of_a_tree_with_link_loops_draws_each_run_once() {
    let out = tempfile::tempdir().unwrap();
    let run = run_scenario_into("kill-app-server", out.path());
    std::os::unix::fs::symlink(out.path(), run.join("up")).unwrap();
    std::os::unix::fs::symlink(out.path(), out.path().join("self")).unwrap();
    let output = faultline()
        .args(["report"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(stdout.matches("wrote ").count(), 1, "{stdout}");
}

/// The text of every `<text>` element of an SVG chart.
fn svg_texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).unwrap();
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .map(|n| n.text().unwrap_or_default().trim().to_string())
        .collect()
}

/// Issue 11: every chart says what it is of, names its text's font, and
/// marks the warm-up; the latency axis has distinct labels, some below
/// 10 ms where the latencies are.
#[test]
fn charts_name_their_run_and_label_their_axes_once() {
    let out = tempfile::tempdir().unwrap();
    let dir = run_scenario_into("slow-database", out.path());
    for chart in ["timeline", "saturation", "cascade", "graph"] {
        let svg = fs::read_to_string(dir.join(format!("{chart}.svg"))).unwrap();
        let texts = svg_texts(&svg);
        assert!(
            texts
                .iter()
                .any(|t| t.contains("scenario slow-database · variant baseline · seed 42")),
            "{chart}: {texts:?}"
        );
        // The glyphs the chart uses travel with it, and its text names them.
        assert!(
            svg.contains("@font-face{font-family:\"faultline-")
                && svg.contains(", DejaVu Sans, sans-serif\"")
                && !svg.contains("font-family=\"sans-serif\""),
            "{chart} carries the bundled font"
        );
        if chart != "graph" {
            assert!(
                texts.iter().any(|t| t.starts_with("warm-up (0–30 s")),
                "{chart} marks the warm-up"
            );
        }
    }
    let timeline = fs::read_to_string(dir.join("timeline.svg")).unwrap();
    let ms: Vec<String> = svg_texts(&timeline)
        .into_iter()
        .filter(|t| t.ends_with(" ms") || (t.ends_with(" s") && t.len() < 6))
        .collect();
    let mut distinct = ms.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), ms.len(), "latency labels repeat: {ms:?}");
    assert!(
        ms.iter().any(|t| t == "3 ms" || t == "5 ms" || t == "2 ms"),
        "{ms:?}"
    );
    // catalog idles at well under 1 % busy with no queue: named, not drawn.
    let saturation = fs::read_to_string(dir.join("saturation.svg")).unwrap();
    let texts = svg_texts(&saturation);
    assert!(!texts.iter().any(|t| t == "catalog"), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.starts_with("Not drawn") && t.ends_with(": catalog"))
    );
}

/// Issue 11: the graph is coloured by the state a component held, not its
/// worst window. The zone outage the design survives at 98.9 % took the
/// entry down for two seconds; it is drawn healthy, with those seconds
/// written under its name. The slow database's gateway, down for most of
/// the fault, is drawn down.
#[test]
fn the_graph_shows_sustained_states_not_worst_windows() {
    let out = tempfile::tempdir().unwrap();
    let dir = run_scenario_into("zone-outage", out.path());
    let analysis: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("analysis.json")).unwrap()).unwrap();
    let users = analysis["components"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["component"] == "users")
        .unwrap();
    assert_eq!(users["worst"], "down", "the outage this test is about");
    let md = fs::read_to_string(dir.join("report.md")).unwrap();
    let mermaid = &md[md.find("```mermaid").unwrap()..];
    assert!(!mermaid.contains(":::down"), "{mermaid}");
    assert!(
        mermaid.contains("[\"users<br/>healthy: 2 s down, 6 s degraded"),
        "{mermaid}"
    );
    let graph = fs::read_to_string(dir.join("graph.svg")).unwrap();
    assert!(
        svg_texts(&graph)
            .iter()
            .any(|t| t.starts_with("healthy: 2 s down"))
    );

    let dir = run_scenario_into("slow-database", out.path());
    let md = fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(md.contains("[\"gateway<br/>down: 11"), "{md}");
}

/// Issue 11, report wording: no backticks shown as such in HTML, phases in
/// words, each count table saying what it counts, and a comparison that
/// names its baseline once.
#[test]
fn report_wording_reads_as_prose() {
    let out = tempfile::tempdir().unwrap();
    let dir = run_scenario_into("slow-database", out.path());
    let html = fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(!html.contains('`'), "report.html shows a backtick");
    assert!(html.contains("product-pages-unharmed — product, during the fault (60.0–180.0 s)"));
    assert!(!html.contains("over during"));
    assert!(html.contains("Requests that arrived after the warm-up (30–240 s)"));
    assert!(
        html.contains("From the first fault until everything was back in band (60–181 s), a part of the requests counted above.")
    );
    // The two tables count the same entries over nested windows: the
    // blast radius never counts more requests than the key numbers.
    let manifest: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    let analysis: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("analysis.json")).unwrap()).unwrap();
    for impact in analysis["blast_radius"]["entries"].as_array().unwrap() {
        let entry = impact["entry"].as_str().unwrap();
        let key = &manifest["entries"][entry];
        for figure in [
            &key["requests"],
            &key["ok"],
            &key["errors"],
            &impact["requests"],
        ] {
            assert!(
                html.contains(&format!("<td>{figure}</td>")),
                "{entry}: {figure}"
            );
        }
    }

    let output = faultline()
        .current_dir(repo())
        .args([
            "compare",
            "scenarios/slow-database.json",
            "--seeds",
            "2",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(0));
    let html = fs::read_to_string(out.path().join("slow-database/compare/report.html")).unwrap();
    assert!(!html.contains('`'), "the comparison shows a backtick");
    assert!(!html.contains("baseline: baseline"));
    assert!(html.contains("<code>no clear difference</code>"));
    let intervals =
        fs::read_to_string(out.path().join("slow-database/compare/intervals.svg")).unwrap();
    // The p99 panel spans 17 ms to 9 s: a log axis, every bar labelled.
    let texts = svg_texts(&intervals);
    assert!(texts.iter().any(|t| t == "ms (log)"), "{texts:?}");
    assert!(
        texts
            .iter()
            .any(|t| t.ends_with("differences against the baseline variant")),
        "{texts:?}"
    );
    // The breaker's p99 of all requests is about 17 ms: a short bar, labelled.
    assert!(
        texts.iter().any(|t| t
            .strip_suffix(" ms")
            .and_then(|v| v.parse::<f64>().ok())
            .is_some_and(|v| v < 20.0)),
        "{texts:?}"
    );
}

/// Found with issue 11: a valid ten-minute run at 1 ms windows wrote a
/// 24 MB saturation.svg and a 34 MB report.html, every window a point.
/// Long series are drawn per step (a thousand steps at most, each the
/// ratio over its windows, or their mean or highest with a band from the
/// lowest to the highest), so the files stay small, and the same run draws
/// the same bytes.
#[test]
fn a_run_of_many_windows_draws_small_files() {
    let dir = tempfile::tempdir().unwrap();
    let model = r#"{
      "name": "tiny",
      "zones": ["az-a"],
      "services": {
        "api": {
          "instances": { "per_zone": 2 }, "workers": 8, "queue": 64,
          "memory": { "baseline": "256MiB", "limit": "1GiB", "alerts": [0.8] },
          "endpoints": { "get": { "work": { "lognormal": { "mean": "4ms", "p99": "20ms" } } } }
        }
      },
      "workload": { "users": { "endpoint": "api.get", "rate": "300/s" } }
    }"#;
    fs::write(dir.path().join("tiny.json"), model).unwrap();
    fs::write(
        dir.path().join("fine.json"),
        r#"{ "name": "fine", "model": "tiny.json", "duration": "150s", "warmup": "10s", "window": "1ms", "seed": 3,
             "faults": { "slow": { "kind": "latency", "target": "api", "add": { "constant": "30ms" }, "at": "60s", "for": "20s" } } }"#,
    )
    .unwrap();
    let run = |out: &str| {
        let output = faultline_in(dir.path(), &["run", "fine.json", "--out", out]);
        assert_eq!(
            output.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        dir.path().join(out).join("fine/baseline/seed-3")
    };
    let (a, b) = (run("a"), run("b"));
    for file in RUN_REPORT_FILES {
        let bytes = fs::read(a.join(file)).unwrap();
        let limit = if file == "report.html" {
            1_500_000
        } else {
            600_000
        };
        assert!(bytes.len() < limit, "{file}: {} bytes", bytes.len());
        assert!(
            bytes == fs::read(b.join(file)).unwrap(),
            "{file} differs between two runs"
        );
    }
    let timeline = fs::read_to_string(a.join("timeline.svg")).unwrap();
    assert!(timeline.contains("successes / s, per 0.15 s"));
}
