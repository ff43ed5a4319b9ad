//! Latency histograms: the bucket layout, queries and rounding of an
//! `hdrhistogram::Histogram<u64>` built with `new_with_bounds(1, 1 h, 2)`,
//! specialised to that one layout.
//!
//! Every successful request is recorded twice (its endpoint and its entry),
//! and the general-purpose crate spends more on a record (range checks,
//! auto-resize and clamping paths, an out-of-line call) than the engine
//! spends on the rest of a request. Window closes scan, merge and clear
//! every histogram; with the layout fixed they touch only the buckets
//! between the smallest and largest value seen, not all 4 608. Counts,
//! clamping and every query answer exactly as the crate would: percentiles
//! in the files depend on it (a test checks it against the crate).

/// Values are in nanoseconds; the top of the range is an hour. Larger
/// values are counted as this one, as `Histogram::saturating_record` does.
const HIGHEST: u64 = 3_600_000_000_000;
/// Two significant digits: 256 sub-buckets per bucket, of which the upper
/// half is used past the first bucket.
const SUB_BUCKET_HALF_MAGNITUDE: u32 = 7;
const SUB_BUCKET_HALF: usize = 1 << SUB_BUCKET_HALF_MAGNITUDE;
const SUB_BUCKET_MASK: u64 = (2 * SUB_BUCKET_HALF as u64) - 1;
const LEADING_ZERO_BASE: u32 = 64 - (SUB_BUCKET_HALF_MAGNITUDE + 1);
/// Buckets needed to cover `HIGHEST`: the first holds 0..256, each next one
/// doubles the range.
const BUCKETS: usize = {
    let mut smallest_untrackable = 2 * SUB_BUCKET_HALF as u64;
    let mut buckets = 1;
    while smallest_untrackable <= HIGHEST {
        smallest_untrackable <<= 1;
        buckets += 1;
    }
    buckets
};
const COUNTS: usize = (BUCKETS + 1) * SUB_BUCKET_HALF;

#[inline]
fn bucket_of(value: u64) -> u32 {
    LEADING_ZERO_BASE - (value | SUB_BUCKET_MASK).leading_zeros()
}

/// Index of the count `value` falls in (may be past the last one).
#[inline]
fn index_of(value: u64) -> usize {
    let bucket = bucket_of(value);
    ((bucket as usize) << SUB_BUCKET_HALF_MAGNITUDE) + (value >> bucket) as usize
}

/// The lowest value counted at `index`.
fn value_at(index: usize) -> u64 {
    if index < 2 * SUB_BUCKET_HALF {
        return index as u64;
    }
    let bucket = (index >> SUB_BUCKET_HALF_MAGNITUDE) - 1;
    let sub_bucket = (index & (SUB_BUCKET_HALF - 1)) + SUB_BUCKET_HALF;
    (sub_bucket as u64) << bucket
}

fn lowest_equivalent(value: u64) -> u64 {
    let bucket = bucket_of(value);
    (value >> bucket) << bucket
}

fn highest_equivalent(value: u64) -> u64 {
    if value == u64::MAX {
        return u64::MAX;
    }
    lowest_equivalent(value).saturating_add(1 << bucket_of(value)) - 1
}

/// What a quantile that falls at `index` reports: the top of the bucket
/// (the bottom for quantile 0). Out of line: the scan that finds the index
/// stays a tight loop.
#[inline(never)]
fn reported_value(index: usize, quantile: f64) -> u64 {
    let value = value_at(index);
    if quantile == 0.0 {
        lowest_equivalent(value)
    } else {
        highest_equivalent(value)
    }
}

/// Counts of values (ns) at 1 % resolution up to an hour.
#[derive(Clone)]
pub struct Latencies {
    counts: Box<[u64; COUNTS]>,
    total: u64,
    /// Largest value recorded, 0 if none.
    max: u64,
    /// Smallest non-zero value recorded, `u64::MAX` if none.
    min_nz: u64,
}

impl std::fmt::Debug for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latencies")
            .field("len", &self.total)
            .field("min_nz", &self.min_nz)
            .field("max", &self.max)
            .finish_non_exhaustive()
    }
}

impl Default for Latencies {
    fn default() -> Self {
        Self::new()
    }
}

impl Latencies {
    pub fn new() -> Latencies {
        let counts: Box<[u64]> = vec![0; COUNTS].into_boxed_slice();
        Latencies {
            counts: counts.try_into().expect("allocated at the fixed length"),
            total: 0,
            max: 0,
            min_nz: u64::MAX,
        }
    }

    // Forced inline: a few instructions, on every request's path (twice or
    // three times), where a call would cost as much again.
    #[inline(always)]
    pub fn record(&mut self, value: u64) {
        let mut value = value;
        let mut index = index_of(value);
        if index >= COUNTS {
            value = HIGHEST;
            index = index_of(HIGHEST);
        }
        self.counts[index] += 1;
        self.total += 1;
        self.max = self.max.max(value);
        if value != 0 && value < self.min_nz {
            self.min_nz = value;
        }
    }

    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// How many of the values recorded were exactly zero (the first count
    /// holds 0 alone: 1 ns has a count of its own).
    pub fn zeros(&self) -> u64 {
        self.counts[0]
    }

    /// Indices of the counts of non-zero values that can be non-zero. The
    /// count of zeros (index 0) is kept apart: with waits, most of which
    /// are zero, a span from 0 would cover the ~1 800 empty counts below a
    /// millisecond at every window close.
    fn nonzero_span(&self) -> std::ops::Range<usize> {
        if self.min_nz == u64::MAX {
            return 0..0;
        }
        index_of(self.min_nz)..index_of(self.max) + 1
    }

    pub fn add(&mut self, other: &Latencies) {
        let span = other.nonzero_span();
        self.counts[0] += other.counts[0];
        for (mine, theirs) in self.counts[span.clone()]
            .iter_mut()
            .zip(&other.counts[span])
        {
            *mine += theirs;
        }
        self.total += other.total;
        self.max = self.max.max(other.max);
        self.min_nz = self.min_nz.min(other.min_nz);
    }

    pub fn reset(&mut self) {
        let span = self.nonzero_span();
        self.counts[0] = 0;
        self.counts[span].fill(0);
        self.total = 0;
        self.max = 0;
        self.min_nz = u64::MAX;
    }

    /// The largest value recorded, up to the resolution (the top of its
    /// bucket); 0 if none.
    pub fn max(&self) -> u64 {
        if self.max == 0 {
            0
        } else {
            highest_equivalent(self.max)
        }
    }

    /// The largest value recorded, exactly (an hour for anything longer);
    /// 0 if none.
    pub fn exact_max(&self) -> u64 {
        self.max
    }

    /// The smallest value recorded, up to the resolution (the bottom of its
    /// bucket); 0 if none.
    pub fn min(&self) -> u64 {
        if self.total == 0 || self.counts[0] != 0 {
            0
        } else {
            lowest_equivalent(self.min_nz)
        }
    }

    /// The value below which `quantile` of the recorded values fall, as the
    /// top of its bucket (the bottom for quantile 0); 0 if none.
    pub fn value_at_quantile(&self, quantile: f64) -> u64 {
        self.values_at_quantiles([quantile])[0]
    }

    /// `value_at_quantile` of each of `quantiles` (ascending), in one scan.
    pub fn values_at_quantiles<const N: usize>(&self, quantiles: [f64; N]) -> [u64; N] {
        debug_assert!(quantiles.is_sorted(), "quantiles in ascending order");
        let quantiles = quantiles.map(|q| if q > 1.0 { 1.0 } else { q });
        let targets = quantiles.map(|q| ((q * self.total as f64).ceil() as u64).max(1));
        let mut values = [0; N];
        let Some(&first_target) = targets.first() else {
            return values;
        };
        let mut target = first_target;
        let mut next = 0;
        let mut seen = 0;
        // Takes the count at `index`; true once every quantile is placed.
        let mut visit = |index: usize, count: u64| -> bool {
            seen += count;
            if seen < target {
                return false;
            }
            loop {
                values[next] = reported_value(index, quantiles[next]);
                next += 1;
                if next == N {
                    return true;
                }
                target = targets[next];
                if seen < target {
                    return false;
                }
            }
        };
        // The zeros first, then the span of the others: a plain slice, so
        // the scan stays a tight loop.
        if !visit(0, self.counts[0]) {
            let span = self.nonzero_span();
            let first = span.start;
            for (offset, &count) in self.counts[span].iter().enumerate() {
                if visit(first + offset, count) {
                    break;
                }
            }
        }
        values
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;
    use proptest::prelude::*;

    fn reference() -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, HIGHEST, 2).unwrap();
        h.auto(true);
        h
    }

    fn assert_same(ours: &Latencies, theirs: &Histogram<u64>) {
        assert_eq!(ours.len(), theirs.len());
        assert_eq!(ours.is_empty(), theirs.is_empty());
        assert_eq!(ours.max(), theirs.max());
        assert_eq!(ours.min(), theirs.min());
        assert_eq!(ours.zeros(), theirs.count_at(0));
        let quantiles = [
            0.0, 1e-9, 0.01, 0.1, 0.25, 0.5, 0.9, 0.99, 0.995, 0.999, 0.9999, 1.0, 1.5,
        ];
        for q in quantiles {
            assert_eq!(
                ours.value_at_quantile(q),
                theirs.value_at_quantile(q),
                "quantile {q}"
            );
        }
        for (index, count) in ours.counts.iter().enumerate() {
            let value = value_at(index);
            assert_eq!(*count, theirs.count_at(value), "count at {value}");
        }
    }

    #[test]
    fn the_layout_is_the_crates() {
        let h = reference();
        assert_eq!(COUNTS, h.distinct_values());
        for index in 0..COUNTS {
            let value = value_at(index);
            assert_eq!(index_of(value), index);
            assert_eq!(h.lowest_equivalent(value), value);
            assert_eq!(h.highest_equivalent(value), highest_equivalent(value));
            assert_eq!(h.lowest_equivalent(value + 1), lowest_equivalent(value + 1));
        }
    }

    /// Recording, merging and clearing answer as the crate does, for values
    /// at bucket edges, zero, past the top of the range, and random ones.
    #[test]
    fn answers_as_hdrhistogram_does() {
        let mut edges = vec![0, 1, 2, 127, 128, 255, 256, 257, 511, 512, 513];
        for shift in 8..64 {
            let p = 1u64 << shift;
            edges.extend([p - 1, p, p + 1, p + p / 3]);
        }
        edges.extend([HIGHEST - 1, HIGHEST, HIGHEST + 1, u64::MAX - 1, u64::MAX]);
        let mut rng = crate::base::rng::stream(5, "test/latencies");
        let random: Vec<u64> = (0..20_000)
            .map(|_| {
                let v = rand::Rng::next_u64(&mut rng);
                v >> (v % 64)
            })
            .collect();
        let sets = [
            edges,
            random,
            vec![0, 0, 0],
            // Waits: mostly zeros, then a long way up.
            vec![0, 0, 5_000_000, 0, 123, 0, 3_600_000_000, 0],
            vec![1_000_000, 1_000_001, 1_000_002],
            vec![7],
            vec![],
        ];
        let mut all_ours = Latencies::new();
        let mut all_theirs = reference();
        for values in &sets {
            let mut ours = Latencies::new();
            let mut theirs = reference();
            // Twice, so a reset leaves nothing behind.
            for _ in 0..2 {
                for v in values {
                    ours.record(*v);
                    theirs.saturating_record(*v);
                }
                assert_same(&ours, &theirs);
                all_ours.add(&ours);
                all_theirs.add(&theirs).unwrap();
                assert_same(&all_ours, &all_theirs);
                ours.reset();
                theirs.reset();
                assert_same(&ours, &theirs);
            }
        }
    }

    proptest! {
        /// Any quantile of any set of values (spread over many buckets, with
        /// ties) is the crate's.
        #[test]
        fn quantiles_are_the_crates(
            values in proptest::collection::vec((0u32..40, 0u64..1000), 1..300),
            quantiles in proptest::collection::vec(0.0f64..=1.0, 1..20),
        ) {
            let mut ours = Latencies::new();
            let mut theirs = reference();
            for (shift, low) in values {
                let v = (low << shift) | low;
                ours.record(v);
                theirs.saturating_record(v);
            }
            for q in &quantiles {
                prop_assert_eq!(ours.value_at_quantile(*q), theirs.value_at_quantile(*q));
            }
            let mut sorted = quantiles.clone();
            sorted.sort_by(f64::total_cmp);
            let four = [sorted[0], sorted[sorted.len() / 3], sorted[sorted.len() / 2], sorted[sorted.len() - 1]];
            let expected = four.map(|q| theirs.value_at_quantile(q));
            prop_assert_eq!(ours.values_at_quantiles(four), expected);
            prop_assert_eq!(ours.max(), theirs.max());
            prop_assert_eq!(ours.min(), theirs.min());
        }
    }
}
