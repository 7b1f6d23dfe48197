//! The desktop app: the proxy in a Tauri process started into the system tray, a dashboard
//! window (live exchanges, patterns, settings), secrets in the OS keychain, notifications.
//! Everything here is a thin shell over the Tauri-free modules.

mod commands;
mod notify;
mod tray;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tauri::{Emitter, Manager, RunEvent};

use crate::control::{Control, SecretStore, Shell, Status};
use crate::settings::{keychain, Secrets, Settings};
use notify::Notifier;

/// What the app's windows, tray and notifications share: the control layer, and what was
/// already notified.
pub struct Desktop {
    pub control: Arc<Control>,
    pub notifier: Arc<Notifier>,
}

/// The OS keychain, where the page's gateway secret and local token go.
struct Keychain;

impl SecretStore for Keychain {
    fn store_gateway_secret(&self, value: Option<&str>) -> Result<(), String> {
        keychain::store_gateway_secret(value).map_err(|e| e.to_string())
    }

    fn store_local_token(&self, value: Option<&str>) -> Result<(), String> {
        keychain::store_local_token(value).map_err(|e| e.to_string())
    }
}

/// How long open exchanges may take to finish when the app quits.
const QUIT_GRACE: Duration = Duration::from_secs(30);

/// Runs the tray app until the user quits; with `open`, the dashboard shows at start.
pub fn run(settings_path: PathBuf, settings: Settings, open: bool) -> anyhow::Result<()> {
    let app = tauri::Builder::default()
        .plugin(tauri_plugin_single_instance::init(|app, _args, _cwd| {
            // A second launch opens the running instance's window instead of a second proxy.
            show_dashboard(app);
        }))
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_autostart::init(
            tauri_plugin_autostart::MacosLauncher::LaunchAgent,
            None,
        ))
        .invoke_handler(tauri::generate_handler![commands::control])
        .setup(move |app| {
            let notifier = Arc::new(Notifier::default());
            let secrets = keychain::load().unwrap_or_else(|e| {
                tracing::warn!(error = %e, "cannot read the keychain");
                notifier.once("keychain", &e.to_string());
                Secrets::default()
            });
            let (handle, status_notifier) = (app.handle().clone(), Arc::clone(&notifier));
            let on_status = Box::new(move |status: &Status| {
                if let Status::Error { message } = status {
                    status_notifier.once(message, message);
                }
                tray::show_status(&handle, status);
                let _ = handle.emit("status", status);
            });
            let control = Control::new(
                settings_path.clone(),
                settings.clone(),
                secrets,
                Shell::Desktop {
                    store: Box::new(Keychain),
                },
                on_status,
            );
            let desktop = Arc::new(Desktop { control, notifier });
            app.manage(Arc::clone(&desktop));
            tray::build(app.handle())?;
            if open {
                show_dashboard(app.handle());
            }
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(Control::watch_known_values(&desktop.control));
            tauri::async_runtime::spawn(follow_session(
                app.handle().clone(),
                Arc::downgrade(&desktop),
            ));
            tauri::async_runtime::spawn(async move {
                let _ = desktop.control.start().await;
                forward_journal(handle, desktop).await;
            });
            Ok(())
        })
        .build(tauri::generate_context!())?;
    app.run(|app, event| match event {
        // Closing the window keeps the tray (and the proxy) running; Quit exits.
        RunEvent::ExitRequested {
            api, code: None, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            let desktop = app.state::<Arc<Desktop>>().inner().clone();
            tauri::async_runtime::block_on(desktop.control.stop(QUIT_GRACE));
        }
        _ => {}
    });
    Ok(())
}

/// Shows and focuses the dashboard window.
pub fn show_dashboard<R: tauri::Runtime>(app: &tauri::AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

/// How often the tray's counts are brought up to date: often enough to read as live, rarely
/// enough that a burst of exchanges costs the menu nothing.
const SESSION_REFRESH: std::time::Duration = std::time::Duration::from_secs(1);

/// Keeps the tray's session counts up to date, while the app runs.
async fn follow_session(app: tauri::AppHandle, desktop: std::sync::Weak<Desktop>) {
    let mut shown = None;
    loop {
        tokio::time::sleep(SESSION_REFRESH).await;
        let Some(desktop) = desktop.upgrade() else {
            return;
        };
        let session = desktop.control.journal().session();
        if shown.as_ref() != Some(&session) {
            tray::show_session(&app, &session);
            shown = Some(session);
        }
    }
}

/// Passes journal events to the window and turns failures into (deduplicated) notifications.
async fn forward_journal(app: tauri::AppHandle, desktop: Arc<Desktop>) {
    let mut events = desktop.control.journal().subscribe();
    loop {
        match events.recv().await {
            Ok(event) => {
                desktop.notifier.on_journal_event(&event);
                let _ = app.emit("journal", &event);
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                let _ = app.emit("journal_lagged", missed);
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
