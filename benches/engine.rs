//! Masking throughput on realistic bodies: a generated 1 MB Claude-Code-shaped request
//! (tools, system, a long tool loop of `aws` output with an identifier every 10 lines, drawn
//! from 80 resources as a real session keeps returning to the same ones), with every catalog
//! kind on; and 1 MB of identifier-free text. `cargo bench --bench engine`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use maskgate::mask::{mask_json, mask_text, Engine};
use maskgate::restore::{Escaping, Restorer};

#[path = "../tests/integration/support/corpus.rs"]
#[allow(dead_code)]
mod corpus;

fn engine(c: &mut Criterion) {
    let engine = Engine::with_all_builtins();
    let (body, planted) = corpus::body(1, 1024 * 1024, 10, 80);
    let mut rng = corpus::Rng::new(5);
    let clean: String = (0..14_000)
        .map(|_| corpus::clean_line(&mut rng) + "\n")
        .collect();
    let text: String = serde_json::from_slice::<serde_json::Value>(&body)
        .expect("json")
        .to_string();
    let (masked, _) = mask_json(&engine, &body).expect("valid body");
    let restorer = Restorer::new(&masked.table);
    let masked_text = String::from_utf8(masked.output.clone()).expect("utf8");
    eprintln!(
        "body: {} bytes, {} planted identifiers, {} tokens",
        body.len(),
        planted.len(),
        masked.table.len()
    );

    let mut group = c.benchmark_group("1MB Claude Code body");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.bench_function("mask_json (all kinds on)", |b| {
        b.iter(|| mask_json(&engine, &body).expect("valid"))
    });
    group.bench_function("mask_text (all kinds on)", |b| {
        b.iter(|| mask_text(&engine, &text))
    });
    group.bench_function("mask_text, no identifiers", |b| {
        b.iter(|| mask_text(&engine, &clean))
    });
    group.bench_function("restore (whole body)", |b| {
        b.iter(|| restorer.restore(&masked_text, Escaping::JsonString))
    });
    group.bench_function("serde_json parse to Value (reference)", |b| {
        b.iter(|| serde_json::from_slice::<serde_json::Value>(&body).expect("valid"))
    });
    group.finish();
}

criterion_group!(benches, engine);
criterion_main!(benches);
