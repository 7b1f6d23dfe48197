//! maskgate: a local proxy between Claude Code and the Anthropic API (or a Kong Gateway)
//! that masks AWS identifiers on the way out and restores them on the way back.
//!
//! - [`mask`]: the identifier catalog, the anchor-driven engine, tokens, the request walk.
//! - [`restore`]: tokens back to originals in JSON responses and SSE streams.
//! - [`proxy`]: the axum server, its guard, the upstream client, Anthropic-style errors.
//! - [`journal`]: one record per exchange, for the live view, metrics and the audit log.
//! - [`settings`]: the config file and the keychain-held secrets.
//! - [`dashboard`]: what the dashboard shows, and the browser dashboard of `--headless --dashboard`.
//! - `desktop` (feature `desktop`): the Tauri tray app and its dashboard.

pub mod dashboard;
#[cfg(feature = "desktop")]
pub mod desktop;
pub mod journal;
pub mod mask;
pub mod proxy;
pub mod restore;
pub mod settings;
