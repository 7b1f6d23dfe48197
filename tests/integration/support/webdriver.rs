//! WebDriver helpers shared by the desktop test (tauri-driver) and the browser dashboard test
//! (chromedriver).

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};

pub async fn text_of(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .expect(css)
        .text()
        .await
        .expect("text")
}

pub async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Clicks the element, finding it afresh if the live view re-rendered it meanwhile.
pub async fn click(client: &Client, css: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let clicked = match client.find(Locator::Css(css)).await {
            Ok(element) => element
                .click()
                .await
                .map(|_| ())
                .map_err(|e| format!("{e:?}")),
            Err(e) => Err(e.to_string()),
        };
        match clicked {
            Ok(()) => return,
            Err(e) if Instant::now() > deadline => panic!("cannot click {css}: {e}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(150)).await,
        }
    }
}

/// How many elements match `css` now (none when the page cannot say).
pub async fn count(client: &Client, css: &str) -> usize {
    client
        .find_all(Locator::Css(css))
        .await
        .map_or(0, |found| found.len())
}

/// Opens the exchange in the live list's row `row` (a CSS selector) and returns the tokens
/// highlighted in its masked request, once at least `at_least` of them are shown.
pub async fn open_exchange(client: &Client, row: &str, at_least: usize) -> Vec<(String, String)> {
    click(client, row).await;
    eventually("highlighted tokens", || async {
        count(client, "#sent mark.tok").await >= at_least
    })
    .await;
    highlighted_tokens(client).await
}

/// The highlighted tokens of the selected exchange's masked request: (token, title), where
/// the title names the kind and the original. Read in one script, so that a re-render of the
/// detail between two reads cannot leave a stale element behind.
pub async fn highlighted_tokens(client: &Client) -> Vec<(String, String)> {
    let marks = client
        .execute(
            "return [...document.querySelectorAll('#sent mark.tok')].map((m) => [m.textContent, m.title]);",
            vec![],
        )
        .await
        .expect("marks");
    serde_json::from_value(marks).expect("pairs of text and title")
}
