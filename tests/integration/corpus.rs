//! Recall and false positives over a generated corpus of Claude-Code-shaped bodies
//! (see support/corpus.rs): every planted identifier must be masked (recall 100%, zero
//! leaks), also in a session that reads this repository's real source files, and the clean
//! corpus of look-alikes must come through unchanged.

use maskgate::mask::{mask_json, mask_json_with_threads, mask_text, Engine};
use maskgate::restore::{Escaping, Restorer};

use crate::support::corpus::{body, clean_line, session_body, Rng};

#[test]
fn every_planted_identifier_is_masked_and_restorable() {
    let engine = Engine::with_all_builtins();
    let mut planted_total = 0;
    for seed in 0..12 {
        let (input, planted) = body(seed, 64 * 1024, 3, 400);
        planted_total += planted.len();
        let (masked, _) = mask_json(&engine, &input).expect("generated bodies are valid JSON");
        let output = String::from_utf8(masked.output).expect("utf8");
        for original in &planted {
            assert!(
                !output.contains(original.as_str()),
                "seed {seed}: {original} leaked"
            );
        }
        // Unmasking the whole body gives the input back, byte for byte.
        let restorer = Restorer::new(&masked.table);
        assert_eq!(
            restorer.restore(&output, Escaping::JsonString).as_bytes(),
            &input[..],
            "seed {seed}"
        );
    }
    assert!(
        planted_total > 1000,
        "the corpus plants {planted_total} identifiers"
    );
}

#[test]
fn a_session_over_real_source_files_leaks_nothing_and_restores_exactly() {
    let engine = Engine::with_all_builtins();
    let (input, planted) = session_body(3, 512 * 1024, 80);
    assert!(planted.len() > 100, "{} planted", planted.len());
    let (masked, _) = mask_json(&engine, &input).expect("valid JSON");
    let output = String::from_utf8(masked.output).expect("utf8");
    for original in &planted {
        assert!(!output.contains(original.as_str()), "{original} leaked");
    }
    let restorer = Restorer::new(&masked.table);
    assert_eq!(
        restorer.restore(&output, Escaping::JsonString).as_bytes(),
        &input[..]
    );
}

#[test]
fn clean_look_alikes_are_not_masked() {
    let engine = Engine::with_all_builtins();
    let mut rng = Rng::new(7);
    let text: String = (0..20_000).map(|_| clean_line(&mut rng) + "\n").collect();
    let masked = mask_text(&engine, &text);
    let megabytes = text.len() as f64 / 1e6;
    let false_positives: usize = masked.counts.values().sum();
    eprintln!(
        "clean corpus: {megabytes:.2} MB, {false_positives} false positives ({:.2}/MB)",
        false_positives as f64 / megabytes
    );
    assert_eq!(
        false_positives,
        0,
        "false positives: {:?}",
        masked.table.entries().iter().take(10).collect::<Vec<_>>()
    );
}

#[test]
fn a_large_body_masks_the_same_on_one_thread_and_on_four() {
    let engine = Engine::with_all_builtins();
    let (body, _) = body(9, 1024 * 1024, 10, 80);
    let (one, _) = mask_json_with_threads(&engine, &body, 1).expect("valid JSON");
    let (four, _) = mask_json_with_threads(&engine, &body, 4).expect("valid JSON");
    assert!(one.table.len() > 50, "the body holds identifiers");
    assert_eq!(one.output, four.output);
    assert_eq!(one.table.entries(), four.table.entries());
    assert_eq!(one.counts, four.counts);
}
