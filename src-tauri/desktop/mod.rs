//! The desktop app: the proxy in a Tauri process started into the system tray, a dashboard
//! window (live exchanges, patterns, settings), secrets in the OS keychain, notifications.
//! Everything here is a thin shell over the Tauri-free modules.

mod commands;
mod notify;
mod state;
mod tray;

use std::path::PathBuf;
use std::sync::Arc;

use tauri::{Emitter, Manager, RunEvent};

use crate::settings::Settings;
pub use state::Desktop;

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
        .invoke_handler(tauri::generate_handler![
            commands::status,
            commands::exchanges,
            commands::exchange,
            commands::catalog,
            commands::set_kind_enabled,
            commands::preview_pattern,
            commands::save_custom_patterns,
            commands::gateway_settings,
            commands::save_gateway_settings,
            commands::test_connection,
            commands::set_up_claude_code,
            commands::pause,
            commands::resume,
        ])
        .setup(move |app| {
            let desktop = Arc::new(Desktop::new(settings_path.clone(), settings.clone()));
            app.manage(Arc::clone(&desktop));
            tray::build(app.handle())?;
            if open {
                show_dashboard(app.handle());
            }
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                desktop.start(&handle).await;
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
            tauri::async_runtime::block_on(desktop.stop());
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

/// Passes journal events to the window and turns failures into (deduplicated) notifications.
async fn forward_journal(app: tauri::AppHandle, desktop: Arc<Desktop>) {
    let mut events = desktop.journal().subscribe();
    loop {
        match events.recv().await {
            Ok(event) => {
                desktop.notifier().on_journal_event(&event);
                let _ = app.emit("journal", &event);
            }
            Err(tokio::sync::broadcast::error::RecvError::Lagged(missed)) => {
                let _ = app.emit("journal_lagged", missed);
            }
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
        }
    }
}
