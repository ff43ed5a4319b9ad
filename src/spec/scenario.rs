//! The scenario file: one experiment over a model. Faults, hypotheses and
//! variants slot in here as further keyed collections.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::units::Duration;

/// Width of a metrics window when the scenario does not set one.
pub const DEFAULT_WINDOW_NS: u64 = 1_000_000_000;

#[derive(Clone, Debug, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ScenarioSpec {
    /// Optional JSON Schema reference for editors; ignored by faultline.
    #[serde(rename = "$schema", default, skip_serializing)]
    pub schema: Option<String>,
    /// Name of the experiment; the output goes to `output/<name>/`.
    pub name: String,
    /// One line on what the experiment asks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Path of the model file, relative to this scenario file.
    pub model: String,
    /// Virtual time simulated.
    pub duration: Duration,
    /// Leading part of the run excluded from the summary while queues fill.
    #[serde(default)]
    pub warmup: Duration,
    /// Master seed of every random stream. `--seed` overrides it.
    #[serde(default)]
    pub seed: u64,
    /// Width of a metrics window. Default 1s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Duration>,
}
