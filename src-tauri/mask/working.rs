//! The memory masking a body works in — decoded strings, the walk text, the engine's
//! scratch, one scratch per helper thread — kept from one body to the next: a megabyte of
//! fresh memory costs 256 page faults, which on a virtual machine take longer than the
//! masking. A few sets are kept, one per body masked at once, and all of them are handed
//! back by [`release`] once the proxy is quiet. What a previous body left in them is never
//! read: each is emptied when it is kept.

use std::sync::{Mutex, PoisonError};

use super::engine::Scratch;
use super::{json_strings, parallel, walk_text};

/// What masking a body reads into and writes, besides its output.
#[derive(Default)]
pub(super) struct Buffers {
    pub json: json_strings::Buffers,
    pub walk: walk_text::Buffers,
    pub scan: Scratch,
    /// One per helper thread of a shared scan.
    pub helpers: Vec<Scratch>,
}

/// The sets of buffers not in use, the last one used on top (its memory is the warmest).
static KEPT: Mutex<Vec<Buffers>> = Mutex::new(Vec::new());

/// Runs `mask` with a kept set of buffers (or a new one), and keeps it again after.
pub(super) fn with_buffers<T>(mask: impl FnOnce(&mut Buffers) -> T) -> T {
    let kept = || KEPT.lock().unwrap_or_else(PoisonError::into_inner);
    let mut buffers = kept().pop().unwrap_or_default();
    let masked = mask(&mut buffers);
    let mut kept = kept();
    // As many bodies are masked at once as threads run them: a tokio worker each.
    if kept.len() < *parallel::THREADS {
        kept.push(buffers);
    }
    masked
}

/// Hands every kept set of buffers back to the allocator.
pub fn release() {
    let released = std::mem::take(&mut *KEPT.lock().unwrap_or_else(PoisonError::into_inner));
    drop(released);
}
