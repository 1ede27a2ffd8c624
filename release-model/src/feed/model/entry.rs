//! Entries and the feed, with the NCTS, SNOMED and CRMI extension blocks an entry carries.

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{
    AtomId, Attribute, Category, ContentItem, ContentItemIdentifier, ContentItemVersion, Element,
    FhirVersion, Generator, Link, LinkRel, PermissionCode, Person, Text,
};
use crate::feed::content_type::ContentType;
use crate::feed::values::{AtomDate, Checked};

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
