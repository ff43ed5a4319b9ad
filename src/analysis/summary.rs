//! The few lines `run` prints of an analysis.

use std::fmt::Write as _;

use super::{Analysis, Health, StepKind};

impl Analysis {
    /// The few lines `run` prints.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        if self.chain.is_empty() {
            let _ = writeln!(out, "no faults: nothing to trace");
            return out;
        }
        let _ = writeln!(
            out,
            "cascade (onset, what left the steady band, reached via):"
        );
        for step in &self.chain {
            if step.kind == StepKind::Fault {
                let _ = writeln!(
                    out,
                    "  {:>7.1} s  fault {} ({})",
                    step.onset_s, step.component, step.reason
                );
                continue;
            }
            let via = step
                .via
                .as_deref()
                .map(|v| format!("  via {v}"))
                .unwrap_or_default();
            let seen = if step.observed_s > step.onset_s {
                format!(" (seen {:.1} s)", step.observed_s)
            } else {
                String::new()
            };
            let _ = writeln!(
                out,
                "  {:>7.1} s  {} {} {}: {}{}{}",
                step.onset_s,
                if step.health == Health::Down {
                    "✗"
                } else {
                    "→"
                },
                step.kind,
                step.component,
                step.reason,
                seen,
                via
            );
        }
        if self.chain.iter().all(|s| s.kind == StepKind::Fault) {
            let _ = writeln!(out, "  nothing left its steady band");
        }
        if self.steady_to_s <= self.steady_from_s {
            let _ = writeln!(
                out,
                "  (no steady windows before the first fault: latency not judged)"
            );
        }
        let _ = writeln!(out, "detected:  {}", self.detection_text());
        let _ = writeln!(out, "mitigated: {}", self.mitigation_text());
        let _ = writeln!(out, "recovered: {}", self.recovery_text);
        let impacts: Vec<String> = self
            .blast_radius
            .entries
            .iter()
            .map(|e| {
                if e.affected {
                    format!(
                        "{} {} of {} failed ({:.2} %, {:.1}–{:.1} s)",
                        e.entry,
                        e.failed,
                        e.requests,
                        e.failed_share * 100.0,
                        e.from_s,
                        e.to_s
                    )
                } else {
                    format!("{} unaffected", e.entry)
                }
            })
            .collect();
        let entries = if impacts.is_empty() {
            "no open-loop entries".to_string()
        } else {
            impacts.join(", ")
        };
        let divergent = match self.blast_radius.divergent_writes {
            0 => String::new(),
            n => format!("; divergent writes {n} (taken by a deposed primary)"),
        };
        let _ = writeln!(
            out,
            "blast radius: {}; lost writes {}{divergent}; queued work never done {}",
            entries, self.blast_radius.lost_writes, self.blast_radius.queued_work_never_done
        );
        out
    }

    /// When the system noticed, and what: timed from the fault's act.
    pub fn detection_text(&self) -> String {
        match &self.times.detected {
            Some(m) => match &m.fault {
                Some(fault) => format!("+{:.1} s after {fault} acted ({})", m.after_fault_s, m.by),
                None => format!("+{:.1} s ({})", m.after_fault_s, m.by),
            },
            None => "never: no health check, breaker or alert fired on what the faults reached"
                .to_string(),
        }
    }

    /// Whether the design spared its users while the faults acted.
    pub fn mitigation_text(&self) -> String {
        if let Some(m) = &self.times.mitigated {
            return match &m.fault {
                Some(fault) => format!("+{:.1} s after {fault} acted ({})", m.after_fault_s, m.by),
                None => format!("+{:.1} s ({})", m.after_fault_s, m.by),
            };
        }
        let entries: Vec<_> = self
            .components
            .iter()
            .filter(|c| c.kind == crate::topology::ComponentKind::Entry)
            .collect();
        if entries.is_empty() {
            return "not judged: no open-loop entries".into();
        }
        if entries.iter().all(|c| c.onset_s.is_none()) {
            return "nothing to mitigate: every entry stayed inside its steady band".into();
        }
        let back = entries
            .iter()
            .filter(|c| c.onset_s.is_some())
            .map(|c| c.recovered_s)
            .try_fold(0.0f64, |last, s| s.map(|s| last.max(s)));
        match back {
            Some(back) => format!(
                "no — users saw the faults for as long as they acted (entries back inside their band at {back:.1} s)"
            ),
            None => "no — users still see the faults at the end of the run".into(),
        }
    }
}
