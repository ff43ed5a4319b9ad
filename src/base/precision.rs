//! How many significant digits latency percentiles keep: a scenario's
//! setting, validated with the specification and honoured by every
//! histogram of a run.

/// Significant digits of percentiles: the precision a scenario may ask for
/// (`percentile_digits`). A value is reported as the top of its bucket,
/// within 1/16 (1 digit), 1/128 (2) or 1/1024 (3) of it. Each digit more
/// costs about 8× the memory of every histogram (36 KB at 2 digits, 270 KB
/// at 3), of which only the counts a run touches are ever paged in; 4
/// digits would be 3.8 MB each, a few hundred of them per run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precision(u8);

impl Precision {
    pub const LEAST: u8 = 1;
    pub const MOST: u8 = 3;

    /// `digits` significant digits, if between `LEAST` and `MOST`.
    pub fn new(digits: u8) -> Option<Precision> {
        (Self::LEAST..=Self::MOST)
            .contains(&digits)
            .then_some(Precision(digits))
    }

    pub fn digits(self) -> u8 {
        self.0
    }

    /// The largest relative error of a reported percentile: a bucket's
    /// width over its lowest value, past the first bucket.
    pub fn relative_error(self) -> f64 {
        1.0 / (1u64 << self.half_magnitude()) as f64
    }

    /// log2 of half the sub-buckets per bucket, as the crate computes it:
    /// enough sub-buckets that 2 × 10^digits values have one each.
    pub(crate) fn half_magnitude(self) -> u32 {
        let single_unit = 2 * 10u64.pow(self.0 as u32);
        let magnitude = single_unit.next_power_of_two().trailing_zeros();
        magnitude.max(1) - 1
    }
}

impl Default for Precision {
    /// Two digits: within 1 %.
    fn default() -> Self {
        Precision(2)
    }
}
