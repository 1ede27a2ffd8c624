//! read(write(feed)) == feed for generated feeds, including foreign markup, malformed
//! values and text that needs escaping.

use proptest::prelude::*;
use release_model::feed::{
    AtomDate, AtomId, Attribute, BundleInterpretation, Category, Checked, ContentItemIdentifier,
    ContentItemVersion, Element, Entry, Feed, FhirVersion, Link, LinkRel, Md5, Node,
    PackageDependency, PermissionCode, Person, ReadOptions, Sha256, Text, XmlName, ns, read_feed,
};

/// Text XML 1.0 can carry: printable characters, markup characters that need escaping, and
/// white space.
fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 &<>\"'\\t\\n\\r;#|:/.é\u{FFFD}-]{0,24}"
}

fn opt<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(s)
}

fn date() -> impl Strategy<Value = Checked<AtomDate>> {
    prop_oneof![
        (0i64..4_000_000_000).prop_map(|s| {
            let dt = chrono::DateTime::from_timestamp(s, 0)
                .expect("in range")
                .fixed_offset();
            Checked::Valid(AtomDate::from_instant(dt))
        }),
        Just(Checked::Valid(
            AtomDate::parse("2019-06-29").expect("date only")
        )),
        Just(Checked::Valid(
            AtomDate::parse("2023-10-10T00:01:00").expect("no offset")
        )),
        "[a-z ]{1,8}".prop_map(Checked::Malformed),
    ]
}

fn foreign_name() -> impl Strategy<Value = XmlName> {
    (
        prop_oneof![Just(None), Just(Some("urn:a")), Just(Some("urn:b:x"))],
        "[a-z]{1,6}",
        opt("p[a-z]{0,3}"),
    )
        .prop_map(|(ns, local, prefix)| XmlName {
            namespace: ns.map(str::to_owned),
            local,
            prefix,
        })
}

fn attribute() -> impl Strategy<Value = Attribute> {
    (foreign_name(), text()).prop_map(|(mut name, value)| {
        // Attributes in no namespace must not collide with the ones the model types.
        if name.namespace.is_none() {
            name.local = format!("x-{}", name.local);
        }
        Attribute { name, value }
    })
}

fn element() -> impl Strategy<Value = Element> {
    let leaf = (
        foreign_name(),
        proptest::collection::vec(attribute(), 0..2),
        opt("[a-z <&>]{1,8}"),
    )
        .prop_map(|(name, attributes, text)| Element {
            name,
            attributes: dedup(attributes),
            children: text.map(Node::Text).into_iter().collect(),
        });
    leaf.prop_recursive(3, 12, 3, |inner| {
        (
            foreign_name(),
            proptest::collection::vec(inner, 0..3),
            "[a-z]{1,4}",
        )
            .prop_map(|(name, kids, sep)| {
                // Adjacent text nodes merge on reading, so separate children with elements.
                let mut children = Vec::new();
                for k in kids {
                    children.push(Node::Text(sep.clone()));
                    children.push(Node::Element(k));
                }
                Element {
                    name,
                    attributes: Vec::new(),
                    children,
                }
            })
    })
}

fn dedup(mut attrs: Vec<Attribute>) -> Vec<Attribute> {
    let mut seen = std::collections::HashSet::new();
    attrs.retain(|a| seen.insert(a.name.clone()));
    attrs
}

fn text_construct() -> impl Strategy<Value = Text> {
    text().prop_map(Text::plain)
}

fn link() -> impl Strategy<Value = Link> {
    (
        opt(prop_oneof![
            Just(LinkRel::Alternate),
            Just(LinkRel::Related),
            Just(LinkRel::SelfLink),
            "[a-z]{1,5}".prop_map(LinkRel::Other)
        ]),
        text(),
        opt("[a-z/+]{1,12}"),
        opt(prop_oneof![
            any::<u64>().prop_map(Checked::Valid),
            "[a-z ]{1,5}".prop_map(Checked::Malformed)
        ]),
        opt(prop_oneof![
            "[0-9a-f]{64}".prop_map(|h| Checked::Valid(Sha256::parse(&h).expect("64 hex"))),
            "[a-zA-Z…]{1,10}".prop_map(Checked::Malformed)
        ]),
        opt("[0-9a-f]{32}".prop_map(|h| Checked::Valid(Md5::parse(&h).expect("32 hex")))),
        opt(any::<bool>().prop_map(Checked::Valid)),
        proptest::collection::vec(attribute(), 0..2),
    )
        .prop_map(|(rel, href, media, length, sha, md5, validated, attrs)| {
            let mut l = Link::default();
            l.rel = rel;
            l.href = href;
            l.media_type = media;
            l.length = length;
            l.sha256 = sha;
            l.md5 = md5;
            l.validated = validated;
            l.attributes = dedup(attrs);
            l
        })
}

fn entry() -> impl Strategy<Value = Entry> {
    (
        (
            opt(text()),
            opt(text_construct()),
            opt(text_construct()),
            opt(date()),
            opt(date()),
        ),
        (
            proptest::collection::vec(text().prop_map(Person::named), 0..2),
            proptest::collection::vec(
                (text(), text()).prop_map(|(s, t)| Category::new(s, t)),
                0..3,
            ),
            proptest::collection::vec(link(), 0..3),
        ),
        (
            opt(text()),
            opt(text()),
            proptest::collection::vec("[0-9.]{1,5}", 0..2),
        ),
        (
            opt(prop_oneof![
                Just(BundleInterpretation::Batch),
                Just(BundleInterpretation::Collection)
            ]),
            opt((
                proptest::collection::vec(text(), 0..2),
                proptest::collection::vec(text(), 0..2),
            )),
            proptest::collection::vec("[a-z*.]{1,10}", 0..3),
            proptest::collection::vec(element(), 0..2),
        ),
    )
        .prop_map(|(core, people, item, ext)| {
            let mut e = Entry::default();
            (e.id, e.title, e.summary, e.updated, e.published) =
                (core.0.map(AtomId::from), core.1, core.2, core.3, core.4);
            (e.authors, e.categories, e.links) = people;
            e.identifier = item.0.map(ContentItemIdentifier::from);
            e.version = item.1.map(ContentItemVersion::from);
            e.fhir_versions = item.2.into_iter().map(FhirVersion::from).collect();
            e.bundle_interpretation = ext.0;
            e.package_dependency = ext.1.map(|(editions, derivatives)| {
                let mut d = PackageDependency::default();
                d.editions = editions;
                d.derivatives = derivatives;
                Box::new(d)
            });
            e.permissions = ext.2.into_iter().map(PermissionCode::from).collect();
            e.extensions = ext.3;
            e
        })
}

fn feed() -> impl Strategy<Value = Feed> {
    (
        opt(text()),
        opt(text_construct()),
        opt(date()),
        proptest::collection::vec(link(), 0..2),
        proptest::collection::vec(text().prop_map(Person::named), 0..2),
        opt(prop_oneof![Just(ns::PROFILE_ASF.to_owned()), text()]),
        proptest::collection::vec(entry(), 0..4),
        proptest::collection::vec(element(), 0..2),
        proptest::collection::vec(attribute(), 0..2),
    )
        .prop_map(
            |(id, title, updated, links, authors, profile, entries, extensions, attributes)| {
                let mut f = Feed::default();
                f.id = id.map(AtomId::from);
                f.title = title;
                f.updated = updated;
                f.links = links;
                f.authors = authors;
                f.profile = profile;
                f.entries = entries;
                f.extensions = extensions;
                f.attributes = dedup(attributes);
                f
            },
        )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    #[test]
    fn read_of_write_is_identity(f in feed()) {
        let xml = f.to_xml().expect("generated feeds are writable");
        let back = read_feed(xml.as_bytes(), &ReadOptions::strict())
            .map_err(|e| TestCaseError::fail(format!("{e}\n{xml}")))?;
        prop_assert_eq!(&back.feed, &f, "{}", xml);
        prop_assert!(back.findings.is_empty(), "{:?}", back.findings);
    }
}
