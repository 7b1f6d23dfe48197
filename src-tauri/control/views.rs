//! What the dashboard shows, built the same way for both of its shells (the Tauri window and
//! the browser page of `--headless --dashboard`): exchange details, the catalog with its
//! switches and counts, pattern previews, the gateway settings without their secrets.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::journal::{ExchangeRecord, RecordSummary};
use crate::mask::catalog::CATALOG;
use crate::mask::engine::TOKEN_TEXT_KIND;
use crate::mask::{mask_text, AlwaysMask, CustomPattern, Engine, EngineError};
use crate::proxy::guard::TOKEN_HEADER;
use crate::settings::{claude_code, AnthropicKey, Attachments, GatewayAuth, Policy, Settings};

/// The proxy's state as the tray and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    Starting,
    /// `base_url` is what clients set as ANTHROPIC_BASE_URL (`https://` with TLS).
    Running {
        address: SocketAddr,
        base_url: String,
    },
    Paused,
    Error {
        message: String,
    },
}

/// What the live view keeps (the settings) and holds now.
#[derive(Serialize)]
pub struct RetentionView {
    pub records: usize,
    pub mib: usize,
    pub held_records: usize,
    pub held_mib: f64,
}

/// One exchange in full: what left the machine, the token table (originals: memory only,
/// shown on request), and the restored answer.
#[derive(Serialize)]
pub struct ExchangeDetail {
    summary: RecordSummary,
    masked_request: String,
    tokens: Vec<TokenView>,
    response: String,
    /// Tokens of maskgate's shape that the model wrote but this request never minted: they
    /// stand for nothing, and were passed on as written.
    unminted: Vec<String>,
    /// How this masked request differs from the previous turn of its conversation.
    previous_turn: Option<TurnDiff>,
}

/// One turn's masked request against the previous turn of the same conversation (the
/// newest earlier request whose messages this one continues): what the prompt cache sees.
/// The cache reads a request as tools, then system, then messages, and reuses what comes
/// before the first change; cache marks (`cache_control`) are not part of what it compares.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct TurnDiff {
    pub previous_id: u64,
    /// The tools and the system prompt: `same`, `changed` or `none` (in neither turn).
    pub tools: &'static str,
    pub system: &'static str,
    /// Per message of this request: `same`, `changed` or `added`.
    pub messages: Vec<&'static str>,
    /// The size of the request's tools, system and messages, in compact JSON.
    pub bytes: usize,
    /// Of those, the leading parts unchanged since the previous turn: what the cache can reuse.
    pub cached_prefix_bytes: usize,
}

/// How many earlier exchanges are looked at for the previous turn.
pub const TURNS_LOOKED_AT: usize = 32;

/// A request's parts in the order the prompt cache reads them, without their cache marks
/// (a client moves its mark to the newest message every turn: Claude Code does).
struct CacheParts {
    tools: Option<serde_json::Value>,
    system: Option<serde_json::Value>,
    messages: Vec<serde_json::Value>,
}

impl CacheParts {
    /// The parts of a masked request body, when it has messages.
    fn of(body: &[u8]) -> Option<CacheParts> {
        fn unmarked(mut value: serde_json::Value) -> serde_json::Value {
            fn strip(value: &mut serde_json::Value) {
                match value {
                    serde_json::Value::Object(members) => {
                        members.remove("cache_control");
                        members.values_mut().for_each(strip);
                    }
                    serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
                    _ => {}
                }
            }
            strip(&mut value);
            value
        }
        let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
        let messages = match value.get_mut("messages")?.take() {
            serde_json::Value::Array(messages) if !messages.is_empty() => messages,
            _ => return None,
        };
        let mut part = |name: &str| value.get_mut(name).map(|v| unmarked(v.take()));
        Some(CacheParts {
            tools: part("tools"),
            system: part("system"),
            messages: messages.into_iter().map(unmarked).collect(),
        })
    }
}

/// `record` against the newest of `earlier` (masked requests on its endpoint, newest first)
/// that is the previous turn of its conversation: same first message, fewer messages.
pub fn previous_turn(record: &ExchangeRecord, earlier: &[(u64, Bytes)]) -> Option<TurnDiff> {
    let now = CacheParts::of(&record.masked_request)?;
    let (previous_id, before) = (earlier.iter())
        .take(TURNS_LOOKED_AT)
        .find_map(|(id, body)| {
            let before = CacheParts::of(body)?;
            (before.messages.len() < now.messages.len() && before.messages[0] == now.messages[0])
                .then_some((*id, before))
        })?;
    let size = |v: &serde_json::Value| serde_json::to_vec(v).map_or(0, |b| b.len());
    let compare =
        |now: &Option<serde_json::Value>, before: &Option<serde_json::Value>| match (now, before) {
            (None, None) => ("none", 0),
            (Some(a), Some(b)) if a == b => ("same", size(a)),
            (a, _) => ("changed", a.as_ref().map_or(0, size)),
        };
    let tools = compare(&now.tools, &before.tools);
    let system = compare(&now.system, &before.system);
    let messages: Vec<(&'static str, usize)> = (now.messages.iter().enumerate())
        .map(|(i, m)| match before.messages.get(i) {
            Some(b) if b == m => ("same", size(m)),
            Some(_) => ("changed", size(m)),
            None => ("added", size(m)),
        })
        .collect();
    let in_cache_order = || [tools, system].into_iter().chain(messages.iter().copied());
    let cached_prefix_bytes = in_cache_order()
        .take_while(|(state, _)| matches!(*state, "same" | "none"))
        .map(|(_, bytes)| bytes)
        .sum();
    Some(TurnDiff {
        previous_id,
        tools: tools.0,
        system: system.0,
        bytes: in_cache_order().map(|(_, bytes)| bytes).sum(),
        cached_prefix_bytes,
        messages: messages.iter().map(|(state, _)| *state).collect(),
    })
}

/// One token of an exchange, and why it was minted: its category, and the masked text just
/// before its first appearance (the label or flag that named it, mostly). The context comes
/// from the masked request, so it never holds an original.
#[derive(Serialize)]
pub struct TokenView {
    token: String,
    original: String,
    kind: String,
    label: String,
    context: String,
}

/// How much masked text before a token explains it.
const CONTEXT_BYTES: usize = 48;

impl ExchangeDetail {
    /// `record` in full; `earlier` are the masked requests on its endpoint before it (with
    /// their ids), newest first, for the previous turn.
    pub fn of(record: &ExchangeRecord, earlier: &[(u64, Bytes)]) -> ExchangeDetail {
        let masked_request = String::from_utf8_lossy(&record.masked_request).into_owned();
        let tokens = record
            .tokens
            .iter()
            .map(|entry| TokenView {
                label: category_label(entry.kind),
                context: context_before(&masked_request, entry.token),
                token: entry.token.to_owned(),
                original: entry.original.to_owned(),
                kind: entry.kind.to_owned(),
            })
            .collect();
        ExchangeDetail {
            summary: record.summary(),
            masked_request,
            tokens,
            response: record.response.clone(),
            unminted: unminted_tokens(record),
            previous_turn: previous_turn(record, earlier),
        }
    }
}

/// The text the model wrote in an answer kept as the upstream sent it: an SSE stream's text
/// and tool-input deltas joined (a token often arrives in pieces), or a JSON answer whole.
fn answer_text(masked_answer: &str) -> String {
    if !masked_answer.starts_with("event:") && !masked_answer.contains("\ndata:") {
        return masked_answer.to_owned();
    }
    let mut text = String::new();
    for data in masked_answer
        .lines()
        .filter_map(|l| l.strip_prefix("data:"))
    {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(data.trim_start()) else {
            continue;
        };
        let delta = &event["delta"];
        if let Some(piece) = delta["text"].as_str().or(delta["partial_json"].as_str()) {
            text.push_str(piece);
        } else if event["type"] == "content_block_stop" {
            text.push('\n');
        }
    }
    text
}

/// The tokens in `record`'s answer that have the shape of a category's tokens but are not in
/// its table (see [`ExchangeDetail::unminted`]), each once, in order of appearance.
fn unminted_tokens(record: &ExchangeRecord) -> Vec<String> {
    static SHAPE: std::sync::OnceLock<regex::Regex> = std::sync::OnceLock::new();
    let shape = SHAPE.get_or_init(|| {
        regex::Regex::new(r"\b([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)*)_(?:[0-9]{3}|[1-9][0-9]{3,9})\b")
            .expect("a valid pattern")
    });
    let minted: std::collections::HashSet<&str> = record.tokens.iter().map(|e| e.token).collect();
    let prefixes: std::collections::HashSet<&str> = (CATALOG.iter().map(|k| k.token_prefix))
        .chain((record.tokens.iter()).filter_map(|e| e.token.rsplit_once('_').map(|(p, _)| p)))
        .collect();
    let text = answer_text(&String::from_utf8_lossy(&record.masked_response));
    let mut unminted: Vec<String> = Vec::new();
    for found in shape.captures_iter(&text) {
        let (token, prefix) = (&found[0], &found[1]);
        if prefixes.contains(prefix)
            && !minted.contains(token)
            && !unminted.iter().any(|t| t == token)
        {
            unminted.push(token.to_owned());
        }
    }
    unminted
}

/// The category's name as the Patterns view shows it.
fn category_label(kind: &str) -> String {
    if let Some(kind) = CATALOG.iter().find(|k| k.id == kind) {
        return kind.label.to_owned();
    }
    match kind.split_once(':') {
        Some(("custom", name)) => format!("custom pattern {name}"),
        Some(("list", prefix)) => format!("always-mask list ({prefix})"),
        _ if kind == TOKEN_TEXT_KIND => "text already shaped like a token".to_owned(),
        _ => kind.to_owned(),
    }
}

/// The masked text just before `token` first appears, at most [`CONTEXT_BYTES`]: from the
/// start of its JSON string or line, JSON escapes of quotes undone.
fn context_before(masked: &str, token: &str) -> String {
    let Some(at) = masked.find(token) else {
        return String::new();
    };
    let mut from = at.saturating_sub(CONTEXT_BYTES);
    while !masked.is_char_boundary(from) {
        from += 1;
    }
    let before = &masked[from..at];
    let b = before.as_bytes();
    // A string's opening quote is one no backslash escapes.
    let string_start = (0..b.len())
        .rev()
        .find(|&i| b[i] == b'"' && (i == 0 || b[i - 1] != b'\\'))
        .map_or(0, |i| i + 1);
    let mut in_string = &before[string_start..];
    // Cut at the bound, the first (partial) word goes.
    if string_start == 0 && from > 0 {
        in_string = in_string
            .split_once(' ')
            .map_or(in_string, |(_, rest)| rest);
    }
    let line = in_string
        .rsplit(['\n', '\r'])
        .next()
        .and_then(|l| l.rsplit("\\n").next())
        .unwrap_or(in_string);
    line.replace("\\\"", "\"").trim().to_owned()
}

/// A built-in kind or custom pattern with its switch and its count this session.
#[derive(Serialize)]
pub struct KindView {
    id: String,
    label: String,
    description: String,
    example: String,
    token_prefix: String,
    enabled: bool,
    custom: bool,
    regex: Option<String>,
    count: u64,
    policy: Policy,
}

/// Every built-in kind, then the custom patterns, then the always-mask lists (one per token
/// prefix), each with its switch, policy and count this session.
pub fn catalog(settings: &Settings, totals: &BTreeMap<String, u64>) -> Vec<KindView> {
    let policy = |id: &str| settings.policies.get(id).copied().unwrap_or_default();
    let builtins = CATALOG.iter().map(|k| KindView {
        id: k.id.to_owned(),
        label: k.label.to_owned(),
        description: k.description.to_owned(),
        example: k.example.to_owned(),
        token_prefix: k.token_prefix.to_owned(),
        enabled: !settings.disabled_kinds.contains(k.id),
        custom: false,
        regex: None,
        count: totals.get(k.id).copied().unwrap_or(0),
        policy: policy(k.id),
    });
    let custom = settings.custom_patterns.iter().map(|c| {
        let id = format!("custom:{}", c.name);
        KindView {
            count: totals.get(&id).copied().unwrap_or(0),
            enabled: !settings.disabled_kinds.contains(&id),
            id,
            label: c.name.clone(),
            description: "Custom pattern".to_owned(),
            example: String::new(),
            token_prefix: c.token_prefix.clone(),
            custom: true,
            regex: Some(c.regex.clone()),
            policy: policy(&format!("custom:{}", c.name)),
        }
    });
    let mut prefixes: Vec<&str> = settings
        .always_mask
        .iter()
        .map(|a| a.token_prefix.as_str())
        .collect();
    prefixes.sort_unstable();
    prefixes.dedup();
    let lists = prefixes.into_iter().map(|prefix| {
        let id = format!("list:{prefix}");
        KindView {
            count: totals.get(&id).copied().unwrap_or(0),
            enabled: !settings.disabled_kinds.contains(&id),
            label: format!("Always mask ({prefix})"),
            description: "Your always-mask entries with this token prefix".to_owned(),
            example: String::new(),
            token_prefix: prefix.to_owned(),
            custom: false,
            regex: None,
            policy: policy(&id),
            id,
        }
    });
    builtins.chain(custom).chain(lists).collect()
}

/// Switches one kind (or custom pattern) on or off in `settings`.
pub fn set_kind_enabled(settings: &mut Settings, id: &str, enabled: bool) {
    if enabled {
        settings.disabled_kinds.remove(id);
    } else {
        settings.disabled_kinds.insert(id.to_owned());
    }
}

/// The user's lists, as the Patterns view edits them.
#[derive(Serialize)]
pub struct ListsView {
    pub always: Vec<AlwaysMask>,
    pub never: Vec<String>,
    /// Whether values from the user's AWS configuration are masked, and how many each source
    /// gave (the values themselves are never shown).
    pub aws_known_values: bool,
    pub known: std::collections::BTreeMap<String, usize>,
    /// Whether images and PDFs, which cannot be masked, are refused or sent unread.
    pub attachments: Attachments,
}

#[derive(Serialize)]
pub struct Preview {
    masked: String,
    matches: usize,
}

/// What a custom pattern would mask in `sample`, before it is saved.
pub fn preview_pattern(pattern: CustomPattern, sample: &str) -> Result<Preview, EngineError> {
    let engine = Engine::new(|_| false, std::slice::from_ref(&pattern))?;
    let masked = mask_text(&engine, sample);
    Ok(Preview {
        matches: masked.counts.values().sum(),
        masked: masked.output,
    })
}

/// The gateway settings as the page shows them: secrets only as "set" or not.
#[derive(Debug, Serialize, Deserialize)]
pub struct GatewayView {
    pub upstream_url: String,
    pub auth: GatewayAuth,
    pub key_header: String,
    pub basic_user: String,
    pub anthropic_key: AnthropicKey,
    pub ca_file: Option<String>,
    pub listen: String,
    #[serde(default)]
    pub secret_set: bool,
    #[serde(default)]
    pub local_token_set: bool,
    /// False where the page may look but not change them (the headless dashboard, whose
    /// gateway comes from the command line).
    #[serde(default)]
    pub editable: bool,
}

impl GatewayView {
    pub fn of(settings: &Settings, secret_set: bool, local_token_set: bool) -> GatewayView {
        GatewayView {
            upstream_url: settings.upstream_url.clone(),
            auth: settings.gateway.auth,
            key_header: settings.gateway.key_header.clone(),
            basic_user: settings.gateway.basic_user.clone(),
            anthropic_key: settings.gateway.anthropic_key,
            ca_file: settings
                .gateway
                .ca_file
                .as_ref()
                .map(|p| p.display().to_string()),
            listen: settings.listen.to_string(),
            secret_set,
            local_token_set,
            editable: true,
        }
    }
}

/// Writes ANTHROPIC_BASE_URL (and the token header) into ~/.claude/settings.json; says what
/// it did.
pub fn set_up_claude_code(base_url: &str, local_token: Option<&str>) -> Result<String, String> {
    let path = claude_code::default_path().ok_or("no home directory")?;
    let header = local_token.map(|t| format!("{TOKEN_HEADER}: {t}"));
    let backup = claude_code::point_claude_code_at(&path, base_url, header.as_deref())
        .map_err(|e| e.to_string())?;
    Ok(match backup {
        Some(backup) => format!("Updated {} (backup: {})", path.display(), backup.display()),
        None => format!("Created {}", path.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_the_model_wrote_but_the_request_never_minted_are_flagged() {
        let mut record = ExchangeRecord::new("POST", "/v1/messages");
        let mut table = crate::mask::TokenTable::default();
        table.token_for("EC2_INSTANCE", "ec2_instance", "i-0a1b2c3d4e5f67890");
        record.tokens = std::sync::Arc::new(table.into_entries());
        // Pieces as a stream brings them: a minted token, an unminted one split over three
        // deltas, one in a tool's input, and words of the shape that no category uses.
        let deltas = [
            r#"{"delta":{"type":"text_delta","text":"EC2_INSTANCE_001 and EC2_INS"}}"#,
            r#"{"delta":{"type":"text_delta","text":"TANCE_0"}}"#,
            r#"{"delta":{"type":"text_delta","text":"07, TLS_1_002, EC2_INSTANCE_0071"}}"#,
            r#"{"delta":{"type":"input_json_delta","partial_json":"{\"vpc\": \"VPC_003\"}"}}"#,
        ];
        let stream: String = (deltas.iter())
            .map(|d| format!("event: content_block_delta\ndata: {d}\n\n"))
            .collect();
        record.masked_response = stream.into_bytes();
        assert_eq!(unminted_tokens(&record), ["EC2_INSTANCE_007", "VPC_003"]);
        record.masked_response =
            br#"{"content":[{"type":"text","text":"S3_BUCKET_002"}]}"#.to_vec();
        assert_eq!(unminted_tokens(&record), ["S3_BUCKET_002"]);
    }

    #[test]
    fn the_previous_turn_is_the_newest_earlier_request_the_conversation_continues() {
        use serde_json::json;
        let tools = json!([{"name": "Bash", "input_schema": {"type": "object"}}]);
        let request = |id: u64, system: &str, messages: serde_json::Value| {
            let mut r = ExchangeRecord::new("POST", "/v1/messages");
            r.id = id;
            r.masked_request =
                json!({"model": "m", "messages": messages, "system": system, "tools": tools})
                    .to_string()
                    .into();
            r
        };
        let user = |text: &str| json!({"role": "user", "content": text});
        // A client marks its newest message for the cache, so the mark moves every turn.
        let marked = |text: &str| json!({"role": "user", "content": [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}}]});
        let unmarked =
            |text: &str| json!({"role": "user", "content": [{"type": "text", "text": text}]});
        let turn_one = request(2, "be brief", json!([marked("why VPC_001")]));
        let turn_two = request(
            4,
            "be brief",
            json!([
                unmarked("why VPC_001"),
                user("it said"),
                marked("and SUBNET_001 now?")
            ]),
        );
        let earlier: Vec<(u64, Bytes)> = [
            request(3, "be brief", json!([user("something else")])),
            turn_one.clone(),
            request(1, "be brief", json!([unmarked("why VPC_001")])),
        ]
        .iter()
        .map(|r| (r.id, r.masked_request.clone()))
        .collect();
        let diff = previous_turn(&turn_two, &earlier).expect("a previous turn");
        assert_eq!(diff.previous_id, 2);
        assert_eq!((diff.tools, diff.system), ("same", "same"));
        assert_eq!(diff.messages, ["same", "added", "added"]);
        let size = |v: serde_json::Value| serde_json::to_vec(&v).expect("json").len();
        let reusable =
            size(tools.clone()) + size(json!("be brief")) + size(unmarked("why VPC_001"));
        assert_eq!(diff.cached_prefix_bytes, reusable);
        assert_eq!(
            diff.bytes,
            reusable + size(user("it said")) + size(unmarked("and SUBNET_001 now?"))
        );

        // A system prompt that changed: only the tools before it can be reused.
        let changed = request(
            5,
            "be verbose",
            json!([unmarked("why VPC_001"), user("more")]),
        );
        let diff = previous_turn(&changed, &earlier[1..]).expect("a previous turn");
        assert_eq!((diff.tools, diff.system), ("same", "changed"));
        assert_eq!(diff.cached_prefix_bytes, size(tools.clone()));
        assert_eq!(
            previous_turn(&turn_one, &earlier[2..]),
            None,
            "not continued"
        );
    }

    #[test]
    fn a_tokens_context_is_the_masked_text_that_named_it() {
        let masked = r#"{"content":"$ cat f\n{\"FunctionName\": \"LAMBDA_FUNCTION_001\"} and --role-name IAM_ROLE_001"}"#;
        assert_eq!(
            context_before(masked, "LAMBDA_FUNCTION_001"),
            r#"{"FunctionName": ""#
        );
        assert_eq!(
            context_before(masked, "IAM_ROLE_001"),
            r#""LAMBDA_FUNCTION_001"} and --role-name"#
        );
        assert_eq!(context_before(masked, "VPC_001"), "");
        assert_eq!(
            category_label("list:CODENAME"),
            "always-mask list (CODENAME)"
        );
    }
}
