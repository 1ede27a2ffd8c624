//! Peak heap use of the full and streaming reads of generated NCTS-shaped feeds.
//!
//! Targets (issue: feed codec): streaming read peak ≤ 8 MB at 100k entries; full-read peak ≤
//! 1.2× the input size; foreign markup bounded by `Limits::max_foreign_bytes` whatever its
//! size in the input (the second table). Measured with a counting global allocator; run with
//! `cargo bench -p release-model --bench feed_memory`.
// A global allocator is the one way to observe heap use from inside the process.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use release_model::feed::{EntryReader, Limits, ReadOptions, read_feed};

mod support;

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller upholds `GlobalAlloc::alloc`'s contract, passed on as is.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: as above.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Heap bytes allocated above the starting level at the peak of `f`.
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    let out = f();
    (out, PEAK.load(Ordering::Relaxed) - base)
}

fn mib(n: usize) -> f64 {
    n as f64 / (1024.0 * 1024.0)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` runs it as a smoke test.
    let quick = std::env::args().any(|a| a == "--test" || a == "--quick");
    let sizes: &[usize] = if quick {
        &[1_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    println!(
        "{:>8}  {:>10}  {:>14}  {:>8}  {:>14}",
        "entries", "input MiB", "full peak MiB", "× input", "stream peak MiB"
    );
    for &n in sizes {
        let xml = support::ncts_shaped(n);
        let bytes = xml.as_bytes();
        let (feed, full) = peak_during(|| {
            read_feed(bytes, &ReadOptions::lenient())
                .expect("reads")
                .feed
        });
        assert_eq!(feed.entries.len(), n);
        drop(feed);
        let (count, stream) = peak_during(|| {
            EntryReader::new(bytes, &ReadOptions::lenient())
                .expect("starts")
                .try_fold(0usize, |n, e| e.map(|_| n + 1))
                .expect("entries read")
        });
        assert_eq!(count, n);
        println!(
            "{n:>8}  {:>10.1}  {:>14.1}  {:>8.2}  {:>14.3}",
            mib(bytes.len()),
            mib(full),
            full as f64 / bytes.len() as f64,
            mib(stream)
        );
    }

    foreign_markup(quick);
}

/// Foreign markup of tiny elements costs the model many times its size in the input; the
/// limit bounds what a read keeps, so a flood stops at about the limit.
fn foreign_markup(quick: bool) {
    let counts: &[usize] = if quick {
        &[10_000]
    } else {
        &[10_000, 100_000, 1_000_000]
    };
    let limit = 16usize << 20;
    println!();
    println!(
        "{:>10}  {:>10}  {:>14}  {:>8}  {:>22}",
        "elements", "input MiB", "full peak MiB", "× input", "peak MiB, 16 MiB limit"
    );
    for &n in counts {
        let xml = format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:x="urn:example:x"><id>urn:x</id><x:wrap>{}</x:wrap></feed>"#,
            "<x:a/>".repeat(n)
        );
        let bytes = xml.as_bytes();
        let options =
            ReadOptions::lenient().with_limits(Limits::default().max_foreign_bytes(usize::MAX));
        let (read, full) = peak_during(|| read_feed(bytes, &options).map(|o| o.feed));
        drop(read.expect("reads without a limit"));
        let bounded =
            ReadOptions::lenient().with_limits(Limits::default().max_foreign_bytes(limit));
        let (read, capped) = peak_during(|| read_feed(bytes, &bounded).map(|o| o.feed));
        let outcome = if read.is_ok() { "read" } else { "limit" };
        println!(
            "{n:>10}  {:>10.1}  {:>14.1}  {:>8.1}  {:>15.1} ({outcome})",
            mib(bytes.len()),
            mib(full),
            full as f64 / bytes.len() as f64,
            mib(capped)
        );
    }
}
