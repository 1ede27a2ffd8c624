//! The streaming reader agrees with the full read on generated NCTS-shaped feeds.

use std::io::BufReader;

use release_model::feed::{ContentType, EntryReader, Profile, ReadOptions, read_feed, validate};

#[path = "../../benches/support/mod.rs"]
mod support;

#[test]
fn streaming_and_full_read_agree_on_a_generated_feed() {
    let xml = support::ncts_shaped(3_000);
    let full = read_feed(xml.as_bytes(), &ReadOptions::lenient()).expect("generated feed reads");
    assert_eq!(full.feed.entries.len(), 3_000);
    assert!(full.findings.is_empty(), "{:?}", full.findings);
    // A small buffer makes events straddle refills.
    let mut reader = EntryReader::new(
        BufReader::with_capacity(512, xml.as_bytes()),
        &ReadOptions::lenient(),
    )
    .expect("stream starts");
    let mut positions = Vec::new();
    let mut i = 0;
    while let Some(entry) = reader.next() {
        let entry = entry.expect("entry reads");
        assert_eq!(entry, full.feed.entries[i], "entry {i}");
        positions.push(reader.last_position().expect("an entry was returned"));
        i += 1;
    }
    assert_eq!(
        positions, full.entry_positions,
        "both readers locate entries identically"
    );
    let mut header = reader.finish().expect("stream finishes");
    header.entries = full.feed.entries.clone();
    assert_eq!(header, full.feed);
}

#[test]
fn generated_feed_is_valid_and_typed() {
    let xml = support::ncts_shaped(70);
    let feed = read_feed(xml.as_bytes(), &ReadOptions::strict())
        .expect("well-formed")
        .feed;
    let errors = |p| {
        validate(&feed, p)
            .into_iter()
            .filter(|f| f.severity == release_model::feed::Severity::Error)
            .collect::<Vec<_>>()
    };
    assert!(
        errors(Profile::Lenient).is_empty(),
        "{:?}",
        errors(Profile::Lenient)
    );
    // Under the IG, NCTS's FULL/SNAPSHOT/ALL sharing one version is an error, and only that.
    let strict = errors(Profile::Strict);
    assert_eq!(strict.len(), 20);
    assert!(
        strict
            .iter()
            .all(|f| f.code == release_model::feed::FindingCode::EntryDuplicateVersion)
    );
    let binary = feed
        .entries
        .iter()
        .filter(|e| e.content_type().is_some_and(|c| c.is_binary_index()))
        .count();
    assert_eq!(binary, 10);
    assert_eq!(
        feed.entries[5].content_type(),
        Some(ContentType::FhirValueSet)
    );
    let summary = feed.entries[0].summary.as_ref().expect("summary");
    assert!(summary.as_str().contains("& AMT") && summary.as_str().contains("<new>"));
}
