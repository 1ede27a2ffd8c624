//! Feed reading throughput: a real-size feed (200 entries, about 1 MB, the size of the live
//! NCTS feed) and generated NCTS-shaped feeds of 100k entries.
//!
//! In the same run: a raw `quick-xml` event loop over the same bytes (what a reader built on
//! quick-xml could reach at best, before building any model), our full read into `Feed`, our
//! streaming read, and the peer crates `feed-rs` and `atom_syndication`. The targets and
//! figures are in `benches/README.md`.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

mod readers;
mod support;

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("feed_read");
    group.sample_size(10);
    for (label, xml) in [
        ("real_size_200", support::real_size()),
        ("generated_100k", support::ncts_shaped(100_000)),
    ] {
        let bytes = xml.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        for (name, read) in readers::READERS {
            group.bench_with_input(BenchmarkId::new(name, label), bytes, |b, x| {
                b.iter(|| read(x))
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
