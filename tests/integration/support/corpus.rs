//! Generated Claude-Code-shaped request bodies: 24-odd tool definitions with JSON schemas, a
//! system prompt in blocks, and a conversation whose tool results hold `aws` CLI output,
//! logs and config files with identifiers of every kind planted in them — plus a clean
//! corpus of look-alikes (git, UUIDs, versions, public IPs, base64, long numbers).
//! Deterministic for a seed. Shared by the corpus test and the benchmarks.

use serde_json::{json, Value};

/// A small deterministic generator (xorshift64*); tests need repeatability, not quality.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E3779B97F4A7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545F4914F6CDD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }

    pub fn chars(&mut self, alphabet: &[u8], n: usize) -> String {
        (0..n)
            .map(|_| alphabet[self.below(alphabet.len())] as char)
            .collect()
    }
}

const HEX: &[u8] = b"0123456789abcdef";
const UPPER_ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BASE64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const WORDS: &[&str] = &[
    "orders",
    "billing",
    "payments",
    "analytics",
    "platform",
    "search",
    "media",
    "auth",
    "reports",
    "ingest",
    "ledger",
    "catalog",
];
const ENVS: &[&str] = &["prod", "staging", "dev", "qa", "shared"];
const REGIONS: &[&str] = &[
    "us-east-1",
    "us-west-2",
    "eu-west-1",
    "eu-central-1",
    "ap-southeast-2",
];

/// One planted identifier and the line that carries it.
pub struct Planted {
    pub original: String,
    pub line: String,
}

fn account(rng: &mut Rng) -> String {
    format!("{}{}", 1 + rng.below(9), rng.chars(b"0123456789", 11))
}

fn private_ip(rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!(
            "10.{}.{}.{}",
            rng.below(256),
            rng.below(256),
            1 + rng.below(254)
        ),
        1 => format!(
            "172.{}.{}.{}",
            16 + rng.below(16),
            rng.below(256),
            1 + rng.below(254)
        ),
        _ => format!("192.168.{}.{}", rng.below(256), 1 + rng.below(254)),
    }
}

/// An identifier of a random kind, in the kind of line it appears in.
pub fn planted(rng: &mut Rng) -> Planted {
    let word = rng.pick(WORDS);
    let env = rng.pick(ENVS);
    let region = rng.pick(REGIONS);
    let hex = |rng: &mut Rng| {
        let n = if rng.below(4) == 0 { 8 } else { 17 };
        rng.chars(HEX, n)
    };
    let (original, line) = match rng.below(24) {
        0 => {
            let id = format!("i-{}", hex(rng));
            (id.clone(), format!("\"InstanceId\": \"{id}\","))
        }
        1 => {
            let id = format!("ami-{}", hex(rng));
            (id.clone(), format!("\"ImageId\": \"{id}\","))
        }
        2 => {
            let id = format!("vol-{}", hex(rng));
            (
                id.clone(),
                format!("aws ec2 attach-volume --volume-id {id} --device /dev/sdf"),
            )
        }
        3 => {
            let id = format!("snap-{}", hex(rng));
            (id.clone(), format!("Snapshot {id} completed"))
        }
        4 => {
            let id = format!("vpc-{}", hex(rng));
            (id.clone(), format!("\"VpcId\": \"{id}\""))
        }
        5 => {
            let id = format!("subnet-{}", hex(rng));
            (id.clone(), format!("subnet_ids = [\"{id}\"]"))
        }
        6 => {
            let id = format!("sg-{}", hex(rng));
            (id.clone(), format!("--security-group-ids {id}"))
        }
        7 => {
            let id = format!(
                "{}-{word}-{env}-bucket",
                rng.pick(&["acme", "corp", "team"])
            );
            (id.clone(), format!("upload failed for {id}: AccessDenied"))
        }
        8 => {
            let id = format!("{word}-{env}-{}", rng.chars(b"0123456789", 4));
            (id.clone(), format!("aws s3 ls s3://{id}/exports/"))
        }
        9 => {
            let a = account(rng);
            let id = format!("arn:aws:iam::{a}:role/{word}-{env}-role");
            (id.clone(), format!("\"Arn\": \"{id}\""))
        }
        10 => {
            let a = account(rng);
            let id = format!("arn:aws:lambda:{region}:{a}:function:{word}-handler");
            (id.clone(), format!("FunctionArn: {id}"))
        }
        11 => {
            let a = account(rng);
            (a.clone(), format!("\"Account\": \"{a}\","))
        }
        12 => {
            let id = format!("AKIA{}", rng.chars(UPPER_ALNUM, 16));
            (id.clone(), format!("aws_access_key_id = {id}"))
        }
        13 => {
            let id = rng.chars(BASE64, 40);
            let line = match rng.below(3) {
                0 => format!("aws_secret_access_key = {id}"),
                1 => format!("export AWS_SECRET_ACCESS_KEY={id}"),
                _ => format!("\"SecretAccessKey\": \"{id}\","),
            };
            (id, line)
        }
        14 => {
            let id = format!("IQoJb3JpZ2luX2Vj{}", rng.chars(BASE64, 300));
            (id.clone(), format!("\"SessionToken\": \"{id}\""))
        }
        15 => {
            let id = private_ip(rng);
            (id.clone(), format!("\"PrivateIpAddress\": \"{id}\","))
        }
        16 => {
            let id = format!(
                "{word}-{env}.c{}.{region}.rds.amazonaws.com",
                rng.chars(HEX, 10)
            );
            (id.clone(), format!("DATABASE_HOST={id}"))
        }
        17 => {
            let id = format!(
                "internal-{word}-{}.{region}.elb.amazonaws.com",
                rng.chars(b"0123456789", 10)
            );
            (id.clone(), format!("curl -s http://{id}/health"))
        }
        18 => {
            let id = format!(
                "{}.gr7.{region}.eks.amazonaws.com",
                rng.chars(b"0123456789ABCDEF", 32)
            );
            (id.clone(), format!("server: https://{id}"))
        }
        19 => {
            let id = format!(
                "{}.execute-api.{region}.amazonaws.com",
                rng.chars(b"abcdefghijklmnopqrstuvwxyz0123456789", 10)
            );
            (id.clone(), format!("endpoint https://{id}/{env}"))
        }
        20 => {
            let id = format!(
                "Z{}",
                rng.chars(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", 13)
            );
            let id = format!("{}1", &id[..13]);
            (id.clone(), format!("\"HostedZoneId\": \"{id}\""))
        }
        21 => {
            let id = format!(
                "{}-{}-{}-{}-{}",
                rng.chars(HEX, 8),
                rng.chars(HEX, 4),
                rng.chars(HEX, 4),
                rng.chars(HEX, 4),
                rng.chars(HEX, 12)
            );
            (
                id.clone(),
                format!("aws kms encrypt --key-id {id} --plaintext fileb://x"),
            )
        }
        22 => {
            let ip = private_ip(rng);
            let id = format!("{ip}/{}", 16 + rng.below(13));
            (id.clone(), format!("CidrBlock: {id}"))
        }
        _ => {
            let id = format!("nat-{}", hex(rng));
            (id.clone(), format!("route 0.0.0.0/0 via {id}"))
        }
    };
    Planted { original, line }
}

/// Lines with look-alikes only: nothing in them may be masked.
pub fn clean_line(rng: &mut Rng) -> String {
    match rng.below(10) {
        0 => format!(
            "commit {} Merge branch 'feature/{}'",
            rng.chars(HEX, 40),
            rng.pick(WORDS)
        ),
        1 => format!(
            "request_id={}-{}-4{}-a{}-{}",
            rng.chars(HEX, 8),
            rng.chars(HEX, 4),
            rng.chars(HEX, 3),
            rng.chars(HEX, 3),
            rng.chars(HEX, 12)
        ),
        2 => format!(
            "\"version\": \"{}.{}.{}\", node v{}.{}.{}",
            rng.below(20),
            rng.below(40),
            rng.below(100),
            rng.below(23),
            rng.below(20),
            rng.below(10)
        ),
        3 => format!(
            "resolved {}.{}.{}.{} in {} ms",
            11 + rng.below(150),
            rng.below(256),
            rng.below(256),
            rng.below(256),
            rng.below(900)
        ),
        4 => format!("data:image/png;base64,{}", rng.chars(BASE64, 120)),
        5 => format!(
            "order {} total {} created_at {}",
            rng.chars(b"0123456789", 12),
            rng.below(100000),
            1_700_000_000_000u64 + rng.next() % 100_000_000
        ),
        6 => format!(
            "fn {}_{}() -> Result<(), Error> {{ multi-threaded i-node cache; hi-{} }}",
            rng.pick(WORDS),
            rng.pick(ENVS),
            rng.pick(WORDS)
        ),
        7 => format!(
            "GET https://ec2.{}.amazonaws.com/?Action=DescribeInstances 200",
            rng.pick(REGIONS)
        ),
        8 => format!("sha256:{}  {}.tar.gz", rng.chars(HEX, 64), rng.pick(WORDS)),
        _ => format!(
            "aws s3api create-bucket then list-buckets; the bucket policy for {} is fine",
            rng.pick(WORDS)
        ),
    }
}

fn tool_definitions(rng: &mut Rng, count: usize) -> Value {
    let names = [
        "Bash",
        "Read",
        "Write",
        "Edit",
        "Glob",
        "Grep",
        "WebFetch",
        "TodoWrite",
        "Task",
        "NotebookEdit",
        "BashOutput",
        "KillShell",
    ];
    let tools: Vec<Value> = (0..count)
        .map(|i| {
            let name = format!("{}{}", names[i % names.len()], if i >= names.len() { "2" } else { "" });
            let description: String = (0..40).map(|_| format!("{} ", clean_line(rng).split_whitespace().next().unwrap_or("x"))).collect();
            json!({
                "name": name,
                "description": format!("Use this tool to {description}. It runs in the working directory and returns output."),
                "input_schema": {
                    "type": "object",
                    "properties": {
                        "command": {"type": "string", "description": "The command to execute"},
                        "timeout": {"type": "number", "description": "Optional timeout in milliseconds (max 600000)"},
                        "description": {"type": "string", "description": "Clear, concise description of what this command does in 5-10 words"}
                    },
                    "required": ["command"],
                    "additionalProperties": false,
                    "$schema": "http://json-schema.org/draft-07/schema#"
                }
            })
        })
        .collect();
    Value::Array(tools)
}

/// A generated body of about `target_bytes`, and the originals planted in it. Like a real
/// session, it keeps coming back to the same resources: identifiers are drawn from a pool of
/// `pool` per body (each kept with the line shape it was made in).
pub fn body(
    seed: u64,
    target_bytes: usize,
    plant_every: usize,
    pool: usize,
) -> (Vec<u8>, Vec<String>) {
    let mut rng = Rng::new(seed);
    let pool: Vec<Planted> = (0..pool.max(1)).map(|_| planted(&mut rng)).collect();
    let mut planted_originals = Vec::new();
    let mut messages = vec![
        json!({"role": "user", "content": [{"type": "text", "text": "<system-reminder>Context for this session.</system-reminder>"}, {"type": "text", "text": "Why is the deploy failing? Check the instances."}]}),
    ];
    // Claude Code's tool definitions and system prompt take ~60 KB of a real body; a small
    // target gets fewer tools so the conversation still has turns.
    let tool_count = if target_bytes < 100 * 1024 { 3 } else { 24 };
    let lines_per_turn = (target_bytes / 2000).clamp(8, 200);
    let mut size = tool_count * 1500;
    let mut turn = 0;
    while size < target_bytes {
        turn += 1;
        let id = format!("toolu_{:024x}", rng.next());
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me look at the current state."},
            {"type": "tool_use", "id": id, "name": "Bash", "input": {"command": "aws ec2 describe-instances --output json", "description": "List instances"}}
        ]}));
        let mut output = String::new();
        for line in 0..lines_per_turn {
            if plant_every > 0 && line % plant_every == 0 {
                let p = &pool[rng.below(pool.len())];
                output.push_str(&p.line);
                planted_originals.push(p.original.clone());
            } else {
                output.push_str(&clean_line(&mut rng));
            }
            output.push('\n');
        }
        size += output.len();
        messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": output}]}));
        if turn % 5 == 0 {
            let thinking = format!("Turn {turn}: thinking about {}", clean_line(&mut rng));
            messages.push(json!({"role": "assistant", "content": [{"type": "thinking", "thinking": thinking, "signature": "EqQBCkYIBxgCKkB"}, {"type": "text", "text": "Continuing."}]}));
            messages.push(json!({"role": "user", "content": "go on"}));
        }
    }
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "tools": tool_definitions(&mut rng, tool_count),
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=cli"},
            {"type": "text", "text": "You are Claude Code, an interactive CLI tool.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": format!("Working directory: /home/dev/{}\nPlatform: linux", rng.pick(WORDS)), "cache_control": {"type": "ephemeral"}}
        ],
        "messages": messages,
        "metadata": {"user_id": format!("{{\"device_id\":\"{}\",\"session_id\":\"{}-{}-4{}-8{}-{}\"}}", rng.chars(HEX, 64), rng.chars(HEX, 8), rng.chars(HEX, 4), rng.chars(HEX, 3), rng.chars(HEX, 3), rng.chars(HEX, 12))},
        "thinking": {"type": "adaptive"}
    });
    (serde_json::to_vec(&body).expect("json"), planted_originals)
}

/// This repository's own text files (sources, UI code, docs), as Claude Code reads them in a
/// session here: real code and prose rather than generated lines.
fn repository_files() -> Vec<(String, String)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    let mut folders = vec![
        root.join("src-tauri"),
        root.join("ui/src"),
        root.join("docs"),
    ];
    while let Some(folder) = folders.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                folders.push(path);
            } else if path
                .extension()
                .is_some_and(|e| e == "rs" || e == "ts" || e == "md" || e == "css")
            {
                if let Ok(text) = std::fs::read_to_string(&path) {
                    let name = path.strip_prefix(root).unwrap_or(&path);
                    files.push((name.display().to_string(), text));
                }
            }
        }
    }
    files.sort();
    files
}

/// A realistic session of about `target_bytes`: the tools and system prompt of [`body`], then
/// turns in which Claude Code reads this repository's files (numbered lines, as its Read
/// tool returns them) and runs `aws` commands whose output holds identifiers drawn from a
/// pool of `pool`, one line in three. Returns the body and the planted originals.
pub fn session_body(seed: u64, target_bytes: usize, pool: usize) -> (Vec<u8>, Vec<String>) {
    let mut rng = Rng::new(seed);
    let files = repository_files();
    assert!(!files.is_empty(), "the repository's sources are readable");
    let pool: Vec<Planted> = (0..pool.max(1)).map(|_| planted(&mut rng)).collect();
    let mut planted_originals = Vec::new();
    let mut messages = vec![
        json!({"role": "user", "content": "The deploy of the ingest service fails since this morning. Look at the code and the account, and tell me why."}),
    ];
    let mut size = 24 * 1500;
    let mut turn = 0;
    while size < target_bytes {
        turn += 1;
        let id = format!("toolu_{:024x}", rng.next());
        let (input, output) = if turn % 4 == 0 {
            let mut output = String::new();
            for line in 0..30 {
                if line % 3 == 0 {
                    let p = &pool[rng.below(pool.len())];
                    output.push_str(&p.line);
                    planted_originals.push(p.original.clone());
                } else {
                    output.push_str(&format!(
                        "            \"State\": {{\"Code\": 16, \"Name\": \"running\"}}, \"LaunchTime\": \"2026-11-{:02}T08:{:02}:00+00:00\",",
                        1 + rng.below(25),
                        rng.below(60)
                    ));
                }
                output.push('\n');
            }
            (
                json!({"command": "aws ec2 describe-instances --output json", "description": "List instances"}),
                output,
            )
        } else {
            let (name, text) = &files[rng.below(files.len())];
            // A Read of at most 250 lines, as Claude Code reads long files in parts: the
            // session's share of AWS output then stays the same however the sources grow.
            let numbered: String = text
                .lines()
                .take(250)
                .enumerate()
                .map(|(n, line)| format!("{:>6}\t{line}\n", n + 1))
                .collect();
            (
                json!({"file_path": format!("/home/dev/maskgate/{name}")}),
                numbered,
            )
        };
        let tool = if input.get("command").is_some() {
            "Bash"
        } else {
            "Read"
        };
        messages.push(json!({"role": "assistant", "content": [
            {"type": "text", "text": "Let me check that."},
            {"type": "tool_use", "id": id, "name": tool, "input": input}
        ]}));
        size += output.len() + 200;
        messages.push(json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": id, "content": output}]}));
    }
    let body = json!({
        "model": "claude-sonnet-4-5",
        "max_tokens": 32000,
        "stream": true,
        "tools": tool_definitions(&mut rng, 24),
        "system": [
            {"type": "text", "text": "You are Claude Code, an interactive CLI tool.", "cache_control": {"type": "ephemeral"}},
            {"type": "text", "text": "Working directory: /home/dev/maskgate\nPlatform: linux", "cache_control": {"type": "ephemeral"}}
        ],
        "messages": messages,
        "metadata": {"user_id": format!("{{\"device_id\":\"{}\"}}", rng.chars(HEX, 64))}
    });
    (serde_json::to_vec(&body).expect("json"), planted_originals)
}
