//! A large body's scan on several threads: once the walk text is laid out, helpers take parts
//! of it in turn beside this thread (see [`SharedScan`]); the findings are exactly one scan's,
//! whatever the number of threads.

use std::sync::LazyLock;

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

/// Reads `text` as a body and scans its walk text on `threads` threads. The helpers start
/// once the walk text is laid out, and take parts while this thread scans its own: nothing
/// waits by spinning, so under load no core is taken from other requests for nothing. A
/// helper that starts late finds the parts taken and ends at once.
pub(super) fn read_and_scan<'b>(
    engine: &Engine,
    text: &'b str,
    threads: usize,
    buffers: &mut Buffers,
) -> Result<(WalkText<'b>, Vec<Finding>, Vec<Finding>), serde_json::Error> {
    let strings = JsonStrings::read(text, &mut buffers.json)?;
    let walk = WalkText::lay_out(strings, &mut buffers.walk);
    let scan = SharedScan::new(&walk.text, threads, MIN_PART);
    buffers.helpers.resize_with(threads - 1, Scratch::default);
    let (findings, hidden) = std::thread::scope(|scope| {
        let helpers: Vec<_> = (buffers.helpers.iter_mut())
            .map(|scratch| {
                let scan = &scan;
                scope.spawn(move || engine.scan_shared(scan, scratch))
            })
            .collect();
        let mut candidates = engine.scan_shared(&scan, &mut buffers.scan);
        for helper in helpers {
            let found = helper
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
            candidates.extend(found);
        }
        let mut hidden = Vec::new();
        engine.resolve(&mut candidates, &mut hidden);
        (candidates, hidden)
    });
    drop(scan);
    Ok((walk, findings, hidden))
}
