//! Random streams. Each (component, purpose) gets its own ChaCha8 generator,
//! seeded from the master seed and the stream's stable name — never from an
//! index — so adding a service, or changing one component's policy, leaves
//! every other stream's numbers where they were (common random numbers).

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use sha2::{Digest, Sha256};

/// The generator of stream `name` (e.g. `workload/checkout/arrivals`).
pub fn stream(master_seed: u64, name: &str) -> ChaCha8Rng {
    let mut hasher = Sha256::new();
    hasher.update(b"faultline-stream-v1\0");
    hasher.update(master_seed.to_le_bytes());
    hasher.update(name.as_bytes());
    let seed: [u8; 32] = hasher.finalize().into();
    ChaCha8Rng::from_seed(seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn streams_depend_on_seed_and_name_only() {
        let a = stream(42, "service/api/lb").next_u64();
        assert_eq!(a, stream(42, "service/api/lb").next_u64());
        assert_ne!(a, stream(43, "service/api/lb").next_u64());
        assert_ne!(a, stream(42, "service/db/lb").next_u64());
    }
}
