//! Virtual time. A `SimTime` is a point on the run's clock, in nanoseconds
//! since the run started; a duration is a plain `u64` of nanoseconds (the
//! unit the topology compiles every duration to). Keeping the two apart
//! means an instant cannot be added to an instant, nor a duration compared
//! with one.

use std::ops::{Add, AddAssign, Sub};

/// A point on the virtual clock, in nanoseconds since the run started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    /// Later than any run ends: "never".
    pub const NEVER: SimTime = SimTime(u64::MAX);

    /// Nanoseconds since the run started.
    #[inline]
    pub fn ns(self) -> u64 {
        self.0
    }
}

/// An instant plus a duration (ns).
impl Add<u64> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, ns: u64) -> SimTime {
        SimTime(self.0 + ns)
    }
}

impl AddAssign<u64> for SimTime {
    #[inline]
    fn add_assign(&mut self, ns: u64) {
        self.0 += ns;
    }
}

/// The duration (ns) from an earlier instant to this one.
impl Sub for SimTime {
    type Output = u64;
    #[inline]
    fn sub(self, earlier: SimTime) -> u64 {
        self.0 - earlier.0
    }
}

/// An instant a duration (ns) earlier.
impl Sub<u64> for SimTime {
    type Output = SimTime;
    #[inline]
    fn sub(self, ns: u64) -> SimTime {
        SimTime(self.0 - ns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instants_and_durations_combine_as_on_a_clock() {
        let t = SimTime(5_000);
        assert_eq!(t + 2_000, SimTime(7_000));
        assert_eq!(SimTime(7_000) - t, 2_000);
        assert_eq!(t - 1_000, SimTime(4_000));
        assert!(SimTime::ZERO < t && t < SimTime::NEVER);
    }
}
