//! Originals ↔ tokens for one request. Tokens are `PREFIX_NNN`, numbered per prefix by first
//! occurrence in the order the request is walked, so the same conversation prefix always gets
//! the same tokens — across turns and across restarts, with no state shared between requests.
//! Text that already looks like a token is itself masked by the walk, so every token in a
//! masked request was minted here and restoring is never ambiguous.
//!
//! A table keeps its tokens and originals in one text buffer and each kind once
//! ([`MintedTokens`]): a long session mints thousands of entries, which the journal keeps
//! for every exchange, and three small allocations each would cost more than their text and
//! scatter it over the allocator's pages.

use std::fmt::Write;
use std::hash::BuildHasher;
use std::ops::Range;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};

/// One masked identifier, borrowed from its table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct TokenEntry<'t> {
    pub token: &'t str,
    pub original: &'t str,
    /// The rule id that found it (`ec2_instance`, `custom:<name>`).
    pub kind: &'t str,
}

/// Where one entry's token and original end in [`MintedTokens::text`], and its kind. The
/// entries lie end to end, each token right before its original: an entry's token starts
/// where the entry before it ends.
#[derive(Debug, Clone, Copy)]
struct Packed {
    token_end: usize,
    original_end: usize,
    kind: usize,
}

/// Every entry of one request's table, in minting order. Lives in memory only.
#[derive(Debug, Default, Clone)]
pub struct MintedTokens {
    text: String,
    entries: Vec<Packed>,
    kinds: Vec<Box<str>>,
}

impl MintedTokens {
    /// The entry at `at` (in minting order).
    pub fn get(&self, at: usize) -> Option<TokenEntry<'_>> {
        (at < self.len()).then(|| self.unpack(at))
    }

    pub fn first(&self) -> Option<TokenEntry<'_>> {
        self.get(0)
    }

    pub fn iter(&self) -> Iter<'_> {
        Iter {
            tokens: self,
            at: 0..self.len(),
        }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The memory the entries take.
    pub fn held_bytes(&self) -> usize {
        self.text.capacity()
            + self.entries.capacity() * std::mem::size_of::<Packed>()
            + self.kinds.capacity() * std::mem::size_of::<Box<str>>()
            + self.kinds.iter().map(|k| k.len()).sum::<usize>()
    }

    fn unpack(&self, at: usize) -> TokenEntry<'_> {
        TokenEntry {
            token: self.token(at),
            original: self.original(at),
            kind: &self.kinds[self.entries[at].kind],
        }
    }

    /// Where the entry at `at` starts in `text`.
    fn start(&self, at: usize) -> usize {
        at.checked_sub(1)
            .map_or(0, |before| self.entries[before].original_end)
    }

    /// The token of the entry at `at`; panics past the end, as indexing does.
    pub fn token(&self, at: usize) -> &str {
        &self.text[self.start(at)..self.entries[at].token_end]
    }

    /// The original of the entry at `at`; panics past the end, as indexing does.
    pub fn original(&self, at: usize) -> &str {
        let p = &self.entries[at];
        &self.text[p.token_end..p.original_end]
    }

    /// Appends an entry whose token was just written at the end of `text`; `kind` is the
    /// index of its kind in `kinds`.
    fn push(&mut self, original: &str, kind: usize) {
        let token_end = self.text.len();
        self.text.push_str(original);
        self.entries.push(Packed {
            token_end,
            original_end: self.text.len(),
            kind,
        });
    }

    /// The index of `kind` in `kinds`, added on first sight (a request holds a few dozen
    /// kinds at most).
    fn kind_index(&mut self, kind: &str) -> usize {
        match self.kinds.iter().position(|k| **k == *kind) {
            Some(at) => at,
            None => {
                self.kinds.push(kind.into());
                self.kinds.len() - 1
            }
        }
    }
}

/// The entries of a [`MintedTokens`], in minting order.
pub struct Iter<'t> {
    tokens: &'t MintedTokens,
    at: Range<usize>,
}

impl<'t> Iterator for Iter<'t> {
    type Item = TokenEntry<'t>;

    fn next(&mut self) -> Option<TokenEntry<'t>> {
        self.at.next().map(|at| self.tokens.unpack(at))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.at.size_hint()
    }
}

impl ExactSizeIterator for Iter<'_> {}

/// Equal when they hold the same entries in the same order.
impl PartialEq for MintedTokens {
    fn eq(&self, other: &MintedTokens) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for MintedTokens {}

impl<'t> IntoIterator for &'t MintedTokens {
    type Item = TokenEntry<'t>;
    type IntoIter = Iter<'t>;

    fn into_iter(self) -> Iter<'t> {
        self.iter()
    }
}

/// The token → original table of one request, while it is minted.
#[derive(Debug, Default, Clone)]
pub struct TokenTable {
    minted: MintedTokens,
    /// Index into the entries by original (hashed with FxHash): the originals are not copied
    /// a second time as keys.
    by_original: HashTable<usize>,
    /// Per prefix: the last number minted, and the kind last minted with it.
    numbers: FxHashMap<String, (u32, usize)>,
}

impl TokenTable {
    /// A table with room for `n` entries.
    pub fn with_capacity(n: usize) -> TokenTable {
        TokenTable {
            minted: MintedTokens {
                // A token and an original take a few dozen bytes together.
                text: String::with_capacity(n * 40),
                entries: Vec::with_capacity(n),
                kinds: Vec::new(),
            },
            by_original: HashTable::with_capacity(n),
            numbers: FxHashMap::default(),
        }
    }

    /// The token for `original`, minting the next `PREFIX_NNN` on first sight.
    pub fn token_for(&mut self, prefix: &str, kind: &str, original: &str) -> &str {
        let at = self.entry_for(prefix, kind, original);
        self.minted.token(at)
    }

    /// Like [`TokenTable::token_for`], but the index of the entry in [`TokenTable::entries`].
    pub fn entry_for(&mut self, prefix: &str, kind: &str, original: &str) -> usize {
        let hash = FxBuildHasher.hash_one(original);
        let minted = &self.minted;
        if let Some(&at) = self
            .by_original
            .find(hash, |&at| minted.original(at) == original)
        {
            return at;
        }
        let (number, last_kind) = match self.numbers.get_mut(prefix) {
            Some(slot) => slot,
            None => self
                .numbers
                .entry(prefix.to_owned())
                .or_insert((0, usize::MAX)),
        };
        *number += 1;
        if self
            .minted
            .kinds
            .get(*last_kind)
            .is_none_or(|k| **k != *kind)
        {
            *last_kind = self.minted.kind_index(kind);
        }
        let kind = *last_kind;
        let text = &mut self.minted.text;
        text.push_str(prefix);
        write!(text, "_{:03}", *number).expect("writing to a String cannot fail");
        let at = self.minted.len();
        self.minted.push(original, kind);
        let minted = &self.minted;
        self.by_original
            .insert_unique(hash, at, |&at| FxBuildHasher.hash_one(minted.original(at)));
        at
    }

    /// The token of the entry at `at`.
    pub fn token(&self, at: usize) -> &str {
        self.minted.token(at)
    }

    /// Every entry, in minting order.
    pub fn entries(&self) -> &MintedTokens {
        &self.minted
    }

    /// The entries, in minting order, in no more memory than they need.
    pub fn into_entries(self) -> MintedTokens {
        let mut minted = self.minted;
        minted.text.shrink_to_fit();
        minted.entries.shrink_to_fit();
        minted
    }

    pub fn is_empty(&self) -> bool {
        self.minted.is_empty()
    }

    pub fn len(&self) -> usize {
        self.minted.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_original_gets_same_token_and_numbers_are_per_prefix() {
        let mut table = TokenTable::default();
        assert_eq!(table.token_for("VPC", "vpc", "vpc-1"), "VPC_001");
        assert_eq!(table.token_for("AMI", "ami", "ami-1"), "AMI_001");
        assert_eq!(table.token_for("VPC", "vpc", "vpc-2"), "VPC_002");
        assert_eq!(table.token_for("VPC", "vpc", "vpc-1"), "VPC_001");
        assert_eq!(table.len(), 3);
    }

    #[test]
    fn entries_read_back_as_minted_with_each_kind_kept_once() {
        let mut table = TokenTable::default();
        table.token_for("EC2_INSTANCE", "ec2_instance", "i-0a1b2c3d4e5f67890");
        table.token_for("ACCOUNT", "account", "123456789012");
        table.token_for("EC2_INSTANCE", "custom:fleet", "i-1111");
        table.token_for("EC2_INSTANCE", "ec2_instance", "i-2222");
        let minted = table.into_entries();
        let read: Vec<(&str, &str, &str)> = minted
            .iter()
            .map(|e| (e.token, e.original, e.kind))
            .collect();
        assert_eq!(
            read,
            [
                ("EC2_INSTANCE_001", "i-0a1b2c3d4e5f67890", "ec2_instance"),
                ("ACCOUNT_001", "123456789012", "account"),
                ("EC2_INSTANCE_002", "i-1111", "custom:fleet"),
                ("EC2_INSTANCE_003", "i-2222", "ec2_instance"),
            ]
        );
        assert_eq!(minted.kinds.len(), 3);
        assert_eq!(minted.get(1).map(|e| e.original), Some("123456789012"));
        assert_eq!(minted.get(4), None);
    }

    #[test]
    fn numbers_past_999_grow_a_digit() {
        let mut table = TokenTable::default();
        for n in 1..=1000 {
            let token = table.token_for("SG", "sg", &format!("sg-{n}")).to_owned();
            if n == 1000 {
                assert_eq!(token, "SG_1000");
            }
        }
    }
}
