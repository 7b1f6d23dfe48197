//! The dashboard's IPC commands: thin wrappers over the journal, the catalog, the settings and
//! the keychain. Errors cross to the page as `{ message }`.

use std::sync::Arc;

use serde::Serialize;
use tauri::{AppHandle, State};

use super::state::{Desktop, Status};
use crate::dashboard::views::{self, ExchangeDetail, GatewayView, KindView, Preview};
use crate::journal::RecordSummary;
use crate::mask::CustomPattern;
use crate::proxy::health::{check, Health};

/// An error as the page sees it.
#[derive(Debug, Serialize)]
pub struct CommandError {
    message: String,
}

impl<E: std::fmt::Display> From<E> for CommandError {
    fn from(e: E) -> Self {
        CommandError {
            message: e.to_string(),
        }
    }
}

type Answer<T> = Result<T, CommandError>;
type Shared<'a> = State<'a, Arc<Desktop>>;

#[tauri::command]
pub fn status(desktop: Shared<'_>) -> Status {
    desktop.status()
}

#[tauri::command]
pub fn exchanges(desktop: Shared<'_>) -> Vec<RecordSummary> {
    desktop.journal().summaries()
}

#[tauri::command]
pub fn exchange(desktop: Shared<'_>, id: u64) -> Option<ExchangeDetail> {
    desktop.journal().record(id).map(|r| ExchangeDetail::of(&r))
}

#[tauri::command]
pub fn catalog(desktop: Shared<'_>) -> Vec<KindView> {
    views::catalog(&desktop.settings(), &desktop.journal().totals())
}

#[tauri::command]
pub async fn set_kind_enabled(
    app: AppHandle,
    desktop: Shared<'_>,
    id: String,
    enabled: bool,
) -> Answer<()> {
    desktop
        .update_settings(&app, |s| views::set_kind_enabled(s, &id, enabled))
        .await
        .map_err(Into::into)
}

/// What a custom pattern would mask in `sample`, before it is saved.
#[tauri::command]
pub fn preview_pattern(pattern: CustomPattern, sample: String) -> Answer<Preview> {
    Ok(views::preview_pattern(pattern, &sample)?)
}

#[tauri::command]
pub async fn save_custom_patterns(
    app: AppHandle,
    desktop: Shared<'_>,
    patterns: Vec<CustomPattern>,
) -> Answer<()> {
    desktop
        .update_settings(&app, |s| s.custom_patterns = patterns)
        .await
        .map_err(Into::into)
}

#[tauri::command]
pub fn gateway_settings(desktop: Shared<'_>) -> GatewayView {
    let (secret_set, local_token_set) = desktop.secrets_set();
    GatewayView::of(&desktop.settings(), secret_set, local_token_set)
}

/// Saves the gateway settings; a new secret or local token (when given) goes to the keychain.
#[tauri::command]
pub async fn save_gateway_settings(
    app: AppHandle,
    desktop: Shared<'_>,
    view: GatewayView,
    secret: Option<String>,
    local_token: Option<String>,
) -> Answer<()> {
    let listen = view
        .listen
        .trim()
        .parse()
        .map_err(|e| format!("listen address {:?}: {e}", view.listen))?;
    desktop.store_secrets(secret.as_deref(), local_token.as_deref())?;
    desktop
        .update_settings(&app, |s| {
            s.upstream_url = view.upstream_url.trim().to_owned();
            s.listen = listen;
            s.gateway.auth = view.auth;
            s.gateway.key_header = view.key_header.trim().to_owned();
            s.gateway.basic_user = view.basic_user;
            s.gateway.anthropic_key = view.anthropic_key;
            s.gateway.ca_file = view
                .ca_file
                .filter(|p| !p.trim().is_empty())
                .map(Into::into);
        })
        .await
        .map_err(Into::into)
}

/// Asks the upstream (with the gateway credential, no prompt) what it thinks of us.
#[tauri::command]
pub async fn test_connection(desktop: Shared<'_>) -> Answer<Health> {
    let proxy = desktop
        .proxy()
        .ok_or("the proxy is not configured; see the error above")?;
    Ok(check(&proxy.config().upstream).await)
}

/// Writes ANTHROPIC_BASE_URL (and the token header) into ~/.claude/settings.json.
#[tauri::command]
pub fn set_up_claude_code(desktop: Shared<'_>) -> Answer<String> {
    let Status::Running { address } = desktop.status() else {
        return Err("start the proxy first".into());
    };
    Ok(views::set_up_claude_code(
        address,
        desktop.local_token().as_deref(),
    )?)
}

#[tauri::command]
pub async fn pause(app: AppHandle, desktop: Shared<'_>) -> Answer<()> {
    desktop.pause(&app).await;
    Ok(())
}

#[tauri::command]
pub async fn resume(app: AppHandle, desktop: Shared<'_>) -> Answer<()> {
    desktop.start(&app).await;
    Ok(())
}
