//! The trace digest: a 64-bit XXH3 over every event the engine processed, in
//! order. Two runs with the same digest took the same path; replay compares
//! it. Words are buffered so the hasher sees large blocks, not one call per
//! event.

use xxhash_rust::xxh3::Xxh3;

const BUFFER_WORDS: usize = 128;

pub struct TraceDigest {
    hasher: Xxh3,
    buffer: [u64; BUFFER_WORDS],
    len: usize,
}

impl TraceDigest {
    pub fn new() -> Self {
        TraceDigest {
            hasher: Xxh3::new(),
            buffer: [0; BUFFER_WORDS],
            len: 0,
        }
    }

    #[inline]
    pub fn push(&mut self, word: u64) {
        self.buffer[self.len] = word;
        self.len += 1;
        if self.len == BUFFER_WORDS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        let mut bytes = [0u8; BUFFER_WORDS * 8];
        for (chunk, word) in bytes.chunks_exact_mut(8).zip(&self.buffer[..self.len]) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        self.hasher.update(&bytes[..self.len * 8]);
        self.len = 0;
    }

    /// The digest as 16 hex digits.
    pub fn finish(mut self) -> String {
        self.flush();
        format!("{:016x}", self.hasher.digest())
    }
}

impl Default for TraceDigest {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_depends_on_every_word_and_its_order() {
        let run = |words: &[u64]| {
            let mut d = TraceDigest::new();
            words.iter().for_each(|w| d.push(*w));
            d.finish()
        };
        let words: Vec<u64> = (0..1000).collect();
        let mut swapped = words.clone();
        swapped.swap(500, 501);
        assert_eq!(run(&words), run(&words));
        assert_ne!(run(&words), run(&swapped));
        assert_ne!(run(&words), run(&words[..999]));
    }
}
