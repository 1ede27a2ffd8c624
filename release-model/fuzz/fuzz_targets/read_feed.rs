//! Any bytes: the reader returns a feed or a located error, never panics; whatever it reads
//! in lenient mode writes back to a well-formed feed that reads back equal, and the streaming
//! reader agrees with the full read, entries and findings.
#![no_main]

use libfuzzer_sys::fuzz_target;
use release_model::feed::{EntryReader, Limits, Profile, ReadOptions, read_feed, validate_read};

fuzz_target!(|data: &[u8]| {
    let options = ReadOptions::lenient().with_limits(Limits::default().max_entries(1_000));
    let Ok(outcome) = read_feed(data, &options) else {
        return;
    };
    let _ = validate_read(&outcome, Profile::Strict);
    // The writer refuses what XML cannot hold (a forbidden character, a name that is not a
    // name), and anything it writes reads back in strict mode, equal.
    let xml = match outcome.feed.to_xml() {
        Ok(xml) => xml,
        Err(release_model::Error::Unwritable { .. }) => return,
        Err(e) => panic!("writing fails only as Unwritable: {e}"),
    };
    let again = read_feed(xml.as_bytes(), &ReadOptions::strict()).expect("written feeds are well-formed");
    assert_eq!(again.feed, outcome.feed, "read(write(feed)) == feed");
    // The full read and the stream share every layer above the source: they must agree.
    let mut stream = EntryReader::new(data, &options).expect("the stream starts where the full read did");
    let streamed: Vec<_> = (&mut stream)
        .collect::<Result<_, _>>()
        .expect("the stream reads what the full read did");
    assert_eq!(streamed, outcome.feed.entries);
    assert_eq!(stream.take_findings(), outcome.findings);
});
