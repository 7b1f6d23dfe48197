//! A policy per category, through the real headless binary: `refuse` answers 400 naming the
//! category and forwards nothing; `mask-only` masks and leaves the token in the answer,
//! streamed or not; every other category is masked and restored as before.

use crate::support::{
    messages_request, post_messages, spawn_headless_with_config, sse_text_and_json, upstream,
};

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_category_stops_the_request_and_a_mask_only_one_stays_masked() {
    let upstream = upstream::start().await;
    let maskgate = spawn_headless_with_config(
        &["--upstream", &upstream.url()],
        &[],
        "[policies]\nsecret_access_key = \"refuse\"\nec2_instance = \"mask-only\"\n",
    );

    let leaked = "use aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzEXAMPLEKEY on i-0a1b2c3d4e5f67890";
    let refused = post_messages(&maskgate.url(), &messages_request(leaked, false)).await;
    assert_eq!(refused.status(), 400);
    assert_eq!(
        refused
            .headers()
            .get("x-should-retry")
            .map(|v| v.to_str().ok()),
        Some(Some("false"))
    );
    let error: serde_json::Value = refused.json().await.expect("JSON error");
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    let message = error["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("Secret access key") && message.contains("secret_access_key"),
        "{message}"
    );
    assert!(
        upstream.recorder.messages_requests().is_empty(),
        "nothing may be forwarded"
    );

    // Mask-only: the model's answer keeps the instance's token; a restored category comes back.
    let prompt = "Where are i-0a1b2c3d4e5f67890 and 10.1.2.3?";
    let answer = post_messages(&maskgate.url(), &messages_request(prompt, false)).await;
    assert_eq!(answer.status(), 200);
    let answer: serde_json::Value = answer.json().await.expect("JSON answer");
    let text = answer["content"][0]["text"].as_str().expect("text");
    assert_eq!(text, "Found: EC2_INSTANCE_001, 10.1.2.3.");
    let streamed = post_messages(&maskgate.url(), &messages_request(prompt, true))
        .await
        .text()
        .await
        .expect("stream");
    let (text, _) = sse_text_and_json(&streamed);
    assert_eq!(text, "Found: EC2_INSTANCE_001, 10.1.2.3.");
    let seen = upstream.recorder.everything();
    assert!(
        !seen.contains("i-0a1b2c3d4e5f67890") && !seen.contains("10.1.2.3"),
        "{seen}"
    );
}
