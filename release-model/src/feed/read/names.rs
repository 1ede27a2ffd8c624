//! Names: element and attribute names classified by namespace URI, never by prefix, and
//! the namespace declarations in scope.

use crate::feed::model::XmlName;
use crate::feed::ns;
use crate::feed::xml::same;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum NsKind {
    None,
    Atom,
    Ncts,
    NctsLegacy,
    Sct,
    Onto,
    Hl7,
    Xml,
    Other,
}

pub(super) fn ns_kind(uri: &str) -> NsKind {
    match uri {
        ns::ATOM => NsKind::Atom,
        ns::NCTS => NsKind::Ncts,
        ns::NCTS_LEGACY => NsKind::NctsLegacy,
        ns::SCT => NsKind::Sct,
        ns::ONTO => NsKind::Onto,
        ns::HL7 => NsKind::Hl7,
        ns::XML => NsKind::Xml,
        _ => NsKind::Other,
    }
}

/// A namespace declaration in scope.
struct Binding {
    prefix: Box<str>,
    /// Empty for `xmlns=""`, which undeclares the default namespace.
    uri: Box<str>,
    kind: NsKind,
    /// Depth of the element that declared it.
    depth: usize,
}

/// What a prefix resolved to.
pub(super) enum Resolved<'a> {
    Bound(&'a str, NsKind),
    /// No prefix and no default namespace (or an attribute without a prefix).
    Unbound,
    /// A prefix that is not declared.
    Unknown,
}

/// Declarations in scope up to which a prefix is found by a scan from the innermost: feeds
/// declare a handful, nearly always on the root, where a scan beats hashing the prefix.
const SCANNED: usize = 16;

/// The namespace declarations in scope, innermost last, bounded in number. Past [`SCANNED`]
/// declarations a prefix is found through an index, so resolving a name costs the same
/// however many a hostile document declares.
#[derive(Default)]
pub(super) struct Namespaces {
    bindings: Vec<Binding>,
    /// For each prefix, the positions in `bindings` that declare it, innermost last.
    index: std::collections::HashMap<Box<str>, Vec<usize>>,
    /// The most declarations in scope at once.
    pub(super) max: usize,
}

impl Namespaces {
    /// Declares `prefix` at `depth`; the error is the limit, when it is reached.
    pub(super) fn bind(&mut self, prefix: &str, uri: &str, depth: usize) -> Result<(), usize> {
        if self.bindings.len() >= self.max {
            return Err(self.max);
        }
        self.index
            .entry(prefix.into())
            .or_default()
            .push(self.bindings.len());
        self.bindings.push(Binding {
            prefix: prefix.into(),
            uri: uri.into(),
            kind: ns_kind(uri),
            depth,
        });
        Ok(())
    }

    /// Drops the declarations of the element at `depth`, which has ended. Called at every
    /// end tag, nearly always with nothing to drop.
    #[inline]
    pub(super) fn end(&mut self, depth: usize) {
        if self.bindings.last().is_some_and(|b| b.depth >= depth) {
            self.drop_from(depth);
        }
    }

    fn drop_from(&mut self, depth: usize) {
        while self.bindings.last().is_some_and(|b| b.depth >= depth) {
            if let Some(b) = self.bindings.pop()
                && let Some(stack) = self.index.get_mut(&b.prefix)
            {
                stack.pop();
            }
        }
    }

    #[inline]
    pub(super) fn resolve(&self, prefix: Option<&str>) -> Resolved<'_> {
        let wanted = match prefix {
            Some("xml") => return Resolved::Bound(ns::XML, NsKind::Xml),
            Some(p) => p,
            None => "",
        };
        let found = if self.bindings.len() <= SCANNED {
            self.bindings.iter().rev().find(|b| same(&b.prefix, wanted))
        } else {
            self.index
                .get(wanted)
                .and_then(|stack| stack.last())
                .and_then(|&i| self.bindings.get(i))
        };
        match found {
            Some(b) if !b.uri.is_empty() => Resolved::Bound(&b.uri, b.kind),
            _ if prefix.is_none() => Resolved::Unbound,
            _ => Resolved::Unknown,
        }
    }
}

/// The prefix an attribute declares a namespace for (`""` for `xmlns`), when it is a
/// declaration.
pub(super) fn declared_prefix(name: &str) -> Option<&str> {
    match name.strip_prefix("xmlns")? {
        "" => Some(""),
        p => p.strip_prefix(':'),
    }
}

/// The prefix and local part of a name. Only a qualified name splits: one colon, with
/// something before and after it. `:x`, `x:` and `a:b:c` are kept whole as the local part, so
/// an empty prefix never stands for the default namespace, and a name never gains a prefix
/// (or becomes a namespace declaration) when it is written back.
pub(super) fn split_qname(qname: &str) -> (Option<&str>, &str) {
    // Names are a few bytes: a plain scan beats a call into `memchr`.
    let b = qname.as_bytes();
    match b.iter().position(|&c| c == b':') {
        Some(i) if i > 0 && i + 1 < b.len() && !b[i + 1..].contains(&b':') => {
            (Some(&qname[..i]), &qname[i + 1..])
        }
        _ => (None, qname),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Tag {
    // Atom
    Feed,
    Entry,
    Id,
    Title,
    Subtitle,
    Summary,
    Rights,
    Updated,
    Published,
    Generator,
    Link,
    Author,
    Contributor,
    Name,
    Uri,
    Email,
    Category,
    Source,
    Icon,
    Logo,
    // ncts
    Profile,
    ContentItemIdentifier,
    ContentItemVersion,
    FhirVersion,
    FhirProfile,
    BundleInterpretation,
    SctBaseVersion,
    // sct
    PackageDependency,
    EditionDependency,
    DerivativeDependency,
    // onto
    Permission,
    // hl7
    ArtifactType,
    ArtifactVersion,
    Hl7FhirVersion,
    PublishAction,
    /// Anything else; boxed so the tokens that carry a tag stay small.
    Foreign(Box<XmlName>),
}

impl Tag {
    pub(super) fn classify(kind: NsKind, local: &str) -> Option<Tag> {
        Some(match kind {
            NsKind::Atom => match local {
                "feed" => Tag::Feed,
                "entry" => Tag::Entry,
                "id" => Tag::Id,
                "title" => Tag::Title,
                "subtitle" => Tag::Subtitle,
                "summary" => Tag::Summary,
                "rights" => Tag::Rights,
                "updated" => Tag::Updated,
                "published" => Tag::Published,
                "generator" => Tag::Generator,
                "link" => Tag::Link,
                "author" => Tag::Author,
                "contributor" => Tag::Contributor,
                "name" => Tag::Name,
                "uri" => Tag::Uri,
                "email" => Tag::Email,
                "category" => Tag::Category,
                "source" => Tag::Source,
                "icon" => Tag::Icon,
                "logo" => Tag::Logo,
                _ => return None,
            },
            NsKind::Ncts | NsKind::NctsLegacy => match local {
                "atomSyndicationFormatProfile" => Tag::Profile,
                "contentItemIdentifier" => Tag::ContentItemIdentifier,
                "contentItemVersion" => Tag::ContentItemVersion,
                "fhirVersion" => Tag::FhirVersion,
                "fhirProfile" => Tag::FhirProfile,
                "bundleInterpretation" => Tag::BundleInterpretation,
                "sctBaseVersion" => Tag::SctBaseVersion,
                _ => return None,
            },
            NsKind::Sct => match local {
                "packageDependency" => Tag::PackageDependency,
                "editionDependency" => Tag::EditionDependency,
                "derivativeDependency" => Tag::DerivativeDependency,
                _ => return None,
            },
            NsKind::Onto => match local {
                "permission" => Tag::Permission,
                _ => return None,
            },
            NsKind::Hl7 => match local {
                "artifactType" => Tag::ArtifactType,
                "artifactVersion" => Tag::ArtifactVersion,
                "fhirVersion" => Tag::Hl7FhirVersion,
                "publishAction" => Tag::PublishAction,
                _ => return None,
            },
            _ => return None,
        })
    }

    /// The element's name, for keeping a known element that turned up where it does not
    /// belong as foreign markup.
    pub(super) fn xml_name(&self) -> XmlName {
        let (namespace, local) = match self {
            Tag::Foreign(name) => return XmlName::clone(name),
            Tag::Feed => (ns::ATOM, "feed"),
            Tag::Entry => (ns::ATOM, "entry"),
            Tag::Id => (ns::ATOM, "id"),
            Tag::Title => (ns::ATOM, "title"),
            Tag::Subtitle => (ns::ATOM, "subtitle"),
            Tag::Summary => (ns::ATOM, "summary"),
            Tag::Rights => (ns::ATOM, "rights"),
            Tag::Updated => (ns::ATOM, "updated"),
            Tag::Published => (ns::ATOM, "published"),
            Tag::Generator => (ns::ATOM, "generator"),
            Tag::Link => (ns::ATOM, "link"),
            Tag::Author => (ns::ATOM, "author"),
            Tag::Contributor => (ns::ATOM, "contributor"),
            Tag::Name => (ns::ATOM, "name"),
            Tag::Uri => (ns::ATOM, "uri"),
            Tag::Email => (ns::ATOM, "email"),
            Tag::Category => (ns::ATOM, "category"),
            Tag::Source => (ns::ATOM, "source"),
            Tag::Icon => (ns::ATOM, "icon"),
            Tag::Logo => (ns::ATOM, "logo"),
            Tag::Profile => (ns::NCTS, "atomSyndicationFormatProfile"),
            Tag::ContentItemIdentifier => (ns::NCTS, "contentItemIdentifier"),
            Tag::ContentItemVersion => (ns::NCTS, "contentItemVersion"),
            Tag::FhirVersion => (ns::NCTS, "fhirVersion"),
            Tag::FhirProfile => (ns::NCTS, "fhirProfile"),
            Tag::BundleInterpretation => (ns::NCTS, "bundleInterpretation"),
            Tag::SctBaseVersion => (ns::NCTS, "sctBaseVersion"),
            Tag::PackageDependency => (ns::SCT, "packageDependency"),
            Tag::EditionDependency => (ns::SCT, "editionDependency"),
            Tag::DerivativeDependency => (ns::SCT, "derivativeDependency"),
            Tag::Permission => (ns::ONTO, "permission"),
            Tag::ArtifactType => (ns::HL7, "artifactType"),
            Tag::ArtifactVersion => (ns::HL7, "artifactVersion"),
            Tag::Hl7FhirVersion => (ns::HL7, "fhirVersion"),
            Tag::PublishAction => (ns::HL7, "publishAction"),
        };
        XmlName::new(Some(namespace), local)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum AttrKey {
    Rel,
    Href,
    Type,
    Length,
    Title,
    Hreflang,
    Term,
    Scheme,
    Label,
    Version,
    Uri,
    Code,
    Sha256,
    Md5,
    Validated,
    UnprefixedSha256,
    UnprefixedMd5,
    /// Boxed: foreign attributes are rare, and every attribute of every start tag is a key.
    Foreign(Box<XmlName>),
}

pub(super) fn classify_attr(kind: NsKind, local: &str) -> Option<AttrKey> {
    Some(match (kind, local) {
        (NsKind::None, "rel") => AttrKey::Rel,
        (NsKind::None, "href") => AttrKey::Href,
        (NsKind::None, "type") => AttrKey::Type,
        (NsKind::None, "length") => AttrKey::Length,
        (NsKind::None, "title") => AttrKey::Title,
        (NsKind::None, "hreflang") => AttrKey::Hreflang,
        (NsKind::None, "term") => AttrKey::Term,
        (NsKind::None, "scheme") => AttrKey::Scheme,
        (NsKind::None, "label") => AttrKey::Label,
        (NsKind::None, "version") => AttrKey::Version,
        (NsKind::None, "uri") => AttrKey::Uri,
        (NsKind::None, "code") => AttrKey::Code,
        (NsKind::None, "sha256Hash") => AttrKey::UnprefixedSha256,
        (NsKind::None, "md5Hash") => AttrKey::UnprefixedMd5,
        (NsKind::Ncts | NsKind::NctsLegacy, "sha256Hash") => AttrKey::Sha256,
        (NsKind::Sct, "md5Hash") => AttrKey::Md5,
        (NsKind::Onto, "validated") => AttrKey::Validated,
        _ => return None,
    })
}

pub(super) fn attr_key_name(key: AttrKey) -> XmlName {
    match key {
        AttrKey::Foreign(n) => *n,
        AttrKey::Rel => XmlName::new(None, "rel"),
        AttrKey::Href => XmlName::new(None, "href"),
        AttrKey::Type => XmlName::new(None, "type"),
        AttrKey::Length => XmlName::new(None, "length"),
        AttrKey::Title => XmlName::new(None, "title"),
        AttrKey::Hreflang => XmlName::new(None, "hreflang"),
        AttrKey::Term => XmlName::new(None, "term"),
        AttrKey::Scheme => XmlName::new(None, "scheme"),
        AttrKey::Label => XmlName::new(None, "label"),
        AttrKey::Version => XmlName::new(None, "version"),
        AttrKey::Uri => XmlName::new(None, "uri"),
        AttrKey::Code => XmlName::new(None, "code"),
        AttrKey::UnprefixedSha256 => XmlName::new(None, "sha256Hash"),
        AttrKey::UnprefixedMd5 => XmlName::new(None, "md5Hash"),
        AttrKey::Sha256 => XmlName::new(Some(ns::NCTS), "sha256Hash"),
        AttrKey::Md5 => XmlName::new(Some(ns::SCT), "md5Hash"),
        AttrKey::Validated => XmlName::new(Some(ns::ONTO), "validated"),
    }
}
