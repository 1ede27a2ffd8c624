//! The hostile-input corpus: small hand-made files in `tests/data/hostile` (each listed here
//! with its outcome in both modes; a file added there without an outcome fails the test), and
//! big inputs generated here, each against the limit that bounds it.

use release_model::Error;
use release_model::Limit;
use release_model::feed::{FindingCode, Limits, ReadOptions, read_feed};

use crate::data;

/// What reading a file gives.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Outcome {
    /// Refused as not well-formed, with this text in the message.
    Malformed(&'static str),
    /// Read, with this finding (or none).
    Read(Option<FindingCode>),
}

use Outcome::{Malformed, Read};

/// Every file of the corpus: (name, strict, lenient, why).
const CORPUS: &[(&str, Outcome, Outcome, &str)] = &[
    (
        "entity-expansion.xml",
        Malformed("undeclared entity '&d;'"),
        Read(Some(FindingCode::XmlUnknownEntity)),
        "a billion-laughs DTD: entities are never expanded, so nothing grows",
    ),
    (
        "external-entity.xml",
        Malformed("undeclared entity '&secret;'"),
        Read(Some(FindingCode::XmlUnknownEntity)),
        "XXE: an external entity is never resolved, so no file is read",
    ),
    (
        "parameter-entity.xml",
        Read(None),
        Read(None),
        "a parameter entity naming a remote DTD: the internal subset is skipped, nothing is fetched",
    ),
    (
        "duplicate-attribute.xml",
        Malformed("appears twice"),
        Malformed("appears twice"),
        "an attribute twice in one tag is never well-formed",
    ),
    (
        "unclosed-entry.xml",
        Malformed("before every element was closed"),
        Malformed("before every element was closed"),
        "a truncated download",
    ),
    (
        "attribute-lt.xml",
        Malformed("'<' in the value"),
        Malformed("'<' in the value"),
        "'<' in an attribute value",
    ),
    (
        "atom-prefix-rebound.xml",
        Read(None),
        Read(None),
        "an entry whose prefix is rebound away from Atom is not an Atom entry",
    ),
    (
        "char-ref-forbidden.xml",
        Malformed("'&#7;' is not a character XML 1.0 allows"),
        Read(Some(FindingCode::XmlForbiddenCharacter)),
        "character references to control characters",
    ),
    (
        "char-ref-out-of-range.xml",
        Malformed("is not a character XML 1.0 allows"),
        Read(Some(FindingCode::XmlForbiddenCharacter)),
        "a character reference past U+10FFFF",
    ),
    (
        "undefined-entity.xml",
        Malformed("undeclared entity '&nbsp;'"),
        Read(Some(FindingCode::XmlUnknownEntity)),
        "an HTML entity in XML",
    ),
    (
        "two-roots.xml",
        Malformed("content after </feed>"),
        Malformed("content after </feed>"),
        "a second document appended to the first",
    ),
    (
        "processing-instruction-in-text.xml",
        Read(None),
        Read(None),
        "a processing instruction inside text is dropped, never kept or run",
    ),
    (
        "cdata-with-markup.xml",
        Read(None),
        Read(None),
        "markup inside CDATA is text, never an entry",
    ),
    (
        "nul-byte.bin",
        Malformed("U+0000 is not a character XML 1.0 allows"),
        Read(Some(FindingCode::XmlForbiddenCharacter)),
        "a raw NUL",
    ),
    (
        "noncharacter.bin",
        Malformed("U+FFFF is not a character XML 1.0 allows"),
        Read(Some(FindingCode::XmlForbiddenCharacter)),
        "U+FFFF",
    ),
    (
        "invalid-utf8.bin",
        Malformed("not UTF-8"),
        Malformed("not UTF-8"),
        "a broken UTF-8 sequence",
    ),
    (
        "utf16-bom.bin",
        Malformed("not UTF-8"),
        Malformed("not UTF-8"),
        "UTF-16: feeds are UTF-8, and the error says so",
    ),
];

fn check(name: &str, bytes: &[u8], options: &ReadOptions, want: Outcome, why: &str) {
    match (read_feed(bytes, options), want) {
        (Err(e), Malformed(text)) => {
            assert!(
                matches!(e, Error::Malformed { .. }),
                "{name} ({why}): {e:?}"
            );
            assert!(e.to_string().contains(text), "{name} ({why}): {e}");
            assert!(e.position().is_some(), "{name}: located");
        }
        (Ok(out), Read(finding)) => {
            let codes: Vec<FindingCode> = out.findings.iter().map(|f| f.code).collect();
            match finding {
                Some(code) => assert!(codes.contains(&code), "{name} ({why}): {codes:?}"),
                None => assert!(out.findings.is_empty(), "{name} ({why}): {codes:?}"),
            }
            assert!(
                out.feed.entries.is_empty(),
                "{name} ({why}): no corpus file holds a real entry"
            );
        }
        (got, _) => panic!("{name} ({why}): expected {want:?}, got {got:?}"),
    }
}

#[test]
fn every_file_of_the_hostile_corpus_has_its_outcome() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/hostile");
    let mut on_disk: Vec<String> = std::fs::read_dir(&dir)
        .expect("the corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n != "README.md")
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = CORPUS.iter().map(|c| c.0.to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "every corpus file is listed here, and only those"
    );
    for &(name, strict, lenient, why) in CORPUS {
        let bytes = data(&format!("hostile/{name}"));
        check(name, &bytes, &ReadOptions::strict(), strict, why);
        check(name, &bytes, &ReadOptions::lenient(), lenient, why);
    }
}

// The leniently read titles keep what cannot be a character as the reference text, so what
// is written back is well-formed and means what it read.
#[test]
fn forbidden_character_references_are_kept_as_text_and_write_back_well_formed() {
    let bytes = data("hostile/char-ref-forbidden.xml");
    let out = read_feed(&bytes, &ReadOptions::lenient()).expect("lenient");
    let title = out.feed.title.as_ref().map(|t| t.value.as_str());
    assert_eq!(title, Some("bell &#7; nul &#0;"));
    let xml = out.feed.to_xml().expect("writable");
    let again = read_feed(xml.as_bytes(), &ReadOptions::strict()).expect("well-formed");
    assert_eq!(again.feed, out.feed);
}

const FEED: &str = r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:x="urn:x"><id>urn:x</id><updated>2026-01-01T00:00:00Z</updated>"#;

fn limit_of(r: Result<release_model::feed::ReadOutcome, Error>) -> Limit {
    match r {
        Err(Error::LimitExceeded { limit, .. }) => limit,
        other => panic!("expected a limit, got {other:?}"),
    }
}

#[test]
fn generated_inputs_are_stopped_by_the_limit_that_bounds_them() {
    // Nesting 100,000 deep: the depth limit, long before the stack.
    let deep = format!("{FEED}{}", "<x:a>".repeat(100_000));
    assert_eq!(
        limit_of(read_feed(deep.as_bytes(), &ReadOptions::lenient())),
        Limit::Depth
    );

    // 100,000 namespace declarations on one element.
    let decls: String = (0..100_000)
        .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
        .collect();
    let flood = format!("{FEED}<x:a{decls}/></feed>");
    assert_eq!(
        limit_of(read_feed(flood.as_bytes(), &ReadOptions::lenient())),
        Limit::NamespaceDeclarations
    );

    // Entries past the limit.
    let entries = format!(
        "{FEED}{}</feed>",
        "<entry><id>urn:e</id></entry>".repeat(101)
    );
    let options = ReadOptions::lenient().with_limits(Limits::default().max_entries(100));
    assert_eq!(
        limit_of(read_feed(entries.as_bytes(), &options)),
        Limit::Entries
    );

    // Text past the limit, in an element and in an attribute.
    let long = "t".repeat(2_000);
    let options = ReadOptions::lenient().with_limits(Limits::default().max_text_bytes(1_000));
    for doc in [
        format!("{FEED}<title>{long}</title></feed>"),
        format!("{FEED}<x:a b=\"{long}\"/></feed>"),
    ] {
        assert_eq!(
            limit_of(read_feed(doc.as_bytes(), &options)),
            Limit::TextSize
        );
    }

    // 200,000 tiny foreign elements (1.2 MB) cost the model well over 16 MiB: refused at
    // that bound, read at the default one.
    let tiny = format!("{FEED}<x:wrap>{}</x:wrap></feed>", "<x:a/>".repeat(200_000));
    let options = ReadOptions::lenient().with_limits(Limits::default().max_foreign_bytes(16 << 20));
    assert_eq!(
        limit_of(read_feed(tiny.as_bytes(), &options)),
        Limit::ForeignMarkup
    );
    let read = read_feed(tiny.as_bytes(), &ReadOptions::lenient()).expect("within the default");
    assert_eq!(read.feed.extensions.len(), 1);
}

#[test]
fn generated_inputs_within_the_limits_read_in_proportion_to_their_size() {
    // `<entry` written a million times inside a comment: nothing is reserved for entries that
    // are not there (this once reserved room for each before any limit applied).
    let comment = format!("{FEED}<!--{}--></feed>", "<entry>".repeat(1_000_000));
    let read = read_feed(comment.as_bytes(), &ReadOptions::strict()).expect("a comment");
    assert!(read.feed.entries.is_empty());

    // 1,000 declarations in scope and 100,000 prefixed elements, each resolved by an index
    // rather than a scan of every binding.
    let decls: String = (0..1_000)
        .map(|i| format!(" xmlns:p{i}=\"urn:{i}\""))
        .collect();
    let body: String = (0..100_000)
        .map(|i| format!("<p{}:a/>", i % 1_000))
        .collect();
    let doc = format!("{FEED}<x:wrap{decls}>{body}</x:wrap></feed>");
    let read = read_feed(doc.as_bytes(), &ReadOptions::strict()).expect("reads");
    let wrap = &read.feed.extensions[0];
    assert_eq!(wrap.children.len(), 100_000);

    // 50,000 distinct attributes on one element: duplicates are found with a set.
    let attrs: String = (0..50_000).map(|i| format!(" a{i}=\"v\"")).collect();
    let doc = format!("{FEED}<x:a{attrs}/></feed>");
    let read = read_feed(doc.as_bytes(), &ReadOptions::strict()).expect("reads");
    assert_eq!(read.feed.extensions[0].attributes.len(), 50_000);
}
