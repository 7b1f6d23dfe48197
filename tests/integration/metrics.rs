//! `GET /_maskgate/metrics` after a known sequence of requests, parsed with a Prometheus
//! text parser: the counts must match what happened, and no label may hold an original.

use serde_json::json;

use crate::support::upstream;
use crate::support::{client, free_port, settings_for, spawn_headless, start_proxy};
use maskgate::settings::Secrets;

fn value_of(scrape: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| labels.iter().all(|(k, v)| s.labels.get(k) == Some(*v)))
        .map(|s| match s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => 0.0,
        })
        .sum()
}

#[tokio::test]
async fn metrics_count_exchanges_refusals_and_masked_identifiers() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let body = json!({"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "stop i-0a1b2c3d4e5f67890 and vol-049df61146c4d7901"}]});
    for _ in 0..2 {
        let answer = client()
            .post(format!("{}/v1/messages?beta=true", proxy.url()))
            .json(&body)
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 200);
        answer.bytes().await.expect("whole answer");
    }
    let refused = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .header("x-note", "account 123456789012")
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), 400);

    let text = client()
        .get(format!("{}/_maskgate/metrics", proxy.url()))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    assert!(!text.contains("i-0a1b2c3d4e5f67890") && !text.contains("123456789012"));
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text");
    let completed = [
        ("endpoint", "/v1/messages"),
        ("status", "200"),
        ("outcome", "completed"),
    ];
    assert_eq!(
        value_of(&scrape, "maskgate_exchanges_total", &completed),
        2.0,
        "{text}"
    );
    let refused = [("outcome", "refused"), ("status", "400")];
    assert_eq!(value_of(&scrape, "maskgate_exchanges_total", &refused), 1.0);
    assert_eq!(
        value_of(&scrape, "maskgate_refusals_total", &[("status", "400")]),
        1.0
    );
    for category in ["ec2_instance", "ebs_volume"] {
        let labels = [("category", category)];
        assert_eq!(
            value_of(&scrape, "maskgate_identifiers_masked_total", &labels),
            2.0
        );
    }
    assert_eq!(value_of(&scrape, "maskgate_open_exchanges", &[]), 0.0);
    assert_eq!(value_of(&scrape, "maskgate_journal_records", &[]), 3.0);
    assert!(value_of(&scrape, "maskgate_request_bytes_total", &[]) > 0.0);
    let masking_count = scrape
        .samples
        .iter()
        .find(|s| s.metric == "maskgate_masking_seconds")
        .map(|s| match &s.value {
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            _ => -1.0,
        });
    assert_eq!(masking_count, Some(2.0), "{text}");
}

/// `--metrics-listen`: the pool's scrape port serves the same metrics with no token, while the
/// proxy's own `/_maskgate/metrics` still wants it; the port serves nothing else.
#[tokio::test(flavor = "multi_thread")]
async fn the_metrics_port_serves_prometheus_without_the_token_and_nothing_else() {
    let upstream = upstream::start().await;
    let metrics_address = format!("127.0.0.1:{}", free_port());
    let maskgate = spawn_headless(
        &[
            "--upstream",
            &upstream.url(),
            "--metrics-listen",
            &metrics_address,
        ],
        &[("MASKGATE_LOCAL_TOKEN", "pool-token")],
    );
    let body = json!({"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "stop i-0a1b2c3d4e5f67890"}]});
    let answer = client()
        .post(format!("{}/v1/messages", maskgate.url()))
        .header("x-maskgate-token", "pool-token")
        .json(&body)
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 200);
    answer.bytes().await.expect("whole answer");

    let guarded = client()
        .get(format!("{}/_maskgate/metrics", maskgate.url()))
        .send()
        .await
        .expect("answer");
    assert_eq!(guarded.status(), 403);
    let text = client()
        .get(format!("http://{metrics_address}/metrics"))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    let scrape = prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_owned())))
        .expect("Prometheus text");
    let completed = [("status", "200"), ("outcome", "completed")];
    assert_eq!(
        value_of(&scrape, "maskgate_exchanges_total", &completed),
        1.0,
        "{text}"
    );
    assert_eq!(
        value_of(
            &scrape,
            "maskgate_identifiers_masked_total",
            &[("category", "ec2_instance")]
        ),
        1.0
    );
    for path in ["/v1/messages", "/_maskgate/health", "/"] {
        let other = client()
            .get(format!("http://{metrics_address}{path}"))
            .send()
            .await
            .expect("answer");
        assert_eq!(other.status(), 404, "{path}");
    }
    assert_eq!(upstream.recorder.messages_requests().len(), 1);
}
