//! `maskgate doctor` and the app's "Check setup": checks, one line each, that Claude Code
//! really goes through maskgate — the proxy serving, its upstream and gateway credentials, the
//! variables in this shell and in `~/.claude/settings.json`, settings that bypass maskgate
//! entirely, proxy variables that would catch loopback — and a live probe that maskgate
//! refuses a planted identifier without forwarding it. Every failed check says what to do.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use crate::local::{Listener, Local};

/// One check's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    pub ok: bool,
    /// What was found.
    pub line: String,
    /// What to do, when it failed.
    pub fix: Option<String>,
}

impl Check {
    fn pass(line: impl Into<String>) -> Check {
        Check {
            ok: true,
            line: line.into(),
            fix: None,
        }
    }

    fn fail(line: impl Into<String>, fix: impl Into<String>) -> Check {
        Check {
            ok: false,
            line: line.into(),
            fix: Some(fix.into()),
        }
    }
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mark = if self.ok { '✓' } else { '✗' };
        write!(f, "{mark} {}", self.line)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n    fix: {fix}")?;
        }
        Ok(())
    }
}

/// What the checks read: the environment Claude Code would inherit and its settings file.
pub struct Setup<'a> {
    /// The maskgate the settings name, and how to reach it.
    pub local: &'a Local,
    /// The shell Claude Code would start from: `maskgate doctor`'s own. `None` for the app,
    /// which cannot see the user's shells: only the settings file counts there.
    pub shell: Option<&'a BTreeMap<String, String>>,
    /// `~/.claude/settings.json`, if it exists.
    pub claude_settings: Option<&'a Path>,
}

impl Setup<'_> {
    /// The shell's variables; none for the app.
    fn env(&self) -> &BTreeMap<String, String> {
        static NONE: BTreeMap<String, String> = BTreeMap::new();
        self.shell.unwrap_or(&NONE)
    }

    /// Where a missing variable should be set, as the fix says it.
    fn set_it(&self, assignment: &str) -> String {
        match self.shell {
            Some(_) => format!("export {assignment}"),
            None => format!("press \"Set up Claude Code\" (it writes {assignment} into ~/.claude/settings.json)"),
        }
    }
}

/// Variables whose truthy value makes Claude Code talk to another provider, not to maskgate.
const BYPASS_SWITCHES: &[&str] = &[
    "CLAUDE_CODE_USE_BEDROCK",
    "CLAUDE_CODE_USE_VERTEX",
    "CLAUDE_CODE_USE_FOUNDRY",
];

const PROXY_VARIABLES: &[&str] = &[
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// The header the live probe plants its identifier in.
const PROBE_HEADER: &str = "x-maskgate-doctor";

/// Runs every check.
pub async fn run(setup: &Setup<'_>) -> Vec<Check> {
    let settings_env = setup
        .claude_settings
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
        .and_then(|v| v.get("env").and_then(|e| e.as_object()).cloned())
        .map(|env| {
            env.into_iter()
                .filter_map(|(k, v)| Some((k, v.as_str()?.to_owned())))
                .collect::<BTreeMap<_, _>>()
        })
        .unwrap_or_default();
    let mut checks = Vec::new();
    let serving = serving(setup, &mut checks).await;
    checks.push(base_url(setup, &settings_env));
    checks.push(side_traffic(setup, &settings_env));
    checks.extend(bypasses(setup.env(), &settings_env));
    checks.extend(proxy_variables(setup.env()));
    if serving {
        checks.push(live_probe(setup).await);
    }
    checks
}

/// The proxy serving, and its upstream and credentials as its health report tells.
async fn serving(setup: &Setup<'_>, checks: &mut Vec<Check>) -> bool {
    let address = setup.local.address;
    match setup.local.probe().await {
        Listener::Maskgate { version } => {
            checks.push(Check::pass(format!(
                "maskgate {version} serves on {address}"
            )));
        }
        Listener::Other => {
            checks.push(Check::fail(
                format!("something other than maskgate answers on {address}"),
                "stop it, or run maskgate on another address (--listen) and point Claude Code there",
            ));
            return false;
        }
        Listener::Nothing => {
            checks.push(Check::fail(
                format!("nothing serves on {address}"),
                "start the tray app or `maskgate --headless`, or use `maskgate run -- claude`",
            ));
            return false;
        }
    }
    let health = setup.local.health().await;
    let upstream = health["upstream"].as_str().unwrap_or("the upstream");
    let detail = health["detail"].as_str().unwrap_or_default();
    checks.push(if health["reachable"] == true {
        Check::pass(format!("{upstream} answers"))
    } else {
        Check::fail(
            format!("{upstream} does not answer: {detail}"),
            "check the upstream URL and the network (Settings, or --upstream)",
        )
    });
    match health["credentials"].as_str() {
        Some("accepted") => checks.push(Check::pass("the gateway accepts maskgate's credentials")),
        Some("rejected") => checks.push(Check::fail(
            format!("the gateway rejects maskgate's credentials: {detail}"),
            "set the gateway credential again (Settings → Kong gateway, or MASKGATE_GATEWAY_SECRET)",
        )),
        _ => {}
    }
    true
}

/// Where Claude Code will send its requests: `settings.json`'s `env` wins over the shell.
fn base_url(setup: &Setup<'_>, settings_env: &BTreeMap<String, String>) -> Check {
    let wanted = &setup.local.base_url;
    let fix = format!(
        "{}, or start Claude Code as `maskgate run -- claude`",
        setup.set_it(&format!("ANTHROPIC_BASE_URL={wanted}"))
    );
    let (value, from) = match settings_env.get("ANTHROPIC_BASE_URL") {
        Some(value) => (Some(value), "~/.claude/settings.json"),
        None => (setup.env().get("ANTHROPIC_BASE_URL"), "this shell"),
    };
    match value {
        Some(value) if points_at(value, setup.local) => {
            Check::pass(format!("ANTHROPIC_BASE_URL={value} ({from})"))
        }
        Some(value) => Check::fail(
            format!("ANTHROPIC_BASE_URL={value} ({from}) points elsewhere: Claude Code bypasses maskgate"),
            fix,
        ),
        None if setup.shell.is_some() => Check::fail(
            "ANTHROPIC_BASE_URL is not set: Claude Code talks to api.anthropic.com directly",
            fix,
        ),
        None => Check::fail(
            "~/.claude/settings.json does not set ANTHROPIC_BASE_URL: Claude Code started without `maskgate run` talks to api.anthropic.com directly",
            fix,
        ),
    }
}

/// `value` is a URL of this maskgate, in its scheme (any loopback spelling, any path prefix).
fn points_at(value: &str, local: &Local) -> bool {
    let (Ok(url), Ok(wanted)) = (
        reqwest::Url::parse(value),
        reqwest::Url::parse(&local.base_url),
    ) else {
        return false;
    };
    let listen = local.address;
    let host_ok = match url.host_str() {
        Some(host) if Some(host) == wanted.host_str() => true,
        Some("localhost") => listen.ip().is_loopback(),
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip == listen.ip() || (ip.is_loopback() && listen.ip().is_loopback())),
        None => false,
    };
    url.scheme() == wanted.scheme() && host_ok && url.port_or_known_default() == Some(listen.port())
}

fn side_traffic(setup: &Setup<'_>, settings_env: &BTreeMap<String, String>) -> Check {
    let name = "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC";
    if settings_env
        .get(name)
        .or(setup.env().get(name))
        .is_some_and(|v| is_truthy(v))
    {
        Check::pass(format!("{name}=1: Claude Code's side traffic stays off"))
    } else {
        Check::fail(
            format!("{name} is not set: Claude Code also calls api.anthropic.com directly, around maskgate (feature flags, event logging, title generation with your prompt)"),
            format!("{} (`maskgate run` sets it too)", setup.set_it(&format!("{name}=1"))),
        )
    }
}

fn bypasses(env: &BTreeMap<String, String>, settings_env: &BTreeMap<String, String>) -> Vec<Check> {
    BYPASS_SWITCHES
        .iter()
        .filter(|name| {
            settings_env
                .get(**name)
                .or(env.get(**name))
                .is_some_and(|v| is_truthy(v))
        })
        .map(|name| {
            Check::fail(
                format!("{name} is set: Claude Code sends everything to another provider and maskgate sees nothing"),
                format!("unset {name} (in this shell and in ~/.claude/settings.json)"),
            )
        })
        .collect()
}

/// A proxy variable that does not leave loopback out sends Claude Code's requests for
/// maskgate to that proxy instead.
fn proxy_variables(env: &BTreeMap<String, String>) -> Vec<Check> {
    let no_proxy = ["NO_PROXY", "no_proxy"]
        .iter()
        .filter_map(|n| env.get(*n))
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_owned())
        .collect::<Vec<_>>();
    let loopback_excluded = no_proxy.iter().any(|s| {
        matches!(
            s.as_str(),
            "*" | "127.0.0.1" | "localhost" | "127.0.0.0/8" | "::1"
        )
    });
    PROXY_VARIABLES
        .iter()
        .filter(|name| env.get(**name).is_some_and(|v| !v.is_empty()))
        .filter(|_| !loopback_excluded)
        .map(|name| {
            Check::fail(
                format!("{name} is set and NO_PROXY does not name 127.0.0.1: requests for maskgate may go to that proxy"),
                "export NO_PROXY=127.0.0.1,localhost",
            )
        })
        .collect()
}

fn is_truthy(value: &str) -> bool {
    matches!(
        value.trim().to_ascii_lowercase().as_str(),
        "1" | "true" | "yes" | "on"
    )
}

/// Sends maskgate a request with a planted identifier in a header: a maskgate that masks
/// refuses it (naming the header) without forwarding anything. The identifier is a fresh
/// random one, so that no never-mask entry (a one-click answer to a false positive) matches it.
async fn live_probe(setup: &Setup<'_>) -> Check {
    let fix = "restart maskgate; if this persists, check that EC2 instance IDs are masked (Patterns), or report it: the proxy did not refuse what it cannot mask";
    let mut random = [0u8; 9];
    if getrandom::fill(&mut random).is_err() {
        return Check::fail("live probe: no random identifier to plant", fix);
    }
    let planted: String = random.iter().map(|b| format!("{b:02x}")).collect();
    let request = setup
        .local
        .request(reqwest::Method::POST, "/v1/messages")
        .header(PROBE_HEADER, format!("i-{}", &planted[..17]))
        .header("content-type", "application/json")
        .body(r#"{"model":"probe","max_tokens":1,"messages":[{"role":"user","content":"maskgate doctor"}]}"#);
    match request.send().await {
        Ok(answer) => {
            let status = answer.status().as_u16();
            let text = answer.text().await.unwrap_or_default();
            if status == 400 && text.contains(PROBE_HEADER) {
                Check::pass(
                    "live probe: maskgate refused a planted identifier and forwarded nothing",
                )
            } else if status == 403 {
                Check::fail(
                    "live probe: maskgate refused the probe (403): a local token is required",
                    "export MASKGATE_LOCAL_TOKEN=<the token> for maskgate doctor, and send it from Claude Code with ANTHROPIC_CUSTOM_HEADERS",
                )
            } else {
                Check::fail(format!("live probe: unexpected answer {status}"), fix)
            }
        }
        Err(e) => Check::fail(format!("live probe failed: {e}"), fix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_loopback_spelling_of_the_address_points_at_it() {
        let local = Local::new(&crate::settings::Settings::default(), None).expect("local");
        for value in [
            "http://127.0.0.1:8082",
            "http://localhost:8082/",
            "http://127.0.0.1:8082/prefix",
        ] {
            assert!(points_at(value, &local), "{value}");
        }
        for value in [
            "http://127.0.0.1:8083",
            "https://127.0.0.1:8082",
            "https://api.anthropic.com",
            "nonsense",
        ] {
            assert!(!points_at(value, &local), "{value}");
        }
    }

    #[test]
    fn a_proxy_variable_counts_unless_loopback_is_excluded() {
        let mut env = BTreeMap::new();
        env.insert(
            "HTTPS_PROXY".to_owned(),
            "http://proxy.corp:3128".to_owned(),
        );
        assert_eq!(proxy_variables(&env).len(), 1);
        env.insert("NO_PROXY".to_owned(), "localhost,127.0.0.1".to_owned());
        assert!(proxy_variables(&env).is_empty());
    }
}
