//! Originals ↔ tokens for one request. Tokens are `PREFIX_NNN`, numbered per prefix by first
//! occurrence in the order the request is walked, so the same conversation prefix always gets
//! the same tokens — across turns and across restarts, with no state shared between requests.
//! Text that already looks like a token is itself masked by the walk, so every token in a
//! masked request was minted here and restoring is never ambiguous.

use std::fmt::Write;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use rustc_hash::{FxBuildHasher, FxHashMap};

/// One masked identifier.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TokenEntry {
    pub token: String,
    pub original: String,
    /// The rule id that found it (`ec2_instance`, `custom:<name>`).
    pub kind: String,
}

/// The token → original table of one request. Lives in memory only.
#[derive(Debug, Default, Clone)]
pub struct TokenTable {
    entries: Vec<TokenEntry>,
    /// Index into `entries` by original (hashed with FxHash): the originals are not copied
    /// a second time as keys.
    by_original: HashTable<usize>,
    /// The last number minted for each prefix.
    numbers: FxHashMap<String, u32>,
}

impl TokenTable {
    /// A table with room for `n` entries.
    pub fn with_capacity(n: usize) -> TokenTable {
        TokenTable {
            entries: Vec::with_capacity(n),
            by_original: HashTable::with_capacity(n),
            numbers: FxHashMap::default(),
        }
    }

    /// The token for `original`, minting the next `PREFIX_NNN` on first sight.
    pub fn token_for(&mut self, prefix: &str, kind: &str, original: &str) -> &str {
        let at = self.entry_for(prefix, kind, original);
        &self.entries[at].token
    }

    /// Like [`TokenTable::token_for`], but the index of the entry in [`TokenTable::entries`].
    pub fn entry_for(&mut self, prefix: &str, kind: &str, original: &str) -> usize {
        let hash = FxBuildHasher.hash_one(original);
        let entries = &self.entries;
        if let Some(&at) = self
            .by_original
            .find(hash, |&at| entries[at].original == original)
        {
            return at;
        }
        let number = match self.numbers.get_mut(prefix) {
            Some(number) => number,
            None => self.numbers.entry(prefix.to_owned()).or_default(),
        };
        *number += 1;
        let mut token = String::with_capacity(prefix.len() + 4);
        token.push_str(prefix);
        write!(token, "_{:03}", *number).expect("writing to a String cannot fail");
        let at = self.entries.len();
        let entries = &self.entries;
        self.by_original.insert_unique(hash, at, |&at| {
            FxBuildHasher.hash_one(entries[at].original.as_str())
        });
        self.entries.push(TokenEntry {
            token,
            original: original.to_owned(),
            kind: kind.to_owned(),
        });
        at
    }

    /// Every entry, in minting order.
    pub fn entries(&self) -> &[TokenEntry] {
        &self.entries
    }

    /// The entries, in minting order, without copying them.
    pub fn into_entries(self) -> Vec<TokenEntry> {
        self.entries
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
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
