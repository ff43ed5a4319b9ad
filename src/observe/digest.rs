//! The trace digest: a 64-bit XXH3 over every event the engine processed, in
//! order. Two runs with the same digest took the same path; replay compares
//! it. Words are buffered so the hasher sees large blocks, not one call per
//! event; XXH3's streaming state makes the digest independent of where the
//! blocks are cut.

use xxhash_rust::xxh3::Xxh3;

const BUFFER_BYTES: usize = 1024;

pub struct TraceDigest {
    hasher: Xxh3,
    /// Words already in little-endian byte order, as the hasher reads them,
    /// so a flush hands the buffer over without converting it.
    buffer: [u8; BUFFER_BYTES],
    len: usize,
}

impl TraceDigest {
    pub fn new() -> Self {
        TraceDigest {
            hasher: Xxh3::new(),
            buffer: [0; BUFFER_BYTES],
            len: 0,
        }
    }

    #[inline]
    pub fn push(&mut self, word: u64) {
        if self.len > BUFFER_BYTES - 8 {
            self.flush();
        }
        let len = self.len;
        self.buffer[len..len + 8].copy_from_slice(&word.to_le_bytes());
        self.len = len + 8;
    }

    /// `push(first)` then `push(second)`: an event is two words (its time
    /// and what it is), and one room check serves both.
    #[inline]
    pub fn push_pair(&mut self, first: u64, second: u64) {
        if self.len > BUFFER_BYTES - 16 {
            self.flush();
        }
        let len = self.len;
        let room = &mut self.buffer[len..len + 16];
        room[..8].copy_from_slice(&first.to_le_bytes());
        room[8..].copy_from_slice(&second.to_le_bytes());
        self.len = len + 16;
    }

    #[cold]
    #[inline(never)]
    fn flush(&mut self) {
        self.hasher.update(&self.buffer[..self.len]);
        self.len = 0;
    }

    /// The digest of what was pushed so far, as 16 hex digits.
    pub fn finish(&mut self) -> String {
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
        // Pairs and single words hash as the same stream of words.
        let mut paired = TraceDigest::new();
        paired.push(words[0]);
        for pair in words[1..999].chunks(2) {
            paired.push_pair(pair[0], pair[1]);
        }
        paired.push(words[999]);
        assert_eq!(paired.finish(), run(&words));
        // And as one XXH3 over their little-endian bytes, however buffered.
        let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(
            run(&words),
            format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
        );
        let mut swapped = words.clone();
        swapped.swap(500, 501);
        assert_eq!(run(&words), run(&words));
        assert_ne!(run(&words), run(&swapped));
        assert_ne!(run(&words), run(&words[..999]));
    }
}
