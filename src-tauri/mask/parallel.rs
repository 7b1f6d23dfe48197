//! A large body's scan on several threads: helpers start before the JSON is read, wait for
//! the walk text, and take parts of it in turn (see [`SharedScan`]); the findings are exactly
//! one scan's, whatever the number of threads.

use std::sync::{LazyLock, OnceLock};

use super::engine::{Engine, Finding, Scratch, SharedScan};
use super::json_strings::JsonStrings;
use super::walk_text::WalkText;
use super::working::Buffers;

/// The cores a body's scan may use, asked once: on Linux the answer reads the cgroup quota
/// files, which a request should not pay for.
pub(super) static THREADS: LazyLock<usize> = LazyLock::new(|| {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(MAX_THREADS)
});

/// At most this many threads scan one body: a request waits for the slowest part, and
/// other requests need cores too.
const MAX_THREADS: usize = 4;

/// No thread scans less than this: below it, starting one costs more than it saves.
pub(super) const MIN_PART: usize = 128 * 1024;

/// Reads `text` as a body and scans its walk text on `threads` threads. The helpers are
/// started before the JSON is read, not once there is text to scan: a core that has been
/// idle can take a millisecond or more to wake (measured on a virtual machine), longer than
/// reading the JSON and laying out the walk text take, so a helper started late finds the
/// parts taken. Until the text is ready they wait by yielding, which keeps their cores awake.
pub(super) fn read_and_scan<'b>(
    engine: &Engine,
    text: &'b str,
    threads: usize,
    buffers: &mut Buffers,
) -> Result<(WalkText<'b>, Vec<Finding>, Vec<Finding>), serde_json::Error> {
    let walk_slot = OnceLock::new();
    // `None` when the body could not be read: the helpers then stop at once.
    let scan_slot: OnceLock<Option<SharedScan>> = OnceLock::new();
    buffers.helpers.resize_with(threads - 1, Scratch::default);
    let scanned = std::thread::scope(|scope| {
        // Whatever happens below (an unreadable body, a panic), the helpers are let go.
        let release = ReleaseHelpers(&scan_slot);
        let helpers: Vec<_> = (buffers.helpers.iter_mut())
            .map(|scratch| {
                let scan_slot = &scan_slot;
                scope.spawn(move || {
                    let scan = loop {
                        match scan_slot.get() {
                            Some(published) => break published.as_ref(),
                            None => std::thread::yield_now(),
                        }
                    };
                    scan.map(|scan| engine.scan_shared(scan, scratch))
                })
            })
            .collect();
        let read = JsonStrings::read(text, &mut buffers.json);
        let walk = match read {
            Ok(strings) => walk_slot.get_or_init(|| WalkText::lay_out(strings, &mut buffers.walk)),
            Err(e) => return Err(e),
        };
        let scan = scan_slot.get_or_init(|| Some(SharedScan::new(&walk.text, threads, MIN_PART)));
        drop(release);
        let scan = scan.as_ref().expect("published just now");
        let mut candidates = engine.scan_shared(scan, &mut buffers.scan);
        for helper in helpers {
            let found = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            candidates.extend(found.into_iter().flatten());
        }
        let mut hidden = Vec::new();
        engine.resolve(&mut candidates, &mut hidden);
        Ok((candidates, hidden))
    });
    drop(scan_slot);
    let (findings, hidden) = scanned?;
    let walk = walk_slot.into_inner().expect("laid out before the scan");
    Ok((walk, findings, hidden))
}

/// Publishes "no scan" to waiting helpers when dropped before a scan was published.
struct ReleaseHelpers<'s, 't>(&'s OnceLock<Option<SharedScan<'t>>>);

impl Drop for ReleaseHelpers<'_, '_> {
    fn drop(&mut self) {
        let _ = self.0.set(None);
    }
}
