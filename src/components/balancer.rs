//! Instance selection by a service's load balancer.

use std::ops::Range;

use rand::{Rng, RngExt};

use super::instance::InstanceState;
use crate::base::ids::InstanceId;
use crate::topology::LbPolicy;

/// Balancer state of one service.
#[derive(Clone, Debug, Default)]
pub struct Balancer {
    /// Next instance for round robin; the starting point of least-outstanding
    /// scans, so ties rotate rather than pile onto the first instance.
    cursor: u32,
}

impl Balancer {
    /// Picks a routable instance of `range`, or `None` if none is.
    /// Inlined for its common case, a service of one instance, where no
    /// policy has anything to choose.
    #[inline(always)]
    pub fn pick<R: Rng + ?Sized>(
        &mut self,
        policy: LbPolicy,
        range: Range<u32>,
        instances: &[InstanceState],
        rng: &mut R,
    ) -> Option<InstanceId> {
        if range.end - range.start == 1 {
            return instances[range.start as usize]
                .routable
                .then_some(InstanceId(range.start));
        }
        self.pick_among(policy, range, instances, rng)
            .map(InstanceId)
    }

    /// `pick` from a range of any other size.
    #[inline(never)]
    fn pick_among<R: Rng + ?Sized>(
        &mut self,
        policy: LbPolicy,
        range: Range<u32>,
        instances: &[InstanceState],
        rng: &mut R,
    ) -> Option<u32> {
        let n = range.end - range.start;
        match policy {
            LbPolicy::RoundRobin => {
                for _ in 0..n {
                    let candidate = range.start + self.cursor % n;
                    self.cursor = (self.cursor + 1) % n;
                    if instances[candidate as usize].routable {
                        return Some(candidate);
                    }
                }
                None
            }
            LbPolicy::LeastOutstanding => {
                let start = self.cursor % n;
                self.cursor = (self.cursor + 1) % n;
                let mut best: Option<(u32, u32)> = None;
                for k in 0..n {
                    let candidate = range.start + (start + k) % n;
                    let state = &instances[candidate as usize];
                    if state.routable && best.is_none_or(|(_, load)| state.outstanding() < load) {
                        best = Some((candidate, state.outstanding()));
                    }
                }
                best.map(|(candidate, _)| candidate)
            }
            LbPolicy::Random => {
                let candidate = range.start + rng.random_range(0..n);
                if instances[candidate as usize].routable {
                    return Some(candidate);
                }
                random_up(range, instances, rng)
            }
            LbPolicy::PowerOfTwoChoices => {
                let a = range.start + rng.random_range(0..n);
                let b = range.start + (a - range.start + 1 + rng.random_range(0..n - 1)) % n;
                match (
                    instances[a as usize].routable,
                    instances[b as usize].routable,
                ) {
                    (true, true) => {
                        if instances[b as usize].outstanding() < instances[a as usize].outstanding()
                        {
                            Some(b)
                        } else {
                            Some(a)
                        }
                    }
                    (true, false) => Some(a),
                    (false, true) => Some(b),
                    (false, false) => random_up(range, instances, rng),
                }
            }
        }
    }
}

/// Uniform choice among the routable instances (the slow path, when some are
/// ejected).
fn random_up<R: Rng + ?Sized>(
    range: Range<u32>,
    instances: &[InstanceState],
    rng: &mut R,
) -> Option<u32> {
    let up = range
        .clone()
        .filter(|i| instances[*i as usize].routable)
        .count() as u32;
    if up == 0 {
        return None;
    }
    let k = rng.random_range(0..up);
    range
        .filter(|i| instances[*i as usize].routable)
        .nth(k as usize)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::base::rng::stream;

    fn instances(loads: &[u32]) -> Vec<InstanceState> {
        loads
            .iter()
            .map(|l| InstanceState {
                busy: *l,
                ..InstanceState::new()
            })
            .collect()
    }

    #[test]
    fn round_robin_skips_down_instances() {
        let mut state = instances(&[0, 0, 0]);
        state[1].routable = false;
        let mut lb = Balancer::default();
        let mut rng = stream(1, "t");
        let picks: Vec<u32> = (0..4)
            .map(|_| {
                lb.pick(LbPolicy::RoundRobin, 0..3, &state, &mut rng)
                    .unwrap()
                    .0
            })
            .collect();
        assert_eq!(picks, vec![0, 2, 0, 2]);
        state.iter_mut().for_each(|s| s.routable = false);
        assert_eq!(lb.pick(LbPolicy::RoundRobin, 0..3, &state, &mut rng), None);
    }

    #[test]
    fn least_outstanding_and_two_choices_avoid_the_loaded_instance() {
        let state = instances(&[9, 0, 9]);
        let mut lb = Balancer::default();
        let mut rng = stream(1, "t");
        for _ in 0..10 {
            assert_eq!(
                lb.pick(LbPolicy::LeastOutstanding, 0..3, &state, &mut rng),
                Some(InstanceId(1))
            );
        }
        // With two distinct choices out of three, the idle instance is in
        // the pair two times in three and always wins it.
        let idle = (0..3000)
            .filter(|_| {
                lb.pick(LbPolicy::PowerOfTwoChoices, 0..3, &state, &mut rng) == Some(InstanceId(1))
            })
            .count();
        assert!((1850..2150).contains(&idle), "{idle}");
    }

    #[test]
    fn random_is_uniform_over_up_instances() {
        let mut state = instances(&[0, 0, 0, 0]);
        state[3].routable = false;
        let mut lb = Balancer::default();
        let mut rng = stream(3, "t");
        let mut counts = [0; 4];
        for _ in 0..30_000 {
            counts[lb
                .pick(LbPolicy::Random, 0..4, &state, &mut rng)
                .unwrap()
                .index()] += 1;
        }
        assert_eq!(counts[3], 0);
        for c in &counts[..3] {
            assert!((9_500..10_500).contains(c), "{counts:?}");
        }
    }
}
