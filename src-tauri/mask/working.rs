//! The memory masking a body works in — decoded strings, the walk text, the engine's
//! scratch, one scratch per helper thread — kept per thread from one body to the next: a
//! megabyte of fresh memory costs 256 page faults, which on a virtual machine take longer
//! than the masking. What a previous body left in them is never read: each is emptied when
//! it is kept.

use std::cell::RefCell;

use super::engine::Scratch;
use super::{json_strings, walk_text};

/// What masking a body reads into and writes, besides its output.
#[derive(Default)]
pub(super) struct Buffers {
    pub json: json_strings::Buffers,
    pub walk: walk_text::Buffers,
    pub scan: Scratch,
    /// One per helper thread of a shared scan.
    pub helpers: Vec<Scratch>,
}

thread_local! {
    /// The buffers of the last body masked on this thread, kept for the next one.
    static BUFFERS: RefCell<Buffers> = RefCell::default();
}

/// Runs `mask` with this thread's buffers.
pub(super) fn with_buffers<T>(mask: impl FnOnce(&mut Buffers) -> T) -> T {
    BUFFERS.with_borrow_mut(mask)
}
