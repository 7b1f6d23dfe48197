//! Points Claude Code at maskgate: writes `ANTHROPIC_BASE_URL` (and the header carrying the
//! local token, if one is set) into the `env` block of `~/.claude/settings.json`, keeping a backup of the file
//! as it was. Other keys of the file are kept as they are.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClaudeSetupError {
    #[error("cannot read {0}: {1}")]
    Read(PathBuf, std::io::Error),
    #[error("{0} is not a JSON object; fix or move it first")]
    NotAnObject(PathBuf),
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// `~/.claude/settings.json`.
pub fn default_path() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|d| d.home_dir().join(".claude").join("settings.json"))
}

/// Writes the variables; `token_header` is the `name: value` line Claude Code must send.
/// Returns the backup's path when there was a file to back up.
pub fn point_claude_code_at(
    path: &Path,
    base_url: &str,
    token_header: Option<&str>,
) -> Result<Option<PathBuf>, ClaudeSetupError> {
    let existing = match std::fs::read_to_string(path) {
        Ok(text) => Some(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(ClaudeSetupError::Read(path.to_owned(), e)),
    };
    let mut root = match &existing {
        Some(text) if !text.trim().is_empty() => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => map,
            _ => return Err(ClaudeSetupError::NotAnObject(path.to_owned())),
        },
        _ => Map::new(),
    };
    let env = root
        .entry("env")
        .or_insert_with(|| Value::Object(Map::new()));
    let Value::Object(env) = env else {
        return Err(ClaudeSetupError::NotAnObject(path.to_owned()));
    };
    env.insert(
        "ANTHROPIC_BASE_URL".into(),
        Value::String(base_url.to_owned()),
    );
    // Keeps Claude Code's side traffic (which would bypass maskgate) off.
    env.insert(
        "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
        Value::String("1".into()),
    );
    match token_header {
        Some(header) => env.insert(
            "ANTHROPIC_CUSTOM_HEADERS".into(),
            Value::String(header.to_owned()),
        ),
        None => env.remove("ANTHROPIC_CUSTOM_HEADERS"),
    };
    let write_error = |e| ClaudeSetupError::Write(path.to_owned(), e);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(write_error)?;
    }
    let backup = match existing {
        Some(text) => {
            let backup = path.with_extension("json.maskgate-backup");
            std::fs::write(&backup, text).map_err(write_error)?;
            Some(backup)
        }
        None => None,
    };
    let text = serde_json::to_string_pretty(&Value::Object(root)).expect("JSON always serializes");
    std::fs::write(path, text + "\n").map_err(write_error)?;
    Ok(backup)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_other_settings_backs_up_and_sets_the_variables() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(".claude/settings.json");
        std::fs::create_dir_all(path.parent().expect("dir")).expect("mkdir");
        std::fs::write(&path, r#"{"model":"opus","env":{"FOO":"1"}}"#).expect("write");
        let backup = point_claude_code_at(
            &path,
            "http://127.0.0.1:8082",
            Some("x-maskgate-token: t0k"),
        )
        .expect("written");
        let written: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        assert_eq!(written["model"], "opus");
        assert_eq!(written["env"]["FOO"], "1");
        assert_eq!(
            written["env"]["ANTHROPIC_BASE_URL"],
            "http://127.0.0.1:8082"
        );
        assert_eq!(
            written["env"]["ANTHROPIC_CUSTOM_HEADERS"],
            "x-maskgate-token: t0k"
        );
        let backup = backup.expect("a backup");
        assert_eq!(
            std::fs::read_to_string(backup).expect("read"),
            r#"{"model":"opus","env":{"FOO":"1"}}"#
        );
    }

    #[test]
    fn refuses_a_file_that_is_not_an_object() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("settings.json");
        std::fs::write(&path, "[1]").expect("write");
        assert!(point_claude_code_at(&path, "http://x", None).is_err());
        assert_eq!(
            std::fs::read_to_string(&path).expect("read"),
            "[1]",
            "left as it was"
        );
    }
}
