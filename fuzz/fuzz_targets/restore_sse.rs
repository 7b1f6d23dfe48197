//! Any bytes as a streamed answer, cut anywhere: restoring never panics, and the output does
//! not depend on how the stream was cut.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use maskgate::mask::TokenTable;
use maskgate::restore::{Restorer, SseRestorer};

fn run(restorer: &Arc<Restorer>, stream: &[u8], cuts: &[usize]) -> Vec<u8> {
    let mut sse = SseRestorer::new(Arc::clone(restorer));
    let mut out = Vec::new();
    let mut from = 0;
    for &cut in cuts.iter().chain([&stream.len()]) {
        match sse.push(&stream[from..cut]) {
            Ok(sent) => out.extend(sent),
            Err(_) => return out,
        }
        from = cut;
    }
    out.extend(sse.finish(None));
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    let mut table = TokenTable::default();
    table.token_for("EC2_INSTANCE", "ec2_instance", "i-0123456789abcdef0");
    table.token_for("VPC", "vpc", "vpc-\"quoted\"\\");
    let restorer = Arc::new(Restorer::new(&table));
    let mut cuts: Vec<usize> = (0..seed % 8)
        .map(|n| (usize::from(seed) * 31 + n as usize * 97) % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();
    let whole = run(&restorer, stream, &[]);
    assert_eq!(run(&restorer, stream, &cuts), whole);
});
