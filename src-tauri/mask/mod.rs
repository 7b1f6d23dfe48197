//! Masking: the identifier catalog, the engine that finds identifiers in a string, the token
//! table, and the walk over whole request bodies. Knows nothing of HTTP or Tauri.

mod base64_text;
mod byte_sets;
pub mod catalog;
pub mod engine;
mod json_strings;
pub mod lists;
mod parallel;
mod percent;
pub mod request;
mod scan;
mod sweep;
pub mod tokens;
pub mod walk_text;
mod word_filter;
mod working;

pub use engine::{CustomPattern, Engine, EngineError};
pub use lists::{AlwaysMask, KnownValue, Lists};
pub use request::{
    mask_json, mask_json_into, mask_json_with_threads, mask_text, BodyFacts, MaskError, Masked,
};
pub use tokens::{MintedTokens, TokenEntry, TokenTable};
pub use working::release as release_working_memory;
