//! Finds the bytes of a small set (or of the base64 alphabet, or the starts of words) in a text
//! 64 bytes at a time: a bit mask per block, then one step per set bit. The engine's trigger
//! bytes (`-` `.` `:` `_`) stand every 20 bytes or so in Claude Code traffic, and the quotes
//! and backslashes of a JSON body's strings about as often; there a `memchr` call per hit
//! spends most of its time starting and stopping.
//!
//! On x86_64 the mask comes from SSE2 compares (the crate's only `unsafe`: an unaligned load
//! and the call into a function compiled for SSE2, which every x86_64 CPU has); a safe
//! portable loop elsewhere gives the same mask, more slowly.

/// A set of bytes to find; none of them may be NUL (the padding of a text's last block).
pub struct ByteSet<const N: usize>([u8; N]);

/// The bytes an engine anchor can be found from; their index here is the trigger id.
pub const TRIGGERS: ByteSet<4> = ByteSet(*b"-.:_");

/// The bytes that end a run of plain string content in JSON.
pub const QUOTE_OR_BACKSLASH: ByteSet<2> = ByteSet(*b"\"\\");

impl<const N: usize> ByteSet<N> {
    pub const fn bytes(&self) -> &[u8; N] {
        &self.0
    }

    /// The positions of the set's bytes in `t` from offset `from` on, in order.
    pub fn positions<'a>(&'a self, t: &'a [u8], from: usize) -> Positions<'a, N> {
        let mut positions = Positions {
            set: self,
            t,
            block_start: from,
            mask: 0,
        };
        positions.mask = positions.block_mask();
        positions
    }

    /// Bit `i` is set where `block[i]` is in the set.
    #[cfg(target_arch = "x86_64")]
    #[allow(unsafe_code)]
    fn mask(&self, block: &[u8; 64]) -> u64 {
        // SAFETY: SSE2 is part of the x86_64 baseline; every x86_64 CPU has it.
        unsafe { self.mask_sse2(block) }
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "sse2")]
    #[allow(unsafe_code)]
    fn mask_sse2(&self, block: &[u8; 64]) -> u64 {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_movemask_epi8, _mm_or_si128,
            _mm_set1_epi8, _mm_setzero_si128,
        };
        let mut mask = 0u64;
        for (k, lane) in block.chunks_exact(16).enumerate() {
            // SAFETY: `lane` is 16 readable bytes; the load has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(lane.as_ptr().cast::<__m128i>()) };
            let hits = self.0.iter().fold(_mm_setzero_si128(), |hits, &b| {
                _mm_or_si128(hits, _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8)))
            });
            mask |= u64::from(_mm_movemask_epi8(hits) as u16) << (16 * k);
        }
        mask
    }

    #[cfg(not(target_arch = "x86_64"))]
    fn mask(&self, block: &[u8; 64]) -> u64 {
        block
            .iter()
            .enumerate()
            .filter(|(_, b)| self.0.contains(b))
            .fold(0, |mask, (i, _)| mask | 1 << i)
    }
}

/// Bit `i` is set where `block[i]` is in the base64 alphabets: a letter, a digit, `+`, `/`,
/// `-` or `_`.
pub fn base64_alphabet_mask(block: &[u8; 64]) -> u64 {
    alphanumeric_or_mask(block, b"+/-_")
}

/// Bit `i` is set where `block[i]` is an ASCII letter or digit.
fn alphanumeric_mask(block: &[u8; 64]) -> u64 {
    alphanumeric_or_mask(block, b"")
}

/// Bit `i` is set where `block[i]` is an ASCII letter or digit, or one of `extra`.
#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code)]
#[inline]
fn alphanumeric_or_mask(block: &[u8; 64], extra: &[u8]) -> u64 {
    // SAFETY: SSE2 is part of the x86_64 baseline; every x86_64 CPU has it.
    unsafe { alphanumeric_or_mask_sse2(block, extra) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse2")]
#[allow(unsafe_code)]
#[inline]
fn alphanumeric_or_mask_sse2(block: &[u8; 64], extra: &[u8]) -> u64 {
    use std::arch::x86_64::{
        __m128i, _mm_and_si128, _mm_cmpeq_epi8, _mm_cmpgt_epi8, _mm_cmplt_epi8, _mm_loadu_si128,
        _mm_movemask_epi8, _mm_or_si128, _mm_set1_epi8,
    };
    // Signed compares: bytes from 0x80 are negative and fall outside every range.
    let within = |v: __m128i, lo: u8, hi: u8| {
        _mm_and_si128(
            _mm_cmpgt_epi8(v, _mm_set1_epi8(lo as i8 - 1)),
            _mm_cmplt_epi8(v, _mm_set1_epi8(hi as i8 + 1)),
        )
    };
    let mut mask = 0u64;
    for (k, lane) in block.chunks_exact(16).enumerate() {
        // SAFETY: `lane` is 16 readable bytes; the load has no alignment requirement.
        let v = unsafe { _mm_loadu_si128(lane.as_ptr().cast::<__m128i>()) };
        let letter = within(_mm_or_si128(v, _mm_set1_epi8(0x20)), b'a', b'z');
        let hits = extra
            .iter()
            .fold(_mm_or_si128(letter, within(v, b'0', b'9')), |hits, &b| {
                _mm_or_si128(hits, _mm_cmpeq_epi8(v, _mm_set1_epi8(b as i8)))
            });
        mask |= u64::from(_mm_movemask_epi8(hits) as u16) << (16 * k);
    }
    mask
}

#[cfg(not(target_arch = "x86_64"))]
fn alphanumeric_or_mask(block: &[u8; 64], extra: &[u8]) -> u64 {
    block
        .iter()
        .enumerate()
        .filter(|(_, b)| b.is_ascii_alphanumeric() || extra.contains(b))
        .fold(0, |mask, (i, _)| mask | 1 << i)
}

/// The 64 bytes of `t` from `start`, the last block padded with NULs.
fn block_at(t: &[u8], start: usize) -> std::borrow::Cow<'_, [u8; 64]> {
    let rest = t.get(start..).unwrap_or_default();
    match rest.first_chunk::<64>() {
        Some(block) => std::borrow::Cow::Borrowed(block),
        None => {
            let mut block = [0u8; 64];
            block[..rest.len()].copy_from_slice(rest);
            std::borrow::Cow::Owned(block)
        }
    }
}

/// The words of `t`: its maximal runs of ASCII letters and digits, in order, as ranges.
pub fn words(t: &[u8]) -> Words<'_> {
    let alphanumeric = alphanumeric_mask(&block_at(t, 0));
    Words {
        t,
        block_start: 0,
        alphanumeric,
        starts: alphanumeric & !(alphanumeric << 1),
    }
}

/// See [`words`].
pub struct Words<'a> {
    t: &'a [u8],
    /// Where the block of the masks starts; bit `i` stands for `block_start + i`.
    block_start: usize,
    alphanumeric: u64,
    /// The bits of `alphanumeric` that start a word and are not yet returned.
    starts: u64,
}

impl Iterator for Words<'_> {
    type Item = std::ops::Range<usize>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        while self.starts == 0 {
            let word_goes_on = self.alphanumeric >> 63;
            self.block_start += 64;
            if self.block_start >= self.t.len() {
                return None;
            }
            self.alphanumeric = alphanumeric_mask(&block_at(self.t, self.block_start));
            self.starts = self.alphanumeric & !((self.alphanumeric << 1) | word_goes_on);
        }
        let i = self.starts.trailing_zeros();
        self.starts &= self.starts - 1;
        let start = self.block_start + i as usize;
        let ones = (self.alphanumeric >> i).trailing_ones();
        let end = if i + ones < 64 {
            start + ones as usize
        } else {
            let next = self.block_start + 64;
            next + super::scan::run_len(self.t, next, |b| b.is_ascii_alphanumeric())
        };
        Some(start..end)
    }
}

/// The positions of a [`ByteSet`]'s bytes in a text; see [`ByteSet::positions`].
pub struct Positions<'a, const N: usize> {
    set: &'a ByteSet<N>,
    t: &'a [u8],
    /// Where the block of `mask` starts; bit `i` of `mask` stands for `block_start + i`.
    block_start: usize,
    mask: u64,
}

impl<const N: usize> Positions<'_, N> {
    /// The mask of the 64 bytes from `block_start`, the last block padded with NULs.
    fn block_mask(&self) -> u64 {
        self.set.mask(&block_at(self.t, self.block_start))
    }
}

impl<const N: usize> Iterator for Positions<'_, N> {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        while self.mask == 0 {
            self.block_start += 64;
            if self.block_start >= self.t.len() {
                return None;
            }
            self.mask = self.block_mask();
        }
        let at = self.block_start + self.mask.trailing_zeros() as usize;
        self.mask &= self.mask - 1;
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_word_may_run_over_several_blocks() {
        let t = format!("{} {}-", "a".repeat(63), "b7".repeat(100));
        let found: Vec<_> = words(t.as_bytes()).collect();
        assert_eq!(found, vec![0..63, 64..264]);
    }

    proptest! {
        #[test]
        fn the_base64_mask_marks_exactly_the_alphabet(block in proptest::array::uniform32(any::<u8>()),
                                                     more in proptest::array::uniform32(any::<u8>())) {
            let mut whole = [0u8; 64];
            whole[..32].copy_from_slice(&block);
            whole[32..].copy_from_slice(&more);
            let expected = (0..64)
                .filter(|&i| whole[i].is_ascii_alphanumeric() || b"+/-_".contains(&whole[i]))
                .fold(0u64, |mask, i| mask | 1 << i);
            prop_assert_eq!(base64_alphabet_mask(&whole), expected);
        }


        #[test]
        fn words_are_the_runs_of_letters_and_digits(
            t in proptest::collection::vec(
                prop_oneof![8 => Just(b'a'), 4 => Just(b'Z'), 4 => Just(b'7'), 1 => Just(b'-'),
                            1 => Just(b' '), 1 => any::<u8>()], 0..400),
        ) {
            let found: Vec<_> = words(&t).collect();
            let mut expected = Vec::new();
            let mut i = 0;
            while i < t.len() {
                if t[i].is_ascii_alphanumeric() {
                    let start = i;
                    while i < t.len() && t[i].is_ascii_alphanumeric() {
                        i += 1;
                    }
                    expected.push(start..i);
                } else {
                    i += 1;
                }
            }
            prop_assert_eq!(found, expected);
        }

        #[test]
        fn finds_exactly_the_bytes_of_the_set(
            t in proptest::collection::vec(
                prop_oneof![Just(b'-'), Just(b'.'), Just(b'"'), Just(b'\\'), any::<u8>()], 0..300),
            from in 0usize..320,
        ) {
            let found: Vec<usize> = TRIGGERS.positions(&t, from).collect();
            let expected: Vec<usize> = (from..t.len()).filter(|&i| TRIGGERS.0.contains(&t[i])).collect();
            prop_assert_eq!(found, expected);
            let found: Vec<usize> = QUOTE_OR_BACKSLASH.positions(&t, from).collect();
            let expected: Vec<usize> =
                (from..t.len()).filter(|&i| QUOTE_OR_BACKSLASH.0.contains(&t[i])).collect();
            prop_assert_eq!(found, expected);
        }
    }
}
