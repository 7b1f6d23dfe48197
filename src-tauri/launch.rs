//! `maskgate run [--] COMMAND …`: runs a client (usually `claude`) through maskgate. Uses the
//! maskgate already serving on the configured address (the tray app or a headless one,
//! recognised by its health endpoint), or serves one in this process for the command's
//! lifetime. The command gets `ANTHROPIC_BASE_URL`, the switch that keeps Claude Code's side
//! traffic off, and the local token merged into its `ANTHROPIC_CUSTOM_HEADERS`; the terminal is
//! its own, signals sent to maskgate are passed on, and its exit status is maskgate's.

use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::Duration;

use tokio::process::Command;
use tokio::sync::oneshot;

use crate::headless;
use crate::local::{CertificateError, Listener, Local};
use crate::proxy::guard::TOKEN_HEADER;
use crate::settings::{Secrets, Settings};

/// The variable Claude Code reads for extra request headers, one `Name: value` per line.
pub const CUSTOM_HEADERS: &str = "ANTHROPIC_CUSTOM_HEADERS";

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LaunchError {
    #[error("something other than maskgate answers on {0}: stop it or pick another --listen")]
    PortTaken(SocketAddr),
    #[error("cannot start maskgate on {0}: {1}")]
    Serve(SocketAddr, String),
    #[error("maskgate did not start serving on {0} within 10 s")]
    NotServing(SocketAddr),
    #[error("cannot run {0:?}: {1}")]
    Spawn(OsString, std::io::Error),
    #[error(transparent)]
    Certificate(#[from] CertificateError),
}

/// The variables a client needs to go through the maskgate at `base_url`: added to (and
/// winning over) its own environment. `custom_headers` is what the user already has in
/// `ANTHROPIC_CUSTOM_HEADERS`: kept, with maskgate's token line put in or replaced.
pub fn client_env(
    base_url: &str,
    token: Option<&str>,
    custom_headers: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut env = vec![
        ("ANTHROPIC_BASE_URL", base_url.to_owned()),
        // Claude Code's other traffic goes straight to api.anthropic.com, around maskgate.
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".to_owned()),
    ];
    let mut lines: Vec<String> = custom_headers
        .unwrap_or_default()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter(|l| {
            let name = l.split(':').next().unwrap_or_default().trim();
            !name.eq_ignore_ascii_case(TOKEN_HEADER)
        })
        .map(str::to_owned)
        .collect();
    if let Some(token) = token {
        lines.push(format!("{TOKEN_HEADER}: {token}"));
    }
    if !lines.is_empty() || custom_headers.is_some() {
        env.push((CUSTOM_HEADERS, lines.join("\n")));
    }
    env
}

/// Runs `command` through maskgate; returns its exit status.
pub async fn run(
    settings_path: PathBuf,
    settings: Settings,
    secrets: Secrets,
    command: Vec<OsString>,
) -> Result<ExitStatus, LaunchError> {
    let local = Local::new(&settings, secrets.local_token.clone())?;
    let (stop, stopped) = oneshot::channel::<()>();
    let served = match local.probe().await {
        Listener::Maskgate { .. } => None,
        Listener::Other => return Err(LaunchError::PortTaken(local.address)),
        Listener::Nothing => {
            let options = headless::Options {
                settings_path,
                settings,
                secrets,
                dashboard: None,
            };
            let server = tokio::spawn(headless::run(options, async {
                let _ = stopped.await;
            }));
            wait_until_serving(&local, &server).await?;
            Some(server)
        }
    };
    let custom = std::env::var(CUSTOM_HEADERS).ok();
    let (program, args) = command.split_first().expect("clap requires a command");
    let mut child = Command::new(program);
    child.args(args);
    for (name, value) in client_env(&local.base_url, local.token.as_deref(), custom.as_deref()) {
        child.env(name, value);
    }
    let mut child = child
        .spawn()
        .map_err(|e| LaunchError::Spawn(program.clone(), e))?;
    let status = wait_passing_signals(&mut child, program).await?;
    let _ = stop.send(());
    if let Some(server) = served {
        let _ = server.await;
    }
    Ok(status)
}

/// Waits for the in-process maskgate to answer its health check.
async fn wait_until_serving(
    local: &Local,
    server: &tokio::task::JoinHandle<Result<(), headless::HeadlessError>>,
) -> Result<(), LaunchError> {
    for _ in 0..100 {
        if server.is_finished() {
            return Err(LaunchError::Serve(
                local.address,
                "it stopped at once".into(),
            ));
        }
        if matches!(local.probe().await, Listener::Maskgate { .. }) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(LaunchError::NotServing(local.address))
}

/// Waits for the child. The terminal's Ctrl-C reaches the child itself (same process
/// group), so maskgate only outlives it; SIGTERM and SIGHUP sent to maskgate are passed on.
async fn wait_passing_signals(
    child: &mut tokio::process::Child,
    program: &OsString,
) -> Result<ExitStatus, LaunchError> {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    use tokio::signal::unix::{signal, SignalKind};
    let listen = |kind| signal(kind).map_err(|e| LaunchError::Spawn(program.clone(), e));
    let mut interrupt = listen(SignalKind::interrupt())?;
    let mut terminate = listen(SignalKind::terminate())?;
    let mut hangup = listen(SignalKind::hangup())?;
    let pid = child.id().map(|id| Pid::from_raw(id as i32));
    loop {
        let forwarded = tokio::select! {
            status = child.wait() => {
                return status.map_err(|e| LaunchError::Spawn(program.clone(), e));
            }
            // The child got the terminal's Ctrl-C as well; maskgate waits for it to end.
            _ = interrupt.recv() => None,
            _ = terminate.recv() => Some(Signal::SIGTERM),
            _ = hangup.recv() => Some(Signal::SIGHUP),
        };
        if let (Some(signal), Some(pid)) = (forwarded, pid) {
            let _ = kill(pid, signal);
        }
    }
}

/// The exit code a shell would report for `status`: the child's own, or 128 + its signal.
pub fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_joins_the_users_own_custom_headers_and_replaces_an_old_one() {
        let base_url = "http://127.0.0.1:8082";
        let env = client_env(
            base_url,
            Some("t0ken"),
            Some("X-Team: platform\nx-maskgate-token: stale\n"),
        );
        assert_eq!(
            env[0],
            ("ANTHROPIC_BASE_URL", "http://127.0.0.1:8082".into())
        );
        assert_eq!(
            env[1],
            ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into())
        );
        assert_eq!(
            env[2],
            (
                CUSTOM_HEADERS,
                "X-Team: platform\nx-maskgate-token: t0ken".into()
            )
        );
        let plain = client_env(base_url, None, None);
        assert_eq!(plain.len(), 2, "no header variable is invented");
    }
}
