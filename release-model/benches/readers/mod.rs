//! The readers the feed benches compare, each reading the whole feed and dropping what it
//! built, as a user's read would. They live apart from the feed generator in `support`,
//! which feed-diff's bench and the streaming test share, because they need the peer crates
//! those do not have.

use std::hint::black_box;

use quick_xml::events::Event;
use release_model::feed::{EntryReader, ReadOptions, read_feed};

/// A reader under comparison: reads the whole feed, drops what it built, and returns the
/// entry count (the event count for the raw tokenizer).
pub(super) type Read = fn(&[u8]) -> usize;

/// The readers compared, by the name each bench reports: the raw tokenizer first, then our
/// two reads, then the peers.
pub(super) const READERS: [(&str, Read); 5] = [
    ("quick_xml_raw_events", raw_tokenizer),
    ("release_model_full", full_read),
    ("release_model_stream", stream_read),
    ("feed_rs", feed_rs_read),
    ("atom_syndication", atom_read),
];

/// Every event of a raw `quick-xml` loop over the bytes: the practical limit.
pub(super) fn raw_tokenizer(bytes: &[u8]) -> usize {
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

/// Our full read into `Feed`; the entry count.
pub(super) fn full_read(bytes: &[u8]) -> usize {
    read_feed(bytes, &ReadOptions::lenient())
        .expect("reads")
        .feed
        .entries
        .len()
}

/// Our streaming read, each entry dropped once read; the entry count.
pub(super) fn stream_read(bytes: &[u8]) -> usize {
    EntryReader::new(bytes, &ReadOptions::lenient())
        .expect("starts")
        .try_fold(0usize, |n, e| e.map(|_| n + 1))
        .expect("entries read")
}

/// feed-rs's parser; the entry count.
pub(super) fn feed_rs_read(bytes: &[u8]) -> usize {
    feed_rs::parser::parse(bytes)
        .expect("feed-rs parses")
        .entries
        .len()
}

/// atom_syndication's reader; the entry count.
pub(super) fn atom_read(bytes: &[u8]) -> usize {
    atom_syndication::Feed::read_from(bytes)
        .expect("atom parses")
        .entries
        .len()
}
