//! Feed reading throughput on generated NCTS-shaped feeds of 1k, 10k and 100k entries.
//!
//! In the same run: a raw `quick-xml` event loop over the same bytes (the practical limit),
//! our full read into `Feed`, our streaming read, and the peer crates `feed-rs` and
//! `atom_syndication`. Targets (issue: feed codec): full read ≥ 0.5× the raw tokenizer,
//! ≥ 5× feed-rs, ≥ 3× atom_syndication.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

mod readers;
mod support;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("feed_read");
    group.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let xml = support::ncts_shaped(n);
        let bytes = xml.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        for (name, read) in readers::READERS {
            group.bench_with_input(BenchmarkId::new(name, n), bytes, |b, x| b.iter(|| read(x)));
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
