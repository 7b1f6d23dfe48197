//! Properties of masking and restoring together, over generated inputs (here, where both
//! are visible: `mask` itself uses nothing else of ours): masking then restoring gives the
//! input back (text, and JSON bodies byte for byte), no original survives, and a
//! conversation's masked prefix never changes as turns are added (unless a new turn reveals
//! a word of the prefix to be an identifier).

use proptest::prelude::*;

use crate::mask::engine::{Scratch, SharedScan, TOKEN_TEXT_KIND};
use crate::mask::walk_text::{KEY_END, STRING_END};
use crate::mask::{mask_json, mask_text, AlwaysMask, Engine, Lists};
use crate::restore::{Escaping, Restorer};

/// Identifiers of several kinds and words that sit next to them in real text.
const FRAGMENTS: &[&str] = &[
    "i-0a1b2c3d4e5f67890",
    "vpc-12345678",
    "sg-0123456789abcdef0",
    "10.0.3.7",
    "172.20.1.1/24",
    "arn:aws:iam::123456789012:role/Ops",
    "s3://acme-logs/2026/",
    "AKIAIOSFODNN7EXAMPLE",
    "db.abc123.eu-west-1.rds.amazonaws.com",
    "team-data-bucket",
    "Account: 210987654321",
    "EC2_INSTANCE_001",
    "VPC_002",
    "stop",
    "the",
    "instance",
    " ",
    "\n",
    ",",
    ".",
    "\"",
    "\\",
    "é",
    "-",
    ":",
    "8.8.8.8",
    "3f786850e387550fdab836ed7e6dc881de23001b",
    "i-node",
    "0",
    "42",
];

/// Fragments run together in any order, separators or not.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40).prop_map(|parts| parts.concat())
}

/// Fragments as prose has them: separated by spaces, punctuation or line breaks.
fn prose() -> impl Strategy<Value = String> {
    let separator = prop::sample::select(&[" ", "\n", ", ", "\"", ": ", "\t", "("][..]);
    prop::collection::vec((prop::sample::select(FRAGMENTS), separator), 0..40)
        .prop_map(|parts| parts.into_iter().flat_map(|(f, s)| [f, s]).collect())
}

fn message(text: &str) -> String {
    format!(
        "{{\"role\":\"user\",\"content\":[{{\"type\":\"text\",\"text\":{}}}]}}",
        serde_json::to_string(text).expect("string")
    )
}

proptest! {
    #[test]
    fn mask_then_restore_gives_the_text_back(input in text()) {
        let engine = Engine::with_all_builtins();
        let masked = mask_text(&engine, &input);
        let restorer = Restorer::new(&masked.table);
        prop_assert_eq!(restorer.restore(&masked.output, Escaping::Raw), input.as_str());
    }

    #[test]
    fn no_original_survives_masking(input in prose()) {
        let engine = Engine::with_all_builtins();
        let masked = mask_text(&engine, &input);
        for entry in masked.table.entries().iter().filter(|e| e.kind != TOKEN_TEXT_KIND) {
            prop_assert!(!masked.output.contains(entry.original), "{} left in {}", entry.original, masked.output);
        }
    }

    #[test]
    fn json_bodies_restore_byte_for_byte_and_keep_no_original(turns in prop::collection::vec(prose(), 1..5), ascii_escapes in any::<bool>()) {
        // Strings full of escapes (quotes, backslashes, line breaks, tabs; `é` as `\u00e9`
        // when asked): every masked span must map back onto the raw bytes it was decoded from.
        let engine = Engine::with_all_builtins();
        let mut body = format!(
            "{{\"messages\":[{}],\"system\":{}}}",
            turns.iter().map(|t| message(t)).collect::<Vec<_>>().join(","),
            serde_json::to_string(&turns.concat()).expect("string")
        );
        if ascii_escapes {
            body = body.replace('é', "\\u00e9");
        }
        let (masked, _) = mask_json(&engine, body.as_bytes()).expect("valid JSON");
        let output = String::from_utf8(masked.output).expect("utf8");
        for entry in masked.table.entries().iter().filter(|e| e.kind != TOKEN_TEXT_KIND) {
            prop_assert!(!output.contains(entry.original), "{} left in {}", entry.original, output);
        }
        let restorer = Restorer::new(&masked.table);
        prop_assert_eq!(restorer.restore(&output, Escaping::JsonString), body.as_str());
    }

    #[test]
    fn scanning_in_parts_finds_what_one_scan_finds(
        strings in prop::collection::vec((prop_oneof![
            4 => prose(),
            // A tag's key and value as walk text: anchors that run from a key into a value.
            1 => prop::sample::select(&["Key", "Name", "Value"][..]).prop_map(str::to_owned),
        ], any::<bool>()), 1..12),
        threads in 2usize..5,
    ) {
        // A walk text: strings ended as values or keys. Parts as small as one byte, so every
        // value end can become a cut.
        let text: String = strings
            .iter()
            .map(|(s, key)| format!("{s}{}", if *key { KEY_END } else { STRING_END }))
            .collect();
        let engine = Engine::with_all_builtins();
        let mut whole = Vec::new();
        engine.scan(&text, &mut Scratch::default(), &mut whole);
        let shared = SharedScan::new(&text, threads, 1);
        let mut in_parts: Vec<_> = std::thread::scope(|scope| {
            let scans: Vec<_> = (0..threads)
                .map(|_| scope.spawn(|| engine.scan_shared(&shared, &mut Scratch::default())))
                .collect();
            scans.into_iter().flat_map(|s| s.join().expect("scanned")).collect()
        });
        engine.resolve(&mut in_parts, &mut Vec::new());
        prop_assert_eq!(in_parts, whole);
    }

    #[test]
    fn a_labelled_name_is_masked_where_it_stands_whatever_its_bytes(
        name in "[A-Za-z0-9][A-Za-z0-9._/+=@-]{0,62}",
        form in 0..5usize,
    ) {
        prop_assume!(!["null", "none", "nil", "undefined", "true", "false", "redacted"]
            .contains(&name.to_ascii_lowercase().as_str()));
        // Placeholders (`xxxx`, `X.X`) are left alone by design.
        prop_assume!(!name.bytes().all(|b| matches!(b, b'x' | b'X' | b'.' | b'-')));
        let text = match form {
            0 => format!("aws lambda invoke --function-name {name} out.json"),
            1 => format!("{{\"FunctionName\": \"{name}\", \"Runtime\": \"python3.12\"}}"),
            2 => format!("Properties:\n  FunctionName: {name}\n"),
            3 => format!("resource \"aws_lambda_function\" \"f\" {{\n  function_name = \"{name}\"\n}}\n"),
            _ => format!("{{\"Key\": \"Name\", \"Value\": \"{name}\"}}"),
        };
        let engine = Engine::with_all_builtins();
        let masked = mask_text(&engine, &text);
        prop_assert!(
            masked.table.entries().iter().any(|e| e.original == name),
            "{name:?} not masked in {text:?}: {}", masked.output
        );
        let restorer = Restorer::new(&masked.table);
        prop_assert_eq!(restorer.restore(&masked.output, Escaping::Raw), text);
    }

    #[test]
    fn never_mask_always_wins(input in prose(), pick in any::<prop::sample::Index>()) {
        let engine = Engine::with_all_builtins();
        let first = mask_text(&engine, &input);
        let originals: Vec<&str> = first.table.entries().iter()
            .filter(|e| e.kind != TOKEN_TEXT_KIND)
            .map(|e| e.original)
            .collect();
        prop_assume!(!originals.is_empty());
        let kept = pick.get(&originals).to_ascii_uppercase();
        let lists = Lists { never: vec![kept.clone()], ..Lists::default() };
        let engine = Engine::with_lists(|_| true, &[], &lists).expect("engine");
        let masked = mask_text(&engine, &input);
        prop_assert!(
            !masked.table.entries().iter().any(|e| e.original.eq_ignore_ascii_case(&kept)),
            "{kept} was masked in {}", masked.output
        );
        let restorer = Restorer::new(&masked.table);
        prop_assert_eq!(restorer.restore(&masked.output, Escaping::Raw), input);
    }

    #[test]
    fn always_mask_entries_are_literals(
        entry in "[a-z]{2}[.()+?|^$\\[\\]{}]{1,3}[a-z]{1,3}",
        decoy_byte in "[a-z]",
    ) {
        // The same entry with its punctuation replaced: what a regex would also have matched.
        let decoy: String = entry.chars()
            .map(|c| if c.is_ascii_lowercase() { c } else { decoy_byte.chars().next().unwrap_or('q') })
            .collect();
        let text = format!("see {entry} and {decoy} here");
        let lists = Lists {
            always: vec![AlwaysMask { value: entry.clone(), token_prefix: "CODENAME".into() }],
            ..Lists::default()
        };
        let engine = Engine::with_lists(|_| true, &[], &lists).expect("engine");
        let masked = mask_text(&engine, &text);
        prop_assert_eq!(masked.output, format!("see CODENAME_001 and {decoy} here"));
    }

    #[test]
    fn masked_prefix_is_stable_as_turns_are_added(turns in prop::collection::vec(text(), 1..6), extra in prop::collection::vec(text(), 1..3)) {
        let engine = Engine::with_all_builtins();
        let head = format!(
            "{{\"tools\":[{{\"name\":\"Bash\",\"description\":\"runs in vpc-0aaaaaaa\"}}],\"system\":\"env 10.9.8.7\",\"messages\":[{}",
            turns.iter().map(|t| message(t)).collect::<Vec<_>>().join(",")
        );
        let shorter = format!("{head}]}}");
        let longer = format!("{head},{}]}}", extra.iter().map(|t| message(t)).collect::<Vec<_>>().join(","));
        let (short, _) = mask_json(&engine, shorter.as_bytes()).expect("valid JSON");
        let (long, _) = mask_json(&engine, longer.as_bytes()).expect("valid JSON");
        // A new turn that reveals a word of the prefix to be an identifier (an account that
        // stood bare, seen now inside an ARN) masks it there too: the prefix changes, by design.
        let short_text = String::from_utf8_lossy(&short.output).into_owned();
        let revealed = long.table.entries().iter().any(|e| {
            crate::mask::catalog::kind(e.kind).is_some_and(|k| k.spread.reaches(e.original))
                && short_text.contains(e.original)
        });
        prop_assume!(!revealed);
        let prefix = &short.output[..short.output.len() - 2];
        prop_assert!(long.output.starts_with(prefix), "prefix changed:\n{}\n{}", String::from_utf8_lossy(prefix), String::from_utf8_lossy(&long.output));
    }
}
