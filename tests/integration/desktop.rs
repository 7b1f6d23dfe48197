//! The real desktop app under Xvfb, driven through WebDriver (`tauri-driver` + Debian's
//! WebKitWebDriver), with a real session bus, an unlocked gnome-keyring and a notification
//! daemon: a request with identifiers shows up in the live view with its tokens highlighted; a
//! category switched off (a custom pattern too) leaves the next request unmasked; Kong
//! credentials saved in the settings land in the keychain and in no file; the tray menu, read
//! and clicked over D-Bus as a panel does, shows the session's counts and checks the setup. With MASKGATE_SCREENSHOTS set to a folder, the
//! views are also saved there as PNGs (scripts/screenshots.sh).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::claude_code::{run_claude_with, tool_results_and_result};
use crate::support::tray::{MenuEntry, TrayWatcher};
use crate::support::webdriver::{click, count, eventually, highlighted_tokens, text_of};
use crate::support::{free_port, messages_request, planted_text, post_messages, upstream, PLANTED};

/// Xvfb, a D-Bus session with gnome-keyring and dunst, and tauri-driver; stopped when dropped.
struct DesktopSession {
    xvfb: Child,
    driver: Child,
    dir: tempfile::TempDir,
    driver_port: u16,
}

impl Drop for DesktopSession {
    fn drop(&mut self) {
        // The session script's children (keyring, dunst, the app) end with its bus.
        let _ = Command::new("pkill")
            .arg("-TERM")
            .arg("-P")
            .arg(self.driver.id().to_string())
            .status();
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        // SIGTERM, so that Xvfb removes its lock file and the display can be used again.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.xvfb.id().to_string())
            .status();
        let _ = self.xvfb.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ready() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tauri_driver() -> PathBuf {
    let home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(std::env::var_os("HOME").expect("HOME")).join(".cargo"));
    let path = home.join("bin/tauri-driver");
    assert!(path.exists(), "tauri-driver is not installed: the README's test command installs it (cargo install tauri-driver)");
    path
}

fn start_session(config: &Path) -> DesktopSession {
    let dir = tempfile::tempdir().expect("session dir");
    let number = (90..400)
        .find(|n| {
            !Path::new(&format!("/tmp/.X{n}-lock")).exists()
                && !Path::new(&format!("/tmp/.X11-unix/X{n}")).exists()
        })
        .expect("a free X display number");
    let display = format!(":{number}");
    let xvfb = Command::new("Xvfb")
        .args([
            display.as_str(),
            "-screen",
            "0",
            "1280x800x24",
            "-nolisten",
            "tcp",
        ])
        .stderr(Stdio::null())
        .spawn()
        .expect("Xvfb starts (install Debian's xvfb)");
    let socket = format!("/tmp/.X11-unix/X{}", &display[1..]);
    wait_for("Xvfb", Duration::from_secs(10), || {
        Path::new(&socket).exists()
    });
    // The user's Downloads folder, where the window saves exports, inside the session.
    let xdg_config = dir.path().join("xdg-config");
    std::fs::create_dir_all(dir.path().join("downloads")).expect("downloads dir");
    std::fs::create_dir_all(&xdg_config).expect("config dir");
    std::fs::write(
        xdg_config.join("user-dirs.dirs"),
        format!(
            "XDG_DOWNLOAD_DIR=\"{}\"\n",
            dir.path().join("downloads").display()
        ),
    )
    .expect("user-dirs.dirs");
    let driver_port = free_port();
    let native_port = free_port();
    let script = format!(
        r#"eval "$(printf pw | gnome-keyring-daemon --unlock --components=secrets)"
printf '%s' "$DBUS_SESSION_BUS_ADDRESS" > '{dir}/bus'
dunst >/dev/null 2>&1 &
exec '{driver}' --port {driver_port} --native-port {native_port} --native-driver /usr/bin/WebKitWebDriver"#,
        dir = dir.path().display(),
        driver = tauri_driver().display(),
    );
    let driver = Command::new("dbus-run-session")
        .args(["--", "bash", "-c", &script])
        .env("DISPLAY", &display)
        .env("MASKGATE_CONFIG", config)
        .env("XDG_CONFIG_HOME", &xdg_config)
        .env("RUST_LOG", "maskgate=info")
        .env_remove("WAYLAND_DISPLAY")
        .spawn()
        .expect("dbus-run-session starts (install dbus-daemon)");
    // Both tauri-driver and the WebKitWebDriver it starts must listen before a session is
    // asked for (on a busy machine the second comes up later).
    wait_for(
        "tauri-driver and WebKitWebDriver",
        Duration::from_secs(30),
        || {
            [driver_port, native_port]
                .iter()
                .all(|&port| std::net::TcpStream::connect(("127.0.0.1", port)).is_ok())
        },
    );
    DesktopSession {
        xvfb,
        driver,
        dir,
        driver_port,
    }
}

async fn connect(session: &DesktopSession) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("wry"));
    capabilities.insert(
        "tauri:options".into(),
        json!({"application": env!("CARGO_BIN_EXE_maskgate"), "args": ["--open"]}),
    );
    // tauri-driver speaks plain HTTP on loopback: no TLS stack needed.
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", session.driver_port))
        .await
        .expect("a WebDriver session on the app")
}

async fn screenshot(client: &Client, name: &str) {
    if let Some(dir) = std::env::var_os("MASKGATE_SCREENSHOTS") {
        let png = client.screenshot().await.expect("screenshot");
        std::fs::write(PathBuf::from(dir).join(format!("{name}.png")), png)
            .expect("write screenshot");
    }
}

/// The session's counts in the tray menu (a disabled entry, for reading): (exchanges, refused).
fn session_counts(entries: &[MenuEntry]) -> Option<(u64, u64)> {
    entries.iter().filter(|e| !e.enabled).find_map(|e| {
        let mut parts = e.label.split(" · ");
        let exchanges = parts.next()?.strip_suffix(" exchanges")?.parse().ok()?;
        parts.next()?.strip_suffix(" identifiers masked")?;
        let refused = parts.next()?.strip_suffix(" refused")?.parse().ok()?;
        Some((exchanges, refused))
    })
}

async fn send(proxy: &str, text: &str) {
    let answer = post_messages(proxy, &messages_request(text, true)).await;
    assert_eq!(answer.status(), 200);
    answer.text().await.expect("body");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_app_shows_masked_requests_switches_kinds_and_keeps_secrets_in_the_keychain() {
    let upstream = upstream::start().await;
    let config_dir = tempfile::tempdir().expect("config dir");
    let config = config_dir.path().join("config.toml");
    let port = free_port();
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:{port}\"\nupstream_url = \"{}\"\n\n\
             [[custom_patterns]]\nname = \"ticket\"\nregex = \"TICKET-[0-9]+\"\ntoken_prefix = \"TICKET\"\n",
            upstream.url()
        ),
    )
    .expect("config");
    let session = start_session(&config);
    // The desktop panel, on the session's bus before the app starts, so that its tray icon
    // registers there.
    let bus = std::fs::read_to_string(session.dir.path().join("bus")).expect("bus address");
    let tray = TrayWatcher::start(bus.trim()).await;
    let client = connect(&session).await;
    let proxy = format!("http://127.0.0.1:{port}");

    eventually("the proxy to run", || async {
        text_of(&client, "#status").await.contains("masking on")
    })
    .await;
    // A real Claude Code session through the app, started as a user would with the tray
    // app running: `maskgate run -- claude` finds the app on the configured address. Its
    // system prompt, its tool definitions and a tool loop (the model's Bash call on tokens,
    // run with the originals).
    let prompt = format!("RUN_TOOL: check these resources: {}", planted_text());
    let mut launcher = Command::new(env!("CARGO_BIN_EXE_maskgate"));
    launcher.arg("--config").arg(&config).args(["run", "--"]);
    let lines = tokio::task::spawn_blocking(move || {
        let work = tempfile::tempdir().expect("work dir");
        run_claude_with(launcher, work.path(), &prompt, &[])
    })
    .await
    .expect("claude ran");
    let (tool_results, result) = tool_results_and_result(&lines);
    assert_eq!(tool_results.len(), 1, "one Bash call: {lines:#?}");
    assert_eq!(result["is_error"], false, "{result}");
    // The loop's second turn, newest of the session's messages: what left the machine
    // (tool definitions, the tool's output masked again), the usage the upstream reported,
    // and the diff against the first turn, whose messages it continues.
    eventually("the session in the list", || async {
        count(&client, "#exchanges tbody tr").await >= 2
    })
    .await;
    click(&client, "#exchanges tbody tr td:nth-child(3)").await;
    eventually("the second turn's diff", || async {
        text_of(&client, "#detail-diff")
            .await
            .contains("previous turn #")
    })
    .await;
    let diff = text_of(&client, "#detail-diff").await;
    // Claude Code sends the same tools every turn: the cache can reuse them at least.
    assert!(
        diff.contains("tools same") && diff.contains("messages: ") && diff.contains(" added"),
        "{diff}"
    );
    // And masking keeps the rest byte-stable too: nearly all of the turn is reusable.
    let reusable: u32 = diff
        .split("can reuse ")
        .nth(1)
        .and_then(|rest| rest.split('%').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a share: {diff}"));
    assert!(reusable >= 90, "{diff}");
    let meta = text_of(&client, "#detail-meta").await;
    assert!(
        meta.starts_with("masking ") && meta.contains("cache read "),
        "{meta}"
    );
    assert!(
        text_of(&client, "#cache-share")
            .await
            .starts_with("prompt cache: "),
        "the session's cache share"
    );
    eventually("the restored answer of the session", || async {
        text_of(&client, "#answer").await.contains("Done.")
    })
    .await;
    screenshot(&client, "live").await;

    send(
        &proxy,
        "Why is i-0a1b2c3d4e5f67890 at 10.1.2.3 failing? TICKET-42",
    )
    .await;
    assert!(upstream
        .recorder
        .last_messages_body()
        .contains("TICKET_001"));

    // The live view: the exchange appears on top; its masked request shows highlighted
    // tokens (this request's own: each title names the text before it here).
    let expected: [(String, String); 2] = [
        (
            "EC2_INSTANCE_001".into(),
            "ec2_instance: i-0a1b2c3d4e5f67890\nEC2 instance ID, after “Why is”".into(),
        ),
        (
            "PRIVATE_IP_001".into(),
            "private_ipv4: 10.1.2.3\nPrivate IPv4 address, after “Why is EC2_INSTANCE_001 at”"
                .into(),
        ),
    ];
    eventually("the request's highlighted tokens", || async {
        // Clicked until the row on top is this request's (its event may still be on its way).
        click(&client, "#exchanges tbody tr td:nth-child(3)").await;
        let marks = highlighted_tokens(&client).await;
        expected.iter().all(|mark| marks.contains(mark))
    })
    .await;
    eventually("the restored answer", || async {
        text_of(&client, "#answer")
            .await
            .contains("i-0a1b2c3d4e5f67890")
    })
    .await;

    // Export from the window, as HAR and as JSON Lines: saved to the Downloads folder, masked
    // only (the Claude Code session's originals are in no export either).
    click(&client, "#exchanges tbody tr:first-child input.pick").await;
    let downloads = session.dir.path().join("downloads");
    // Saves an export with `button` and reads it back, once the result line is not `before`.
    let export = |button: &'static str, before: String| {
        let (client, downloads) = (&client, &downloads);
        async move {
            click(client, button).await;
            eventually("the export saved", || async {
                let saved = text_of(client, "#export-result").await;
                saved.starts_with("Saved 1 to ") && saved != before
            })
            .await;
            let saved = text_of(client, "#export-result").await;
            let path = PathBuf::from(saved.trim_start_matches("Saved 1 to "));
            assert!(path.starts_with(downloads), "{saved}");
            let text = std::fs::read_to_string(&path).expect("export readable");
            let originals = ["i-0a1b2c3d4e5f67890", "10.1.2.3"];
            for original in originals.iter().chain(PLANTED.iter().map(|(o, _)| o)) {
                assert!(!text.contains(original), "{original} in {saved}");
            }
            (saved, text)
        }
    };
    let (saved, har) = export("#export-har", String::new()).await;
    let har: serde_json::Value = serde_json::from_str(&har).expect("HAR is JSON");
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(har["log"]["entries"].as_array().map(Vec::len), Some(1));
    let (_, jsonl) = export("#export-jsonl", saved).await;
    let lines: Vec<serde_json::Value> = (jsonl.lines())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{jsonl}");
    assert!(
        lines[0]["request"]["messages"][0]["content"]
            .to_string()
            .contains("EC2_INSTANCE_001"),
        "{jsonl}"
    );

    // Patterns: switch private IPv4 addresses off; the next request leaves them alone.
    click(&client, "[data-tab=patterns]").await;
    let switch = Locator::Css("input[data-kind=private_ipv4]");
    eventually("the pattern list", || async {
        client.find(switch).await.is_ok()
    })
    .await;
    screenshot(&client, "patterns").await;
    // Toggled from the keyboard, as a keyboard user would (WebKitWebDriver's pointer clicks
    // do not reach checkboxes scrolled into view).
    client
        .find(switch)
        .await
        .expect("switch")
        .send_keys(" ")
        .await
        .expect("space");
    wait_for("the setting to be saved", Duration::from_secs(10), || {
        std::fs::read_to_string(&config)
            .unwrap_or_default()
            .contains("private_ipv4")
    });
    // The custom pattern too: switched off in the window, the proxy no longer masks it.
    client
        .find(Locator::Css("input[data-kind=\"custom:ticket\"]"))
        .await
        .expect("the custom pattern's switch")
        .send_keys(" ")
        .await
        .expect("space");
    wait_for(
        "the custom switch to be saved",
        Duration::from_secs(10),
        || {
            std::fs::read_to_string(&config)
                .unwrap_or_default()
                .contains("custom:ticket")
        },
    );
    send(&proxy, "And now i-0a1b2c3d4e5f67890 at 10.1.2.3? TICKET-42").await;
    let body = upstream.recorder.last_messages_body();
    assert!(
        body.contains("at 10.1.2.3? TICKET-42") && body.contains("EC2_INSTANCE_001"),
        "{body}"
    );

    // Settings: Kong credentials go to the keychain, never to a file.
    click(&client, "[data-tab=settings]").await;
    // The form can be edited once the app's stored settings have filled it.
    eventually("the settings to load", || async {
        let fields = client
            .find(Locator::Css("#gateway-fields"))
            .await
            .expect("fieldset");
        fields
            .attr("disabled")
            .await
            .ok()
            .is_some_and(|a| a.is_none())
    })
    .await;
    let form = client
        .form(Locator::Css("#gateway-form"))
        .await
        .expect("form");
    form.set_by_name("auth", "key").await.expect("auth");
    form.set_by_name("secret", "kong-secret-4b1d")
        .await
        .expect("secret");
    click(&client, "#gateway-form button[type=submit]").await;
    eventually("the save", || async {
        text_of(&client, "#settings-result")
            .await
            .starts_with("Saved")
    })
    .await;
    screenshot(&client, "settings").await;
    // Retention: two exchanges kept, at once.
    let records = client
        .find(Locator::Css("#retention-form [name=records]"))
        .await
        .expect("records field");
    records.clear().await.expect("cleared");
    records.send_keys("2").await.expect("typed");
    click(&client, "#retention-form button[type=submit]").await;
    eventually("the retention to apply", || async {
        text_of(&client, "#retention-result")
            .await
            .starts_with("Holding 2 exchanges")
    })
    .await;

    // The tray menu, read and clicked as a panel does: the address, the session's counts
    // (disabled, for reading), and "Check setup", whose result the window shows.
    let entries = tray.entries().await;
    assert!(
        entries
            .iter()
            .any(|e| e.label == format!("Listening on 127.0.0.1:{port} (click to copy)")),
        "{entries:?}"
    );
    eventually("the session's counts in the tray", || async {
        session_counts(&tray.entries().await).is_some_and(|(_, refused)| refused == 0)
    })
    .await;
    let (exchanges, _) = session_counts(&tray.entries().await).expect("the counts");
    tray.click("Check setup").await;
    eventually("the checks in the window", || async {
        text_of(&client, "#setup-summary")
            .await
            .contains(" checks ")
    })
    .await;
    let checks = text_of(&client, "#setup-check-list").await;
    assert!(
        checks.contains(&format!("maskgate 0.1.0 serves on 127.0.0.1:{port}"))
            && checks.contains("live probe: maskgate refused a planted identifier"),
        "{checks}"
    );
    screenshot(&client, "check-setup").await;
    // The probe is an exchange, refused: the session's first refusal and its last error.
    eventually("the refusal counted in the tray", || async {
        session_counts(&tray.entries().await)
            .is_some_and(|(now, refused)| now > exchanges && refused == 1)
    })
    .await;
    let entries = tray.entries().await;
    assert!(
        entries.iter().any(|e| e.label.starts_with("Last error: ")),
        "{entries:?}"
    );
    client.close().await.expect("close");

    // Read it back from the same keychain, through the same session bus.
    std::env::set_var("DBUS_SESSION_BUS_ADDRESS", bus.trim());
    let stored = tokio::task::spawn_blocking(maskgate::settings::keychain::load)
        .await
        .expect("joined")
        .expect("keychain");
    assert_eq!(stored.gateway_secret.as_deref(), Some("kong-secret-4b1d"));
    for entry in std::fs::read_dir(config_dir.path()).expect("config dir") {
        let text = std::fs::read(entry.expect("entry").path()).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains("kong-secret-4b1d"),
            "the secret reached a file"
        );
    }
    assert!(std::fs::read_to_string(&config)
        .expect("config")
        .contains("auth = \"key\""));
}
