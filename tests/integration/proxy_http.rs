//! The proxy over real HTTP: masking on the way out, restoring on the way back (JSON, SSE
//! text, SSE tool input), thinking blocks untouched, headers and paths passed through, and
//! every refusal in the Anthropic error format with nothing forwarded.

use serde_json::{json, Value};

use crate::support::upstream::{self, sign};
use crate::support::{
    assert_no_original_in, client, messages_request, planted_text, post_messages, settings_for,
    sse_text_and_json, start_proxy, PLANTED,
};
use maskgate::settings::{Secrets, Settings};

#[tokio::test]
async fn plain_json_answer_is_restored_and_upstream_sees_only_tokens() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let prompt = format!("Describe these: {}", planted_text());
    let answer: Value = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .header("x-api-key", "sk-ant-test")
        .json(&messages_request(&prompt, false))
        .send()
        .await
        .expect("answer")
        .json()
        .await
        .expect("json");
    let text = answer["content"][0]["text"].as_str().expect("text block");
    for (original, _) in PLANTED {
        assert!(text.contains(original), "{original} not restored in {text}");
    }
    let seen = upstream.recorder.everything();
    assert_no_original_in(&seen);
    assert!(
        seen.contains("EC2_INSTANCE_001") && seen.contains("S3_BUCKET_001"),
        "{seen}"
    );
}

#[tokio::test]
async fn streamed_text_split_across_events_is_restored() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let body = client()
        .post(format!("{}/v1/messages?beta=true", proxy.url()))
        .json(&messages_request(
            &format!("Look at {}", planted_text()),
            true,
        ))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    let (text, _) = sse_text_and_json(&body);
    let expected: Vec<&str> = PLANTED.iter().map(|(o, _)| *o).collect();
    assert_eq!(text, format!("Found: {}.", expected.join(", ")));
    assert!(body.contains("event: message_stop"));
    assert_no_original_in(&upstream.recorder.everything());
}

#[tokio::test]
async fn streamed_tool_input_is_restored_and_thinking_is_left_signed() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let url = format!("{}/v1/messages?beta=true", proxy.url());
    let prompt = format!("RUN_TOOL on {}", planted_text());
    let body = client()
        .post(&url)
        .json(&messages_request(&prompt, true))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    let (_, partial_json) = sse_text_and_json(&body);
    let input: Value = serde_json::from_str(&partial_json).expect("tool input is valid JSON");
    let command = input["command"].as_str().expect("command");
    for (original, _) in PLANTED {
        assert!(
            command.contains(original),
            "{original} missing from {command}"
        );
    }
    // The thinking block reaches the client exactly as signed (with tokens in it).
    let thinking: String = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .filter_map(|d| serde_json::from_str::<Value>(d).ok())
        .filter_map(|e| e["delta"]["thinking"].as_str().map(str::to_owned))
        .collect();
    assert!(thinking.contains("EC2_INSTANCE_001"), "{thinking}");

    // Next turn: the client sends the thinking back unchanged, with the tool's real output.
    let next = json!({
        "model": "claude-test", "max_tokens": 100, "stream": true,
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": prompt}]},
            {"role": "assistant", "content": [
                {"type": "thinking", "thinking": thinking, "signature": sign(&thinking)},
                {"type": "tool_use", "id": "toolu_01TEST", "name": "Bash", "input": input}
            ]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_01TEST", "content": command.trim_start_matches("echo ")}]}
        ]
    });
    let body = client()
        .post(&url)
        .json(&next)
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("body");
    let (text, _) = sse_text_and_json(&body);
    assert!(text.starts_with("Done. The command printed: "), "{body}");
    for (original, _) in PLANTED {
        assert!(text.contains(original), "{original} missing from {text}");
    }
    assert_no_original_in(&upstream.recorder.everything());
}

#[tokio::test]
async fn headers_query_and_other_paths_pass_through() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let head = client()
        .head(format!("{}/", proxy.url()))
        .send()
        .await
        .expect("HEAD /");
    assert_eq!(head.status(), 200);
    let models = client()
        .get(format!("{}/v1/models", proxy.url()))
        .send()
        .await
        .expect("models");
    assert_eq!(models.status(), 200);
    client()
        .post(format!("{}/v1/messages?beta=true", proxy.url()))
        .header("x-api-key", "sk-ant-api-key")
        .header("authorization", "Bearer sk-ant-bearer")
        .header(
            "anthropic-beta",
            "claude-code-20250219,interleaved-thinking-2025-05-14",
        )
        .header("anthropic-version", "2023-06-01")
        .json(&messages_request("hello", false))
        .send()
        .await
        .expect("answer");
    let received = upstream.recorder.messages_requests();
    let last = received.last().expect("forwarded");
    assert_eq!(last.path_and_query, "/v1/messages?beta=true");
    assert_eq!(last.headers["x-api-key"], "sk-ant-api-key");
    assert_eq!(last.headers["authorization"], "Bearer sk-ant-bearer");
    assert_eq!(
        last.headers["anthropic-beta"],
        "claude-code-20250219,interleaved-thinking-2025-05-14"
    );
    assert_eq!(last.headers["anthropic-version"], "2023-06-01");
}

#[tokio::test]
async fn count_tokens_is_masked_exactly_like_the_message() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let mut body = messages_request(&planted_text(), false);
    body.as_object_mut().expect("object").remove("stream");
    body.as_object_mut().expect("object").remove("max_tokens");
    for path in ["/v1/messages/count_tokens", "/v1/messages"] {
        let answer = client()
            .post(format!("{}{path}", proxy.url()))
            .json(&body)
            .send()
            .await
            .expect("answer");
        assert_eq!(answer.status(), 200);
    }
    let received = upstream.recorder.all();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].body, received[1].body,
        "both masked to the same bytes"
    );
    assert_no_original_in(&upstream.recorder.everything());
}

#[tokio::test]
async fn unparseable_body_is_refused_and_nothing_is_forwarded() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let answer = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .header("content-type", "application/json")
        .body(format!("{{\"messages\": [\"{}\"", PLANTED[0].0))
        .send()
        .await
        .expect("answer");
    assert_eq!(answer.status(), 400);
    assert_eq!(answer.headers()["x-should-retry"], "false");
    let error: Value = answer.json().await.expect("json");
    assert_eq!(error["type"], "error");
    assert_eq!(error["error"]["type"], "invalid_request_error");
    assert!(error["error"]["message"]
        .as_str()
        .expect("message")
        .starts_with("maskgate: "));
    assert!(
        upstream.recorder.all().is_empty(),
        "nothing may be forwarded"
    );
}

#[tokio::test]
async fn compressed_and_oversized_bodies_are_refused() {
    let upstream = upstream::start().await;
    let settings = Settings {
        max_body_mib: 1,
        ..settings_for(&upstream.url())
    };
    let proxy = start_proxy(settings, Secrets::default()).await;
    let gzip = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .header("content-encoding", "gzip")
        .body(vec![0x1f, 0x8b, 0, 0])
        .send()
        .await
        .expect("answer");
    assert_eq!(gzip.status(), 400);
    let big = format!(
        "{{\"messages\":[{{\"role\":\"user\",\"content\":\"{}\"}}]}}",
        "a".repeat(2 * 1024 * 1024)
    );
    let too_large = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .body(big.clone())
        .send()
        .await
        .expect("answer");
    assert_eq!(too_large.status(), 413);
    let error: Value = too_large.json().await.expect("json");
    assert_eq!(error["error"]["type"], "request_too_large");
    // Sent in chunks with no declared length, the body is cut off at the limit as it arrives.
    let chunks = big
        .into_bytes()
        .chunks(64 * 1024)
        .map(|chunk| Ok::<_, std::io::Error>(chunk.to_vec()))
        .collect::<Vec<_>>();
    let chunked = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .expect("answer");
    assert_eq!(chunked.status(), 413);
    assert!(upstream.recorder.all().is_empty());
}

#[tokio::test]
async fn unreachable_upstream_gives_a_clear_502() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = format!("http://{}", closed.local_addr().expect("address"));
    drop(closed);
    let proxy = start_proxy(settings_for(&dead), Secrets::default()).await;
    let answer = post_messages(&proxy.url(), &messages_request("hi", true)).await;
    assert_eq!(answer.status(), 502);
    let error: Value = answer.json().await.expect("json");
    let message = error["error"]["message"].as_str().expect("message");
    assert!(
        message.contains("cannot reach the upstream 127.0.0.1:"),
        "{message}"
    );
}

#[tokio::test]
async fn guard_refuses_foreign_hosts_browser_origins_and_missing_tokens() {
    let upstream = upstream::start().await;
    let secrets = Secrets {
        local_token: Some("local-secret".into()),
        ..Secrets::default()
    };
    let proxy = start_proxy(settings_for(&upstream.url()), secrets).await;
    let url = format!("{}/v1/messages", proxy.url());
    let send = |builder: reqwest::RequestBuilder| async move {
        builder
            .json(&messages_request("hi", false))
            .send()
            .await
            .expect("answer")
            .status()
    };
    assert_eq!(
        send(
            client()
                .post(&url)
                .header("x-maskgate-token", "local-secret")
        )
        .await,
        200
    );
    assert_eq!(send(client().post(&url)).await, 403);
    assert_eq!(
        send(
            client()
                .post(&url)
                .header("x-maskgate-token", "local-secret")
                .header("host", "attacker.example")
        )
        .await,
        403
    );
    assert_eq!(
        send(
            client()
                .post(&url)
                .header("x-maskgate-token", "local-secret")
                .header("origin", "https://attacker.example")
        )
        .await,
        403
    );
    let forwarded = upstream.recorder.all();
    assert_eq!(forwarded.len(), 1);
    assert!(
        !forwarded[0].headers.contains_key("x-maskgate-token"),
        "the local token stays local"
    );
}

#[tokio::test]
async fn upstream_errors_reach_the_client_in_anthropic_format() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let mut body = messages_request("hi", true);
    body["model"] = json!("error-529");
    let answer = post_messages(&proxy.url(), &body).await;
    assert_eq!(answer.status(), 529);
    let error: Value = answer.json().await.expect("json");
    assert_eq!(error["error"]["message"], "test upstream error 529");
}

#[tokio::test]
async fn token_text_already_in_the_prompt_is_never_restored() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let prompt = "literal EC2_INSTANCE_001 and real i-0a1b2c3d4e5f67890";
    let answer: Value = post_messages(&proxy.url(), &messages_request(prompt, false))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(
        answer["content"][0]["text"],
        "Found: EC2_INSTANCE_001, i-0a1b2c3d4e5f67890."
    );
    assert!(upstream
        .recorder
        .everything()
        .contains("literal EC2_INSTANCE_001 and real EC2_INSTANCE_002"));
}

#[tokio::test]
async fn switching_a_kind_off_applies_to_the_next_request() {
    let upstream = upstream::start().await;
    let settings = settings_for(&upstream.url());
    let proxy = start_proxy(settings.clone(), Secrets::default()).await;
    let send = || async {
        post_messages(&proxy.url(), &messages_request("host 10.1.2.3", false)).await;
    };
    send().await;
    let mut off = settings;
    off.disabled_kinds.insert("private_ipv4".into());
    proxy.proxy.apply(
        maskgate::proxy::ProxyConfig::from_settings(&off, &Secrets::default()).expect("config"),
    );
    send().await;
    let bodies: Vec<String> = upstream
        .recorder
        .all()
        .iter()
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    assert!(bodies[0].contains("host PRIVATE_IP_001"));
    assert!(bodies[1].contains("host 10.1.2.3"));
}

#[tokio::test]
async fn a_compressed_answer_is_decoded_so_it_can_be_restored() {
    let upstream = upstream::start().await;
    let proxy = start_proxy(settings_for(&upstream.url()), Secrets::default()).await;
    let answer = client()
        .post(format!("{}/v1/messages", proxy.url()))
        .header("x-test-gzip", "1")
        .header("accept-encoding", "identity")
        .json(&messages_request("stop i-0a1b2c3d4e5f67890", false))
        .send()
        .await
        .expect("answer");
    assert!(answer.headers().get("content-encoding").is_none());
    let answer: Value = answer.json().await.expect("json");
    assert_eq!(answer["content"][0]["text"], "Found: i-0a1b2c3d4e5f67890.");
    let received = upstream.recorder.messages_requests();
    let sent_encoding = received[0].headers["accept-encoding"]
        .to_str()
        .expect("ascii");
    assert!(
        sent_encoding.contains("gzip"),
        "maskgate asks for what it can decode: {sent_encoding}"
    );
}
