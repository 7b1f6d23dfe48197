//! The dashboard's IPC commands: thin wrappers over the journal, the catalog, the settings and
//! the keychain. Errors cross to the page as `{ message }`.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use tauri::{AppHandle, State};

use super::state::{Desktop, Status};
use crate::journal::RecordSummary;
use crate::mask::catalog::CATALOG;
use crate::mask::{mask_text, CustomPattern, Engine, TokenEntry};
use crate::proxy::guard::TOKEN_HEADER;
use crate::proxy::health::{check, Health};
use crate::settings::claude_code;
use crate::settings::{AnthropicKey, GatewayAuth};

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

/// One exchange in full: what left the machine, the token table (originals: memory only,
/// shown on request), and the restored answer.
#[derive(Serialize)]
pub struct ExchangeDetail {
    summary: RecordSummary,
    masked_request: String,
    tokens: Vec<TokenEntry>,
    response: String,
}

#[tauri::command]
pub fn exchange(desktop: Shared<'_>, id: u64) -> Option<ExchangeDetail> {
    desktop.journal().record(id).map(|r| ExchangeDetail {
        summary: r.summary(),
        masked_request: String::from_utf8_lossy(&r.masked_request).into_owned(),
        tokens: r.tokens.to_vec(),
        response: r.response.clone(),
    })
}

#[derive(Serialize)]
pub struct KindView {
    id: String,
    label: String,
    description: String,
    example: String,
    token_prefix: String,
    enabled: bool,
    custom: bool,
    regex: Option<String>,
    count: u64,
}

#[tauri::command]
pub fn catalog(desktop: Shared<'_>) -> Vec<KindView> {
    let settings = desktop.settings();
    let totals = desktop.journal().totals();
    let builtins = CATALOG.iter().map(|k| KindView {
        id: k.id.to_owned(),
        label: k.label.to_owned(),
        description: k.description.to_owned(),
        example: k.example.to_owned(),
        token_prefix: k.token_prefix.to_owned(),
        enabled: !settings.disabled_kinds.contains(k.id),
        custom: false,
        regex: None,
        count: totals.get(k.id).copied().unwrap_or(0),
    });
    let custom = settings.custom_patterns.iter().map(|c| {
        let id = format!("custom:{}", c.name);
        KindView {
            count: totals.get(&id).copied().unwrap_or(0),
            enabled: !settings.disabled_kinds.contains(&id),
            id,
            label: c.name.clone(),
            description: "Custom pattern".to_owned(),
            example: String::new(),
            token_prefix: c.token_prefix.clone(),
            custom: true,
            regex: Some(c.regex.clone()),
        }
    });
    builtins.chain(custom).collect()
}

#[tauri::command]
pub async fn set_kind_enabled(
    app: AppHandle,
    desktop: Shared<'_>,
    id: String,
    enabled: bool,
) -> Answer<()> {
    desktop
        .update_settings(&app, |s| {
            if enabled {
                s.disabled_kinds.remove(&id);
            } else {
                s.disabled_kinds.insert(id);
            }
        })
        .await
        .map_err(Into::into)
}

#[derive(Serialize)]
pub struct Preview {
    masked: String,
    matches: usize,
}

/// What a custom pattern would mask in `sample`, before it is saved.
#[tauri::command]
pub fn preview_pattern(pattern: CustomPattern, sample: String) -> Answer<Preview> {
    let engine = Engine::new(|_| false, std::slice::from_ref(&pattern))?;
    let masked = mask_text(&engine, &sample);
    Ok(Preview {
        matches: masked.counts.values().sum(),
        masked: masked.output,
    })
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

/// The gateway settings as the page shows them: secrets only as "set" or not.
#[derive(Serialize, Deserialize)]
pub struct GatewayView {
    upstream_url: String,
    auth: GatewayAuth,
    key_header: String,
    basic_user: String,
    anthropic_key: AnthropicKey,
    ca_file: Option<String>,
    listen: String,
    #[serde(default)]
    secret_set: bool,
    #[serde(default)]
    local_token_set: bool,
}

#[tauri::command]
pub fn gateway_settings(desktop: Shared<'_>) -> GatewayView {
    let s = desktop.settings();
    let (secret_set, local_token_set) = desktop.secrets_set();
    GatewayView {
        upstream_url: s.upstream_url,
        auth: s.gateway.auth,
        key_header: s.gateway.key_header,
        basic_user: s.gateway.basic_user,
        anthropic_key: s.gateway.anthropic_key,
        ca_file: s.gateway.ca_file.map(|p| p.display().to_string()),
        listen: s.listen.to_string(),
        secret_set,
        local_token_set,
    }
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
    let path = claude_code::default_path().ok_or("no home directory")?;
    let header = desktop
        .local_token()
        .map(|t| format!("{TOKEN_HEADER}: {t}"));
    let backup =
        claude_code::point_claude_code_at(&path, &format!("http://{address}"), header.as_deref())?;
    Ok(match backup {
        Some(backup) => format!("Updated {} (backup: {})", path.display(), backup.display()),
        None => format!("Created {}", path.display()),
    })
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
