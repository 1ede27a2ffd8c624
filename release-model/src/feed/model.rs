//! The feed model: a typed view of every construct in FEED-FORMAT.md, plus the foreign
//! markup it does not understand, kept so a feed round-trips.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

use super::content_type::ContentType;
use super::values::{AtomDate, Checked, Md5, Sha256};

macro_rules! text_newtype {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps the text as read from (or to be written to) a feed.
            pub fn new(text: impl Into<String>) -> Self {
                Self(text.into())
            }

            /// The text.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The text with surrounding white space removed, which is how consumers match it.
            pub fn trimmed(&self) -> &str {
                self.0.trim()
            }

            /// Unwraps the text.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(s: String) -> Self {
                Self(s)
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                Self(s.to_owned())
            }
        }
    };
}

text_newtype!(
    /// An `atom:id`: the identity of a feed or an entry (not of the artefact), conventionally
    /// `urn:uuid:…`. Kept opaque: Ontoserver samples use bare UUIDs, test feeds short ids.
    AtomId
);
text_newtype!(
    /// `ncts:contentItemIdentifier`: the version-independent identity of an artefact (a FHIR
    /// canonical `url`, `http://snomed.info/sct/<module>`, `http://loinc.org`). Opaque: real
    /// feeds publish non-URI identifiers.
    ContentItemIdentifier
);
text_newtype!(
    /// `ncts:contentItemVersion`: the version-specific identity of an artefact. Opaque: SNOMED
    /// version URIs, `url|version`, plain `20260408` or `4.11` all occur.
    ContentItemVersion
);
text_newtype!(
    /// `ncts:fhirVersion`: `major.minor` or `major.minor.patch` (`4.0`, `4.0.1`).
    FhirVersion
);
text_newtype!(
    /// The `code` of an `onto:permission`: a consumer needs at least one listed code.
    PermissionCode
);

/// A content item: an artefact's identifier and version, which together name what a
/// terminology server holds after loading it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ContentItem {
    /// The version-independent identifier.
    pub identifier: ContentItemIdentifier,
    /// The version.
    pub version: ContentItemVersion,
}

impl fmt::Display for ContentItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.identifier, self.version)
    }
}

/// The qualified name of a foreign element or attribute.
///
/// Equality ignores the prefix: prefixes are not significant in XML, and the writer may have
/// to choose another one when the original collides with a prefix it reserves.
#[derive(Clone, Debug, Eq, Serialize, Deserialize)]
pub struct XmlName {
    /// The namespace URI, or `None` for no namespace.
    pub namespace: Option<String>,
    /// The local name.
    pub local: String,
    /// The prefix the name was written with, used as a hint when writing.
    pub prefix: Option<String>,
}

impl XmlName {
    /// A name in a namespace.
    pub fn new(namespace: Option<&str>, local: &str) -> Self {
        Self {
            namespace: namespace.map(str::to_owned),
            local: local.to_owned(),
            prefix: None,
        }
    }
}

impl PartialEq for XmlName {
    fn eq(&self, other: &Self) -> bool {
        self.namespace == other.namespace && self.local == other.local
    }
}

impl std::hash::Hash for XmlName {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.namespace.hash(state);
        self.local.hash(state);
    }
}

impl fmt::Display for XmlName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{{{ns}}}{}", self.local),
            None => f.write_str(&self.local),
        }
    }
}

/// An attribute that the model has no field for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Attribute {
    /// Its name.
    pub name: XmlName,
    /// Its value, unescaped.
    pub value: String,
}

/// A node of foreign markup.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Node {
    /// An element.
    Element(Element),
    /// Character data, unescaped.
    Text(String),
}

/// An element the model has no field for, kept whole so the feed round-trips (RFC 4287 §6
/// allows foreign markup almost anywhere).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Element {
    /// Its name.
    pub name: XmlName,
    /// Its attributes (namespace declarations excluded: the writer declares what it needs).
    pub attributes: Vec<Attribute>,
    /// Its content.
    pub children: Vec<Node>,
}

impl Element {
    /// The element's character data, concatenated.
    pub fn text(&self) -> String {
        let mut out = String::new();
        collect_text(&self.children, &mut out);
        out
    }
}

pub(crate) fn collect_text(nodes: &[Node], out: &mut String) {
    for n in nodes {
        match n {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => collect_text(&e.children, out),
        }
    }
}

/// The `type` of an Atom text construct.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[non_exhaustive]
pub enum TextKind {
    /// Plain text (the default when absent).
    Text,
    /// Escaped HTML.
    Html,
    /// Inline XHTML (the content is markup).
    Xhtml,
    /// A value outside RFC 4287, kept as read.
    Other(String),
}

impl TextKind {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "text" => TextKind::Text,
            "html" => TextKind::Html,
            "xhtml" => TextKind::Xhtml,
            other => TextKind::Other(other.to_owned()),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            TextKind::Text => "text",
            TextKind::Html => "html",
            TextKind::Xhtml => "xhtml",
            TextKind::Other(s) => s,
        }
    }
}

/// An Atom text construct: `title`, `subtitle`, `summary`, `rights`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Text {
    /// The `type` attribute, when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TextKind>,
    /// The text, exactly as read (leading spaces and U+FFFD included); for markup content,
    /// its character data.
    pub value: String,
    /// Markup content (XHTML), when the construct holds elements; empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub markup: Vec<Node>,
    /// Other attributes (`xml:lang`, foreign ones).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

impl Text {
    /// Plain text.
    pub fn plain(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            ..Self::default()
        }
    }

    /// The text, for display.
    pub fn as_str(&self) -> &str {
        &self.value
    }
}

impl fmt::Display for Text {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

/// An Atom person construct (`author`, `contributor`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Person {
    /// `name` (required by RFC 4287; MLDS writes the string `null`).
    pub name: Option<String>,
    /// `uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Foreign attributes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Foreign child elements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Element>,
}

impl Person {
    /// A person with a name.
    pub fn named(name: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            ..Self::default()
        }
    }
}

/// The feed's `generator`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Generator {
    /// The generator's name.
    pub value: String,
    /// `uri`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// `version` (Ontoserver writes its software version here).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Foreign attributes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

/// A link's `rel`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkRel {
    /// `alternate`: the primary artefact (also the RFC default when `rel` is absent).
    Alternate,
    /// `related`: an ancillary file (release notes, licence).
    Related,
    /// `self`: the feed's own URL.
    SelfLink,
    /// Any other relation (`via`, `next`, `enclosure` …), kept as read.
    Other(String),
}

impl LinkRel {
    /// Parses a `rel` value.
    pub fn parse(s: &str) -> Self {
        match s {
            "alternate" => LinkRel::Alternate,
            "related" => LinkRel::Related,
            "self" => LinkRel::SelfLink,
            other => LinkRel::Other(other.to_owned()),
        }
    }

    /// The `rel` value.
    pub fn as_str(&self) -> &str {
        match self {
            LinkRel::Alternate => "alternate",
            LinkRel::Related => "related",
            LinkRel::SelfLink => "self",
            LinkRel::Other(s) => s,
        }
    }
}

impl Serialize for LinkRel {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for LinkRel {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| LinkRel::parse(&s))
    }
}

/// An `atom:link` with the syndication attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Link {
    /// `rel`; absent means `alternate` (RFC 4287), but the IG requires it.
    pub rel: Option<LinkRel>,
    /// `href`: the download URL, as written (`https:`, `file:`, `classpath:` …).
    pub href: String,
    /// `type`: the artefact's media type.
    #[serde(rename = "type")]
    pub media_type: Option<String>,
    /// `length`: the exact byte count at `href` (u64: binary indexes exceed 1.8 GB).
    pub length: Option<Checked<u64>>,
    /// `ncts:sha256Hash`.
    pub sha256: Option<Checked<Sha256>>,
    /// `sct:md5Hash`.
    pub md5: Option<Checked<Md5>>,
    /// `onto:validated`: the publisher re-verified the bytes since publishing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validated: Option<Checked<bool>>,
    /// `title`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `hreflang`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hreflang: Option<String>,
    /// Foreign attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Foreign content (links are normally empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Element>,
}

impl Link {
    /// A link with a relation and URL.
    pub fn new(rel: LinkRel, href: impl Into<String>) -> Self {
        Self {
            rel: Some(rel),
            href: href.into(),
            ..Self::default()
        }
    }

    /// The effective relation: `alternate` when `rel` is absent.
    pub fn effective_rel(&self) -> LinkRel {
        self.rel.clone().unwrap_or(LinkRel::Alternate)
    }

    /// Whether this is the primary artefact link.
    pub fn is_alternate(&self) -> bool {
        matches!(self.rel, None | Some(LinkRel::Alternate))
    }

    /// The declared length, when it parsed.
    pub fn length_bytes(&self) -> Option<u64> {
        self.length.as_ref().and_then(Checked::valid).copied()
    }

    /// The well-formed SHA-256, if any.
    pub fn sha256(&self) -> Option<&Sha256> {
        self.sha256.as_ref().and_then(Checked::valid)
    }

    /// The well-formed MD5, if any.
    pub fn md5(&self) -> Option<&Md5> {
        self.md5.as_ref().and_then(Checked::valid)
    }
}

/// An `atom:category`. What it means is [`Category::content_type`].
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Category {
    /// `term` (required).
    pub term: String,
    /// `scheme` (required by the IG).
    pub scheme: Option<String>,
    /// `label` (varies between publishers; never match on it).
    pub label: Option<String>,
    /// Foreign attributes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
}

impl Category {
    /// A category with a scheme and term.
    pub fn new(scheme: impl Into<String>, term: impl Into<String>) -> Self {
        Self {
            term: term.into(),
            scheme: Some(scheme.into()),
            ..Self::default()
        }
    }

    /// What the category names, from its scheme and term.
    pub fn content_type(&self) -> ContentType {
        ContentType::from_category(self.scheme.as_deref(), &self.term)
    }
}

/// `sct:packageDependency`: what a SNOMED CT extension or derivative package needs installed
/// first. Absent on edition packages.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct PackageDependency {
    /// `sct:editionDependency` values, as written (a trailing space is kept and reported).
    pub editions: Vec<String>,
    /// `sct:derivativeDependency` values, as written.
    pub derivatives: Vec<String>,
    /// Other children (the first draft's misspelt `sct:derivateDependency`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Element>,
}

impl PackageDependency {
    /// Every dependency, editions first.
    pub fn all(&self) -> impl Iterator<Item = &str> {
        self.editions
            .iter()
            .chain(&self.derivatives)
            .map(String::as_str)
    }
}

/// `ncts:bundleInterpretation`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BundleInterpretation {
    /// Load the bundle's resources individually.
    Batch,
    /// Load the bundle as one resource.
    Collection,
    /// A value outside the IG value set, kept as read.
    Other(String),
}

impl BundleInterpretation {
    pub(crate) fn parse(s: &str) -> Self {
        match s.trim() {
            "batch" => Self::Batch,
            "collection" => Self::Collection,
            _ => Self::Other(s.to_owned()),
        }
    }

    /// The value as written.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Batch => "batch",
            Self::Collection => "collection",
            Self::Other(s) => s,
        }
    }
}

impl Serialize for BundleInterpretation {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BundleInterpretation {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|s| BundleInterpretation::parse(&s))
    }
}

/// CRMI dual-conformance elements (`hl7:*`); an ASF consumer ignores them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Crmi {
    /// `hl7:artifactType` (`package` | `resource`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_type: Option<String>,
    /// `hl7:artifactVersion`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_version: Option<String>,
    /// `hl7:fhirVersion` (must equal `ncts:fhirVersion` when both are present).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fhir_version: Option<String>,
    /// `hl7:publishAction` (`publish` | `unpublish`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publish_action: Option<String>,
}

impl Crmi {
    /// Whether no CRMI element is present.
    pub fn is_empty(&self) -> bool {
        self.artifact_type.is_none()
            && self.artifact_version.is_none()
            && self.fhir_version.is_none()
            && self.publish_action.is_none()
    }
}

/// An entry's `atom:source`: metadata of the feed it was copied from. Its links belong to that
/// feed, not to the entry.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Source {
    /// The source feed's `id`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<AtomId>,
    /// Its `title`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<Text>,
    /// Its `updated`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated: Option<Checked<AtomDate>>,
    /// Its links.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<Link>,
    /// Other children (`author`, `generator` … and foreign markup).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Element>,
}

/// One entry of a feed: one downloadable artefact, or a retraction of one.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Entry {
    /// `id`: identity of the entry (not of the artefact).
    pub id: Option<AtomId>,
    /// `title`.
    pub title: Option<Text>,
    /// `summary`.
    pub summary: Option<Text>,
    /// `rights`.
    pub rights: Option<Text>,
    /// `published`: when the artefact was first issued (for retractions: the retraction time).
    pub published: Option<Checked<AtomDate>>,
    /// `updated`: the last publisher-significant change.
    pub updated: Option<Checked<AtomDate>>,
    /// `author`s.
    pub authors: Vec<Person>,
    /// `contributor`s.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<Person>,
    /// `category`s.
    pub categories: Vec<Category>,
    /// `link`s.
    pub links: Vec<Link>,
    /// `source`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<Box<Source>>,
    /// `ncts:contentItemIdentifier`.
    pub identifier: Option<ContentItemIdentifier>,
    /// `ncts:contentItemVersion`.
    pub version: Option<ContentItemVersion>,
    /// `ncts:fhirVersion`s (the IG allows one, NCTS several).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fhir_versions: Vec<FhirVersion>,
    /// `ncts:fhirProfile`s.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub fhir_profiles: Vec<String>,
    /// `ncts:bundleInterpretation`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bundle_interpretation: Option<BundleInterpretation>,
    /// `ncts:sctBaseVersion` (SNOMED CT Delta packages).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sct_base_version: Option<String>,
    /// `sct:packageDependency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub package_dependency: Option<Box<PackageDependency>>,
    /// `onto:permission` codes.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub permissions: Vec<PermissionCode>,
    /// CRMI `hl7:*` elements, when any is present.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crmi: Option<Box<Crmi>>,
    /// Foreign attributes on `entry`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Foreign child elements, and repeats of single-valued elements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Element>,
}

impl Entry {
    /// The content item, when the entry names both its identifier and version.
    pub fn content_item(&self) -> Option<ContentItem> {
        Some(ContentItem {
            identifier: self.identifier.clone()?,
            version: self.version.clone()?,
        })
    }

    /// The content type of the first category this workspace recognises, else of the first
    /// category.
    pub fn content_type(&self) -> Option<ContentType> {
        let mut first = None;
        for c in &self.categories {
            let ct = c.content_type();
            if !matches!(ct, ContentType::Other { .. }) {
                return Some(ct);
            }
            first.get_or_insert(ct);
        }
        first
    }

    /// Whether the entry retracts a content item: a category term ending in `_RETRACT` under
    /// any scheme, as the IG invariants test it.
    pub fn is_retraction(&self) -> bool {
        self.categories.iter().any(|c| c.term.ends_with("_RETRACT"))
    }

    /// The primary artefact link (`rel="alternate"` or no `rel`).
    pub fn alternate_link(&self) -> Option<&Link> {
        self.links.iter().find(|l| l.is_alternate())
    }

    /// The effective `updated` instant (UTC), when it parsed.
    pub fn updated_utc(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.updated
            .as_ref()
            .and_then(Checked::valid)
            .map(AtomDate::to_utc)
    }
}

/// A terminology syndication feed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Feed {
    /// `id`: permanent, must not change across republications.
    pub id: Option<AtomId>,
    /// `title`.
    pub title: Option<Text>,
    /// `subtitle`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subtitle: Option<Text>,
    /// `updated`.
    pub updated: Option<Checked<AtomDate>>,
    /// `generator`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generator: Option<Generator>,
    /// Feed-level links (`self`, `alternate`, paging relations).
    pub links: Vec<Link>,
    /// Feed-level authors (terminology servers reject them in preload feeds).
    pub authors: Vec<Person>,
    /// Feed-level contributors.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub contributors: Vec<Person>,
    /// Feed-level categories.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    /// `rights`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rights: Option<Text>,
    /// `icon`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon: Option<String>,
    /// `logo`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub logo: Option<String>,
    /// The ASF profile URI from `ncts:atomSyndicationFormatProfile` (read from its text, or
    /// from the legacy `version` attribute).
    pub profile: Option<String>,
    /// The entries, in document order (which carries no meaning).
    pub entries: Vec<Entry>,
    /// Foreign attributes on `feed`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attributes: Vec<Attribute>,
    /// Foreign child elements, and repeats of single-valued elements.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub extensions: Vec<Element>,
}

impl Feed {
    /// The `self` link's URL, if any.
    pub fn self_link(&self) -> Option<&str> {
        self.links
            .iter()
            .find(|l| l.rel == Some(LinkRel::SelfLink))
            .map(|l| l.href.as_str())
    }

    /// The latest entry `updated` instant, which the feed's `updated` should equal.
    pub fn latest_entry_update(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        self.entries.iter().filter_map(Entry::updated_utc).max()
    }

    /// Entries that offer the given content item.
    pub fn entries_for<'a>(&'a self, item: &'a ContentItem) -> impl Iterator<Item = &'a Entry> {
        self.entries.iter().filter(move |e| {
            e.identifier.as_ref() == Some(&item.identifier)
                && e.version.as_ref() == Some(&item.version)
        })
    }
}
