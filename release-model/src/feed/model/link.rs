//! Links (the artefact and its integrity attributes) and categories (what the artefact is).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::Attribute;
use super::Element;
use crate::feed::content_type::ContentType;
use crate::feed::values::{Checked, Md5, Sha256};

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
