//! Restoring: this request's tokens back to their originals in what the upstream answers —
//! complete JSON bodies and streamed server-sent events — and the usage those report.

pub mod json;
pub mod sse;
pub mod tokens;
pub mod usage;

pub use json::restore_json_body;
pub use sse::SseRestorer;
pub use tokens::{Escaping, PendingText, Restorer};
pub use usage::Usage;
