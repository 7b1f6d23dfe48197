//! A bit per word shape (its length and its first and last bytes), for looking a text's
//! words up in a set of words: most words of a text are turned away by one bit test before
//! any hashing. The sweep's originals and the always-mask list's anchor words use it.

/// 2^16 bits: a word's shape is 6 bits of length and 5 bits of each end byte.
const WORDS: usize = 1 << 10;

pub struct WordFilter(Box<[u64; WORDS]>);

impl Default for WordFilter {
    fn default() -> Self {
        WordFilter(Box::new([0; WORDS]))
    }
}

impl WordFilter {
    pub fn insert(&mut self, word: &[u8]) {
        let bit = shape(word);
        self.0[bit / 64] |= 1 << (bit % 64);
    }

    /// False when `word` is in no set this filter was built for; true when it may be.
    #[inline]
    pub fn may_hold(&self, word: &[u8]) -> bool {
        let bit = shape(word);
        self.0[bit / 64] & (1 << (bit % 64)) != 0
    }
}

/// The bit of a non-empty word.
#[inline]
fn shape(word: &[u8]) -> usize {
    let (first, last) = (word[0] as usize, word[word.len() - 1] as usize);
    ((word.len() & 63) << 10) | ((first & 31) << 5) | (last & 31)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn every_word_put_in_is_held(words in proptest::collection::vec("[a-z0-9]{1,80}", 1..50)) {
            let mut filter = WordFilter::default();
            for w in &words {
                filter.insert(w.as_bytes());
            }
            for w in &words {
                prop_assert!(filter.may_hold(w.as_bytes()));
            }
        }
    }

    #[test]
    fn a_word_of_another_shape_is_turned_away() {
        let mut filter = WordFilter::default();
        filter.insert(b"billing");
        assert!(!filter.may_hold(b"billings"));
        assert!(!filter.may_hold(b"xilling"));
        assert!(filter.may_hold(b"bearing"));
    }
}
