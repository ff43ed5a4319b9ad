//! Every component judged window by window against its steady band: the
//! timeline a report draws, and from the first fault's window on, how bad
//! it got, the episodes it spent out of band and whether it came back.

use super::band::{Band, Reason};
use super::{ComponentReport, Health, Run, Span, seconds};

/// Windows out of band less than this apart are one episode: a component
/// that flaps has not come back in between.
const EPISODE_GAP: u64 = 5_000_000_000;
/// An episode this short that starts this long after the faults ended
/// (`EPISODE_GAP`) is a blip of the steady state, not a relapse: a busy
/// system leaves its band now and then.
const BLIP: u64 = 3_000_000_000;
/// In band at least this long at the end of the run to be called back: one
/// window in band is not a recovery.
const HOLD: u64 = 5_000_000_000;

/// A component's first window out of band after the first fault.
#[derive(Clone, Copy)]
pub(super) struct Onset {
    pub window: usize,
    pub reason: Reason,
}

/// A run of windows out of band, `[from, to)`, with gaps shorter than
/// `EPISODE_GAP` inside.
#[derive(Clone, Copy, Debug)]
pub(super) struct Episode {
    pub from: usize,
    pub to: usize,
    /// A blip after the faults ended: it does not count against recovery.
    pub blip: bool,
}

/// Each component judged window by window against its band, by component
/// index.
pub(super) struct Judged {
    pub reports: Vec<ComponentReport>,
    pub onsets: Vec<Option<Onset>>,
    /// Every window's verdict, by component then window.
    pub healths: Vec<Vec<(Health, Option<Reason>)>>,
    /// Its episodes out of band from the first fault's window on.
    pub episodes: Vec<Vec<Episode>>,
    /// The window after its last episode that counts, if it came back.
    pub recovered_at: Vec<Option<usize>>,
}

impl Judged {
    pub(super) fn healthy(&self, c: usize, w: usize) -> bool {
        self.healths[c][w].0 == Health::Healthy
    }
}

impl<O> Run<'_, O> {
    pub(super) fn judge(&self, bands: &[Band]) -> Judged {
        let n = self.components.len();
        let mut judged = Judged {
            reports: Vec::with_capacity(n),
            onsets: Vec::with_capacity(n),
            healths: Vec::with_capacity(n),
            episodes: Vec::with_capacity(n),
            recovered_at: Vec::with_capacity(n),
        };
        for (c, band) in bands.iter().enumerate() {
            let healths = self.classify(c, band);
            let after = self.after_fault(&healths);
            let (name, kind) = self.topology.component_name(self.components[c]);
            judged.reports.push(ComponentReport {
                component: name,
                kind,
                worst: after.worst,
                onset_s: after.onset.map(|o| seconds(self.windows[o.window].0)),
                recovered_s: after.recovered_at.map(|w| seconds(self.windows[w].0)),
                recovered: after.recovered,
                timeline: timeline(self.windows, &healths),
            });
            judged.onsets.push(after.onset);
            judged.episodes.push(after.episodes);
            judged.recovered_at.push(after.recovered_at);
            judged.healths.push(healths);
        }
        judged
    }

    /// Every window of one component against its band.
    fn classify(&self, c: usize, band: &Band) -> Vec<(Health, Option<Reason>)> {
        (0..self.windows.len())
            .map(|w| {
                let (from, to) = self.windows[w];
                band.judge(self.components[c], self.collector.sample(w, c), to - from)
            })
            .collect()
    }

    /// Windows spanning at least `ns` (at least one).
    pub(super) fn windows_for(&self, ns: u64) -> usize {
        let width = self.windows.first().map_or(1, |w| (w.1 - w.0).max(1));
        ns.div_ceil(width).max(1) as usize
    }

    /// What a component did from the first fault's window on; before it,
    /// out of band is the warm-up settling, not the fault.
    fn after_fault(&self, healths: &[(Health, Option<Reason>)]) -> AfterFault {
        let mut after = AfterFault {
            worst: Health::Healthy,
            onset: None,
            episodes: Vec::new(),
            recovered_at: None,
            recovered: true,
        };
        let Some(start) = self.fault_window else {
            return after;
        };
        let gap = self.windows_for(EPISODE_GAP);
        for (w, (health, reason)) in healths.iter().enumerate().skip(start) {
            if *health == Health::Healthy {
                continue;
            }
            after.worst = after.worst.max(*health);
            if after.onset.is_none() {
                after.onset = Some(Onset {
                    window: w,
                    reason: reason.expect("out of band has a reason"),
                });
            }
            match after.episodes.last_mut() {
                Some(e) if w - e.to < gap => e.to = w + 1,
                _ => after.episodes.push(Episode {
                    from: w,
                    to: w + 1,
                    blip: false,
                }),
            }
        }
        let calm_from = self.last_end.map(|end| end.saturating_add(EPISODE_GAP));
        let blip = self.windows_for(BLIP);
        for e in &mut after.episodes {
            e.blip = e.to - e.from < blip && calm_from.is_some_and(|t| self.windows[e.from].0 >= t);
        }
        let windows = self.windows.len();
        if let Some(last) = after.episodes.iter().rev().find(|e| !e.blip) {
            after.recovered = windows - last.to >= self.windows_for(HOLD).min(windows);
            after.recovered_at = after.recovered.then_some(last.to);
        }
        after
    }
}

/// What a component did from the first fault's window on.
struct AfterFault {
    worst: Health,
    onset: Option<Onset>,
    episodes: Vec<Episode>,
    /// The window after its last episode that counts, if it came back.
    recovered_at: Option<usize>,
    /// Never out of band, or back and in band long enough at the end.
    recovered: bool,
}

/// Runs of windows in one state for one reason, as a report draws them,
/// each told by its worst window.
fn timeline(windows: &[(u64, u64)], healths: &[(Health, Option<Reason>)]) -> Vec<Span> {
    let mut spans: Vec<(Span, Option<Reason>)> = Vec::new();
    for (window, (health, reason)) in windows.iter().zip(healths) {
        match spans.last_mut() {
            Some((span, worst))
                if span.health == *health
                    && worst.map(|r| r.kind()) == reason.map(|r| r.kind()) =>
            {
                span.to_s = seconds(window.1);
                if let (Some(w), Some(r)) = (worst.as_mut(), reason)
                    && r.magnitude() > w.magnitude()
                {
                    *w = *r;
                }
            }
            _ => spans.push((
                Span {
                    from_s: seconds(window.0),
                    to_s: seconds(window.1),
                    health: *health,
                    reason: None,
                },
                *reason,
            )),
        }
    }
    spans
        .into_iter()
        .map(|(mut span, worst)| {
            span.reason = worst.map(|r| r.to_string());
            span
        })
        .collect()
}
