//! Every component judged window by window against its steady band: the
//! timeline a report draws, and from the first fault's window on, how bad
//! it got, when it left the band and whether it came back.

use super::band::{Band, Reason};
use super::{ComponentReport, Health, Run, Span, seconds};

/// A component's first window out of band after the first fault.
#[derive(Clone, Copy)]
pub(super) struct Onset {
    pub window: usize,
    pub health: Health,
    pub reason: Reason,
}

/// Each component judged window by window against its band, by component
/// index.
pub(super) struct Judged {
    pub reports: Vec<ComponentReport>,
    pub onsets: Vec<Option<Onset>>,
    /// The window after its last one out of band, if it came back.
    pub recovered_at: Vec<Option<usize>>,
}

impl<O> Run<'_, O> {
    pub(super) fn judge(&self, bands: &[Band]) -> Judged {
        let n = self.components.len();
        let mut judged = Judged {
            reports: Vec::with_capacity(n),
            onsets: Vec::with_capacity(n),
            recovered_at: Vec::with_capacity(n),
        };
        let windows = self.windows.len();
        for (c, band) in bands.iter().enumerate() {
            let healths = self.classify(c, band);
            let after = AfterFault::of(&healths, self.fault_window);
            let recovered_at = after.recovered_at(windows);
            let (name, kind) = self.topology.component_name(self.components[c]);
            judged.reports.push(ComponentReport {
                component: name,
                kind,
                worst: after.worst,
                onset_s: after.onset.map(|o| seconds(self.windows[o.window].0)),
                recovered_s: recovered_at.map(|w| seconds(self.windows[w].0)),
                recovered: after.recovered(windows),
                timeline: timeline(self.windows, &healths),
            });
            judged.onsets.push(after.onset);
            judged.recovered_at.push(recovered_at);
        }
        judged
    }

    /// Every window of one component against its band.
    fn classify(&self, c: usize, band: &Band) -> Vec<(Health, Option<Reason>)> {
        (0..self.windows.len())
            .map(|w| band.judge(self.components[c], self.collector.sample(w, c)))
            .collect()
    }
}

/// What a component did from the first fault's window on; before it, out
/// of band is the warm-up settling, not the fault.
struct AfterFault {
    worst: Health,
    onset: Option<Onset>,
    /// Its last window out of band.
    last_bad: Option<usize>,
}

impl AfterFault {
    fn of(healths: &[(Health, Option<Reason>)], fault_window: Option<usize>) -> AfterFault {
        let mut after = AfterFault {
            worst: Health::Healthy,
            onset: None,
            last_bad: None,
        };
        let Some(start) = fault_window else {
            return after;
        };
        for (w, (health, reason)) in healths.iter().enumerate().skip(start) {
            if *health == Health::Healthy {
                continue;
            }
            after.worst = after.worst.max(*health);
            after.last_bad = Some(w);
            if after.onset.is_none() {
                after.onset = Some(Onset {
                    window: w,
                    health: *health,
                    reason: reason.expect("out of band has a reason"),
                });
            }
        }
        after
    }

    /// In band in the run's last window, or never out of it.
    fn recovered(&self, windows: usize) -> bool {
        self.last_bad.is_none_or(|w| w + 1 < windows)
    }

    /// The window from which it stayed in band; `None` when it never left
    /// or never came back.
    fn recovered_at(&self, windows: usize) -> Option<usize> {
        self.last_bad.map(|w| w + 1).filter(|w| *w < windows)
    }
}

/// Runs of windows in one state, as a report draws them.
fn timeline(windows: &[(u64, u64)], healths: &[(Health, Option<Reason>)]) -> Vec<Span> {
    let mut timeline: Vec<Span> = Vec::new();
    for (window, (health, reason)) in windows.iter().zip(healths) {
        let reason = reason.map(|r| r.to_string());
        match timeline.last_mut() {
            Some(span) if span.health == *health && span.reason.is_some() == reason.is_some() => {
                span.to_s = seconds(window.1);
            }
            _ => timeline.push(Span {
                from_s: seconds(window.0),
                to_s: seconds(window.1),
                health: *health,
                reason,
            }),
        }
    }
    timeline
}
