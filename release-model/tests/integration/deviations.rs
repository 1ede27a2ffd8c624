//! One in-repo feed per deviation class of FEED-FORMAT §17, read leniently with the finding
//! it should produce; malformed and hostile input fails with a located, typed error.

use release_model::feed::{
    Checked, ContentType, DateValue, EntryReader, Finding, FindingCode, Limits, Profile,
    ReadOptions, ReadOutcome, Severity, read_feed, validate_read,
};
use release_model::{Error, Limit};

use crate::data;

fn lenient(name: &str) -> (ReadOutcome, Vec<Finding>) {
    let o =
        read_feed(&data(name), &ReadOptions::lenient()).unwrap_or_else(|e| panic!("{name}: {e}"));
    let f = validate_read(&o, Profile::Lenient);
    (o, f)
}

fn has(f: &[Finding], code: FindingCode) -> usize {
    f.iter().filter(|x| x.code == code).count()
}

#[test]
fn raw_ampersand_in_attribute_recovers_leniently_and_fails_strictly() {
    let (o, f) = lenient("raw-ampersand.xml");
    assert_eq!(
        o.feed.entries[0].links[0].href,
        "https://www.dropbox.com/s/x/pkg.zip?dl=1&rlkey=abc"
    );
    assert_eq!(has(&f, FindingCode::XmlUnescapedAmpersand), 1);
    let err =
        read_feed(&data("raw-ampersand.xml"), &ReadOptions::strict()).expect_err("not well-formed");
    let Error::Malformed {
        position, expected, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(position.line, 10);
    assert!(expected.is_some());
    assert!(
        err.to_string()
            .starts_with("malformed feed at line 10, column"),
        "{err}"
    );
    // Rewritten, the '&' is escaped and the feed is well-formed.
    let again = read_feed(
        o.feed.to_xml().expect("writable").as_bytes(),
        &ReadOptions::strict(),
    )
    .expect("well-formed");
    assert_eq!(again.feed, o.feed);
}

#[test]
fn dates_without_offset_or_time_and_missing_updated() {
    let (o, f) = lenient("dates.xml");
    let e = &o.feed.entries;
    assert!(matches!(
        e[0].updated
            .as_ref()
            .and_then(Checked::valid)
            .map(|d| d.value()),
        Some(DateValue::Floating(_))
    ));
    assert!(matches!(
        e[1].updated
            .as_ref()
            .and_then(Checked::valid)
            .map(|d| d.value()),
        Some(DateValue::DateOnly(_))
    ));
    assert!(e[2].updated.is_none());
    assert_eq!(
        has(&f, FindingCode::DateMissingOffset),
        2,
        "feed and entry 0"
    );
    assert_eq!(has(&f, FindingCode::DateMissingTime), 1);
    assert_eq!(has(&f, FindingCode::EntryMissingUpdated), 1);
    // Lenient: warnings; strict: errors.
    assert!(
        f.iter()
            .filter(|x| x.code == FindingCode::DateMissingOffset)
            .all(|x| x.severity == Severity::Warning)
    );
    let strict = validate_read(&o, Profile::Strict);
    assert!(
        strict
            .iter()
            .filter(|x| x.code == FindingCode::DateMissingOffset)
            .all(|x| x.severity == Severity::Error)
    );
}

#[test]
fn lengths_with_separators_zero_and_missing() {
    let (o, f) = lenient("lengths.xml");
    assert_eq!(
        o.feed.entries[0].links[0].length_bytes(),
        Some(1_823_821_786)
    );
    assert_eq!(o.feed.links[1].length_bytes(), Some(0));
    assert!(o.feed.entries[1].links[0].length.is_none());
    assert_eq!(
        o.feed.entries[2].links[0].length,
        Some(Checked::Malformed("12 MB".into()))
    );
    assert_eq!(has(&f, FindingCode::LinkLengthSeparators), 1);
    assert_eq!(has(&f, FindingCode::LinkLengthMalformed), 1);
    assert_eq!(has(&f, FindingCode::LinkMissingHash), 2);
    // Separators are not written back: the value is canonical digits.
    assert!(
        o.feed
            .to_xml()
            .expect("writable")
            .contains("length=\"1823821786\"")
    );
}

#[test]
fn hashes_short_placeholder_upper_case_and_unprefixed() {
    let (o, f) = lenient("hashes.xml");
    assert_eq!(has(&f, FindingCode::LinkSha256Malformed), 2);
    assert_eq!(has(&f, FindingCode::LinkHashNotLowercase), 1);
    assert_eq!(has(&f, FindingCode::LinkHashUnprefixed), 1);
    assert!(
        o.feed.entries[3].links[0].sha256().is_some(),
        "unprefixed sha256Hash is read as the hash"
    );
    let md5 = o.feed.entries[2].links[0]
        .md5()
        .expect("upper-case hex is still a digest");
    assert_eq!(md5.to_bytes()[0], 0x02);
}

#[test]
fn text_quirks_are_kept_verbatim() {
    let (o, f) = lenient("text-quirks.xml");
    let e = &o.feed.entries[0];
    assert_eq!(
        e.title.as_ref().map(|t| t.as_str()),
        Some(" SNOMED CT Belgian Edition")
    );
    assert_eq!(e.summary.as_ref().map(|t| t.as_str()), Some(""));
    assert!(
        e.rights
            .as_ref()
            .is_some_and(|r| r.as_str().contains('\u{FFFD}'))
    );
    assert_eq!(e.authors[0].name.as_deref(), Some("null"));
    assert_eq!(has(&f, FindingCode::EntryAuthorNull), 1);
}

#[test]
fn profile_after_the_entries_and_alternate_pointing_at_the_profile() {
    let (o, f) = lenient("profile-last.xml");
    assert_eq!(
        o.feed.profile.as_deref(),
        Some(release_model::feed::ns::PROFILE_ASF)
    );
    assert_eq!(has(&f, FindingCode::FeedProfileMissing), 0);
    assert_eq!(has(&f, FindingCode::FeedAlternateIsProfile), 1);
    // The streaming reader has the profile once the entries are done.
    let bytes = data("profile-last.xml");
    let mut r = EntryReader::new(&bytes[..], &ReadOptions::lenient()).expect("starts");
    assert!(r.header().profile.is_none());
    assert_eq!(r.by_ref().count(), 1);
    assert!(r.header().profile.is_some());
}

#[test]
fn related_only_links_and_octet_stream() {
    let (o, f) = lenient("related-only.xml");
    assert!(o.feed.entries[0].alternate_link().is_none());
    assert_eq!(has(&f, FindingCode::EntryMissingAlternateLink), 1);
    assert_eq!(
        o.feed.entries[1].links[0].media_type.as_deref(),
        Some("application/octet-stream")
    );
}

#[test]
fn namespaces_bind_by_uri_not_prefix() {
    let (o, f) = lenient("namespaces.xml");
    let e = &o.feed.entries[0];
    assert_eq!(o.feed.title.as_ref().map(|t| t.as_str()), Some("Prefixed"));
    assert!(
        o.feed.profile.is_some(),
        "asf: is bound to the ncts namespace"
    );
    assert_eq!(
        e.identifier.as_ref().map(|i| i.as_str()),
        Some("http://loinc.org")
    );
    assert_eq!(
        e.version.as_ref().map(|v| v.as_str()),
        Some("2.81"),
        "ncts redeclared on the element"
    );
    assert!(e.links[0].sha256().is_some());
    assert!(
        e.fhir_versions.is_empty(),
        "ncts: here is bound to another namespace"
    );
    let foreign: Vec<_> = e.extensions.iter().map(|x| x.name.local.as_str()).collect();
    assert_eq!(foreign, ["fhirVersion", "entryNote"]);
    assert_eq!(e.extensions[1].text(), "kept as foreign");
    assert_eq!(has(&f, FindingCode::ExtensionWrongNamespace), 1);
    let again = read_feed(
        o.feed.to_xml().expect("writable").as_bytes(),
        &ReadOptions::strict(),
    )
    .expect("well-formed");
    assert_eq!(again.feed, o.feed, "foreign markup round-trips");
}

#[test]
fn non_ig_terms_and_schemes() {
    let (o, f) = lenient("terms.xml");
    let types: Vec<_> = o
        .feed
        .entries
        .iter()
        .map(|e| e.content_type().expect("has a category"))
        .collect();
    assert_eq!(types[0], ContentType::AmtCsv);
    assert_eq!(types[1], ContentType::OtherPackage);
    assert!(types[2].is_binary_index());
    assert!(matches!(&types[3], ContentType::Other { term, .. } if term == "SCT_RF2_BLUE"));
    assert_eq!(
        has(&f, FindingCode::CategoryTermNotInScheme),
        1,
        "only SCT_RF2_BLUE breaks the bound scheme"
    );
    assert_eq!(
        has(&f, FindingCode::EntryNoRegisteredScheme),
        1,
        "urn:example:scheme"
    );
}

#[test]
fn dtd_entities_are_never_expanded() {
    let (o, f) = lenient("dtd-entity.xml");
    assert_eq!(o.feed.title.as_ref().map(|t| t.as_str()), Some("&lol2;"));
    assert_eq!(has(&f, FindingCode::XmlUnknownEntity), 1);
    let err =
        read_feed(&data("dtd-entity.xml"), &ReadOptions::strict()).expect_err("undeclared entity");
    assert!(
        matches!(err, Error::Malformed { position, .. } if position.line == 3),
        "{err}"
    );
}

#[test]
fn mismatched_end_tag_is_located() {
    let err =
        read_feed(&data("mismatched.xml"), &ReadOptions::lenient()).expect_err("not well-formed");
    let Error::Malformed {
        position, expected, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(position.line, 3);
    assert_eq!(expected.as_deref(), Some("</title>"));
}

#[test]
fn a_document_that_is_not_a_feed() {
    let err = read_feed(&data("not-a-feed.xml"), &ReadOptions::lenient()).expect_err("rss");
    assert!(
        matches!(&err, Error::NotAFeed { found, position } if found == "rss" && position.line == 1),
        "{err}"
    );
}

#[test]
fn truncated_and_empty_documents() {
    let full = data("dates.xml");
    for cut in [0, 10, 200, full.len() / 2, full.len() - 9] {
        let err = read_feed(&full[..cut], &ReadOptions::lenient()).expect_err("truncated");
        assert!(err.position().is_some(), "cut at {cut}: {err}");
    }
    let err = read_feed(
        b"<feed xmlns=\"http://www.w3.org/2005/Atom\"></feed><feed/>",
        &ReadOptions::lenient(),
    )
    .expect_err("two roots");
    assert!(err.to_string().contains("after </feed>"), "{err}");
}

#[test]
fn unknown_prefix_is_a_finding_leniently_and_an_error_strictly() {
    let xml = br#"<feed xmlns="http://www.w3.org/2005/Atom"><id>1</id><x:thing>t</x:thing></feed>"#;
    let o = read_feed(xml, &ReadOptions::lenient()).expect("lenient");
    assert_eq!(o.findings[0].code, FindingCode::XmlUnknownPrefix);
    assert_eq!(o.feed.extensions[0].name.local, "thing");
    assert!(read_feed(xml, &ReadOptions::strict()).is_err());
}

#[test]
fn limits_bound_depth_entries_and_text() {
    let deep = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\">{}{}</feed>",
        "<x>".repeat(100),
        "</x>".repeat(100)
    );
    let err = read_feed(deep.as_bytes(), &ReadOptions::lenient()).expect_err("too deep");
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: Limit::Depth,
                max: 64,
                ..
            }
        ),
        "{err}"
    );

    let many = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\">{}</feed>",
        "<entry/>".repeat(11)
    );
    let opts = ReadOptions::lenient().with_limits(Limits::default().max_entries(10));
    let err = read_feed(many.as_bytes(), &opts).expect_err("too many entries");
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: Limit::Entries,
                max: 10,
                ..
            }
        ),
        "{err}"
    );

    let big = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>{}</title></feed>",
        "a".repeat(5000)
    );
    let opts = ReadOptions::lenient().with_limits(Limits::default().max_text_bytes(1000));
    let err = read_feed(big.as_bytes(), &opts).expect_err("text too large");
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: Limit::TextSize,
                ..
            }
        ),
        "{err}"
    );
    // The streaming reader stops a hostile text node before buffering all of it.
    let huge = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><title>{}</title></feed>",
        "a".repeat(400_000)
    );
    let opts = ReadOptions::lenient().with_limits(Limits::default().max_text_bytes(1000));
    let mut r = EntryReader::new(
        std::io::BufReader::with_capacity(4096, huge.as_bytes()),
        &opts,
    )
    .expect("the feed start tag is small");
    let err = r.next().expect("an item").expect_err("text too large");
    assert!(
        matches!(
            err,
            Error::LimitExceeded {
                limit: Limit::TextSize,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn findings_beyond_the_limit_are_counted_not_kept() {
    let entries =
        "<entry><published>2019-06-29</published><link href=\"x\" length=\"1,000\"/></entry>"
            .repeat(20);
    let xml = format!("<feed xmlns=\"http://www.w3.org/2005/Atom\">{entries}</feed>");
    let opts = ReadOptions::lenient().with_limits(Limits::default().max_findings(5));
    let o = read_feed(xml.as_bytes(), &opts).expect("reads");
    assert_eq!(o.findings.len(), 5);
    assert_eq!(o.dropped_findings, 15);
}

#[test]
fn inputs_the_fuzzer_found_fail_cleanly() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/fuzzed");
    for entry in std::fs::read_dir(dir).expect("fuzzed inputs list") {
        let bytes = std::fs::read(entry.expect("entry").path()).expect("reads");
        for opts in [ReadOptions::lenient(), ReadOptions::strict()] {
            if let Err(e) = read_feed(&bytes, &opts) {
                assert!(e.position().is_some(), "{e}");
            }
        }
    }
}

// XML 1.0 allows no C0 control but tab, LF and CR, and neither U+FFFE nor U+FFFF: strict
// reading refuses them where they are; lenient reading keeps them and says so, and the
// writer refuses to write them back rather than emit a feed that is not well-formed.
#[test]
fn characters_xml_does_not_allow_are_refused_strictly_reported_leniently_and_never_written() {
    use release_model::feed::{EntryReader, FindingCode};
    for bad in ["\u{0}", "\u{1}", "\u{1b}", "\u{FFFE}", "\u{FFFF}"] {
        let doc = format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<id>urn:uuid:1</id>\n<title>a{bad}b</title></feed>"
        );
        let strict = read_feed(doc.as_bytes(), &ReadOptions::strict()).expect_err("strict");
        let pos = strict.position().expect("located");
        assert_eq!((pos.line, pos.column), (3, 9), "{bad:?}: {strict}");
        let lenient = read_feed(doc.as_bytes(), &ReadOptions::lenient()).expect("lenient");
        assert!(
            lenient
                .findings
                .iter()
                .any(|f| f.code == FindingCode::XmlForbiddenCharacter),
            "{bad:?}"
        );
        let title = lenient.feed.title.as_ref().map(|t| t.value.clone());
        assert_eq!(
            title.as_deref(),
            Some(format!("a{bad}b").as_str()),
            "kept as read"
        );
        let mut stream = EntryReader::new(doc.as_bytes(), &ReadOptions::lenient()).expect("starts");
        assert!(stream.by_ref().all(|e| e.is_ok()));
        assert!(
            stream
                .take_findings()
                .iter()
                .any(|f| f.code == FindingCode::XmlForbiddenCharacter),
            "the stream reports it too"
        );
        let err = lenient.feed.to_xml().expect_err("cannot be written");
        assert!(
            matches!(err, release_model::Error::Unwritable { .. }),
            "{err}"
        );
        let mut out = Vec::new();
        assert!(
            release_model::feed::write_feed(
                &lenient.feed,
                &release_model::feed::WriteOptions::faithful(),
                &mut out
            )
            .is_err()
        );
        assert!(out.is_empty(), "nothing is written");
    }
}

// A name with an empty local part (an attribute `zz:`) would be written as `="1"`: the writer
// refuses it with a typed error instead.
#[test]
fn a_name_that_is_not_an_xml_name_is_never_written() {
    use release_model::feed::{Attribute, Feed, XmlName};
    let mut feed = Feed::default();
    feed.attributes.push(Attribute {
        name: XmlName::new(None, ""),
        value: "1".into(),
    });
    let err = feed.to_xml().expect_err("not a name");
    assert!(
        matches!(err, release_model::Error::Unwritable { .. }),
        "{err}"
    );
    let mut fine = Feed::default();
    fine.attributes.push(Attribute {
        name: XmlName::new(None, "zz"),
        value: "1".into(),
    });
    assert!(fine.to_xml().expect("writable").contains("zz=\"1\""));
}

// Namespace declarations are bounded, and past a handful a prefix is found through an index:
// shadowing and scope still hold there.
#[test]
fn many_namespace_declarations_are_bounded_and_still_resolve_by_scope() {
    use release_model::feed::{Limits, ReadOptions};
    let decls = |n: usize| {
        (0..n)
            .map(|i| format!(" xmlns:p{i}=\"urn:ns:{i}\""))
            .collect::<String>()
    };
    let doc = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"{}><id>urn:uuid:1</id></feed>",
        decls(2000)
    );
    let err = read_feed(doc.as_bytes(), &ReadOptions::lenient()).expect_err("over the limit");
    assert!(
        matches!(
            err,
            release_model::Error::LimitExceeded {
                limit: release_model::Limit::NamespaceDeclarations,
                max: 1024,
                ..
            }
        ),
        "{err}"
    );
    // Under a raised limit, 100 declarations (past the scan) resolve by URI, an inner
    // declaration shadows an outer one for its element only.
    let doc = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"{}><id>urn:uuid:1</id>\
         <p7:a/><x xmlns:p7=\"urn:inner\"><p7:b/></x><p7:c/><p99:d/></feed>",
        decls(100)
    );
    let options =
        ReadOptions::strict().with_limits(Limits::default().max_namespace_declarations(200));
    let feed = read_feed(doc.as_bytes(), &options).expect("reads").feed;
    let names: Vec<(Option<String>, String)> = feed
        .extensions
        .iter()
        .map(|e| (e.name.namespace.clone(), e.name.local.clone()))
        .collect();
    assert_eq!(names[0], (Some("urn:ns:7".into()), "a".into()));
    let inner = match &feed.extensions[1].children[0] {
        release_model::feed::Node::Element(e) => e.name.namespace.clone(),
        other => panic!("{other:?}"),
    };
    assert_eq!(inner.as_deref(), Some("urn:inner"));
    assert_eq!(
        names[2],
        (Some("urn:ns:7".into()), "c".into()),
        "the inner scope has ended"
    );
    assert_eq!(names[3], (Some("urn:ns:99".into()), "d".into()));
}

// Found by the fuzz target: an attribute whose prefix is not declared is read as the
// unprefixed name (so `octs:sha256Hash` is the SCT README's unprefixed hash), which is what the
// writer can write back: a rewrite reads back as the same feed, and means the same.
#[test]
fn an_undeclared_attribute_prefix_reads_as_the_unprefixed_name_and_round_trips() {
    use release_model::feed::FindingCode;
    let hash = "8130cc90b38e8608380dd80e3b94740584270da5ae79f58d1a5281ac80809095";
    let doc = format!(
        "<feed xmlns=\"http://www.w3.org/2005/Atom\"><id>urn:uuid:1</id><entry><id>urn:uuid:2</id>\
         <link rel=\"alternate\" href=\"https://example.org/a.zip\" octs:sha256Hash=\"{hash}\" sct:md5Hash=\"0290ad7f6e431063166afd91cd2b8c37\"/>\
         </entry></feed>"
    );
    let o = read_feed(doc.as_bytes(), &ReadOptions::lenient()).expect("lenient");
    let codes: Vec<FindingCode> = o.findings.iter().map(|f| f.code).collect();
    assert!(codes.contains(&FindingCode::XmlUnknownPrefix), "{codes:?}");
    let link = &o.feed.entries[0].links[0];
    assert_eq!(link.sha256().map(|h| h.as_str()), Some(hash));
    assert!(link.md5().is_some());
    let again = read_feed(
        o.feed.to_xml().expect("writable").as_bytes(),
        &ReadOptions::strict(),
    )
    .expect("well-formed");
    assert_eq!(again.feed, o.feed);
}

// Found by the fuzz target: `:ncts` has an empty prefix, which must not stand for the default
// namespace; the name is kept whole, and the feed round-trips.
#[test]
fn a_name_with_an_empty_prefix_is_not_in_the_default_namespace() {
    let doc =
        "<feed xmlns=\"http://www.w3.org/2005/Atom\" :ncts=\"urn:x\"><id>urn:uuid:1</id></feed>";
    let o = read_feed(doc.as_bytes(), &ReadOptions::lenient()).expect("lenient");
    let a = &o.feed.attributes[0];
    assert_eq!(
        (a.name.namespace.as_deref(), a.name.local.as_str()),
        (None, ":ncts")
    );
    let again = read_feed(
        o.feed.to_xml().expect("writable").as_bytes(),
        &ReadOptions::lenient(),
    )
    .expect("reads back");
    assert_eq!(again.feed, o.feed);
}

// Found by the fuzz target: `xx:xmlns:onto` (two colons, the prefix undeclared) is not a
// qualified name; kept whole it is written back as itself, never as a namespace declaration.
#[test]
fn a_name_with_two_colons_is_kept_whole_and_never_becomes_a_declaration() {
    let doc = "<feed xmlns=\"http://www.w3.org/2005/Atom\" xx:xmlns:onto=\"urn:x\"><id>urn:uuid:1</id></feed>";
    let o = read_feed(doc.as_bytes(), &ReadOptions::lenient()).expect("lenient");
    let a = &o.feed.attributes[0];
    assert_eq!(
        (a.name.namespace.as_deref(), a.name.local.as_str()),
        (None, "xx:xmlns:onto")
    );
    let again = read_feed(
        o.feed.to_xml().expect("writable").as_bytes(),
        &ReadOptions::lenient(),
    )
    .expect("reads back");
    assert_eq!(again.feed, o.feed);
}
