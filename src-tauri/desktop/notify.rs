//! Desktop notifications: once per cause for what went wrong (a port already taken, an
//! unreachable upstream, rejected gateway credentials, a refused request), every time for what
//! the user asked for (the tray's "Check setup"). A failing notification daemon is logged,
//! never fatal.

use std::collections::HashSet;
use std::sync::Mutex;

use crate::journal::{Failure, JournalEvent};

#[derive(Default)]
pub struct Notifier {
    shown: Mutex<HashSet<String>>,
}

impl Notifier {
    /// Shows `message` unless a notification for `cause` was already shown.
    pub fn once(&self, cause: &str, message: &str) {
        let first = self
            .shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(cause.to_owned());
        if first {
            self.show(message);
        }
    }

    /// Shows `message` now: the answer to something the user asked for.
    pub fn show(&self, message: &str) {
        let message = message.to_owned();
        std::thread::spawn(move || {
            let shown = notify_rust::Notification::new()
                .appname("maskgate")
                .summary("maskgate")
                .body(&message)
                .show();
            if let Err(e) = shown {
                tracing::warn!(error = %e, "cannot show a notification");
            }
        });
    }

    /// Notifies about exchanges that went wrong in a way the user should act on: a refusal,
    /// an unreachable upstream, rejected gateway credentials (once each).
    pub fn on_journal_event(&self, event: &JournalEvent) {
        let JournalEvent::Record(record) = event else {
            return;
        };
        let (Some(failure), Some(error)) = (record.failure, &record.error) else {
            return;
        };
        let cause = match failure {
            Failure::Refused => "refused",
            Failure::Unreachable => "unreachable",
            Failure::GatewayRejected => "credentials",
            Failure::UpstreamError | Failure::StreamCut | Failure::ClientGone => return,
        };
        self.once(cause, error);
    }
}
