//! Any two feeds: the diff never panics, a feed does not differ from itself, every candidate
//! entry is accounted for once, and the diff's JSON reads back equal.
#![no_main]

use libfuzzer_sys::fuzz_target;
use release_model::feed::{Limits, ReadOptions, read_feed};

fuzz_target!(|data: &[u8]| {
    // The first byte says where the deployed feed ends and the candidate begins.
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    let at = (split as usize * rest.len()) / 255;
    let (a, b) = rest.split_at(at.min(rest.len()));
    let options = ReadOptions::lenient().with_limits(Limits::default().max_entries(200));
    let (Ok(a), Ok(b)) = (read_feed(a, &options), read_feed(b, &options)) else {
        return;
    };
    let (a, b) = (a.feed, b.feed);
    let same = feed_diff::diff(&a, &a);
    assert!(same.is_empty(), "a feed differs from itself: {same:?}");
    assert!(same.is_additive());
    let d = feed_diff::diff(&a, &b);
    let _ = d.to_delta();
    let json = serde_json::to_string(&d).expect("serialises");
    let back: feed_diff::FeedDiff = serde_json::from_str(&json).expect("reads back");
    assert_eq!(back, d, "the diff's JSON is lossless");
});
