//! How long the system took: to notice a fault, to spare its users while
//! it acted, and to come back once the faults ended — or why it did not.

use super::acts::Acts;
use super::judge::Judged;
use super::{Moment, RecoveryKind, Run, Step, StepKind, seconds};
use crate::observe::events::StateChange;
use crate::topology::{ComponentKind, Topology};

/// In band this long, with every entry, to count as spared.
const HOLD: u64 = 5_000_000_000;

/// Whether the chain came back and how it ended.
pub(super) struct Recovery {
    pub recovered: bool,
    pub time_to_recover_s: Option<f64>,
    pub kind: RecoveryKind,
    /// The verdict in words.
    pub text: String,
}

impl<O> Run<'_, O> {
    /// Detection: the first signal the system itself raised (an ejection,
    /// a breaker opening, a memory alert, a failover, an OOM kill) on a
    /// component the faults reached, timed from the fault's act it answers:
    /// the kill, freeze or outage of that very instance when there was one,
    /// else the latest act of the fault that reached its service.
    pub(super) fn detection(&self, acts: &[Acts], chain: &[Step]) -> Option<Moment> {
        self.collector.events.iter().find_map(|e| {
            let (by, services) = signal(self.topology, e.change)?;
            let reached = |s: u32| {
                let name = &self.topology.services[s as usize].name;
                chain.iter().find(|step| {
                    step.kind == StepKind::Component(ComponentKind::Service)
                        && &step.component == name
                })
            };
            let instance = signal_instance(e.change);
            // The act on this very instance, if a fault acted on it.
            let on_instance = acts
                .iter()
                .enumerate()
                .flat_map(|(f, a)| a.on_instances.iter().map(move |(t, i)| (*t, *i, f)))
                .filter(|(t, i, _)| Some(*i) == instance && *t <= e.time)
                .max_by_key(|(t, _, f)| (*t, *f))
                .map(|(t, _, f)| (t, f));
            let latest_act = |f: usize| {
                acts[f]
                    .on_instances
                    .iter()
                    .map(|a| a.0)
                    .filter(|t| *t <= e.time)
                    .max()
                    .or(acts[f].first)
            };
            // Else a fault acting on its service, the latest to start.
            let on_target = || {
                (0..self.faults.len())
                    .filter(|f| acts[*f].first.is_some_and(|t| t <= e.time))
                    .filter(|f| {
                        self.faults[*f]
                            .services(self.topology)
                            .iter()
                            .any(|t| services.contains(t))
                    })
                    .max_by_key(|f| (acts[*f].first, *f))
            };
            // Else the fault the chain traces its service back to.
            let by_chain = || {
                let root = services
                    .iter()
                    .filter_map(|s| reached(*s))
                    .filter(|step| step.onset_s <= e.time as f64 / 1e9)
                    .find_map(|step| step.root.clone())?;
                self.faults.iter().position(|f| f.name == root)
            };
            let (from, fault) = match on_instance {
                Some(act) => act,
                None => {
                    let f = on_target().or_else(by_chain)?;
                    (latest_act(f)?, f)
                }
            };
            (from <= e.time).then(|| Moment {
                at_s: seconds(e.time),
                after_fault_s: seconds(e.time - from),
                by,
                fault: Some(self.faults[fault].name.clone()),
            })
        })
    }

    /// Mitigated: the users spared while a fault still acts — the first
    /// window after the first onset at an entry from which every entry
    /// stays in band until the faults' damage ends (and at least `HOLD`).
    /// `None` when they saw it for as long as it acted.
    pub(super) fn mitigation(&self, judged: &Judged, acts: &[Acts]) -> Option<Moment> {
        let entries = self.entries();
        let from = entries
            .iter()
            .filter_map(|c| judged.onsets[*c].map(|o| o.window))
            .min()?;
        let until = acts
            .iter()
            .filter(|a| a.first.is_some())
            .map(|a| a.until)
            .max()?;
        let windows = self.windows.len();
        let hold = self.windows_for(HOLD);
        let acting = self.windows.iter().take_while(|x| x.0 < until).count();
        // The first window at or after each one where some entry is out of
        // band (`windows` if none): one pass back, so that the search for
        // the first window in band for good is linear in the windows (a run
        // of 600 000 one-millisecond windows took minutes, quadratically).
        let mut next_out = vec![windows; windows + 1];
        for x in (0..windows).rev() {
            next_out[x] = if entries.iter().all(|c| judged.healthy(*c, x)) {
                next_out[x + 1]
            } else {
                x
            };
        }
        let w = (from + 1..acting).find(|w| {
            let last = windows.min((*w + hold).max(acting));
            next_out[*w] >= last
        })?;
        // Timed from the act it spares users of: the latest before it.
        let at = self.windows[w].0;
        let (act, fault) = acts
            .iter()
            .enumerate()
            .flat_map(|(f, a)| {
                a.first
                    .into_iter()
                    .chain(a.on_instances.iter().map(|x| x.0))
                    .map(move |t| (t, f))
            })
            .filter(|(t, _)| *t <= at)
            .max()?;
        Some(Moment {
            at_s: seconds(at),
            after_fault_s: seconds(at - act),
            by: format!(
                "every entry back inside its steady band for good while the faults still acted, until {:.1} s",
                seconds(until)
            ),
            fault: Some(self.faults[fault].name.clone()),
        })
    }

    /// Whether every component of the chain came back, how long after the
    /// last fault ended the last one did, and if not, why not: a fault that
    /// never ended, damage no mechanism repaired, a system that stays out
    /// of band on its own (metastable), or a run too short to tell.
    pub(super) fn recovery(
        &self,
        judged: &Judged,
        chain_components: &[usize],
        acts: &[Acts],
        metastable_after: u64,
    ) -> Recovery {
        let recovered = chain_components
            .iter()
            .all(|c| judged.reports[*c].recovered);
        let duration = self.duration;
        let Some(end) = self.last_end else {
            return Recovery {
                recovered,
                time_to_recover_s: None,
                kind: RecoveryKind::NoFaults,
                text: "no faults".into(),
            };
        };
        let time_to_recover_s = (recovered && end < duration).then(|| {
            let back = chain_components
                .iter()
                .filter_map(|c| judged.recovered_at[*c].map(|w| self.windows[w].0))
                .max()
                .unwrap_or(0);
            seconds(back.saturating_sub(end))
        });
        let lasting: Vec<&str> = self
            .faults
            .iter()
            .filter(|f| f.ends_at().is_none_or(|t| t >= duration))
            .map(|f| f.name.as_str())
            .collect();
        let lost: Vec<&str> = acts
            .iter()
            .flat_map(|a| a.lost.iter())
            .map(|i| self.topology.instances[*i as usize].name.as_str())
            .collect();
        let state = if recovered {
            "everything is back inside its band"
        } else {
            "still out of band at the end"
        };
        let (kind, text) = if !lasting.is_empty() {
            (
                RecoveryKind::FaultLasts,
                format!(
                    "not judged: {} {} to the end of the run ({state})",
                    lasting.join(", "),
                    if lasting.len() == 1 { "lasts" } else { "last" }
                ),
            )
        } else if let Some(s) = time_to_recover_s {
            let without = if lost.is_empty() {
                String::new()
            } else {
                format!(" (running without {}: killed, never back)", lost.join(", "))
            };
            (
                RecoveryKind::Recovered,
                format!("{s:.1} s after the last fault ended{without}"),
            )
        } else if !lost.is_empty() {
            let repair = if lost.iter().all(|name| {
                let i = self.topology.instances.iter().position(|x| &x.name == name);
                i.is_some_and(|i| {
                    self.topology.services[self.topology.instances[i].service.index()]
                        .restart
                        .is_none()
                })
            }) {
                "no restart policy brings it back"
            } else {
                "not restarted by the end of the run"
            };
            (
                RecoveryKind::Unrepaired,
                format!(
                    "not recovered: lasting damage — {} killed and never back ({repair})",
                    lost.join(", ")
                ),
            )
        } else if let Some(since) = self.sustained(judged, chain_components, end)
            && duration - since >= metastable_after
        {
            (
                RecoveryKind::Metastable,
                format!(
                    "NOT RECOVERED: metastable — every fault ended at {:.1} s and it has stayed out of band since {:.1} s on its own",
                    seconds(end),
                    seconds(since)
                ),
            )
        } else {
            (
                RecoveryKind::NotRecovered,
                format!(
                    "not recovered by the end of the run, {:.1} s after the last fault ended",
                    seconds(duration.saturating_sub(end))
                ),
            )
        };
        Recovery {
            recovered,
            time_to_recover_s,
            kind,
            text,
        }
    }

    /// Since when (ns) a component of the chain has stayed out of band to
    /// the end, counted from the last fault's end at the earliest.
    fn sustained(&self, judged: &Judged, chain_components: &[usize], end: u64) -> Option<u64> {
        chain_components
            .iter()
            .filter(|c| !judged.reports[**c].recovered)
            .filter_map(|c| {
                let last = judged.episodes[*c].iter().rev().find(|e| !e.blip)?;
                (last.to == self.windows.len()).then(|| self.windows[last.from].0.max(end))
            })
            .min()
    }
}

/// The instance a signal is about.
fn signal_instance(change: StateChange) -> Option<u32> {
    match change {
        StateChange::Ejected { instance }
        | StateChange::BreakerOpened { instance, .. }
        | StateChange::MemoryAlert { instance, .. }
        | StateChange::PrimaryPromoted { instance, .. }
        | StateChange::OomKilled { instance } => Some(instance),
        _ => None,
    }
}

/// A state change that is the system noticing trouble, in words, with the
/// services it is about; `None` for the others.
fn signal(topology: &Topology, change: StateChange) -> Option<(String, Vec<u32>)> {
    let instance = |i: u32| &topology.instances[i as usize].name;
    let service = |i: u32| topology.instances[i as usize].service.0;
    Some(match change {
        StateChange::Ejected { instance: i } => (
            format!("health check ejected {}", instance(i)),
            vec![service(i)],
        ),
        StateChange::BreakerOpened { call, instance: i } => (
            format!(
                "breaker opened on {} at {}",
                topology.calls[call as usize].name,
                instance(i)
            ),
            vec![service(i), topology.calls[call as usize].to_service.0],
        ),
        StateChange::MemoryAlert {
            instance: i,
            percent,
        } => (
            format!("memory alert {percent} % on {}", instance(i)),
            vec![service(i)],
        ),
        // `PrimaryLost` is the engine's record of the death, not anyone
        // noticing it: the failover that promotes a replica is.
        StateChange::PrimaryPromoted { instance: i, .. } => (
            format!("failover promoted {} to primary", instance(i)),
            vec![service(i)],
        ),
        StateChange::OomKilled { instance: i } => {
            (format!("OOM kill of {}", instance(i)), vec![service(i)])
        }
        _ => return None,
    })
}
