//! Feed reading throughput on generated NCTS-shaped feeds of 1k, 10k and 100k entries.
//!
//! In the same run: a raw `quick-xml` event loop over the same bytes (the practical limit),
//! our full read into `Feed`, our streaming read, and the peer crates `feed-rs` and
//! `atom_syndication`. Targets (issue: feed codec): full read ≥ 0.5× the raw tokenizer,
//! ≥ 5× feed-rs, ≥ 3× atom_syndication.

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use quick_xml::events::Event;
use release_model::feed::{EntryReader, ReadOptions, read_feed};

mod support;

fn raw_tokenizer(bytes: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut events = 0;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) => return events,
            Ok(e) => {
                black_box(&e);
                events += 1;
            }
            Err(e) => panic!("generated feed is well-formed: {e}"),
        }
    }
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("feed_read");
    group.sample_size(10);
    for n in [1_000usize, 10_000, 100_000] {
        let xml = support::ncts_shaped(n);
        let bytes = xml.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_with_input(
            BenchmarkId::new("quick_xml_raw_events", n),
            bytes,
            |b, x| b.iter(|| raw_tokenizer(x)),
        );
        group.bench_with_input(BenchmarkId::new("release_model_full", n), bytes, |b, x| {
            b.iter(|| {
                read_feed(x, &ReadOptions::lenient())
                    .expect("reads")
                    .feed
                    .entries
                    .len()
            })
        });
        group.bench_with_input(
            BenchmarkId::new("release_model_stream", n),
            bytes,
            |b, x| {
                b.iter(|| {
                    EntryReader::new(x, &ReadOptions::lenient())
                        .expect("starts")
                        .try_fold(0usize, |n, e| e.map(|_| n + 1))
                        .expect("entries read")
                })
            },
        );
        group.bench_with_input(BenchmarkId::new("feed_rs", n), bytes, |b, x| {
            b.iter(|| {
                feed_rs::parser::parse(x)
                    .expect("feed-rs parses")
                    .entries
                    .len()
            })
        });
        group.bench_with_input(BenchmarkId::new("atom_syndication", n), bytes, |b, x| {
            b.iter(|| {
                atom_syndication::Feed::read_from(x)
                    .expect("atom parses")
                    .entries
                    .len()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
