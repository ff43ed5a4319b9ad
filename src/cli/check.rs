//! `faultline check PATH... [--junit FILE] [--jobs J]`: every scenario
//! (and each of its variants) run once on its own seed, its hypotheses
//! judged against what the scenario expects of them; a table, and JUnit
//! XML for CI systems. Exit 1 when a variant expected to pass fails, or
//! one expected to fail passes.

use std::path::{Path, PathBuf};

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
use rayon::prelude::*;

use crate::analysis::hypothesis::{Verdict, check_line};
use crate::error::Error;
use crate::plan::Plan;
use crate::spec::scenario::Expectation;

#[derive(Debug, clap::Args)]
pub(super) struct Args {
    /// Scenario files, or directories whose scenario files are checked
    /// (model files beside them are skipped; subdirectories are not read).
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Also write the results as JUnit XML: a test suite per scenario, a
    /// test case per variant and hypothesis.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Threads (default: every core). The results do not depend on it.
    #[arg(long, short = 'j', value_parser = clap::value_parser!(u64).range(1..1025))]
    jobs: Option<u64>,
    #[command(flatten)]
    budget: super::BudgetArgs,
}

/// How a variant came out against what was expected of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Status {
    Pass,
    Fail,
    /// Failed, as expected.
    ExpectedFail,
    /// Expected to fail, and every hypothesis held.
    UnexpectedPass,
    /// No hypothesis to judge.
    Unchecked,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Pass => "PASS",
            Status::Fail => "FAIL",
            Status::ExpectedFail => "PASS (fails as expected)",
            Status::UnexpectedPass => "FAIL (expected to fail, held)",
            Status::Unchecked => "no hypotheses",
        }
    }

    fn failed(self) -> bool {
        matches!(self, Status::Fail | Status::UnexpectedPass)
    }
}

/// One variant of one scenario, run and judged.
struct Outcome {
    scenario: String,
    file: PathBuf,
    variant: String,
    seed: u64,
    verdicts: Vec<Verdict>,
    status: Status,
}

/// The scenario files `paths` name: files as given, and the files of
/// directories (sorted) that read as scenarios.
fn scenario_files(paths: &[PathBuf]) -> crate::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|source| Error::Read {
                    file: path.clone(),
                    source,
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.is_file()
                        && p.extension()
                            .and_then(|e| e.to_str())
                            .is_some_and(|e| matches!(e, "json" | "yaml" | "yml"))
                })
                .collect();
            entries.sort();
            let before = files.len();
            for entry in entries {
                let source = crate::spec::Source::read(&entry)?;
                if crate::spec::looks_like_scenario(&source) {
                    files.push(entry);
                }
            }
            if files.len() == before {
                return Err(Error::Read {
                    file: path.clone(),
                    source: std::io::Error::new(
                        std::io::ErrorKind::NotFound,
                        "no scenario file in it (a scenario names its `model`)",
                    ),
                });
            }
        } else {
            files.push(path.clone());
        }
    }
    Ok(files)
}

fn status(verdicts: &[Verdict], expected: Expectation) -> Status {
    if verdicts.is_empty() {
        return Status::Unchecked;
    }
    let held = verdicts.iter().all(|v| v.passed);
    match (expected, held) {
        (Expectation::Pass, true) => Status::Pass,
        (Expectation::Pass, false) => Status::Fail,
        (Expectation::Fail, false) => Status::ExpectedFail,
        (Expectation::Fail, true) => Status::UnexpectedPass,
    }
}

pub(super) fn run(args: Args) -> crate::Result<i32> {
    // Every file loads (and every variant compiles) before anything runs:
    // bad input is exit 2 with nothing run.
    let files = scenario_files(&args.paths)?;
    let mut plans: Vec<(PathBuf, Plan)> = Vec::new();
    for file in &files {
        for plan in Plan::load_all(file)? {
            plans.push((file.clone(), plan));
        }
    }
    let jobs = args
        .jobs
        .map_or_else(rayon::current_num_threads, |j| j as usize);
    let budget = args.budget.budget();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("a thread pool can be started");
    let outcomes: Vec<Outcome> = pool.install(|| {
        plans
            .par_iter()
            .map(|(file, plan)| {
                let seed = plan.config.seed;
                let evaluation = crate::experiment::evaluate(plan, seed, budget)?;
                let experiment = &plan.experiment;
                let expected = experiment
                    .scenario
                    .expect
                    .get(&experiment.variant)
                    .copied()
                    .unwrap_or(Expectation::Pass);
                let verdicts = evaluation.manifest.hypothesis;
                Ok(Outcome {
                    scenario: experiment.scenario.name.clone(),
                    file: file.clone(),
                    variant: experiment.variant.clone(),
                    seed,
                    status: status(&verdicts, expected),
                    verdicts,
                })
            })
            .collect::<crate::Result<Vec<Outcome>>>()
    })?;
    out!("{}", super::paint::verdicts(&table(&outcomes)));
    if let Some(path) = &args.junit {
        write_junit(path, &outcomes)?;
        outln!("wrote {}", path.display());
    }
    Ok(if outcomes.iter().any(|o| o.status.failed()) {
        1
    } else {
        0
    })
}

/// The hypotheses of a variant that did not hold, by name.
fn failing(o: &Outcome) -> String {
    o.verdicts
        .iter()
        .filter(|v| !v.passed)
        .map(|v| v.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn table(outcomes: &[Outcome]) -> String {
    let headers = ["scenario", "variant", "seed", "held", "verdict", "failing"];
    let mut table = crate::report::terminal::table(&headers);
    for k in [0, 1, 4, 5] {
        crate::report::terminal::left(&mut table, k);
    }
    for o in outcomes {
        let held = o.verdicts.iter().filter(|v| v.passed).count();
        table.add_row(vec![
            o.scenario.clone(),
            o.variant.clone(),
            o.seed.to_string(),
            format!("{held}/{}", o.verdicts.len()),
            o.status.word().to_string(),
            failing(o),
        ]);
    }
    let count = |s: Status| outcomes.iter().filter(|o| o.status == s).count();
    let scenarios = {
        let mut names: Vec<&str> = outcomes.iter().map(|o| o.scenario.as_str()).collect();
        names.dedup();
        names.len()
    };
    format!(
        "{}\n{scenarios} scenarios, {} variants: {} passed, {} failed as expected, {} failed, {} expected to fail and held, {} without hypotheses\n",
        table.trim_fmt(),
        outcomes.len(),
        count(Status::Pass),
        count(Status::ExpectedFail),
        count(Status::Fail),
        count(Status::UnexpectedPass),
        count(Status::Unchecked),
    )
}

/// A verdict's checks in words, a line each.
fn checks_text(v: &Verdict) -> String {
    v.checks
        .iter()
        .map(check_line)
        .collect::<Vec<_>>()
        .join("\n")
}

/// The outcomes as JUnit XML: a suite per scenario, a case per variant and
/// hypothesis (`<variant>: <hypothesis>`, class the scenario). A hypothesis
/// failing in a variant expected to fail is reported skipped ("expected
/// to fail"), as test tools report an expected failure; a variant expected
/// to fail whose hypotheses all held gets a failing case of its own.
fn junit(outcomes: &[Outcome]) -> Report {
    let mut report = Report::new("faultline check");
    let mut suites: Vec<TestSuite> = Vec::new();
    for o in outcomes {
        if suites.last().is_none_or(|s| s.name.as_str() != o.scenario) {
            let mut suite = TestSuite::new(o.scenario.clone());
            suite.add_property(("file", o.file.display().to_string().as_str()));
            suites.push(suite);
        }
        let suite = suites.last_mut().expect("pushed above");
        for v in &o.verdicts {
            let status = if v.passed {
                TestCaseStatus::success()
            } else if o.status == Status::ExpectedFail {
                let mut s = TestCaseStatus::skipped();
                s.set_message("expected to fail (the scenario's `expect`)");
                s
            } else {
                let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
                s.set_message(format!("hypothesis `{}` did not hold", v.name));
                s.set_type("hypothesis");
                s.set_description(checks_text(v));
                s
            };
            let mut case = TestCase::new(format!("{}: {}", o.variant, v.name), status);
            case.set_classname(o.scenario.clone());
            case.set_system_out(format!(
                "seed {} · probe {} · {} ({:.0}–{:.0} s)\n{}",
                o.seed,
                v.probe,
                v.phase,
                v.from_s,
                v.to_s,
                checks_text(v)
            ));
            suite.add_test_case(case);
        }
        if o.status == Status::UnexpectedPass {
            let mut s = TestCaseStatus::non_success(NonSuccessKind::Failure);
            s.set_message("expected to fail (the scenario's `expect`), but every hypothesis held");
            s.set_type("expectation");
            let mut case = TestCase::new(format!("{}: expected to fail", o.variant), s);
            case.set_classname(o.scenario.clone());
            suite.add_test_case(case);
        }
    }
    report.add_test_suites(suites);
    report
}

fn write_junit(path: &Path, outcomes: &[Outcome]) -> crate::Result<()> {
    let text = junit(outcomes).to_string().map_err(|e| Error::Write {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })?;
    std::fs::write(path, text).map_err(|source| Error::Write {
        path: path.to_path_buf(),
        source,
    })
}
