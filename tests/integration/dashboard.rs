//! The browser dashboard of `maskgate --headless --dashboard`, in headless Chromium driven
//! through WebDriver (Debian's chromium + chromedriver), against the real headless backend and
//! the Anthropic stand-in: requests show up live with their tokens highlighted and the session
//! counters move; thousands of rows stay a short DOM; a category switched off leaves the next
//! request unmasked; the API refuses callers without the token or from another Host.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::support::webdriver::{click, count, eventually, open_exchange, text_of};
use crate::support::{
    client, free_port, messages_request, post_messages, spawn_headless, sse_text_and_json, upstream,
};

const TOKEN: &str = "dashboard-test-token-5f0c1e";

/// chromedriver on a free port; killed when dropped.
struct Chromedriver {
    process: Child,
    port: u16,
}

impl Drop for Chromedriver {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn start_chromedriver() -> Chromedriver {
    let port = free_port();
    let process = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .spawn()
        .expect("chromedriver starts (install Debian's chromium-driver)");
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "chromedriver did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Chromedriver { process, port }
}

/// Headless Chromium with its profile and its downloads in `profile`.
async fn chromium(driver: &Chromedriver, profile: &std::path::Path) -> Client {
    let mut capabilities = serde_json::Map::new();
    capabilities.insert("browserName".into(), json!("chrome"));
    capabilities.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,800",
                     format!("--user-data-dir={}", profile.display())],
            "prefs": {
                "download.default_directory": profile.join("downloads"),
                "download.prompt_for_download": false,
            },
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(capabilities)
        .connect(&format!("http://127.0.0.1:{}", driver.port))
        .await
        .expect("a WebDriver session in Chromium")
}

/// A streamed request through the proxy; the answer's text.
async fn send(proxy: &str, text: &str) -> String {
    let answer = post_messages(proxy, &messages_request(text, true)).await;
    assert_eq!(answer.status(), 200);
    answer.text().await.expect("body")
}

/// The text of the one file ending in `.extension` that the browser finished downloading
/// into `folder`; the file is removed, so the next export is found alone.
async fn downloaded(folder: &std::path::Path, extension: &str) -> String {
    let mut found = None;
    eventually("the download", || {
        let done = std::fs::read_dir(folder).ok().and_then(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| e.path())
                .find(|p| p.extension().is_some_and(|e| e == extension))
        });
        let ready = done.is_some();
        found = done;
        async move { ready }
    })
    .await;
    let path = found.expect("found");
    let text = std::fs::read_to_string(&path).expect("download readable");
    std::fs::remove_file(&path).expect("removed");
    text
}

#[tokio::test(flavor = "multi_thread")]
async fn the_browser_dashboard_shows_live_masking_and_switches_kinds() {
    let upstream = upstream::start().await;
    let dashboard_port = free_port();
    // "Set up Claude Code" writes ~/.claude/settings.json: this home, not the user's.
    let home = tempfile::tempdir().expect("home");
    let maskgate = spawn_headless(
        &[
            "--upstream",
            &upstream.url(),
            "--dashboard",
            "--dashboard-listen",
            &format!("127.0.0.1:{dashboard_port}"),
        ],
        &[
            ("MASKGATE_DASHBOARD_TOKEN", TOKEN),
            ("HOME", home.path().to_str().expect("utf-8 path")),
        ],
    );
    let dashboard = format!("http://127.0.0.1:{dashboard_port}");
    let proxy = maskgate.url();

    // The API: the token is required, other Host names and origins are refused.
    let api = |path: &str| client().post(format!("{dashboard}/api/{path}"));
    let refused = api("exchanges").send().await.expect("answer");
    assert_eq!(refused.status(), 401);
    for (header, value) in [
        ("host", "attacker.example"),
        ("origin", "http://attacker.example"),
    ] {
        let refused = api("exchanges")
            .bearer_auth(TOKEN)
            .header(header, value)
            .send()
            .await
            .expect("answer");
        assert_eq!(refused.status(), 403, "{header}: {value}");
    }

    let driver = start_chromedriver();
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = chromium(&driver, profile.path()).await;
    browser
        .goto(&format!("{dashboard}/#token={TOKEN}"))
        .await
        .expect("the dashboard loads");
    eventually("the status", || async {
        text_of(&browser, "#status").await.contains("masking on")
    })
    .await;
    assert!(
        !browser
            .current_url()
            .await
            .expect("url")
            .as_str()
            .contains(TOKEN),
        "the token stays in the address bar"
    );

    // Live: a request appears with its tokens highlighted, its answer restored, the
    // session counters updated.
    let answer = send(&proxy, "Why is i-0a1b2c3d4e5f67890 at 10.1.2.3 failing?").await;
    assert!(answer.contains("i-0a1b2c3d4e5f67890"), "{answer}");
    eventually("the exchange in the list", || async {
        text_of(&browser, "#totals").await.starts_with("1 of 1")
    })
    .await;
    let marks = open_exchange(
        &browser,
        "#exchanges tbody tr:not(.spacer) td:nth-child(3)",
        2,
    )
    .await;
    // Each token says what it stands for, its category and the masked text that named it.
    let titled = |title: &str| marks.iter().any(|(_, t)| t == title);
    assert!(
        titled("ec2_instance: i-0a1b2c3d4e5f67890\nEC2 instance ID, after “Why is”"),
        "{marks:?}"
    );
    assert!(
        titled("private_ipv4: 10.1.2.3\nPrivate IPv4 address, after “Why is EC2_INSTANCE_001 at”"),
        "{marks:?}"
    );
    eventually("the restored answer", || async {
        text_of(&browser, "#answer")
            .await
            .contains("i-0a1b2c3d4e5f67890")
    })
    .await;
    let counters = text_of(&browser, "#kind-totals").await;
    assert!(
        counters.contains("ec2_instance 1") && counters.contains("private_ipv4 1"),
        "{counters}"
    );
    // The time split and the usage the upstream reported (a first request: all written to
    // the cache, none read; the stream's last output count replaces its first).
    eventually("the exchange's usage", || async {
        text_of(&browser, "#detail-meta")
            .await
            .contains("cache read 0")
    })
    .await;
    let meta = text_of(&browser, "#detail-meta").await;
    assert!(
        meta.starts_with("masking ")
            && meta.contains("upstream first byte")
            && meta.contains("output 20"),
        "{meta}"
    );

    // Export: the ticked exchange, masked only, as JSONL and as HAR — downloaded by the
    // browser and parsed back. The answer in it is the upstream's, tokens and all.
    click(&browser, "#exchanges tbody tr:not(.spacer) input.pick").await;
    let downloads = profile.path().join("downloads");
    click(&browser, "#export-jsonl").await;
    let jsonl = downloaded(&downloads, "jsonl").await;
    assert!(
        !jsonl.contains("i-0a1b2c3d4e5f67890") && !jsonl.contains("10.1.2.3"),
        "{jsonl}"
    );
    let lines: Vec<serde_json::Value> = (jsonl.lines())
        .map(|l| serde_json::from_str(l).expect("a JSON line"))
        .collect();
    assert_eq!(lines.len(), 1, "{jsonl}");
    let sent = lines[0]["request"]["messages"][0]["content"].to_string();
    assert!(
        sent.contains("Why is EC2_INSTANCE_001 at PRIVATE_IP_001"),
        "{sent}"
    );
    let masked_answer = lines[0]["response"].as_str().unwrap_or_default();
    let (masked_text, _) = sse_text_and_json(masked_answer);
    assert_eq!(masked_text, "Found: EC2_INSTANCE_001, PRIVATE_IP_001.");
    click(&browser, "#export-har").await;
    let har: serde_json::Value =
        serde_json::from_str(&downloaded(&downloads, "har").await).expect("HAR is JSON");
    assert_eq!(har["log"]["version"], "1.2");
    let entries = har["log"]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["response"]["status"], 200);
    let har_text = har.to_string();
    assert!(!har_text.contains("i-0a1b2c3d4e5f67890") && !har_text.contains("10.1.2.3"));

    // The next turn of that conversation: its detail says what changed since the turn
    // before — the first message the same (so is the start of the body), two added.
    let mut next_turn = messages_request("Why is i-0a1b2c3d4e5f67890 at 10.1.2.3 failing?", true);
    next_turn["messages"]
        .as_array_mut()
        .expect("messages")
        .extend([
            json!({"role": "assistant", "content": [{"type": "text", "text": "Found it."}]}),
            json!({"role": "user", "content": [{"type": "text", "text": "And now?"}]}),
        ]);
    let answer = post_messages(&proxy, &next_turn).await;
    assert_eq!(answer.status(), 200);
    answer.text().await.expect("the whole answer");
    eventually("the second turn in the list", || async {
        text_of(&browser, "#totals").await.starts_with("2 of 2")
    })
    .await;
    open_exchange(
        &browser,
        "#exchanges tbody tr:not(.spacer) td:nth-child(3)",
        2,
    )
    .await;
    eventually("the turn's diff", || async {
        text_of(&browser, "#detail-diff")
            .await
            .contains("previous turn #1")
    })
    .await;
    let diff = text_of(&browser, "#detail-diff").await;
    assert!(diff.contains("messages: 1 same, 2 added"), "{diff}");

    // Many rows: the list keeps only the visible ones in the page.
    for n in 0..400 {
        send(&proxy, &format!("request {n} about vpc-0a1b2c3d")).await;
    }
    eventually("402 rows", || async {
        text_of(&browser, "#totals").await.starts_with("402 of 402")
    })
    .await;
    // Each of those shares its prefix with the one before, up to the number: most of the
    // input is read from the stand-in's prompt cache, and the session's share says so.
    let share = text_of(&browser, "#cache-share").await;
    let percent: u32 = share
        .strip_prefix("prompt cache: ")
        .and_then(|rest| rest.split('%').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("a share: {share}"));
    assert!(
        percent >= 50 && share.ends_with("(402 exchanges)"),
        "{share}"
    );
    let built = count(&browser, "#exchanges tbody tr:not(.spacer)").await;
    assert!(built > 0 && built < 100, "{built} rows built for 402");
    assert!(text_of(&browser, "#kind-totals").await.contains("vpc 400"));

    // Filters: by the category masked, then by outcome, together with words.
    let choose = |select: &'static str, value: &'static str| {
        let browser = browser.clone();
        async move {
            browser
                .find(Locator::Css(select))
                .await
                .expect(select)
                .select_by_value(value)
                .await
                .expect("chosen");
        }
    };
    choose("#filter-kind", "private_ipv4").await;
    eventually("the kind filter", || async {
        text_of(&browser, "#totals").await.starts_with("2 of 402")
    })
    .await;
    choose("#filter-kind", "").await;
    choose("#filter-status", "refused").await;
    eventually("the status filter", || async {
        text_of(&browser, "#totals").await.starts_with("0 of 402")
    })
    .await;
    choose("#filter-status", "ok").await;
    choose("#filter-time", "5").await;
    eventually("the status and time filters", || async {
        text_of(&browser, "#totals").await.starts_with("402 of 402")
    })
    .await;
    choose("#filter-status", "").await;
    choose("#filter-time", "").await;

    // Patterns: private IPv4 off; the next request leaves the address alone.
    click(&browser, "[data-tab=patterns]").await;
    click(&browser, "input[data-kind=private_ipv4]").await;
    eventually("the switch to apply", || async {
        send(&proxy, "Now i-0a1b2c3d4e5f67890 at 10.1.2.3?").await;
        upstream
            .recorder
            .last_messages_body()
            .contains("at 10.1.2.3?")
    })
    .await;
    let body = upstream.recorder.last_messages_body();
    assert!(
        body.contains("EC2_INSTANCE_001") && !body.contains("i-0a1b2c3d4e5f67890"),
        "{body}"
    );

    // Policy: EC2 instances masked, never restored; the next answer keeps the token.
    let policy = |value: &'static str| {
        let browser = browser.clone();
        async move {
            browser
                .find(Locator::Css("select[data-policy=ec2_instance]"))
                .await
                .expect("policy select")
                .select_by_value(value)
                .await
                .expect("selected");
        }
    };
    policy("mask-only").await;
    eventually("the policy to apply", || async {
        let (text, _) = sse_text_and_json(&send(&proxy, "Is i-0a1b2c3d4e5f67890 up?").await);
        text.contains("EC2_INSTANCE_001")
    })
    .await;
    policy("mask-and-restore").await;

    // Lists: a codename always masked from the next request on.
    browser
        .find(Locator::Css("#lists-form [name=always]"))
        .await
        .expect("always-mask list")
        .send_keys("bluebird CODENAME")
        .await
        .expect("typed");
    browser
        .find(Locator::Css("#lists-form select[name=attachments]"))
        .await
        .expect("attachments select")
        .select_by_value("forward")
        .await
        .expect("selected");
    click(&browser, "#lists-form button[type=submit]").await;
    eventually("the list to apply", || async {
        send(&proxy, "Ship Bluebird on i-0a1b2c3d4e5f67890").await;
        upstream
            .recorder
            .last_messages_body()
            .contains("Ship CODENAME_001")
    })
    .await;

    // A false positive closed in one click: reveal the instance's token in the newest
    // exchange, "Never mask", and the next request carries the ID as it is.
    click(&browser, "[data-tab=live]").await;
    open_exchange(
        &browser,
        "#exchanges tbody tr:not(.spacer) td:nth-child(3)",
        2,
    )
    .await;
    click(
        &browser,
        "#sent mark.tok[data-original=i-0a1b2c3d4e5f67890]",
    )
    .await;
    click(&browser, "#sent button.never-mask").await;
    eventually("the never-mask list to apply", || async {
        send(&proxy, "And i-0a1b2c3d4e5f67890 now?").await;
        upstream
            .recorder
            .last_messages_body()
            .contains("And i-0a1b2c3d4e5f67890 now?")
    })
    .await;
    let lists = api("lists")
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answer")
        .json::<serde_json::Value>()
        .await
        .expect("lists");
    assert_eq!(lists["never"], serde_json::json!(["i-0a1b2c3d4e5f67890"]));
    assert_eq!(lists["attachments"], "forward", "saved with the lists");

    // Settings: shown, read-only (the headless gateway comes from the command line).
    click(&browser, "[data-tab=settings]").await;
    let upstream_field = || async {
        browser
            .find(Locator::Css("#gateway-form [name=upstream_url]"))
            .await
            .expect("field")
            .prop("value")
            .await
            .expect("value")
            .unwrap_or_default()
    };
    eventually("the settings", || async {
        !upstream_field().await.is_empty()
    })
    .await;
    let fields_disabled = browser
        .find(Locator::Css("#gateway-fields"))
        .await
        .expect("fieldset")
        .attr("disabled")
        .await
        .expect("attr");
    assert!(
        fields_disabled.is_some(),
        "the headless gateway is read-only"
    );
    let upstream_field = upstream_field().await;
    assert_eq!(upstream_field, upstream.url());

    // Retention: fewer exchanges kept, at once, and saved for the next start.
    let records = browser
        .find(Locator::Css("#retention-form [name=records]"))
        .await
        .expect("records field");
    records.clear().await.expect("cleared");
    records.send_keys("50").await.expect("typed");
    click(&browser, "#retention-form button[type=submit]").await;
    eventually("the retention to apply", || async {
        text_of(&browser, "#retention-result")
            .await
            .starts_with("Holding 50 exchanges")
    })
    .await;
    let kept = api("exchanges")
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("answer")
        .json::<Vec<serde_json::Value>>()
        .await
        .expect("exchanges");
    assert_eq!(kept.len(), 50);

    // Check setup: this maskgate serves and refuses the live probe, but Claude Code is not
    // pointed at it yet; "Set up Claude Code" fixes that, and the checks say so.
    click(&browser, "#check-setup").await;
    eventually("the checks", || async {
        text_of(&browser, "#setup-summary")
            .await
            .contains("checks fail")
    })
    .await;
    let checks = text_of(&browser, "#setup-check-list").await;
    assert!(
        checks.contains(&format!("serves on {}", maskgate.address)),
        "{checks}"
    );
    assert!(checks.contains("live probe: maskgate refused"), "{checks}");
    assert!(
        checks.contains("does not set ANTHROPIC_BASE_URL") && checks.contains("Set up Claude Code"),
        "the failure and its fix: {checks}"
    );
    click(&browser, "#setup-checks form button:not([type=button])").await;
    click(&browser, "#setup-claude").await;
    eventually("Claude Code set up", || async {
        text_of(&browser, "#settings-result")
            .await
            .starts_with("Created")
    })
    .await;
    let written = std::fs::read_to_string(home.path().join(".claude/settings.json"))
        .expect("settings.json written");
    assert!(written.contains(&proxy), "{written}");
    click(&browser, "#check-setup").await;
    eventually("every check to pass", || async {
        text_of(&browser, "#setup-summary")
            .await
            .starts_with("All ")
    })
    .await;
    browser.close().await.expect("close");
}
