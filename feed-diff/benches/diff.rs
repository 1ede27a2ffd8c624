//! Diff of two 100k-entry feeds against a plain `HashMap` join of the same keys (entry id,
//! then identifier + version + scheme + term for what the ids leave unmatched), in the same
//! run. Target (issue: feed-diff): within 2× of the join.

use std::collections::HashMap;
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use release_model::feed::{Entry, Feed, ReadOptions, read_feed};

#[path = "../../release-model/benches/support/mod.rs"]
mod support;

/// A candidate from a deployed feed: every 100th entry gets a new `updated`, every 100th
/// (offset) is dropped, and 1% new entries are appended.
fn candidate_of(deployed: &Feed) -> Feed {
    let mut c = deployed.clone();
    let n = c.entries.len();
    for (i, e) in c.entries.iter_mut().enumerate() {
        if i % 100 == 0 {
            e.updated = deployed.entries[(i + 1) % n].updated.clone();
        }
    }
    let extra: Vec<Entry> = deployed.entries[..n / 100]
        .iter()
        .cloned()
        .map(|mut e| {
            e.id = e.id.map(|i| format!("{i}-new").into());
            e.version = e.version.map(|v| format!("{v}-next").into());
            e
        })
        .collect();
    c.entries = c
        .entries
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % 100 != 50)
        .map(|(_, e)| e)
        .collect();
    c.entries.extend(extra);
    c
}

fn join(a: &Feed, b: &Feed) -> usize {
    let by_id: HashMap<&str, usize> = a
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((e.id.as_ref()?.as_str(), i)))
        .collect();
    let key = |e: &Entry| -> Option<(String, String, String, String)> {
        let c = e.categories.first()?;
        Some((
            e.identifier.as_ref()?.as_str().to_owned(),
            e.version.as_ref()?.as_str().to_owned(),
            c.scheme.as_deref().unwrap_or("").to_owned(),
            c.term.to_string(),
        ))
    };
    let by_key: HashMap<_, usize> = a
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((key(e)?, i)))
        .collect();
    let mut matched = 0;
    for e in &b.entries {
        let hit =
            e.id.as_ref()
                .and_then(|i| by_id.get(i.as_str()))
                .or_else(|| key(e).and_then(|k| by_key.get(&k)));
        if let Some(&i) = hit {
            matched += usize::from(a.entries[i] == *e);
        }
    }
    matched
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("diff");
    group.sample_size(10);
    for n in [10_000usize, 100_000] {
        let xml = support::ncts_shaped(n);
        let deployed = read_feed(xml.as_bytes(), &ReadOptions::lenient())
            .expect("reads")
            .feed;
        let candidate = candidate_of(&deployed);
        group.bench_with_input(
            BenchmarkId::new("hashmap_join", n),
            &(&deployed, &candidate),
            |b, (d, c)| b.iter(|| join(black_box(d), black_box(c))),
        );
        group.bench_with_input(
            BenchmarkId::new("feed_diff", n),
            &(&deployed, &candidate),
            |b, (d, c)| b.iter(|| feed_diff::diff(black_box(d), black_box(c)).updated.len()),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
