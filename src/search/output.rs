//! What a search leaves: `search.json` (its record), `search.csv` (one row
//! per set run), a scenario file per minimal set under `minimal/`, and the
//! report beside them. Everything is computed from the levels alone, in
//! grid order, so a merged search writes the bytes an unsharded one does.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use indexmap::IndexMap;

use super::{LevelRun, SearchInputs, Set};
use crate::compare::stats::estimate;
use crate::error::{Error, Result};
use crate::experiment::output::Staging;
use crate::record::Tool;
use crate::record::compare::Estimate;
use crate::record::search::{Candidate, Level, SearchReport, Worst};

/// The files a search directory holds, as the command says them.
pub const FILES: &str =
    "search.json, search.csv, minimal/*.json, report.html, report.md, impact.svg/png";

/// Where a search of `variant` goes: `search/` for the baseline,
/// `search-<variant>/` for another.
pub fn search_dir(base: &Path, scenario: &str, variant: &str) -> PathBuf {
    let dir = base.join(scenario);
    if variant == crate::spec::BASELINE {
        dir.join("search")
    } else {
        dir.join(format!("search-{variant}"))
    }
}

fn seconds(ns: u64) -> f64 {
    ns as f64 / 1e9
}

fn notes(inputs: &SearchInputs) -> Vec<String> {
    let w = inputs.window;
    let at = crate::spec::units::Duration(w.at_ns);
    let lasting = crate::spec::units::Duration(w.for_ns);
    vec![
        format!(
            "every fault of a set starts at {at}; zone outages, slowed and erroring services and partitioned links last {lasting}; kills and flushes are instant, and a killed instance comes back only if its service restarts it; the scenario's own faults and stop guards are left out"
        ),
        "a set breaks when some hypothesis does not hold on at least one seed; its break rate is the share of seeds on which one did not; the seeds are paired: seed s gives every set the same traffic".to_string(),
        "minimal: the set breaks while none of its proper subsets does; a set holding a smaller one that breaks is never run, and its count is given per level".to_string(),
        "an instance stands for the identical instances of its service in its zone (a replicated database's primary and each shard of a keyed cache stand alone): a set is run once, killing the first of them".to_string(),
        "availability, error rate and p99 as `compare` takes them: over all entry endpoints after the warm-up, the mean over the seeds with its 95% interval (Student t); p99 of all requests, failures at the time they failed".to_string(),
        "ranked by break rate, then error rate, then p99 (higher first), then fewer faults".to_string(),
    ]
}

/// The summary of one set over its seeds.
fn candidate(inputs: &SearchInputs, set: &Set, runs: &[super::RunRecord]) -> Candidate {
    let space = &inputs.space;
    let of = |get: fn(&super::RunRecord) -> f64, decimals: i32| -> Estimate {
        let values: Vec<f64> = runs.iter().map(get).collect();
        estimate(&values).rounded(decimals)
    };
    let mut failed: IndexMap<String, usize> = IndexMap::new();
    for name in &inputs.hypotheses {
        let n = runs
            .iter()
            .filter(|r| r.failed.iter().any(|f| f == name))
            .count();
        if n > 0 {
            failed.insert(name.clone(), n);
        }
    }
    let broke_runs = runs.iter().filter(|r| r.broke()).count();
    Candidate {
        faults: set
            .iter()
            .map(|&a| space.atoms[a as usize].label.clone())
            .collect(),
        names: set
            .iter()
            .map(|&a| space.atoms[a as usize].name.clone())
            .collect(),
        runs: runs.len(),
        broke_runs,
        break_rate: crate::record::round(broke_runs as f64 / runs.len().max(1) as f64, 6),
        availability: of(|r| r.figures.availability, 6),
        error_rate: of(|r| r.figures.error_rate, 6),
        p99_ms: of(|r| r.figures.p99_ms, 3),
        failed,
        minimal: false,
        rank: None,
        scenario: None,
    }
}

/// The scenario file name of the minimal set ranked `rank`.
fn scenario_file(rank: usize) -> String {
    format!("minimal/{rank}.json")
}

/// Sums the levels up.
pub fn aggregate(inputs: &SearchInputs, levels: &[LevelRun]) -> SearchReport {
    summarise(inputs, levels).0
}

/// The report, and the minimal sets in rank order.
fn summarise(inputs: &SearchInputs, levels: &[LevelRun]) -> (SearchReport, Vec<Set>) {
    let per = inputs.inputs.seeds.count as usize;
    let control_runs = levels.first().map_or(&[][..], |l| &l.runs[..]);
    let control = candidate(inputs, &Vec::new(), control_runs);
    let control_broke = control.broke_runs > 0;
    let mut candidates = Vec::new();
    // (position in `candidates`, the runs), for the worst's cascade.
    let mut minimal: Vec<(usize, &[super::RunRecord], &Set)> = Vec::new();
    let mut survived = Vec::new();
    let mut summaries = Vec::new();
    for level in levels.iter().skip(1) {
        let mut broke = 0;
        for (c, set) in level.enumerated.sets.iter().enumerate() {
            let runs = &level.runs[c * per..(c + 1) * per];
            let mut result = candidate(inputs, set, runs);
            // With a control that breaks, nothing a fault does is minimal.
            result.minimal = result.broke_runs > 0 && !control_broke;
            if result.broke_runs > 0 {
                broke += 1;
            }
            if result.minimal {
                minimal.push((candidates.len(), runs, set));
            } else if level.size == 1 && result.broke_runs == 0 {
                survived.push(result.faults.join(" + "));
            }
            candidates.push(result);
        }
        let e = &level.enumerated;
        summaries.push(Level {
            size: level.size,
            candidates: e.sets.len() as u64,
            runs: level.runs.len() as u64,
            broke,
            symmetric: e.symmetric,
            same_instance: e.same_instance,
            pruned: e.pruned,
        });
    }
    let key = |c: &Candidate| {
        (
            c.break_rate,
            c.error_rate.mean.unwrap_or(0.0),
            c.p99_ms.mean.unwrap_or(0.0),
        )
    };
    minimal.sort_by(|(a, _, _), (b, _, _)| {
        let (ca, cb) = (&candidates[*a], &candidates[*b]);
        let (ka, kb) = (key(ca), key(cb));
        kb.0.total_cmp(&ka.0)
            .then(kb.1.total_cmp(&ka.1))
            .then(kb.2.total_cmp(&ka.2))
            .then(ca.faults.len().cmp(&cb.faults.len()))
            .then(a.cmp(b))
    });
    for (rank, (position, _, _)) in minimal.iter().enumerate() {
        candidates[*position].rank = Some(rank + 1);
        candidates[*position].scenario = Some(scenario_file(rank + 1));
    }
    let worst = minimal.first().and_then(|(position, runs, _)| {
        let run = runs.iter().find(|r| r.broke())?;
        Some(Worst {
            rank: 1,
            faults: candidates[*position].faults.clone(),
            seed: run.seed,
            chain: run.chain.clone(),
            recovery: run.recovery.clone(),
        })
    });
    let ranked = minimal
        .iter()
        .map(|(position, _, _)| candidates[*position].clone())
        .collect();
    let sets = minimal.iter().map(|(_, _, set)| (*set).clone()).collect();
    let searched = levels.len().saturating_sub(1) as u32;
    let stopped = stop_reason(inputs, levels);
    let report = SearchReport {
        tool: Tool {
            name: "faultline".to_string(),
            version: inputs.inputs.tool_version.clone(),
        },
        scenario: inputs.inputs.scenario.clone(),
        model: inputs.inputs.model.clone(),
        variant: inputs.variant.clone(),
        seeds: inputs.inputs.seeds,
        depth: inputs.depth,
        at_s: seconds(inputs.window.at_ns),
        for_s: seconds(inputs.window.for_ns),
        slow_factor: inputs.severity.slow_factor,
        error_share: inputs.severity.error_share,
        hypotheses: inputs.hypotheses.clone(),
        notes: notes(inputs),
        singles: inputs.space.sets(1, &Default::default()).sets.len(),
        levels: summaries,
        complete: searched == inputs.depth && stopped.is_none(),
        stopped,
        control,
        minimal: ranked,
        survived,
        worst,
        candidates,
    };
    (report, sets)
}

/// Why the search did not go on past `done`: a control that broke, or the
/// next level over the budget; `None` when nothing stopped it.
pub fn stop_reason(inputs: &SearchInputs, done: &[LevelRun]) -> Option<String> {
    let control = done.first()?;
    let seeds = inputs.inputs.seeds.count;
    if control.broke(0, seeds) {
        let broke = control.runs.iter().filter(|r| r.broke()).count();
        let names: Vec<&str> = inputs
            .hypotheses
            .iter()
            .filter(|h| control.runs.iter().any(|r| r.failed.contains(h)))
            .map(String::as_str)
            .collect();
        return Some(format!(
            "the hypotheses fail with no fault at all ({} on {broke} of {seeds} seeds): every set would break them; fix the design or the hypotheses first",
            names.join(", ")
        ));
    }
    let next = super::next_level(inputs, done)?;
    super::over_budget(inputs, done, &next)
}

/// `search.csv`: one row per set run, in the order run.
fn csv(report: &SearchReport) -> String {
    let mut csv = csv::Writer::from_writer(Vec::new());
    let header = [
        "size",
        "faults",
        "minimal",
        "rank",
        "runs",
        "broke_runs",
        "break_rate",
        "availability",
        "error_rate",
        "p99_ms",
        "failed_hypotheses",
        "scenario",
    ];
    const IN_MEMORY: &str = "records of one length, written to memory";
    csv.write_record(header).expect(IN_MEMORY);
    let mean =
        |e: &Estimate, decimals: usize| e.mean.map_or(String::new(), |m| format!("{m:.decimals$}"));
    for c in std::iter::once(&report.control).chain(&report.candidates) {
        let record = [
            c.faults.len().to_string(),
            c.faults.join(" + "),
            c.minimal.to_string(),
            c.rank.map_or(String::new(), |r| r.to_string()),
            c.runs.to_string(),
            c.broke_runs.to_string(),
            format!("{:.6}", c.break_rate),
            mean(&c.availability, 6),
            mean(&c.error_rate, 6),
            mean(&c.p99_ms, 3),
            c.failed
                .iter()
                .map(|(h, n)| format!("{h} ({n})"))
                .collect::<Vec<_>>()
                .join("; "),
            c.scenario.clone().unwrap_or_default(),
        ];
        csv.write_record(&record).expect(IN_MEMORY);
    }
    crate::compare::report::csv_text(csv)
}

/// The scenario file of a minimal set: the searched scenario with the
/// set's faults for its own, no stop guards and no expectations, its model
/// named relative to where the file is written.
fn minimal_scenario(
    inputs: &SearchInputs,
    report: &SearchReport,
    candidate: &Candidate,
    set: &Set,
    file: &Path,
) -> Result<String> {
    let mut scenario = inputs.template.clone();
    let rank = candidate.rank.unwrap_or(0);
    let model = inputs.scenario_dir.join(&scenario.model);
    scenario.model = crate::import::relative_model_path(&model, file)?;
    scenario.schema = None;
    scenario.stop.clear();
    scenario.expect.clear();
    scenario.name = format!("{}-minimal-{rank}", report.scenario.name);
    let failed: Vec<String> = candidate
        .failed
        .iter()
        .map(|(h, n)| format!("{h} on {n} of {} seeds", candidate.runs))
        .collect();
    scenario.description = Some(format!(
        "Found by `faultline search` of `{}` (variant `{}`), ranked {rank}: {} breaks {}, while no smaller set of its faults breaks anything.",
        report.scenario.name,
        report.variant,
        candidate.faults.join(" + "),
        failed.join(", ")
    ));
    scenario.faults = inputs.space.faults(set);
    // Judged over the window it was searched in, as the search judged it.
    let w = inputs.window;
    scenario.analysis.get_or_insert_default().during = Some(crate::spec::scenario::DuringSpec {
        from: crate::spec::units::Duration(w.at_ns),
        to: crate::spec::units::Duration((w.at_ns + w.for_ns).min(scenario.duration.0)),
    });
    // A variant's own faults would replace the set's.
    for patch in scenario.variants.values_mut() {
        patch.remove("faults");
        patch.remove("stop");
    }
    Ok(crate::record::to_json(&scenario))
}

/// Writes the search directory; returns it and what `search.json` holds.
pub fn write(
    base: &Path,
    inputs: &SearchInputs,
    levels: &[LevelRun],
) -> Result<(PathBuf, SearchReport)> {
    let (report, sets) = summarise(inputs, levels);
    let dir = search_dir(base, &report.scenario.name, &report.variant);
    let staging = Staging::new(&dir)?;
    staging.write_file("search.json", &crate::record::to_json(&report))?;
    staging.write_file("search.csv", &csv(&report))?;
    if !report.minimal.is_empty() {
        let minimal_dir = staging.path().join("minimal");
        std::fs::create_dir(&minimal_dir).map_err(|e| Error::write(&minimal_dir, e))?;
    }
    for (candidate, set) in report.minimal.iter().zip(&sets) {
        let name = candidate
            .scenario
            .clone()
            .expect("a minimal set has its file");
        let text = minimal_scenario(inputs, &report, candidate, set, &dir.join(&name))?;
        staging.write_file(&name, &text)?;
    }
    crate::report::search::write_search_report(staging.path())?;
    staging.commit()?;
    Ok((dir, report))
}

fn percent(e: &Estimate) -> String {
    e.mean
        .map_or("n/a".to_string(), |m| format!("{:.3} %", m * 100.0))
}

fn ms(e: &Estimate) -> String {
    e.mean.map_or("n/a".to_string(), |m| format!("{m:.1} ms"))
}

/// The one-screen summary: the levels, the top of the ranking, what held.
pub fn table(report: &SearchReport, top: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "search of `{}` (variant `{}`): {} single faults, sets of up to {}, {} seeds from {}; faults at {} s, lasting {} s",
        report.scenario.name,
        report.variant,
        report.singles,
        report.depth,
        report.seeds.count,
        report.seeds.first,
        report.at_s,
        report.for_s
    );
    let _ = writeln!(
        out,
        "no fault: availability {}, p99 {}, {}",
        percent(&report.control.availability),
        ms(&report.control.p99_ms),
        if report.control.broke_runs == 0 {
            "every hypothesis holds".to_string()
        } else {
            format!(
                "hypotheses fail on {} of {} seeds",
                report.control.broke_runs, report.control.runs
            )
        }
    );
    for level in &report.levels {
        let _ = writeln!(
            out,
            "  sets of {}: {} run, {} break; left out: {} alike by symmetry, {} holding a smaller breaking set, {} killing an instance twice",
            level.size,
            level.candidates,
            level.broke,
            level.symmetric,
            level.pruned,
            level.same_instance
        );
    }
    if let Some(why) = &report.stopped {
        let _ = writeln!(out, "stopped: {why}");
    }
    if report.minimal.is_empty() {
        let _ = writeln!(out, "no set of faults searched breaks a hypothesis");
    } else {
        let _ = writeln!(
            out,
            "\nminimal breaking sets: {} (top {} shown; mean over the seeds)",
            report.minimal.len(),
            top.min(report.minimal.len())
        );
        let mut table = crate::report::terminal::table(&[
            "#",
            "faults",
            "broke",
            "availability",
            "p99",
            "hypotheses failed",
        ]);
        crate::report::terminal::left(&mut table, 1);
        crate::report::terminal::left(&mut table, 5);
        for c in report.minimal.iter().take(top) {
            table.add_row(vec![
                c.rank.unwrap_or(0).to_string(),
                c.faults.join(" + "),
                format!("{}/{}", c.broke_runs, c.runs),
                percent(&c.availability),
                ms(&c.p99_ms),
                c.failed.keys().cloned().collect::<Vec<_>>().join(", "),
            ]);
        }
        let _ = writeln!(out, "{table}");
    }
    let singles = report
        .candidates
        .iter()
        .filter(|c| c.faults.len() == 1)
        .count();
    let _ = writeln!(
        out,
        "survives {} of {} single faults{}",
        report.survived.len(),
        singles,
        if report.survived.is_empty() {
            String::new()
        } else {
            format!(
                ": {}{}",
                report
                    .survived
                    .iter()
                    .take(8)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if report.survived.len() > 8 {
                    ", …"
                } else {
                    ""
                }
            )
        }
    );
    if let Some(w) = &report.worst {
        let _ = writeln!(
            out,
            "worst ({}), seed {}: {}; {}",
            w.faults.join(" + "),
            w.seed,
            w.chain,
            w.recovery
        );
    }
    out
}
