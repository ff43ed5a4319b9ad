//! `faultline lint`: what a model that validates may still do that its
//! author did not mean. Each rule reads the compiled topology (and, for a
//! scenario, its faults) and reports a finding at the JSON path and line
//! of the setting to change, with why it matters and what to change.
//! Nothing runs: these are the traps a design review would name before a
//! run shows them.

mod rules;

use std::path::PathBuf;

use serde::Serialize;

use crate::error::JsonPath;
use crate::plan::Plan;
use crate::spec::Source;
use crate::spec::model::LintSpec;
use crate::topology::Topology;

/// How much a finding matters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing; often a choice.
    Note,
    /// The design will likely fail in a way its author did not intend.
    Warning,
    /// The model says something it cannot mean.
    Error,
}

impl Severity {
    pub fn name(self) -> &'static str {
        match self {
            Severity::Note => "note",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }

    pub fn parse(text: &str) -> Option<Severity> {
        match text {
            "note" | "notes" => Some(Severity::Note),
            "warning" | "warnings" => Some(Severity::Warning),
            "error" | "errors" => Some(Severity::Error),
            _ => None,
        }
    }
}

/// A rule: its code, its name, how much its findings matter.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub code: &'static str,
    pub name: &'static str,
    pub severity: Severity,
    /// What it looks for, in a line (for `--help`-like listings and the
    /// README's table).
    pub summary: &'static str,
}

/// Which file a finding is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum InFile {
    Model,
    Scenario,
}

/// One thing the design does that its author may not mean.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub code: &'static str,
    pub rule: &'static str,
    pub severity: Severity,
    pub file: PathBuf,
    #[serde(serialize_with = "as_string")]
    pub path: JsonPath,
    pub line: Option<usize>,
    pub column: Option<usize>,
    /// What the design does, and why it matters, in a sentence or two.
    pub message: String,
    /// What to change.
    pub fix: String,
    /// The reason given in the file's `lint.allow`, when it accepts this
    /// finding.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<String>,
}

fn as_string<S: serde::Serializer>(path: &JsonPath, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(path)
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}[{} {}]: {}",
            self.severity.name(),
            self.code,
            self.rule,
            self.file.display()
        )?;
        if let (Some(line), Some(column)) = (self.line, self.column) {
            write!(f, ":{line}:{column}")?;
        }
        writeln!(f, ": {}", self.path)?;
        writeln!(f, "  {}", self.message)?;
        write!(f, "  fix: {}", self.fix)?;
        if let Some(why) = &self.allowed {
            write!(f, "\n  allowed: {why}")?;
        }
        Ok(())
    }
}

/// A finding before it is placed in its file.
pub(crate) struct Raw {
    pub rule: &'static Rule,
    pub file: InFile,
    pub path: JsonPath,
    pub message: String,
    pub fix: String,
}

/// The findings on a scenario's design (its model, as the plan's variant
/// patched it) and on the scenario itself, ordered by file and position.
pub fn plan(plan: &Plan) -> Vec<Finding> {
    let experiment = &plan.experiment;
    let mut raw = rules::model(&plan.topology);
    raw.extend(rules::scenario(plan));
    place(
        raw,
        &experiment.model_source,
        experiment.model.lint.as_ref(),
        Some((
            &experiment.scenario_source,
            experiment.scenario.lint.as_ref(),
        )),
    )
}

/// The findings on a bare model.
pub fn model(topology: &Topology, source: &Source, lint: Option<&LintSpec>) -> Vec<Finding> {
    place(rules::model(topology), source, lint, None)
}

fn place(
    raw: Vec<Raw>,
    model: &Source,
    model_lint: Option<&LintSpec>,
    scenario: Option<(&Source, Option<&LintSpec>)>,
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = raw
        .into_iter()
        .map(|r| {
            let (source, lint) = match (r.file, scenario) {
                (InFile::Scenario, Some((source, lint))) => (source, lint),
                _ => (model, model_lint),
            };
            let position = source.position_of(&r.path);
            let allowed = lint.and_then(|l| allowance(l, r.rule, &r.path));
            Finding {
                code: r.rule.code,
                rule: r.rule.name,
                severity: r.rule.severity,
                file: source.path.clone(),
                path: r.path,
                line: position.map(|p| p.0),
                column: position.map(|p| p.1),
                message: r.message,
                fix: r.fix,
                allowed,
            }
        })
        .collect();
    let lints = [(model_lint, model)]
        .into_iter()
        .chain(scenario.map(|(source, lint)| (lint, source)));
    for (lint, source) in lints {
        if let Some(lint) = lint {
            findings.extend(misused_allowances(lint, source));
        }
    }
    findings.sort_by(|a, b| {
        (&a.file, a.line, a.column, a.code).cmp(&(&b.file, b.line, b.column, b.code))
    });
    findings
}

/// The reason a `lint.allow` entry gives for accepting this finding.
fn allowance(lint: &LintSpec, rule: &Rule, path: &JsonPath) -> Option<String> {
    let path = path.to_string();
    lint.allow
        .iter()
        .filter(|a| a.rule == rule.code || a.rule == rule.name)
        .filter(|a| !a.because.trim().is_empty())
        .find(|a| {
            a.at.as_deref().is_none_or(|at| {
                path == at
                    || path.starts_with(&format!("{at}."))
                    || path.starts_with(&format!("{at}["))
            })
        })
        .map(|a| a.because.clone())
}

/// Allow entries that name no rule or give no reason.
fn misused_allowances(lint: &LintSpec, source: &Source) -> Vec<Finding> {
    let mut out = Vec::new();
    for (k, allow) in lint.allow.iter().enumerate() {
        let at = JsonPath::root().key("lint").key("allow").index(k);
        let known = rules::RULES
            .iter()
            .any(|r| r.code == allow.rule || r.name == allow.rule);
        let problem = if !known {
            let names = rules::RULES.iter().map(|r| r.name);
            let hint = crate::error::closest(&allow.rule, names)
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            Some((
                at.key("rule"),
                format!("`{}` is no lint rule{hint}", allow.rule),
                "name a rule by its code (`L101`) or name (`single-instance`); `faultline lint --rules` lists them".to_string(),
            ))
        } else if allow.because.trim().is_empty() {
            Some((
                at.key("because"),
                "an allowance without a reason hides the finding from the next reader too"
                    .to_string(),
                "say in a sentence why the design accepts it".to_string(),
            ))
        } else {
            None
        };
        let Some((path, message, fix)) = problem else {
            continue;
        };
        let position = source.position_of(&path);
        out.push(Finding {
            code: rules::MISUSED_ALLOW.code,
            rule: rules::MISUSED_ALLOW.name,
            severity: rules::MISUSED_ALLOW.severity,
            file: source.path.clone(),
            path,
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            message,
            fix,
            allowed: None,
        });
    }
    out
}

/// Every rule, in code order.
pub fn rules() -> &'static [Rule] {
    rules::RULES
}

/// Counts of findings not allowed, by severity: (errors, warnings, notes),
/// and how many were allowed.
pub fn tally(findings: &[Finding]) -> ([usize; 3], usize) {
    let mut counts = [0; 3];
    let mut allowed = 0;
    for f in findings {
        if f.allowed.is_some() {
            allowed += 1;
            continue;
        }
        counts[match f.severity {
            Severity::Error => 0,
            Severity::Warning => 1,
            Severity::Note => 2,
        }] += 1;
    }
    (counts, allowed)
}

/// "2 warnings, 1 note (1 allowed)", or "clean".
pub fn summary(findings: &[Finding]) -> String {
    let ([errors, warnings, notes], allowed) = tally(findings);
    let mut parts = Vec::new();
    for (n, one, many) in [
        (errors, "error", "errors"),
        (warnings, "warning", "warnings"),
        (notes, "note", "notes"),
    ] {
        if n > 0 {
            parts.push(format!("{n} {}", if n == 1 { one } else { many }));
        }
    }
    let mut text = if parts.is_empty() {
        "clean".to_string()
    } else {
        parts.join(", ")
    };
    if allowed > 0 {
        text.push_str(&format!(" ({allowed} allowed)"));
    }
    text
}
