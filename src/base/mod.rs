//! The shared vocabulary at the bottom of the crate: typed ids, error
//! classes, percentile precision and random streams. It imports nothing of
//! the crate, so every layer can speak it without reaching into another.

mod error_class;
pub mod ids;
mod precision;
pub mod rng;
pub mod time;

pub use error_class::{ERROR_CLASSES, ErrorClass, Outcome};
pub use precision::Precision;
pub use time::SimTime;
