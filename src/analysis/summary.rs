//! The few lines `run` prints of an analysis.

use std::fmt::Write as _;

use super::{Analysis, Health, Moment};

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
        for (k, step) in self.chain.iter().enumerate() {
            if k == 0 {
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
        if self.chain.len() == 1 {
            let _ = writeln!(out, "  nothing left its steady band");
        }
        let t = &self.times;
        let moment = |m: &Option<Moment>| match m {
            Some(m) => format!("+{:.1} s ({})", m.after_fault_s, m.by),
            None => "never".to_string(),
        };
        let _ = writeln!(out, "detected:  {}", moment(&t.detected));
        let _ = writeln!(out, "mitigated: {}", moment(&t.mitigated));
        let recovery = match (t.time_to_recover_s, self.metastable) {
            (_, true) => {
                "NOT RECOVERED: metastable (still out of band long after the last fault ended)"
                    .to_string()
            }
            (Some(s), _) => format!("{s:.1} s after the last fault ended"),
            (None, _) if self.recovered => "the faults last to the end".to_string(),
            (None, _) => "not recovered by the end of the run".to_string(),
        };
        let _ = writeln!(out, "recovered: {recovery}");
        let impacts: Vec<String> = self
            .blast_radius
            .entries
            .iter()
            .map(|e| {
                if e.affected {
                    format!(
                        "{} {} failed ({:.2} %)",
                        e.entry,
                        e.failed,
                        e.failed_share * 100.0
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
        let _ = writeln!(
            out,
            "blast radius: {}; lost writes {}; queued work never done {}",
            entries, self.blast_radius.lost_writes, self.blast_radius.queued_work_never_done
        );
        out
    }
}
