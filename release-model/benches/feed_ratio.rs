//! The feed codec's speed targets as ratios measured round by round.
//!
//! `feed_read` measures each reader for seconds before the next one starts, so a slow spell
//! on a shared machine lands on one reader and skews every ratio it is in. Here all five
//! readers run in each round, in an order that rotates, and each round gives its own ratios
//! of the full read to the raw tokenizer, feed-rs and atom_syndication. The report gives
//! each reader's median throughput, each ratio's median with its range over the rounds, and
//! whether the median meets the target (issue: feed codec): full read ≥ 0.5× the raw
//! tokenizer, ≥ 5× feed-rs, ≥ 3× atom_syndication.
//!
//! `cargo bench -p release-model --bench feed_ratio`, about 80 seconds on two CPUs; a number
//! after `--` sets the rounds (default 15).
//!
//! With `-- --ceiling`, three probes join the rounds (see `ceiling`): the reader's tokenizer
//! alone, a fill of the same entries specialised to the generated feed, and a copy of the
//! model. The report then also gives the specialised fill's ratios against the same targets:
//! how fast a reader can be with this model when it does less than the full read must.
//!
//! With `-- --distinct`, every entry's author, rights and summary are made its own. The
//! generated feed repeats them as NCTS does (its publisher on every entry, one copyright
//! notice, a release's summary on each of its packages), and the full read shares what
//! repeats; this shows what a feed without that repetition reads at.

use std::time::{Duration, Instant};

use release_model::feed::{ReadOptions, read_feed};

mod ceiling;
mod readers;
mod support;

/// Time each reader gets in a round, at least: a reader is run this long, in whole reads.
const SLICE: Duration = Duration::from_millis(60);

/// The targets: against which reader, and the ratio to reach.
const TARGETS: [(usize, f64); 3] = [(RAW, 0.5), (FEED_RS, 5.0), (ATOM, 3.0)];
const RAW: usize = 0;
const FULL: usize = 1;
const FEED_RS: usize = 3;
const ATOM: usize = 4;
/// Where the specialised fill sits in the list, with `--ceiling`.
const SPECIALISED: usize = 6;

/// A reader in the rounds: its name and one whole read of the bytes, returning a count.
type Timed<'a> = (&'a str, Box<dyn Fn(&[u8]) -> usize + 'a>);

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rounds = args
        .iter()
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(15)
        .max(1);
    let probes = args.iter().any(|a| a == "--ceiling");
    let distinct = args.iter().any(|a| a == "--distinct");
    println!("{rounds} rounds; MiB/s is each reader's median over the rounds");
    if distinct {
        println!("every entry's author, rights and summary are its own");
    }
    for n in [1_000usize, 10_000, 100_000] {
        let xml = support::ncts_shaped(n);
        let xml = if distinct { distinct_texts(&xml) } else { xml };
        let bytes = xml.as_bytes();
        let mib = bytes.len() as f64 / f64::from(1 << 20);
        let feed = read_feed(bytes, &ReadOptions::lenient())
            .expect("generated feed reads")
            .feed;
        let mut list: Vec<Timed> = readers::READERS
            .iter()
            .map(|&(name, read)| (name, Box::new(read) as Box<dyn Fn(&[u8]) -> usize>))
            .collect();
        if probes {
            // The probe is worth nothing unless it builds what the full read builds.
            assert!(
                ceiling::specialised(bytes) == feed.entries,
                "the specialised fill reads the generated feed as the full read does"
            );
            list.push(("our_tokenizer_only", Box::new(ceiling::tokens)));
            list.push((
                "specialised_fill",
                Box::new(|b| ceiling::specialised(b).len()),
            ));
            list.push(("model_clone", Box::new(|_| ceiling::clone_model(&feed))));
        }
        // Reads per round: as many as fill the slice, judged from one read after a warm-up.
        let reads: Vec<u32> = list
            .iter()
            .map(|(_, read)| {
                read(bytes);
                let start = Instant::now();
                read(bytes);
                let once = start.elapsed().as_secs_f64().max(1e-6);
                (SLICE.as_secs_f64() / once).ceil().clamp(1.0, 10_000.0) as u32
            })
            .collect();
        let mut speeds: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); list.len()];
        for round in 0..rounds {
            for k in 0..list.len() {
                let i = (k + round) % list.len();
                let read = &list[i].1;
                let start = Instant::now();
                for _ in 0..reads[i] {
                    std::hint::black_box(read(bytes));
                }
                let seconds = start.elapsed().as_secs_f64();
                speeds[i].push(mib * f64::from(reads[i]) / seconds);
            }
        }
        println!("\n{n} entries ({mib:.1} MiB)");
        for (i, (name, _)) in list.iter().enumerate() {
            println!("  {name:<20} {:>7.1} MiB/s", median(&speeds[i]));
        }
        let measured: &[usize] = if probes {
            &[FULL, SPECIALISED]
        } else {
            &[FULL]
        };
        for &reader in measured {
            for (against, target) in TARGETS {
                let ratios: Vec<f64> = speeds[reader]
                    .iter()
                    .zip(&speeds[against])
                    .map(|(ours, other)| ours / other)
                    .collect();
                let (low, high) = range(&ratios);
                let m = median(&ratios);
                println!(
                    "  {} / {:<20} {m:>6.3}× (rounds {low:.2}–{high:.2}); target {target}×: {}",
                    if reader == FULL {
                        "full"
                    } else {
                        "specialised"
                    },
                    list[against].0,
                    if m >= target { "met" } else { "not met" }
                );
            }
        }
    }
}

/// The feed with each entry's author email, rights and summary numbered, so that no two
/// entries share them.
fn distinct_texts(xml: &str) -> String {
    let mut pieces = xml.split("<entry>");
    let mut out = String::with_capacity(xml.len() + xml.len() / 32);
    out.push_str(pieces.next().unwrap_or_default());
    for (i, entry) in pieces.enumerate() {
        let entry = entry
            .replacen("<email>help@", &format!("<email>help+{i}@"), 1)
            .replacen("<rights>Copyright", &format!("<rights>{i} Copyright"), 1)
            .replacen("<summary>SNOMED", &format!("<summary>{i} SNOMED"), 1);
        out.push_str("<entry>");
        out.push_str(&entry);
    }
    out
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v
}

fn median(values: &[f64]) -> f64 {
    let v = sorted(values);
    match v.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

fn range(values: &[f64]) -> (f64, f64) {
    let v = sorted(values);
    (
        v.first().copied().unwrap_or(f64::NAN),
        v.last().copied().unwrap_or(f64::NAN),
    )
}
