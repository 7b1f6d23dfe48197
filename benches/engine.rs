//! Masking throughput on 1 MB bodies with every catalog kind on, on one thread (the issue's
//! measure) and on all cores (what a request gets):
//! - a realistic session: Claude Code reading this repository's own source files and running
//!   `aws` commands whose output holds an identifier every third line (the target
//!   applies here);
//! - a stress body: tool results made only of identifier lines and dense look-alikes (git
//!   SHAs, UUIDs, versions, `.amazonaws.com` endpoints, `bucket` words), an identifier every
//!   10 lines, the worst case we know for the anchors;
//! - 1 MB of look-alikes with no identifier at all;
//! - the realistic session again with 1,000 always-mask entries (literals and globs, a few of
//!   which occur in it), the user's lists at the size the issue asks for.
//!
//! `cargo bench --no-default-features --bench engine`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use maskgate::mask::{mask_json, mask_json_with_threads, mask_text, AlwaysMask, Engine, Lists};
use maskgate::restore::{Escaping, Restorer};

/// The allocator the `maskgate` binary ships with.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[path = "../tests/integration/support/corpus.rs"]
#[allow(dead_code)]
mod corpus;

fn bench_body(c: &mut Criterion, group_name: &str, engine: &Engine, body: &[u8], planted: usize) {
    let (masked, _) = mask_json(engine, body).expect("valid body");
    let restorer = Restorer::new(&masked.table);
    let masked_text = String::from_utf8(masked.output.clone()).expect("utf8");
    eprintln!(
        "{group_name}: {} bytes, {planted} planted identifiers, {} tokens",
        body.len(),
        masked.table.len()
    );
    let mut group = c.benchmark_group(group_name);
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("mask_json (all kinds on, one thread)", |b| {
        b.iter(|| mask_json_with_threads(engine, body, 1).expect("valid"))
    });
    group.bench_function("mask_json (all kinds on, all cores)", |b| {
        b.iter(|| mask_json(engine, body).expect("valid"))
    });
    group.bench_function("restore (whole body)", |b| {
        b.iter(|| restorer.restore(&masked_text, Escaping::JsonString))
    });
    group.bench_function("serde_json parse to Value (reference)", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(body).expect("valid"))
    });
    group.finish();
}

fn engine(c: &mut Criterion) {
    let engine = Engine::with_all_builtins();
    let (session, planted) = corpus::session_body(1, 1024 * 1024, 80);
    bench_body(c, "1MB realistic session", &engine, &session, planted.len());
    let listed = Engine::with_lists(|_| true, &[], &thousand_entries()).expect("lists compile");
    let mut group = c.benchmark_group("1MB realistic session, 1,000 always-mask entries");
    group.throughput(Throughput::Bytes(session.len() as u64));
    group.bench_function("mask_json (all kinds on, one thread)", |b| {
        b.iter(|| mask_json_with_threads(&listed, &session, 1).expect("valid"))
    });
    group.finish();
    let (stress, planted) = corpus::body(1, 1024 * 1024, 10, 80);
    bench_body(c, "1MB stress body", &engine, &stress, planted.len());

    let mut rng = corpus::Rng::new(5);
    let clean: String = (0..14_000)
        .map(|_| corpus::clean_line(&mut rng) + "\n")
        .collect();
    let mut group = c.benchmark_group("1MB look-alikes, no identifiers");
    group.throughput(Throughput::Bytes(clean.len() as u64));
    group.bench_function("mask_text (all kinds on)", |b| {
        b.iter(|| mask_text(&engine, &clean))
    });
    group.finish();
}

/// A large team's list: codenames, hosts and globs, most of which never occur, a few that do.
fn thousand_entries() -> Lists {
    let mut rng = corpus::Rng::new(9);
    let always = (0..1000)
        .map(|n| {
            let len = 5 + rng.below(6);
            let word = rng.chars(b"abcdefghijklmnopqrstuvwxyz", len);
            let value = match n % 4 {
                0 => format!("{word}-*"),
                1 => format!("*.{word}.corp.example.com"),
                2 => format!("project-{word}-{n}"),
                _ => word,
            };
            AlwaysMask {
                value,
                token_prefix: format!("TEAM{}", n % 8),
            }
        })
        // Words the session's source files hold, so some entries do match.
        .chain(
            ["restorer", "json_strings", "walk_*", "*_text"].map(|value| AlwaysMask {
                value: value.to_owned(),
                token_prefix: "TEAM0".to_owned(),
            }),
        )
        .collect();
    Lists {
        always,
        ..Lists::default()
    }
}

criterion_group!(benches, engine);
criterion_main!(benches);
