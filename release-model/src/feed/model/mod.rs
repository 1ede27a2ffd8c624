//! The feed model: a typed view of every construct in FEED-FORMAT.md, plus the foreign
//! markup it does not understand, kept so a feed round-trips. Names, texts and people are
//! here; links and categories in `link`; entries and the feed in `entry`.

use serde::{Deserialize, Serialize};
use std::fmt;

mod entry;
mod link;

pub use entry::{BundleInterpretation, Crmi, Entry, Feed, PackageDependency, Source};
pub use link::{Category, Link, LinkRel};

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
