//! The window's one IPC command: the page's command name and arguments, translated to a
//! [`Command`] for the control layer, exactly as the browser dashboard's `/api/{command}`.

use std::sync::Arc;

use serde_json::Value;
use tauri::State;

use super::Desktop;
use crate::control::{Command, ErrorView};

#[tauri::command]
pub async fn control(
    desktop: State<'_, Arc<Desktop>>,
    command: String,
    args: Value,
) -> Result<Value, ErrorView> {
    let command = Command::parse(&command, args).map_err(|e| ErrorView::from(&e))?;
    desktop
        .control
        .run(command)
        .await
        .map_err(|e| ErrorView::from(&e))
}
