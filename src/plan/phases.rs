//! The phases of a run: before the first fault, during the faults, after
//! the last one, and the whole measured run. Hypotheses and the collector
//! measure over them.

use crate::faults::Fault;
use crate::spec::scenario;

/// Part of the run a check looks at, named as scenarios and `run.json`
/// name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// From the end of the warm-up to the first fault.
    Before,
    /// From the first fault's start to the last fault's end.
    During,
    /// From the last fault's end to the end of the run: the recovery.
    After,
    /// From the end of the warm-up to the end of the run.
    Whole,
}

impl Phase {
    pub const ALL: [Phase; 4] = [Phase::Before, Phase::During, Phase::After, Phase::Whole];

    pub fn name(self) -> &'static str {
        match self {
            Phase::Before => "before",
            Phase::During => "during",
            Phase::After => "after",
            Phase::Whole => "whole",
        }
    }
}

impl std::fmt::Display for Phase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.name())
    }
}

impl From<scenario::Phase> for Phase {
    fn from(phase: scenario::Phase) -> Self {
        match phase {
            scenario::Phase::Before => Phase::Before,
            scenario::Phase::During => Phase::During,
            scenario::Phase::After => Phase::After,
            scenario::Phase::Whole => Phase::Whole,
        }
    }
}

/// Virtual-time spans of the phases, `[start, end)` in ns; a window belongs
/// to a phase when its start lies in the span.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Phases {
    pub spans: [(u64, u64); 4],
}

impl Phases {
    /// `first_start`/`last_end`: of the faults (`None` without faults; a
    /// fault that lasts to the end ends at `duration`).
    pub fn new(warmup: u64, duration: u64, faults: Option<(u64, u64)>) -> Phases {
        let (first, last) = faults.unwrap_or((duration, duration));
        let first = first.max(warmup).min(duration);
        let last = last.max(first).min(duration);
        Phases {
            spans: [
                (warmup, first),
                (first, last),
                (last, duration),
                (warmup, duration),
            ],
        }
    }

    pub fn span(&self, phase: Phase) -> (u64, u64) {
        self.spans[phase as usize]
    }

    pub fn contains(&self, phase: Phase, window_start: u64) -> bool {
        let (from, to) = self.span(phase);
        window_start >= from && window_start < to
    }
}

impl Phases {
    /// The phases of a run whose experiment a stop guard ended at `at`:
    /// the faults were over then, whatever their schedule said.
    pub fn stopped_at(&self, at: u64) -> Phases {
        let (warmup, duration) = self.span(Phase::Whole);
        let first = self.span(Phase::During).0;
        Phases::new(warmup, duration, Some((first, at)))
    }
}

impl Phases {
    /// The phases of a run of `duration` after `warmup`, from its compiled
    /// faults.
    pub fn of(warmup: u64, duration: u64, faults: &[Fault]) -> Phases {
        let span = faults.iter().map(|f| f.start).min().map(|first| {
            let last = faults
                .iter()
                .map(|f| f.ends_at().unwrap_or(duration))
                .max()
                .unwrap_or(first);
            (first, last)
        });
        Phases::new(warmup, duration, span)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phases_split_the_measured_run_at_the_faults() {
        let s = 1_000_000_000;
        let p = Phases::new(30 * s, 240 * s, Some((60 * s, 80 * s)));
        assert_eq!(p.span(Phase::Before), (30 * s, 60 * s));
        assert_eq!(p.span(Phase::During), (60 * s, 80 * s));
        assert_eq!(p.span(Phase::After), (80 * s, 240 * s));
        assert_eq!(p.span(Phase::Whole), (30 * s, 240 * s));
        assert!(p.contains(Phase::During, 79 * s));
        assert!(!p.contains(Phase::During, 80 * s));
        // Without faults the whole measured run is "before"; during and
        // after are empty.
        let calm = Phases::new(10 * s, 100 * s, None);
        assert_eq!(calm.span(Phase::Before), (10 * s, 100 * s));
        assert_eq!(calm.span(Phase::During), (100 * s, 100 * s));
        assert_eq!(calm.span(Phase::After), (100 * s, 100 * s));
    }

    #[test]
    fn a_stopped_experiment_ends_its_faults_at_the_trip() {
        let s = 1_000_000_000;
        let planned = Phases::new(30 * s, 240 * s, Some((60 * s, 180 * s)));
        let stopped = planned.stopped_at(64 * s);
        assert_eq!(stopped.span(Phase::Before), (30 * s, 60 * s));
        assert_eq!(stopped.span(Phase::During), (60 * s, 64 * s));
        assert_eq!(stopped.span(Phase::After), (64 * s, 240 * s));
        assert_eq!(stopped.span(Phase::Whole), (30 * s, 240 * s));
        // A rolling restart is an instant on the schedule; halted later,
        // the experiment ran until the halt.
        let roll = Phases::new(30 * s, 240 * s, Some((60 * s, 60 * s)));
        assert_eq!(
            roll.stopped_at(75 * s).span(Phase::During),
            (60 * s, 75 * s)
        );
    }
}
