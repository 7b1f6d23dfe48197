//! The tray icon and its menu: open the dashboard, pause/resume, the listen address (click to
//! copy the `export ANTHROPIC_BASE_URL=…` line), copy `maskgate run -- claude`, check setup,
//! the session's counts and last error, start at login, quit. The icon shows the proxy's
//! state: running, paused or error.

use std::sync::Arc;

use tauri::image::Image;
use tauri::menu::{CheckMenuItem, Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Emitter, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt as _;

use super::{Desktop, QUIT_GRACE};
use crate::control::{Command, Status};
use crate::doctor::Check;
use crate::journal::SessionCounts;

const TRAY_ID: &str = "maskgate";

/// The menu items whose text changes with the proxy's state.
pub struct TrayItems<R: Runtime> {
    pause: MenuItem<R>,
    address: MenuItem<R>,
    counts: MenuItem<R>,
    last_error: MenuItem<R>,
}

/// How the session's counts read in the menu.
fn counts_text(session: &SessionCounts) -> String {
    format!(
        "{} exchanges · {} identifiers masked · {} refused",
        session.exchanges, session.masked, session.refused
    )
}

/// The notification for the tray's "Check setup": the verdict and the first failure's fix.
fn checks_summary(checks: &[Check]) -> String {
    match checks.iter().find(|c| !c.ok) {
        None => format!("Setup: all {} checks pass", checks.len()),
        Some(first) => {
            let failed = checks.iter().filter(|c| !c.ok).count();
            let fix = first.fix.as_deref().unwrap_or_default();
            format!(
                "Setup: {failed} of {} checks fail. {}\nfix: {fix}",
                checks.len(),
                first.line
            )
        }
    }
}

fn icon(status: &Status) -> Image<'static> {
    match status {
        Status::Running { .. } => tauri::include_image!("icons/running.png"),
        Status::Paused | Status::Starting => tauri::include_image!("icons/paused.png"),
        Status::Error { .. } => tauri::include_image!("icons/error.png"),
    }
}

pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let open = MenuItem::with_id(app, "open", "Open dashboard", true, None::<&str>)?;
    let pause = MenuItem::with_id(app, "pause", "Pause masking proxy", true, None::<&str>)?;
    let address = MenuItem::with_id(app, "address", "Starting…", true, None::<&str>)?;
    let run = MenuItem::with_id(
        app,
        "copy-run",
        "Copy “maskgate run -- claude”",
        true,
        None::<&str>,
    )?;
    let check = MenuItem::with_id(app, "check-setup", "Check setup", true, None::<&str>)?;
    let counts = MenuItem::with_id(
        app,
        "counts",
        counts_text(&SessionCounts::default()),
        false,
        None::<&str>,
    )?;
    let last_error = MenuItem::with_id(app, "last-error", "No errors", false, None::<&str>)?;
    let login = app.autolaunch().is_enabled().unwrap_or(false);
    let autostart = CheckMenuItem::with_id(
        app,
        "autostart",
        "Start at login",
        true,
        login,
        None::<&str>,
    )?;
    let quit = MenuItem::with_id(app, "quit", "Quit maskgate", true, None::<&str>)?;
    let separator = PredefinedMenuItem::separator(app)?;
    let second_separator = PredefinedMenuItem::separator(app)?;
    let menu = Menu::with_items(
        app,
        &[
            &open,
            &pause,
            &address,
            &run,
            &check,
            &separator,
            &counts,
            &last_error,
            &second_separator,
            &autostart,
            &quit,
        ],
    )?;
    TrayIconBuilder::with_id(TRAY_ID)
        .icon(icon(&Status::Starting))
        .tooltip("maskgate")
        .menu(&menu)
        .on_menu_event(|app, event| on_menu(app, event.id().as_ref()))
        .build(app)?;
    app.manage(TrayItems {
        pause,
        address,
        counts,
        last_error,
    });
    Ok(())
}

fn on_menu<R: Runtime>(app: &AppHandle<R>, id: &str) {
    let desktop = app.state::<Arc<Desktop>>().inner().clone();
    match id {
        "open" => super::show_dashboard(app),
        "pause" => {
            tauri::async_runtime::spawn(async move {
                let command = if matches!(desktop.control.status(), Status::Running { .. }) {
                    Command::Pause
                } else {
                    Command::Resume
                };
                if let Err(e) = desktop.control.run(command).await {
                    desktop.notifier.once(e.kind(), &e.to_string());
                }
            });
        }
        "address" => {
            if let Status::Running { base_url, .. } = desktop.control.status() {
                let _ = app
                    .clipboard()
                    .write_text(format!("export ANTHROPIC_BASE_URL={base_url}"));
            }
        }
        "copy-run" => {
            let _ = app.clipboard().write_text("maskgate run -- claude");
        }
        "check-setup" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                match desktop.control.check_setup().await {
                    Ok(checks) => {
                        desktop.notifier.show(&checks_summary(&checks));
                        super::show_dashboard(&app);
                        let _ = app.emit("setup_checks", &checks);
                    }
                    Err(e) => desktop.notifier.show(&e.to_string()),
                }
            });
        }
        "autostart" => {
            let launcher = app.autolaunch();
            let result = if launcher.is_enabled().unwrap_or(false) {
                launcher.disable()
            } else {
                launcher.enable()
            };
            if let Err(e) = result {
                desktop
                    .notifier
                    .once("autostart", &format!("cannot change start at login: {e}"));
            }
        }
        "quit" => {
            let app = app.clone();
            tauri::async_runtime::spawn(async move {
                desktop.control.stop(QUIT_GRACE).await;
                app.exit(0);
            });
        }
        _ => {}
    }
}

/// Shows `status` in the icon, the tooltip and the menu.
pub fn show_status<R: Runtime>(app: &AppHandle<R>, status: &Status) {
    if let Some(tray) = app.tray_by_id(TRAY_ID) {
        let _ = tray.set_icon(Some(icon(status)));
        let tooltip = match status {
            Status::Running { address, .. } => format!("maskgate: masking on {address}"),
            Status::Paused => "maskgate: paused".to_owned(),
            Status::Starting => "maskgate: starting".to_owned(),
            Status::Error { message } => format!("maskgate: {message}"),
        };
        let _ = tray.set_tooltip(Some(tooltip));
    }
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let running = matches!(status, Status::Running { .. });
        let _ = items.pause.set_text(if running {
            "Pause masking proxy"
        } else {
            "Resume masking proxy"
        });
        let _ = items.address.set_text(match status {
            Status::Running { address, .. } => format!("Listening on {address} (click to copy)"),
            Status::Paused => "Paused: Claude Code requests are refused".to_owned(),
            Status::Starting => "Starting…".to_owned(),
            Status::Error { message } => format!("Error: {message}"),
        });
        let _ = items.address.set_enabled(running);
    }
}

/// Shows the session's counts and its last error in the menu.
pub fn show_session<R: Runtime>(app: &AppHandle<R>, session: &SessionCounts) {
    if let Some(items) = app.try_state::<TrayItems<R>>() {
        let _ = items.counts.set_text(counts_text(session));
        let error = session.last_error.as_deref().map_or_else(
            || "No errors".to_owned(),
            |e| format!("Last error: {}", e.chars().take(80).collect::<String>()),
        );
        let _ = items.last_error.set_text(error);
    }
}
