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

use std::time::{Duration, Instant};

mod readers;
mod support;

/// Time each reader gets in a round, at least: a reader is run this long, in whole reads.
const SLICE: Duration = Duration::from_millis(60);

/// The full read's targets: against which reader, and the ratio it must reach.
const TARGETS: [(usize, f64); 3] = [(RAW, 0.5), (FEED_RS, 5.0), (ATOM, 3.0)];
const RAW: usize = 0;
const FULL: usize = 1;
const FEED_RS: usize = 3;
const ATOM: usize = 4;

fn main() {
    let rounds = std::env::args()
        .skip(1)
        .find_map(|a| a.parse::<usize>().ok())
        .unwrap_or(15)
        .max(1);
    println!("{rounds} rounds; MiB/s is each reader's median over the rounds");
    for n in [1_000usize, 10_000, 100_000] {
        let xml = support::ncts_shaped(n);
        let bytes = xml.as_bytes();
        let mib = bytes.len() as f64 / f64::from(1 << 20);
        // Reads per round: as many as fill the slice, judged from one read after a warm-up.
        let reads: Vec<u32> = readers::READERS
            .iter()
            .map(|(_, read)| {
                read(bytes);
                let start = Instant::now();
                read(bytes);
                let once = start.elapsed().as_secs_f64().max(1e-6);
                (SLICE.as_secs_f64() / once).ceil().clamp(1.0, 10_000.0) as u32
            })
            .collect();
        let mut speeds: Vec<Vec<f64>> = vec![Vec::with_capacity(rounds); readers::READERS.len()];
        for round in 0..rounds {
            for k in 0..readers::READERS.len() {
                let i = (k + round) % readers::READERS.len();
                let (_, read) = readers::READERS[i];
                let start = Instant::now();
                for _ in 0..reads[i] {
                    std::hint::black_box(read(bytes));
                }
                let seconds = start.elapsed().as_secs_f64();
                speeds[i].push(mib * f64::from(reads[i]) / seconds);
            }
        }
        println!("\n{n} entries ({mib:.1} MiB)");
        for (i, (name, _)) in readers::READERS.iter().enumerate() {
            println!("  {name:<20} {:>7.1} MiB/s", median(&speeds[i]));
        }
        for (against, target) in TARGETS {
            let ratios: Vec<f64> = speeds[FULL]
                .iter()
                .zip(&speeds[against])
                .map(|(full, other)| full / other)
                .collect();
            let (low, high) = range(&ratios);
            let m = median(&ratios);
            println!(
                "  full / {:<20} {m:>5.2}× (rounds {low:.2}–{high:.2}); target {target}×: {}",
                readers::READERS[against].0,
                if m >= target { "met" } else { "not met" }
            );
        }
    }
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
