//! How long the system took: to notice the fault, to spare its users, and
//! to come back once the faults ended.

use super::band::Band;
use super::judge::Judged;
use super::{Health, Moment, Run, seconds};
use crate::observe::events::StateChange;
use crate::topology::Topology;

/// Whether the chain came back and how it ended.
pub(super) struct Recovery {
    pub recovered: bool,
    pub time_to_recover_s: Option<f64>,
    /// Still out of band `metastable_after` past the last fault's end.
    pub metastable: bool,
}

impl<O> Run<'_, O> {
    /// Detection: the first signal the system itself raised after the first
    /// fault (an ejection, a breaker opening, a memory alert, a lost
    /// primary, an OOM kill).
    pub(super) fn detection(&self) -> Option<Moment> {
        let start = self.first_fault?;
        self.collector
            .events
            .iter()
            .filter(|e| e.time >= start)
            .find_map(|e| {
                Some(Moment {
                    at_s: seconds(e.time),
                    after_fault_s: seconds(e.time - start),
                    by: signal(self.topology, e.change)?,
                })
            })
    }

    /// Mitigated: the first window after the first onset at an entry in
    /// which every entry is back in band.
    pub(super) fn mitigation(&self, bands: &[Band], judged: &Judged) -> Option<Moment> {
        let entries = self.entries();
        let from = entries
            .iter()
            .filter_map(|c| judged.onsets[*c].map(|o| o.window))
            .min()?;
        let w = (from + 1..self.windows.len()).find(|w| {
            entries.iter().all(|c| {
                bands[*c]
                    .judge(self.components[*c], self.collector.sample(*w, *c))
                    .0
                    == Health::Healthy
            })
        })?;
        let start = self.first_fault.expect("an onset follows a fault");
        Some(Moment {
            at_s: seconds(self.windows[w].0),
            after_fault_s: seconds(self.windows[w].0.saturating_sub(start)),
            by: "every entry back inside its steady band".to_string(),
        })
    }

    /// Whether every component of the chain came back, how long after the
    /// last fault ended the last one did, and whether the run is
    /// metastable.
    pub(super) fn recovery(
        &self,
        judged: &Judged,
        chain_components: &[usize],
        metastable_after: u64,
    ) -> Recovery {
        let recovered = chain_components
            .iter()
            .all(|c| judged.reports[*c].recovered);
        let duration = self.duration;
        let time_to_recover_s = match (self.last_end, recovered) {
            (Some(end), true) if end < duration => {
                let back = chain_components
                    .iter()
                    .filter_map(|c| judged.recovered_at[*c].map(|w| self.windows[w].0))
                    .max()
                    .unwrap_or(0);
                Some(seconds(back.saturating_sub(end)))
            }
            _ => None,
        };
        let metastable = !recovered
            && self
                .last_end
                .is_some_and(|end| end < duration && duration - end >= metastable_after);
        Recovery {
            recovered,
            time_to_recover_s,
            metastable,
        }
    }
}

/// A state change that is the system noticing trouble, in words; `None`
/// for the others.
fn signal(topology: &Topology, change: StateChange) -> Option<String> {
    let instance = |i: u32| &topology.instances[i as usize].name;
    Some(match change {
        StateChange::Ejected { instance: i } => format!("health check ejected {}", instance(i)),
        StateChange::BreakerOpened { call, instance: i } => format!(
            "breaker opened on {} at {}",
            topology.calls[call as usize].name,
            instance(i)
        ),
        StateChange::MemoryAlert {
            instance: i,
            percent,
        } => format!("memory alert {percent} % on {}", instance(i)),
        StateChange::PrimaryLost { instance: i } => format!("primary {} lost", instance(i)),
        StateChange::OomKilled { instance: i } => format!("OOM kill of {}", instance(i)),
        _ => return None,
    })
}
