//! The failure space of a model: every single fault the search may place,
//! read off the compiled topology alone, and which sets of them are worth
//! running.
//!
//! Identical instances (a service's instances in one zone, none of them a
//! database's primary or a shard holding its own keys) are interchangeable:
//! killing one or another is the same experiment on a different random
//! stream. A set is run only in its canonical form, where the instances it
//! takes from such a group are the group's first ones, in the order of
//! their kill modes; every other form of it is a duplicate.

use std::collections::HashSet;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use crate::spec::fault::{
    CacheFlush, CpuStress, Errors, FaultSpec, InstanceKill, KillMode, NetworkPartition,
    PartitionMode, ZoneOutage,
};
use crate::spec::units::Duration;
use crate::topology::{ServiceKind, Topology};

/// How hard the search hits what it slows or makes fail.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Severity {
    /// Work times of a slowed service are multiplied by this.
    pub slow_factor: f64,
    /// Share of an erroring service's requests that fail at once.
    pub error_share: f64,
}

/// When every fault of a candidate acts: all start together at `at_ns`;
/// the lasting ones end `for_ns` later. Kills and flushes are instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    pub at_ns: u64,
    pub for_ns: u64,
}

/// One fault the search can place.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Atom {
    /// In words, for tables: `crash orders-db-az-a-1`.
    pub label: String,
    /// Its key in a scenario's `faults`.
    pub name: String,
    /// What it is: `crash`, `host_down`, `zone_outage`, `slow`, `errors`,
    /// `cache_flush`, `partition`.
    pub class: String,
    /// For a kill: the group of interchangeable instances it is in, its
    /// rank in the group, and how many the group has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance: Option<InstanceSlot>,
    pub fault: FaultSpec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceSlot {
    pub group: u32,
    pub rank: u32,
    pub alike: u32,
    /// 0 for a crash, 1 for a host down: the order within a canonical set.
    pub mode: u8,
}

/// The atoms of a model, in a fixed order: kills by instance (crash, then
/// host down), zones, slowed services, erroring services, cache flushes,
/// partitioned links.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Space {
    pub atoms: Vec<Atom>,
}

/// A set of atoms, as sorted atom indices.
pub type Set = Vec<u32>;

impl Space {
    pub fn of(topology: &Topology, window: Window, severity: Severity) -> Space {
        let at = Duration(window.at_ns);
        let lasting = Some(Duration(window.for_ns));
        let mut atoms = Vec::new();
        let mut groups: Vec<GroupKey> = Vec::new();
        // Instances first: every present instance, crashed and host down.
        for (s, service) in topology.services.iter().enumerate() {
            let present =
                service.instances.start..service.instances.start + service.initial_instances;
            let keyed = service
                .endpoints
                .clone()
                .any(|e| topology.endpoints[e as usize].keys.is_some());
            let primary = service.replication.map(|r| r.primary);
            let mut ranks: IndexMap<(u32, bool, Option<u32>), u32> = IndexMap::new();
            for i in present.clone() {
                let instance = &topology.instances[i as usize];
                let is_primary = primary == Some(i);
                // A shard of a keyed cache holds keys no other holds: it is
                // a group of its own.
                let key = (instance.zone.0, is_primary, keyed.then_some(i));
                let rank = ranks.entry(key).or_insert(0);
                let slot_rank = *rank;
                *rank += 1;
                let group = group_index(&mut groups, (s as u32, key));
                for (mode, kill) in [(0u8, KillMode::Crash), (1, KillMode::HostDown)] {
                    let (verb, slug) = match kill {
                        KillMode::Crash => ("crash", "crash"),
                        KillMode::HostDown => ("host down", "hostdown"),
                    };
                    let role = if is_primary { " (the primary)" } else { "" };
                    atoms.push(Atom {
                        label: format!("{verb} {}{role}", instance.name),
                        name: format!("{slug}-{}", instance.name),
                        class: if mode == 0 { "crash" } else { "host_down" }.to_string(),
                        instance: Some(InstanceSlot {
                            group,
                            rank: slot_rank,
                            alike: 0,
                            mode,
                        }),
                        fault: FaultSpec::InstanceKill(InstanceKill {
                            target: instance.name.clone(),
                            count: None,
                            mode: kill,
                            at,
                        }),
                    });
                }
            }
        }
        // Each group's size, now that every instance is placed.
        let mut sizes = vec![0u32; groups.len()];
        for a in &atoms {
            if let Some(slot) = a.instance
                && slot.mode == 0
            {
                sizes[slot.group as usize] += 1;
            }
        }
        for a in &mut atoms {
            if let Some(slot) = a.instance.as_mut() {
                slot.alike = sizes[slot.group as usize];
            }
        }
        for zone in &topology.zones {
            atoms.push(Atom {
                label: format!("zone {zone} out"),
                name: format!("zone-{zone}"),
                class: "zone_outage".to_string(),
                instance: None,
                fault: FaultSpec::ZoneOutage(ZoneOutage {
                    zone: zone.clone(),
                    at,
                    duration: lasting,
                }),
            });
        }
        let factor = severity.slow_factor;
        for service in &topology.services {
            atoms.push(Atom {
                label: format!("{} slowed ×{}", service.name, trim(factor)),
                name: format!("slow-{}", service.name),
                class: "slow".to_string(),
                instance: None,
                fault: FaultSpec::CpuStress(CpuStress {
                    target: service.name.clone(),
                    factor,
                    at,
                    duration: lasting,
                }),
            });
        }
        let share = severity.error_share;
        for service in &topology.services {
            atoms.push(Atom {
                label: format!("{} erroring {} %", service.name, trim(share * 100.0)),
                name: format!("errors-{}", service.name),
                class: "errors".to_string(),
                instance: None,
                fault: FaultSpec::Errors(Errors {
                    target: service.name.clone(),
                    fraction: share,
                    at,
                    duration: lasting,
                }),
            });
        }
        for service in &topology.services {
            let keyed = service
                .endpoints
                .clone()
                .any(|e| topology.endpoints[e as usize].keys.is_some());
            if service.kind == ServiceKind::Cache && keyed {
                atoms.push(Atom {
                    label: format!("{} flushed", service.name),
                    name: format!("flush-{}", service.name),
                    class: "cache_flush".to_string(),
                    instance: None,
                    fault: FaultSpec::CacheFlush(CacheFlush {
                        target: service.name.clone(),
                        at,
                    }),
                });
            }
        }
        // Each caller → callee link once, in the order calls are declared.
        let mut links: Vec<(u32, u32)> = Vec::new();
        for call in &topology.calls {
            let from = topology.endpoints[call.from.0 as usize].service.0;
            let to = call.to_service.0;
            if from != to && !links.contains(&(from, to)) {
                links.push((from, to));
            }
        }
        for (from, to) in links {
            let (a, b) = (
                &topology.services[from as usize].name,
                &topology.services[to as usize].name,
            );
            atoms.push(Atom {
                label: format!("{a} ↛ {b} partitioned"),
                name: format!("partition-{a}-{b}"),
                class: "partition".to_string(),
                instance: None,
                fault: FaultSpec::NetworkPartition(NetworkPartition {
                    between: [vec![a.clone()], vec![b.clone()]],
                    mode: PartitionMode::Drop,
                    share: None,
                    at,
                    duration: lasting,
                }),
            });
        }
        Space { atoms }
    }

    /// How many faults the space holds, alike instances each counted
    /// (the singles run are fewer: `sets(1, …)`).
    pub fn len(&self) -> usize {
        self.atoms.len()
    }

    pub fn is_empty(&self) -> bool {
        self.atoms.is_empty()
    }

    /// The canonical form of `set`: within each group of identical
    /// instances, its kills given to the group's first instances, crashes
    /// before host downs. `None` when the set kills one instance twice.
    pub fn canonical(&self, set: &[u32]) -> Option<Set> {
        let mut out: Vec<u32> = Vec::with_capacity(set.len());
        let mut by_group: Vec<(u32, u8, u32)> = Vec::new();
        let mut taken: HashSet<(u32, u32)> = HashSet::new();
        for &a in set {
            match self.atoms[a as usize].instance {
                Some(slot) => {
                    if !taken.insert((slot.group, slot.rank)) {
                        return None;
                    }
                    by_group.push((slot.group, slot.mode, a));
                }
                None => out.push(a),
            }
        }
        by_group.sort_by_key(|&(g, m, _)| (g, m));
        let mut next_rank = 0;
        let mut last_group = None;
        for (group, mode, _) in by_group {
            if last_group != Some(group) {
                next_rank = 0;
                last_group = Some(group);
            }
            out.push(self.slot(group, next_rank, mode)?);
            next_rank += 1;
        }
        out.sort_unstable();
        Some(out)
    }

    /// The atom killing the `rank`-th instance of `group` with `mode`.
    fn slot(&self, group: u32, rank: u32, mode: u8) -> Option<u32> {
        self.atoms
            .iter()
            .position(|a| {
                a.instance
                    .is_some_and(|s| s.group == group && s.rank == rank && s.mode == mode)
            })
            .map(|i| i as u32)
    }

    /// Every canonical set of `size` atoms, in lexicographic order, with
    /// how many sets were left out as duplicates of another under symmetry
    /// and how many because a proper subset already breaks the hypothesis
    /// (`breaks`: canonical sets known to break).
    pub fn sets(&self, size: usize, breaks: &HashSet<Set>) -> Enumerated {
        let n = self.atoms.len() as u32;
        let mut out = Enumerated::default();
        let mut current: Vec<u32> = Vec::with_capacity(size);
        self.combine(0, n, size, &mut current, breaks, &mut out);
        out
    }

    fn combine(
        &self,
        from: u32,
        n: u32,
        size: usize,
        current: &mut Vec<u32>,
        breaks: &HashSet<Set>,
        out: &mut Enumerated,
    ) {
        if current.len() == size {
            match self.canonical(current) {
                Some(c) if c == *current => {
                    if self.has_breaking_subset(current, breaks) {
                        out.pruned += 1;
                    } else {
                        out.sets.push(c);
                    }
                }
                Some(_) => out.symmetric += 1,
                None => out.same_instance += 1,
            }
            return;
        }
        for a in from..n {
            current.push(a);
            self.combine(a + 1, n, size, current, breaks, out);
            current.pop();
        }
    }

    /// Whether a proper, non-empty subset of `set` (in canonical form)
    /// breaks the hypothesis.
    fn has_breaking_subset(&self, set: &[u32], breaks: &HashSet<Set>) -> bool {
        let n = set.len();
        (1..(1u32 << n) - 1).any(|mask| {
            let subset: Vec<u32> = (0..n)
                .filter(|i| mask & (1 << i) != 0)
                .map(|i| set[i])
                .collect();
            self.canonical(&subset).is_some_and(|c| breaks.contains(&c))
        })
    }

    /// The scenario's `faults` for a set.
    pub fn faults(&self, set: &[u32]) -> IndexMap<String, FaultSpec> {
        set.iter()
            .map(|&a| {
                let atom = &self.atoms[a as usize];
                (atom.name.clone(), atom.fault.clone())
            })
            .collect()
    }

    /// A set in words.
    pub fn label(&self, set: &[u32]) -> String {
        if set.is_empty() {
            return "no fault".to_string();
        }
        set.iter()
            .map(|&a| self.atoms[a as usize].label.as_str())
            .collect::<Vec<_>>()
            .join(" + ")
    }
}

/// The sets of one size worth running, and what was left out.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Enumerated {
    pub sets: Vec<Set>,
    /// Duplicates of a canonical set under the symmetry of instances.
    pub symmetric: u64,
    /// Sets killing one instance twice (crashed and host down).
    pub same_instance: u64,
    /// Sets with a proper subset that already breaks the hypothesis: never
    /// minimal.
    pub pruned: u64,
}

/// A service, and what its identical instances share: their zone,
/// whether one is the database's primary, and for a keyed shard the
/// instance itself.
type GroupKey = (u32, (u32, bool, Option<u32>));

/// The index of the group of `key`, added when new.
fn group_index(groups: &mut Vec<GroupKey>, key: GroupKey) -> u32 {
    match groups.iter().position(|g| *g == key) {
        Some(i) => i as u32,
        None => {
            groups.push(key);
            (groups.len() - 1) as u32
        }
    }
}

fn trim(v: f64) -> String {
    let text = format!("{v:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Source;

    /// Two api instances per zone over two zones, one database in zone `a`.
    fn space() -> Space {
        let model = r#"{
          "name": "t", "zones": ["a", "b"],
          "services": {
            "api": { "instances": { "per_zone": 2 }, "workers": 4, "queue": 8,
                     "endpoints": { "get": { "work": { "constant": "1ms" },
                       "calls": { "q": { "to": "db.q", "timeout": "1s" } } } } },
            "db": { "kind": "database", "instances": { "placement": { "a": 1 } }, "workers": 4, "queue": 8,
                    "endpoints": { "q": { "work": { "constant": "1ms" } } } }
          },
          "workload": { "w": { "endpoint": "api.get", "rate": "10/s" } }
        }"#;
        let topology = Topology::from_source(&Source {
            path: "t.json".into(),
            text: model.to_string(),
        })
        .unwrap();
        Space::of(
            &topology,
            Window {
                at_ns: 1_000_000_000,
                for_ns: 1_000_000_000,
            },
            Severity {
                slow_factor: 10.0,
                error_share: 0.5,
            },
        )
    }

    fn atom(space: &Space, label: &str) -> u32 {
        space
            .atoms
            .iter()
            .position(|a| a.label == label)
            .unwrap_or_else(|| panic!("no atom `{label}`")) as u32
    }

    #[test]
    fn the_space_holds_every_instance_zone_service_and_link() {
        let s = space();
        let classes: Vec<&str> = s.atoms.iter().map(|a| a.class.as_str()).collect();
        let count = |c: &str| classes.iter().filter(|k| **k == c).count();
        assert_eq!((count("crash"), count("host_down")), (5, 5));
        assert_eq!(count("zone_outage"), 2);
        assert_eq!(
            (count("slow"), count("errors"), count("partition")),
            (2, 2, 1)
        );
        let api = s.atoms[atom(&s, "crash api-a-2") as usize]
            .instance
            .unwrap();
        assert_eq!((api.rank, api.alike), (1, 2));
    }

    #[test]
    fn a_set_is_canonical_when_it_kills_the_first_of_identical_instances() {
        let s = space();
        let a = |l: &str| atom(&s, l);
        let sorted = |mut v: Vec<u32>| {
            v.sort_unstable();
            v
        };
        assert_eq!(
            s.canonical(&[a("crash api-a-2")]),
            Some(vec![a("crash api-a-1")])
        );
        // Crashes before host downs within a group, whichever instance each named.
        assert_eq!(
            s.canonical(&[a("host down api-a-1"), a("crash api-a-2")]),
            Some(sorted(vec![a("crash api-a-1"), a("host down api-a-2")]))
        );
        // Zones are groups apart.
        assert_eq!(
            s.canonical(&[a("crash api-b-2"), a("crash api-a-2")]),
            Some(sorted(vec![a("crash api-a-1"), a("crash api-b-1")]))
        );
        assert_eq!(
            s.canonical(&[a("crash api-a-1"), a("host down api-a-1")]),
            None
        );
        assert_eq!(s.canonical(&[a("zone a out")]), Some(vec![a("zone a out")]));
    }

    proptest::proptest! {
        /// The canonical form is a fixed point, and the same for a set and
        /// for the set with the instances of each group relabelled.
        #[test]
        fn canonical_forms_are_stable_and_blind_to_which_alike_instance(
            picks in proptest::collection::vec(0u32..17, 1..4),
            swap in proptest::bool::ANY,
        ) {
            let s = space();
            let mut set = picks.clone();
            set.sort_unstable();
            set.dedup();
            let canonical = s.canonical(&set);
            if let Some(c) = &canonical {
                proptest::prop_assert_eq!(s.canonical(c), Some(c.clone()));
                proptest::prop_assert_eq!(c.len(), set.len());
            }
            // The same set with api-a-1 and api-a-2 (and b's) exchanged.
            let relabel = |a: u32| -> u32 {
                let Some(slot) = s.atoms[a as usize].instance else { return a };
                if slot.alike < 2 || !swap {
                    return a;
                }
                s.slot(slot.group, 1 - slot.rank, slot.mode).unwrap()
            };
            let mut other: Vec<u32> = set.iter().map(|&a| relabel(a)).collect();
            other.sort_unstable();
            proptest::prop_assert_eq!(s.canonical(&other), canonical);
        }
    }

    #[test]
    fn every_set_of_two_is_run_once_in_canonical_form_or_said_why_not() {
        let s = space();
        let none = HashSet::new();
        let pairs = s.sets(2, &none);
        let n = s.len() as u32;
        let all = (n * (n - 1) / 2) as u64;
        assert_eq!(
            pairs.sets.len() as u64 + pairs.symmetric + pairs.same_instance + pairs.pruned,
            all
        );
        let mut seen = HashSet::new();
        for i in 0..n {
            for j in i + 1..n {
                if let Some(c) = s.canonical(&[i, j]) {
                    assert!(pairs.sets.contains(&c), "{:?}", s.label(&c));
                    seen.insert(c);
                }
            }
        }
        assert_eq!(
            seen.len(),
            pairs.sets.len(),
            "every set run stands for some pair"
        );
        // Known to break: the database's crash; no pair holding it (in any
        // form) is run, every one is counted as pruned.
        let db = s.canonical(&[atom(&s, "crash db-a-1")]).unwrap();
        let breaks: HashSet<Set> = [db.clone()].into_iter().collect();
        let pruned = s.sets(2, &breaks);
        assert!(pruned.sets.iter().all(|p| !p.contains(&db[0])));
        // With each of the other 15 atoms but its own host down (the same
        // instance) and the second api of each zone, crashed or host down
        // (duplicates of the first): 11.
        assert_eq!(pruned.pruned, 11);
    }
}
