//! Every shared fixture reads leniently, round-trips, and yields the findings its provenance
//! table (`SOURCES.md`) describes.

use std::path::PathBuf;

use release_model::Error;
use release_model::feed::{
    BundleInterpretation, Checked, ContentType, EntryReader, Feed, Finding, FindingCode, LinkRel,
    Profile, ReadOptions, ReadOutcome, Severity, Text, read_feed, validate_read,
};

fn path(name: &str) -> Option<PathBuf> {
    crate::fixtures_dir().map(|d| d.join("feeds").join(name))
}

fn read(name: &str) -> Option<ReadOutcome> {
    let bytes = std::fs::read(path(name)?).expect("fixture is readable");
    Some(read_feed(&bytes, &ReadOptions::lenient()).unwrap_or_else(|e| panic!("{name}: {e}")))
}

fn findings(o: &ReadOutcome, profile: Profile) -> Vec<Finding> {
    validate_read(o, profile)
}

fn count(f: &[Finding], code: FindingCode) -> usize {
    f.iter().filter(|x| x.code == code).count()
}

fn errors(f: &[Finding]) -> Vec<String> {
    f.iter()
        .filter(|x| x.severity == Severity::Error)
        .map(|x| x.to_string())
        .collect()
}

#[test]
fn every_fixture_reads_round_trips_and_writes_well_formed_xml() {
    let Some(dir) = crate::fixtures_dir() else {
        return;
    };
    let mut seen = 0;
    for entry in std::fs::read_dir(dir.join("feeds")).expect("fixture folder lists") {
        let p = entry.expect("directory entry").path();
        if p.extension().and_then(|e| e.to_str()) != Some("xml") {
            continue;
        }
        seen += 1;
        let bytes = std::fs::read(&p).expect("fixture is readable");
        let name = p.display();
        let outcome = read_feed(&bytes, &ReadOptions::lenient())
            .unwrap_or_else(|e| panic!("{name} reads leniently: {e}"));
        let xml = outcome.feed.to_xml().expect("fixtures are writable");
        // The writer's output is well-formed even where the input was not.
        let strict = read_feed(xml.as_bytes(), &ReadOptions::strict())
            .unwrap_or_else(|e| panic!("{name} rewritten is well-formed: {e}\n{xml}"));
        assert_eq!(
            strict.feed, outcome.feed,
            "{name}: read(write(feed)) == feed"
        );
        assert!(
            strict.findings.is_empty(),
            "{name}: rewritten feed needs no recovery: {:?}",
            strict.findings
        );
        // The streaming reader sees the same entries.
        let mut reader = release_model::feed::EntryReader::new(&bytes[..], &ReadOptions::lenient())
            .expect("stream starts");
        let streamed: Vec<_> = (&mut reader)
            .collect::<Result<_, _>>()
            .expect("stream reads");
        assert_eq!(streamed, outcome.feed.entries, "{name}: streamed entries");
        assert_eq!(
            reader.take_findings(),
            outcome.findings,
            "{name}: streamed findings"
        );
        let header = reader.finish().expect("stream finishes");
        assert_eq!(
            header.profile, outcome.feed.profile,
            "{name}: header after the entries"
        );
    }
    assert_eq!(seen, 11, "SOURCES.md lists 11 feeds");
}

#[test]
fn ihtsdo_example_namespaces_on_elements_md5_and_dependencies() {
    let Some(o) = read("IHTSDO-termserver-syndication__feed-example.xml") else {
        return;
    };
    let f = &o.feed;
    assert_eq!(f.entries.len(), 3);
    // Entry 0 redeclares xmlns:ncts on its content item elements.
    let intl = &f.entries[0];
    assert_eq!(
        intl.version.as_ref().map(|v| v.as_str()),
        Some("http://snomed.info/sct/900000000000207008/version/20230430")
    );
    assert_eq!(intl.content_type(), Some(ContentType::SctRf2Full));
    assert_eq!(intl.links.len(), 2);
    assert_eq!(
        intl.links[0].md5().map(|h| h.as_str()),
        Some("0290ad7f6e431063166afd91cd2b8c37")
    );
    assert_eq!(intl.links[0].length_bytes(), Some(533_422_481));
    assert_eq!(intl.links[1].rel, Some(LinkRel::Related));
    let spanish = &f.entries[1];
    let dep = spanish
        .package_dependency
        .as_ref()
        .expect("extension package has dependencies");
    assert_eq!(
        dep.editions,
        ["http://snomed.info/sct/900000000000207008/version/20220731"]
    );
    assert_eq!(
        dep.derivatives,
        ["http://snomed.info/sct/816211006/version/20220131"]
    );
    assert!(f.entries[2].links[0].sha256().is_some());
    let fs = findings(&o, Profile::Lenient);
    assert_eq!(
        count(&fs, FindingCode::DateMissingOffset),
        1,
        "feed updated has no offset"
    );
    assert!(errors(&fs).is_empty(), "{:?}", errors(&fs));
}

#[test]
fn ihtsdo_dec_2022_sha256_slots_hold_md5_length_values() {
    let Some(o) = read("IHTSDO-termserver-syndication__feed-example@4c22bc4.xml") else {
        return;
    };
    let fs = findings(&o, Profile::Lenient);
    assert_eq!(count(&fs, FindingCode::LinkSha256Malformed), 2);
    assert!(
        matches!(&o.feed.entries[0].links[0].sha256, Some(Checked::Malformed(raw)) if raw.len() == 32)
    );
}

#[test]
fn first_snomed_draft_empty_dependency_and_trailing_space() {
    let Some(o) = read("termserver-syndication__feed-example.xml") else {
        return;
    };
    let fs = findings(&o, Profile::Lenient);
    assert_eq!(count(&fs, FindingCode::DependencyEmpty), 1);
    let malformed: Vec<_> = fs
        .iter()
        .filter(|f| f.code == FindingCode::DependencyMalformed)
        .collect();
    assert_eq!(malformed.len(), 1);
    assert!(
        malformed[0].message.contains("20220131 '"),
        "the trailing space is kept and shown"
    );
    assert_eq!(count(&fs, FindingCode::LinkSha256Malformed), 2);
    let summary = o
        .feed
        .entries
        .iter()
        .filter_map(|e| e.summary.as_ref())
        .find(|s| s.value.is_empty());
    assert!(summary.is_some(), "an empty summary is kept as empty");
}

#[test]
fn first_snomed_draft_wrong_sct_namespace_is_kept_and_reported() {
    let Some(o) = read("termserver-syndication__feed-example@701fc07.xml") else {
        return;
    };
    for e in &o.feed.entries {
        assert!(
            e.package_dependency.is_none(),
            "xmlns:sct=\"x\" is not the sct namespace"
        );
        assert!(e.extensions.iter().any(
            |x| x.name.local == "packageDependency" && x.name.namespace.as_deref() == Some("x")
        ));
    }
    let fs = findings(&o, Profile::Lenient);
    assert_eq!(count(&fs, FindingCode::ExtensionWrongNamespace), 2);
}

#[test]
fn ncts_client_test_feed_faults() {
    let Some(o) = read("ncts-syndication-client__syndication.xml") else {
        return;
    };
    assert_eq!(o.feed.entries.len(), 6);
    let fs = findings(&o, Profile::Lenient);
    assert_eq!(
        count(&fs, FindingCode::CategoryTermNotInScheme),
        6,
        "SCT_RF2_BLUE/RED/PURPLE/GREEN"
    );
    let bad_hash: Vec<_> = fs
        .iter()
        .filter(|f| f.code == FindingCode::LinkSha256Malformed)
        .collect();
    assert_eq!(bad_hash.len(), 1);
    assert!(bad_hash[0].message.contains("thisHashIsIncorrect"));
    assert_eq!(
        bad_hash[0].location.entry_id.as_ref().map(|i| i.as_str()),
        Some("urn:uuid:555555")
    );
    assert!(bad_hash[0].location.position.is_some_and(|p| p.line == 117));
    assert!(count(&fs, FindingCode::EntryDuplicateVersion) >= 1);
    assert_eq!(
        o.feed.entries[0].id.as_ref().map(|i| i.as_str()),
        Some("urn:uuid:23343")
    );
    assert_eq!(
        o.feed.entries[0].links[0].media_type.as_deref(),
        Some("application/text")
    );
    // Strict grading turns the non-IG terms into errors.
    let strict = findings(&o, Profile::Strict);
    assert!(
        strict.iter().any(
            |f| f.code == FindingCode::CategoryTermNotInScheme && f.severity == Severity::Error
        )
    );
}

#[test]
fn ncts_entries_repeat_their_summary_and_rights_in_both_readers() {
    let Some(p) = path("ncts-syndication-client__syndication.xml") else {
        return;
    };
    let bytes = std::fs::read(p).expect("fixture is readable");
    let full = read_feed(&bytes, &ReadOptions::lenient())
        .expect("reads")
        .feed
        .entries;
    let streamed = EntryReader::new(&bytes[..], &ReadOptions::lenient())
        .expect("starts")
        .collect::<Result<Vec<_>, _>>()
        .expect("streams");
    assert_eq!(full, streamed);
    assert_eq!(full.len(), 6);
    let value = |t: &Option<Text>| t.as_ref().map(|t| t.value.clone());
    let (summary, rights) = (value(&full[0].summary), value(&full[0].rights));
    assert!(
        rights.as_ref().is_some_and(|r| r.len() > 700),
        "the copyright notice"
    );
    for e in &full[1..] {
        assert_eq!(value(&e.summary), summary);
        assert_eq!(value(&e.rights), rights);
    }
}

#[test]
fn legacy_preload_namespace_profile_attribute_and_dates() {
    let Some(o) = read("ontoserver-deploy__legacy-preload.xml") else {
        return;
    };
    let fs = findings(&o, Profile::Lenient);
    assert_eq!(
        count(&fs, FindingCode::NamespaceLegacyNcts),
        1,
        "reported once per feed"
    );
    assert_eq!(count(&fs, FindingCode::ProfileVersionAttribute), 1);
    assert_eq!(count(&fs, FindingCode::DateMissingTime), 3);
    assert_eq!(
        o.feed.profile.as_deref(),
        Some("http://ns.electronichealth.net.au/ncts/syndication/asf/profile/0.1.0")
    );
    let e = &o.feed.entries[0];
    assert_eq!(
        e.id.as_ref().map(|i| i.as_str()),
        Some("a24bbe44-04d5-457d-aebc-513cc2c296b8")
    );
    assert_eq!(e.bundle_interpretation, Some(BundleInterpretation::Batch));
    assert_eq!(e.fhir_versions[0].as_str(), "4.0");
    assert_eq!(
        e.identifier.as_ref().map(|i| i.as_str()),
        Some("preload-bundle")
    );
    assert_eq!(e.links[0].href, "file:///data/preload.json");
    assert_eq!(count(&fs, FindingCode::LinkMissingHash), 1);
    // Written back, the profile is element text in the 1.0.0 namespace.
    let xml = o.feed.to_xml().expect("writable");
    assert!(xml.contains("<ncts:atomSyndicationFormatProfile>http://ns.electronichealth.net.au/ncts/syndication/asf/profile/0.1.0</"));
    assert!(xml.contains(
        "xmlns:ncts=\"http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/1.0.0\""
    ));
}

#[test]
fn ontoload_preload_entries_without_updated() {
    let Some(o) = read("ontoserver-deploy__preload-feed-branch__ontoload-preload.xml") else {
        return;
    };
    let fs = findings(&o, Profile::Lenient);
    assert_eq!(count(&fs, FindingCode::EntryMissingUpdated), 2);
    assert!(
        fs.iter()
            .filter(|f| f.code == FindingCode::EntryMissingUpdated)
            .all(|f| f.severity == Severity::Warning)
    );
    let labels: Vec<_> = o
        .feed
        .entries
        .iter()
        .filter_map(|e| e.categories[0].label.as_deref())
        .collect();
    assert_eq!(labels, ["FHIR Code System", "FHIR Value Set"]);
    assert_eq!(
        o.feed.entries[0].content_type(),
        Some(ContentType::FhirCodeSystem)
    );
    let strict = findings(&o, Profile::Strict);
    assert_eq!(
        strict
            .iter()
            .filter(|f| f.code == FindingCode::EntryMissingUpdated && f.severity == Severity::Error)
            .count(),
        2
    );
}

#[test]
fn preload_profile_tells_the_accepted_feed_from_the_rejected_one() {
    let (Some(accepted), Some(rejected)) = (
        read("ontoserver-deploy__pathology-permissions-demo__preload.xml"),
        read("ontoserver-deploy__pathology-permissions-demo__preload@ba3b529.xml"),
    ) else {
        return;
    };
    let ok = findings(&accepted, Profile::Preload);
    assert!(
        errors(&ok).is_empty(),
        "Ontoserver 6.24.2 accepted this feed: {:?}",
        errors(&ok)
    );
    let bad = findings(&rejected, Profile::Preload);
    let codes: Vec<_> = bad
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .map(|f| f.code)
        .collect();
    assert!(codes.contains(&FindingCode::FeedAuthorInPreload));
    assert!(codes.contains(&FindingCode::FeedMissingSelfLink));
    assert!(codes.contains(&FindingCode::EntryMissingPublished));
    // Writing the rejected feed for preload fixes all three.
    let fixed = rejected.feed.clone();
    let mut out = Vec::new();
    release_model::feed::write_feed(
        &fixed,
        &release_model::feed::WriteOptions::preload(Some(
            "file:///data/preload/preload.xml".into(),
        )),
        &mut out,
    )
    .expect("the preload feed is writable");
    let again = read_feed(&out, &ReadOptions::strict()).expect("preload output is well-formed");
    let again_findings = findings(&again, Profile::Preload);
    assert!(
        errors(&again_findings).is_empty(),
        "{:?}",
        errors(&again_findings)
    );
    assert!(again.feed.authors.is_empty());
    assert!(
        again
            .feed
            .entries
            .iter()
            .all(|e| !e.authors.is_empty() && e.published.is_some())
    );
}

#[test]
fn mlds_feed_alternate_is_profile_and_null_author() {
    let Some(o) = read("snowstorm-pr700__SyndicationClientTest-mlds-feed.xml") else {
        return;
    };
    let fs = findings(&o, Profile::Lenient);
    assert_eq!(count(&fs, FindingCode::FeedAlternateIsProfile), 1);
    assert_eq!(count(&fs, FindingCode::EntryAuthorNull), 1);
    assert!(
        o.feed
            .entries
            .iter()
            .all(|e| e.links.len() == 2 && e.links.iter().all(|l| l.md5().is_some()))
    );
    assert!(o.feed.entries.iter().any(|e| {
        e.package_dependency
            .as_ref()
            .is_some_and(|d| d.editions.len() == 1)
    }));
    assert!(
        o.feed
            .entries
            .iter()
            .all(|e| e.content_type() == Some(ContentType::SctRf2All))
    );
}

#[test]
fn ig_fragments_are_not_well_formed_lenient_recovers_strict_locates() {
    let Some(p) = path("fhir-syndication-ig__pagecontent-entry-fragments.xml") else {
        return;
    };
    let bytes = std::fs::read(p).expect("fixture is readable");
    // Lenient: recovers the raw '&' in two hrefs, with findings at their lines.
    let o = read_feed(&bytes, &ReadOptions::lenient()).expect("lenient recovers");
    let amp: Vec<_> = o
        .findings
        .iter()
        .filter(|f| f.code == FindingCode::XmlUnescapedAmpersand)
        .collect();
    assert_eq!(amp.len(), 2);
    assert_eq!(amp[0].location.position.map(|p| p.line), Some(139));
    assert_eq!(amp[1].location.position.map(|p| p.line), Some(228));
    let vs = &o.feed.entries[6];
    assert!(vs.links[0].href.ends_with("au-body-sites&version=1.2.0"));
    // Strict: fails at the first one, with line and column.
    match read_feed(&bytes, &ReadOptions::strict()) {
        Err(Error::Malformed {
            position, message, ..
        }) => {
            assert_eq!((position.line, position.column), (139, 3));
            assert!(message.contains("unescaped '&'"), "{message}");
        }
        other => panic!("strict read must fail at the raw '&': {other:?}"),
    }
    // The retraction, CRMI and Ontoserver constructs are all typed.
    let f = &o.feed;
    let retract = &f.entries[7];
    assert!(retract.is_retraction());
    assert_eq!(
        retract.content_type(),
        Some(ContentType::FhirValueSetRetract)
    );
    let crmi = f.entries[8]
        .crmi
        .as_ref()
        .expect("CRMI elements are present");
    assert_eq!(crmi.publish_action.as_deref(), Some("unpublish"));
    assert_eq!(crmi.artifact_version.as_deref(), Some("1.2.0"));
    let onto = &f.entries[2];
    assert_eq!(
        onto.permissions
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>(),
        ["snomed-au", "licensed-content"]
    );
    assert_eq!(onto.links[0].validated, Some(Checked::Valid(true)));
    let fs = findings(&o, Profile::Lenient);
    assert!(
        count(&fs, FindingCode::LinkSha256Malformed) >= 3,
        "placeholder hashes '9c9b…'"
    );
    assert_eq!(count(&fs, FindingCode::RetractHasAlternateLink), 0);
}

#[test]
fn fixture_feeds_parse_to_the_same_model_from_a_reader() {
    let Some(p) = path("ncts-syndication-client__syndication.xml") else {
        return;
    };
    let bytes = std::fs::read(&p).expect("fixture is readable");
    let from_reader = release_model::feed::read_feed_from(
        std::fs::File::open(&p).expect("opens"),
        &ReadOptions::lenient(),
    )
    .expect("reads");
    assert_eq!(from_reader.feed, Feed::from_slice(&bytes).expect("reads"));
}
