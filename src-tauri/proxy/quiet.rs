//! Memory handed back once the proxy is quiet. Under load, request bodies, masked outputs and
//! the masking's working memory reuse buffers kept from earlier requests, and the allocator
//! keeps freed pages for the next ones; once no exchange has been in flight for [`QUIET`],
//! all of it goes back to the system, so an idle proxy holds about its idle size plus what
//! the journal keeps.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

/// How long no exchange runs before the kept memory is released. Claude Code sends its next
/// turn within moments of a tool's end; a pause longer than this is a person reading, and
/// a request after it pays a few page faults, not a visible delay.
pub const QUIET: Duration = Duration::from_secs(2);

/// Exchanges in flight, and a wake-up for the one task that releases memory after them.
#[derive(Default)]
pub struct Activity {
    in_flight: AtomicUsize,
    /// Exchanges begun so far: one that began and ended within a quiet period still counts.
    begun: AtomicU64,
    went_idle: Notify,
}

/// One exchange in flight, until dropped.
pub struct Busy<'a>(&'a Activity);

impl Activity {
    pub fn busy(&self) -> Busy<'_> {
        self.begun.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Busy(self)
    }

    /// Runs `release` each time no exchange has been in flight for [`QUIET`]; never returns.
    pub async fn release_when_quiet(&self, release: impl Fn()) -> std::convert::Infallible {
        // Exchanges begun when memory was last released: a wake-up left over from before
        // then has nothing new to release.
        let mut released_after = 0;
        loop {
            self.went_idle.notified().await;
            loop {
                let begun = self.begun.load(Ordering::Relaxed);
                if begun == released_after {
                    break;
                }
                tokio::time::sleep(QUIET).await;
                if self.in_flight.load(Ordering::Acquire) > 0 {
                    // Its end wakes this task again.
                    break;
                }
                if self.begun.load(Ordering::Relaxed) == begun {
                    release();
                    released_after = begun;
                    break;
                }
            }
        }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.went_idle.notify_one();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    #[tokio::test(start_paused = true)]
    async fn memory_is_released_once_after_a_quiet_period_and_not_while_busy() {
        let activity = Arc::new(Activity::default());
        let released = Arc::new(AtomicUsize::new(0));
        let watcher = {
            let (activity, released) = (Arc::clone(&activity), Arc::clone(&released));
            tokio::spawn(async move {
                activity
                    .release_when_quiet(|| {
                        released.fetch_add(1, Ordering::SeqCst);
                    })
                    .await
            })
        };
        let busy = activity.busy();
        tokio::time::sleep(QUIET * 3).await;
        assert_eq!(released.load(Ordering::SeqCst), 0, "released while busy");
        drop(busy);
        // Exchanges that begin and end within the quiet period put the release off.
        for _ in 0..3 {
            tokio::time::sleep(QUIET / 2).await;
            drop(activity.busy());
        }
        assert_eq!(
            released.load(Ordering::SeqCst),
            0,
            "released between exchanges"
        );
        tokio::time::sleep(QUIET * 3).await;
        assert_eq!(released.load(Ordering::SeqCst), 1);
        tokio::time::sleep(QUIET * 3).await;
        assert_eq!(
            released.load(Ordering::SeqCst),
            1,
            "released again with nothing new"
        );
        watcher.abort();
    }
}
