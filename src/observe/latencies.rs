//! Latency histograms: the bucket layout, queries and rounding of an
//! `hdrhistogram::Histogram<u64>` built with `new_with_bounds(1, 1 h,
//! digits)`, specialised to those layouts.
//!
//! Every successful request is recorded twice (its endpoint and its entry),
//! and the general-purpose crate spends more on a record (range checks,
//! auto-resize and clamping paths, an out-of-line call) than the engine
//! spends on the rest of a request. Window closes scan, merge and clear
//! every histogram; they touch only the buckets between the smallest and
//! largest value seen, not all 4 608 (two digits). Counts, clamping and
//! every query answer exactly as the crate would: percentiles in the files
//! depend on it (a test checks it against the crate at each precision).

/// Values are in nanoseconds; the top of the range is an hour. Larger
/// values are counted as this one, as `Histogram::saturating_record` does.
const HIGHEST: u64 = 3_600_000_000_000;

pub use crate::base::Precision;

/// Where each value is counted, for one precision. Copied into each
/// histogram: the record path reads it beside the counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Layout {
    /// log2 of half the sub-buckets of a bucket; past the first bucket,
    /// only the upper half is used.
    half_magnitude: u32,
    /// Derived from `half_magnitude`, kept so that a record does not
    /// derive them again: the bits of the first bucket, and the leading
    /// zeros of its top value.
    first_bucket_mask: u64,
    leading_zero_base: u32,
    half: usize,
    counts: usize,
}

impl Layout {
    fn of(precision: Precision) -> Layout {
        let half_magnitude = precision.half_magnitude();
        let half = 1u64 << half_magnitude;
        // Buckets needed to cover `HIGHEST`: the first holds 0..2·half,
        // each next one doubles the range.
        let mut smallest_untrackable = 2 * half;
        let mut buckets = 1;
        while smallest_untrackable <= HIGHEST {
            smallest_untrackable <<= 1;
            buckets += 1;
        }
        Layout {
            half_magnitude,
            first_bucket_mask: 2 * half - 1,
            leading_zero_base: 63 - half_magnitude,
            half: half as usize,
            counts: (buckets + 1) * half as usize,
        }
    }

    #[inline(always)]
    fn bucket_of(self, value: u64) -> u32 {
        self.leading_zero_base - (value | self.first_bucket_mask).leading_zeros()
    }

    /// Index of the count `value` falls in (may be past the last one).
    #[inline(always)]
    fn index_of(self, value: u64) -> usize {
        let bucket = self.bucket_of(value);
        (bucket as usize) * self.half + (value >> bucket) as usize
    }

    /// The lowest value counted at `index`.
    fn value_at(self, index: usize) -> u64 {
        let half = self.half;
        if index < 2 * half {
            return index as u64;
        }
        let bucket = (index >> self.half_magnitude) - 1;
        let sub_bucket = (index & (half - 1)) + half;
        (sub_bucket as u64) << bucket
    }

    fn lowest_equivalent(self, value: u64) -> u64 {
        let bucket = self.bucket_of(value);
        (value >> bucket) << bucket
    }

    fn highest_equivalent(self, value: u64) -> u64 {
        if value == u64::MAX {
            return u64::MAX;
        }
        self.lowest_equivalent(value)
            .saturating_add(1 << self.bucket_of(value))
            - 1
    }

    /// What a quantile that falls at `index` reports: the top of the bucket
    /// (the bottom for quantile 0). Out of line: the scan that finds the
    /// index stays a tight loop.
    #[inline(never)]
    fn reported_value(self, index: usize, quantile: f64) -> u64 {
        let value = self.value_at(index);
        if quantile == 0.0 {
            self.lowest_equivalent(value)
        } else {
            self.highest_equivalent(value)
        }
    }
}

/// Counts of values (ns) up to an hour, at a precision fixed when made.
#[derive(Clone)]
pub struct Latencies {
    layout: Layout,
    counts: Box<[u64]>,
    total: u64,
    /// Largest value recorded, 0 if none.
    max: u64,
    /// Smallest non-zero value recorded, `u64::MAX` if none.
    min_nz: u64,
}

impl std::fmt::Debug for Latencies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Latencies")
            .field("half_magnitude", &self.layout.half_magnitude)
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
    /// At the default precision (two digits).
    pub fn new() -> Latencies {
        Self::with_precision(Precision::default())
    }

    pub fn with_precision(precision: Precision) -> Latencies {
        let layout = Layout::of(precision);
        Latencies {
            layout,
            // Zeroed memory: pages no value reaches are never touched.
            counts: vec![0; layout.counts].into_boxed_slice(),
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
        // One bounds check: past the last count is the rare clamp.
        match self.counts.get_mut(self.layout.index_of(value)) {
            Some(count) => *count += 1,
            None => {
                value = HIGHEST;
                self.counts[self.layout.index_of(HIGHEST)] += 1;
            }
        }
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
        self.layout.index_of(self.min_nz)..self.layout.index_of(self.max) + 1
    }

    /// Adds `other`'s counts. Both must have the same precision, except
    /// that an empty histogram takes `other`'s: accumulators (a probe's
    /// phases, a comparison's totals) need not know the run's precision.
    pub fn add(&mut self, other: &Latencies) {
        if self.layout != other.layout {
            assert!(
                self.is_empty(),
                "histograms of different precisions added: {:?} and {:?}",
                self.layout,
                other.layout
            );
            if other.is_empty() {
                return;
            }
            *self = other.clone();
            return;
        }
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
            self.layout.highest_equivalent(self.max)
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
            self.layout.lowest_equivalent(self.min_nz)
        }
    }

    /// The value below which `quantile` of the recorded values fall, as the
    /// top of its bucket (the bottom for quantile 0) but never above the
    /// exact maximum: the bucket that holds the largest value may reach
    /// past it, and a 99th percentile above the maximum would be a bound
    /// no value came near. 0 if none.
    pub fn value_at_quantile(&self, quantile: f64) -> u64 {
        self.values_at_quantiles([quantile])[0]
    }

    /// `value_at_quantile` of each of `quantiles` (ascending), in one scan.
    pub fn values_at_quantiles<const N: usize>(&self, quantiles: [f64; N]) -> [u64; N] {
        debug_assert!(quantiles.is_sorted(), "quantiles in ascending order");
        let layout = self.layout;
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
                values[next] = layout.reported_value(index, quantiles[next]);
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
        let max = self.max;
        values.map(|v| v.min(max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::Histogram;
    use proptest::prelude::*;

    fn precisions() -> impl Iterator<Item = Precision> {
        (Precision::LEAST..=Precision::MOST).map(|d| Precision::new(d).unwrap())
    }

    fn reference(precision: Precision) -> Histogram<u64> {
        let mut h = Histogram::new_with_bounds(1, HIGHEST, precision.digits()).unwrap();
        h.auto(true);
        h
    }

    /// The crate's answer, no higher than the largest value recorded.
    fn capped(value: u64, ours: &Latencies) -> u64 {
        value.min(ours.exact_max())
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
                capped(theirs.value_at_quantile(q), ours),
                "quantile {q}"
            );
        }
        for (index, count) in ours.counts.iter().enumerate() {
            let value = ours.layout.value_at(index);
            assert_eq!(*count, theirs.count_at(value), "count at {value}");
        }
    }

    #[test]
    fn the_layouts_are_the_crates() {
        for precision in precisions() {
            let h = reference(precision);
            let layout = Layout::of(precision);
            assert_eq!(layout.counts, h.distinct_values(), "{precision:?}");
            for index in 0..layout.counts {
                let value = layout.value_at(index);
                assert_eq!(layout.index_of(value), index);
                assert_eq!(h.lowest_equivalent(value), value);
                assert_eq!(
                    h.highest_equivalent(value),
                    layout.highest_equivalent(value)
                );
                assert_eq!(
                    h.lowest_equivalent(value + 1),
                    layout.lowest_equivalent(value + 1)
                );
            }
        }
        assert_eq!(Layout::of(Precision::default()).counts, 4_608);
    }

    /// What the setting promises, in the words the documentation uses.
    #[test]
    fn each_digit_narrows_the_buckets() {
        let errors: Vec<f64> = precisions().map(Precision::relative_error).collect();
        assert_eq!(errors, [1.0 / 16.0, 1.0 / 128.0, 1.0 / 1024.0]);
        assert_eq!(Precision::new(0), None);
        assert_eq!(Precision::new(4), None);
        // Below 1 099.99 ms, 99 requests of 1 099 ms: their percentile is
        // the top of their bucket, 1 107.3 ms at two digits, 1 099.96 ms
        // at three. The 1 099.99 ms request, alone in the same bucket, is
        // reported as itself: no percentile exceeds the maximum.
        for (digits, reported) in [(2, 1_107_296_255), (3, 1_099_956_223)] {
            let mut h = Latencies::with_precision(Precision::new(digits).unwrap());
            for _ in 0..99 {
                h.record(1_099_000_000);
            }
            h.record(1_099_990_000);
            h.record(2_000_000_000);
            assert_eq!(h.value_at_quantile(0.9), reported, "{digits} digits");
            h.reset();
            h.record(1_099_990_000);
            assert_eq!(h.value_at_quantile(0.99), 1_099_990_000);
            assert_eq!(h.max(), reported.max(1_101_004_799));
        }
    }

    /// Recording, merging and clearing answer as the crate does, for values
    /// at bucket edges, zero, past the top of the range, and random ones.
    #[test]
    fn answers_as_hdrhistogram_does() {
        let mut edges = vec![0, 1, 2, 15, 16, 31, 32, 127, 128, 255, 256, 257, 511, 512];
        edges.extend([513, 2047, 2048, 4095, 4096]);
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
        for precision in precisions() {
            let mut all_ours = Latencies::with_precision(precision);
            let mut all_theirs = reference(precision);
            for values in &sets {
                let mut ours = Latencies::with_precision(precision);
                let mut theirs = reference(precision);
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
    }

    /// An empty accumulator made at the default precision takes the
    /// precision of what is added to it; one that holds values refuses
    /// another precision rather than mixing buckets.
    #[test]
    fn an_empty_accumulator_takes_the_precision_added() {
        let three = Precision::new(3).unwrap();
        let mut run = Latencies::with_precision(three);
        run.record(1_099_990_000);
        let mut total = Latencies::new();
        total.add(&Latencies::with_precision(three));
        assert!(total.is_empty());
        total.add(&run);
        total.add(&run);
        assert_eq!(total.len(), 2);
        assert_eq!(total.value_at_quantile(0.5), run.value_at_quantile(0.5));
        assert_eq!(total.max(), 1_101_004_799, "a three-digit bucket's top");
        let mixed = std::panic::catch_unwind(|| {
            let mut two = Latencies::new();
            two.record(1);
            two.add(&run);
        });
        assert!(mixed.is_err());
    }

    proptest! {
        /// Any quantile of any set of values (spread over many buckets, with
        /// ties), at any precision, is the crate's.
        #[test]
        fn quantiles_are_the_crates(
            digits in Precision::LEAST..=Precision::MOST,
            values in proptest::collection::vec((0u32..40, 0u64..1000), 1..300),
            quantiles in proptest::collection::vec(0.0f64..=1.0, 1..20),
        ) {
            let precision = Precision::new(digits).unwrap();
            let mut ours = Latencies::with_precision(precision);
            let mut theirs = reference(precision);
            let layout = Layout::of(precision);
            let mut max = 0;
            for (shift, low) in values {
                let v = (low << shift) | low;
                ours.record(v);
                theirs.saturating_record(v);
                // Past the last count, a value counts as the top of the range.
                max = max.max(if layout.index_of(v) < layout.counts { v } else { HIGHEST });
            }
            prop_assert_eq!(ours.exact_max(), max);
            for q in &quantiles {
                prop_assert_eq!(ours.value_at_quantile(*q), theirs.value_at_quantile(*q).min(max));
            }
            let mut sorted = quantiles.clone();
            sorted.sort_by(f64::total_cmp);
            let four = [sorted[0], sorted[sorted.len() / 3], sorted[sorted.len() / 2], sorted[sorted.len() - 1]];
            let expected = four.map(|q| theirs.value_at_quantile(q).min(max));
            prop_assert_eq!(ours.values_at_quantiles(four), expected);
            prop_assert_eq!(ours.max(), theirs.max());
            prop_assert_eq!(ours.min(), theirs.min());
        }
    }
}
