//! maskgate: a local proxy between Claude Code and the Anthropic API (or a Kong Gateway)
//! that masks AWS identifiers on the way out and restores them on the way back.
//!
//! - [`mask`]: the identifier catalog, the anchor-driven engine, tokens, the request walk.
//! - [`restore`]: tokens back to originals in JSON responses and SSE streams.
//! - [`proxy`]: the axum server, its guard, the upstream client, Anthropic-style errors.
//! - [`journal`]: one record per exchange, for the live view, metrics and the audit log.
//! - [`settings`]: the config file and the keychain-held secrets.
//! - [`local`]: how this machine's commands reach the maskgate its settings name.
//! - [`doctor`]: `maskgate doctor` and "Check setup", the checks that Claude Code really goes
//!   through maskgate.
//! - [`control`]: the Tauri-free control layer: settings in effect, secrets, journal, the
//!   running proxy, and the commands both dashboards send; what the dashboards show.
//! - [`dashboard`]: the browser dashboard of `--headless --dashboard`, over [`control`].
//! - [`headless`]: the headless server, as the binary runs it.
//! - [`launch`]: `maskgate run -- claude`, through the running maskgate or one of its own.
//! - `desktop` (feature `desktop`): the Tauri tray app and its dashboard.

pub mod control;
pub mod dashboard;
#[cfg(feature = "desktop")]
pub mod desktop;
pub mod doctor;
pub mod headless;
pub mod journal;
pub mod launch;
pub mod local;
pub mod mask;
#[cfg(test)]
mod properties;
pub mod proxy;
pub mod restore;
pub mod settings;
