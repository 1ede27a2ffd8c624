//! Findings: what a reader or validator noticed about a feed, coded, graded and located.

use std::fmt;

use serde::de;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::model::AtomId;
use crate::error::Position;

/// How serious a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing; not a problem for consumers.
    Info,
    /// Breaks a SHOULD, or a MUST that real consumers tolerate.
    Warning,
    /// Breaks a MUST of the profile that was applied.
    Error,
}

impl Severity {
    /// `info`, `warning` or `error`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Severity {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Severity {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        [Severity::Info, Severity::Warning, Severity::Error]
            .into_iter()
            .find(|s| s.as_str() == raw)
            .ok_or_else(|| de::Error::unknown_variant(&raw, &["info", "warning", "error"]))
    }
}

/// The rule set a feed is checked against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Profile {
    /// Real-world tolerance (FEED-FORMAT §17): the deviations that real NCTS, MLDS and
    /// Ontoserver feeds carry are warnings or information, not errors.
    #[default]
    Lenient,
    /// The HL7 Terminology Syndication Feed IG and RFC 4287, as written.
    Strict,
    /// What a terminology server accepts as a preload feed: strict, plus the gotchas of
    /// SERVERS.md §1.4.2 (no feed-level author, a `self` link, `published` on entries, the
    /// profile as element text).
    Preload,
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $text:literal, lenient: $len:ident, strict: $str:ident; )*) => {
        /// A stable code for each kind of finding.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[non_exhaustive]
        pub enum FindingCode {
            $( $(#[$doc])* $variant, )*
        }

        impl FindingCode {
            /// Every code.
            pub const ALL: &'static [FindingCode] = &[$(FindingCode::$variant,)*];

            /// The stable text of the code (`ENTRY_MISSING_UPDATED`).
            pub fn as_str(self) -> &'static str {
                match self { $(FindingCode::$variant => $text,)* }
            }

            /// The severity of this code under a profile.
            pub fn severity(self, profile: Profile) -> Severity {
                if profile == Profile::Preload {
                    if let Some(s) = self.preload_severity() {
                        return s;
                    }
                }
                match profile {
                    Profile::Lenient => match self { $(FindingCode::$variant => Severity::$len,)* },
                    Profile::Strict | Profile::Preload => match self { $(FindingCode::$variant => Severity::$str,)* },
                }
            }
        }
    };
}

codes! {
    /// A raw `&` that starts no reference (MLDS `&dl=` hrefs); recovered as a literal `&`.
    XmlUnescapedAmpersand = "XML_UNESCAPED_AMPERSAND", lenient: Warning, strict: Error;
    /// A reference to an entity XML does not predefine; kept as literal text.
    XmlUnknownEntity = "XML_UNKNOWN_ENTITY", lenient: Warning, strict: Error;
    /// A prefix used without a namespace declaration; read as no namespace.
    XmlUnknownPrefix = "XML_UNKNOWN_PREFIX", lenient: Warning, strict: Error;
    /// A character XML 1.0 does not allow (a C0 control other than tab, LF and CR, U+FFFE or
    /// U+FFFF); kept as read, but no writer can write it back.
    XmlForbiddenCharacter = "XML_FORBIDDEN_CHARACTER", lenient: Warning, strict: Error;
    /// The legacy extension namespace `…/extensions/0.1.0`.
    NamespaceLegacyNcts = "NAMESPACE_LEGACY_NCTS", lenient: Warning, strict: Error;
    /// A known element carrying attributes or children it should not have; kept as foreign markup.
    UnexpectedMarkup = "UNEXPECTED_MARKUP", lenient: Warning, strict: Error;
    /// Character data where only elements belong; it is not kept.
    UnexpectedText = "UNEXPECTED_TEXT", lenient: Warning, strict: Error;
    /// A single-valued element that appears more than once; the repeat is kept as foreign markup.
    DuplicateElement = "DUPLICATE_ELEMENT", lenient: Error, strict: Error;
    /// An element in an extension namespace (`ncts`, `sct`, `onto`, `hl7`) that the extension
    /// does not define (the first SNOMED draft's `sct:derivateDependency`); kept as foreign markup.
    ExtensionUnknownElement = "EXTENSION_UNKNOWN_ELEMENT", lenient: Warning, strict: Error;
    /// An element named like an extension element but in another namespace (`xmlns:sct="x"`);
    /// kept as foreign markup, so consumers will not see it.
    ExtensionWrongNamespace = "EXTENSION_WRONG_NAMESPACE", lenient: Warning, strict: Error;
    /// A date without an offset (`2023-10-10T00:01:00`); read as UTC.
    DateMissingOffset = "DATE_MISSING_OFFSET", lenient: Warning, strict: Error;
    /// A date without a time (`2019-06-29`); read as midnight UTC.
    DateMissingTime = "DATE_MISSING_TIME", lenient: Warning, strict: Error;
    /// A date that is not a date.
    DateMalformed = "DATE_MALFORMED", lenient: Error, strict: Error;
    /// The profile written as a `version` attribute on an empty element (rejected by Ontoserver 6.24).
    ProfileVersionAttribute = "PROFILE_VERSION_ATTRIBUTE", lenient: Warning, strict: Error;
    /// `ncts:` constructs are used but the feed declares no ASF profile.
    FeedProfileMissing = "FEED_PROFILE_MISSING", lenient: Warning, strict: Error;
    /// The declared profile is not `…/asf/profile/1.0.0`.
    FeedProfileUnknown = "FEED_PROFILE_UNKNOWN", lenient: Warning, strict: Warning;
    /// The feed has no `id`.
    FeedMissingId = "FEED_MISSING_ID", lenient: Error, strict: Error;
    /// The feed has no `title`.
    FeedMissingTitle = "FEED_MISSING_TITLE", lenient: Error, strict: Error;
    /// The feed has no `updated`.
    FeedMissingUpdated = "FEED_MISSING_UPDATED", lenient: Error, strict: Error;
    /// The feed's `updated` is earlier than its latest entry's.
    FeedUpdatedNotLatest = "FEED_UPDATED_NOT_LATEST", lenient: Info, strict: Warning;
    /// The feed has no `link rel="self"`.
    FeedMissingSelfLink = "FEED_MISSING_SELF_LINK", lenient: Info, strict: Warning;
    /// No feed-level author while some entry has none (RFC 4287 §4.1.1).
    FeedMissingAuthor = "FEED_MISSING_AUTHOR", lenient: Warning, strict: Error;
    /// A feed-level author in a preload feed (Ontoserver 6.24 rejects it).
    FeedAuthorInPreload = "FEED_AUTHOR_IN_PRELOAD", lenient: Info, strict: Info;
    /// The feed's `alternate` link points at the profile URI (an MLDS bug).
    FeedAlternateIsProfile = "FEED_ALTERNATE_IS_PROFILE", lenient: Info, strict: Warning;
    /// An entry has no `id`.
    EntryMissingId = "ENTRY_MISSING_ID", lenient: Error, strict: Error;
    /// Two entries share an `id`.
    EntryDuplicateId = "ENTRY_DUPLICATE_ID", lenient: Error, strict: Error;
    /// An entry has no `title`.
    EntryMissingTitle = "ENTRY_MISSING_TITLE", lenient: Error, strict: Error;
    /// An entry has no `updated`.
    EntryMissingUpdated = "ENTRY_MISSING_UPDATED", lenient: Warning, strict: Error;
    /// An entry has no `published` (a terminology server's preload needs it).
    EntryMissingPublished = "ENTRY_MISSING_PUBLISHED", lenient: Info, strict: Info;
    /// An entry has no category.
    EntryMissingCategory = "ENTRY_MISSING_CATEGORY", lenient: Error, strict: Error;
    /// No category of the entry is in a scheme this workspace recognises.
    EntryNoRegisteredScheme = "ENTRY_NO_REGISTERED_SCHEME", lenient: Warning, strict: Warning;
    /// A category without `scheme`.
    CategoryMissingScheme = "CATEGORY_MISSING_SCHEME", lenient: Warning, strict: Error;
    /// A category without `term`.
    CategoryMissingTerm = "CATEGORY_MISSING_TERM", lenient: Error, strict: Error;
    /// A term outside the value set its scheme is bound to (`SCT_RF2_BLUE`, MLDS `OTHER`).
    CategoryTermNotInScheme = "CATEGORY_TERM_NOT_IN_SCHEME", lenient: Warning, strict: Error;
    /// An entry has no `ncts:contentItemIdentifier`.
    EntryMissingIdentifier = "ENTRY_MISSING_IDENTIFIER", lenient: Error, strict: Error;
    /// An entry has no `ncts:contentItemVersion`.
    EntryMissingVersion = "ENTRY_MISSING_VERSION", lenient: Error, strict: Error;
    /// Two entries share a content item (identifier and version) under different categories:
    /// the IG wants `contentItemVersion` unique, NCTS repeats it for FULL/SNAPSHOT/ALL.
    EntryDuplicateVersion = "ENTRY_DUPLICATE_VERSION", lenient: Info, strict: Error;
    /// Two entries share identifier, version, scheme and term: the same artefact twice.
    EntryDuplicateArtefact = "ENTRY_DUPLICATE_ARTEFACT", lenient: Warning, strict: Error;
    /// A `FHIR_*` entry without `ncts:fhirVersion`.
    EntryMissingFhirVersion = "ENTRY_MISSING_FHIR_VERSION", lenient: Warning, strict: Error;
    /// An `ncts:fhirVersion` that is not `major.minor[.patch]` within five characters.
    EntryFhirVersionMalformed = "ENTRY_FHIR_VERSION_MALFORMED", lenient: Error, strict: Error;
    /// `ncts:bundleInterpretation` other than `batch` or `collection`.
    EntryBundleInterpretationInvalid = "ENTRY_BUNDLE_INTERPRETATION_INVALID", lenient: Error, strict: Error;
    /// A non-retraction entry without any link.
    EntryMissingLink = "ENTRY_MISSING_LINK", lenient: Error, strict: Error;
    /// A non-retraction entry without `link rel="alternate"` (RFC 4287 §4.1.2; MLDS Germany).
    EntryMissingAlternateLink = "ENTRY_MISSING_ALTERNATE_LINK", lenient: Warning, strict: Error;
    /// More than one link on an entry (NCTS CP 107 asks for exactly one).
    EntryMultipleLinks = "ENTRY_MULTIPLE_LINKS", lenient: Info, strict: Info;
    /// A retraction with an `alternate` link.
    RetractHasAlternateLink = "RETRACT_HAS_ALTERNATE_LINK", lenient: Error, strict: Error;
    /// A retraction with package dependencies, a bundle interpretation or FHIR profiles.
    RetractHasPackageMetadata = "RETRACT_HAS_PACKAGE_METADATA", lenient: Warning, strict: Warning;
    /// FHIR content whose version is not `url|version` with the identifier as `url` (IG alignment).
    EntryFhirAlignment = "ENTRY_FHIR_ALIGNMENT", lenient: Info, strict: Warning;
    /// An author whose name, uri or email is the string `null` (MLDS).
    EntryAuthorNull = "ENTRY_AUTHOR_NULL", lenient: Info, strict: Warning;
    /// `hl7:fhirVersion` differs from `ncts:fhirVersion`.
    CrmiFhirVersionMismatch = "CRMI_FHIR_VERSION_MISMATCH", lenient: Error, strict: Error;
    /// A link without `href`.
    LinkMissingHref = "LINK_MISSING_HREF", lenient: Error, strict: Error;
    /// A link without `rel`.
    LinkMissingRel = "LINK_MISSING_REL", lenient: Info, strict: Error;
    /// A link without `type`.
    LinkMissingType = "LINK_MISSING_TYPE", lenient: Warning, strict: Error;
    /// An artefact link with neither SHA-256 nor MD5.
    LinkMissingHash = "LINK_MISSING_HASH", lenient: Warning, strict: Warning;
    /// An `ncts:sha256Hash` that is not 64 hex digits.
    LinkSha256Malformed = "LINK_SHA256_MALFORMED", lenient: Error, strict: Error;
    /// An `sct:md5Hash` that is not 32 hex digits.
    LinkMd5Malformed = "LINK_MD5_MALFORMED", lenient: Error, strict: Error;
    /// A hash written in upper case.
    LinkHashNotLowercase = "LINK_HASH_NOT_LOWERCASE", lenient: Warning, strict: Error;
    /// `sha256Hash` or `md5Hash` without its namespace (SCT README); read as the hash.
    LinkHashUnprefixed = "LINK_HASH_UNPREFIXED", lenient: Warning, strict: Error;
    /// A `length` with thousands separators (historical MLDS); recovered.
    LinkLengthSeparators = "LINK_LENGTH_SEPARATORS", lenient: Warning, strict: Error;
    /// A `length` that is not a non-negative integer.
    LinkLengthMalformed = "LINK_LENGTH_MALFORMED", lenient: Error, strict: Error;
    /// An `onto:validated` that is not a boolean.
    LinkValidatedMalformed = "LINK_VALIDATED_MALFORMED", lenient: Error, strict: Error;
    /// A package dependency that is not a versioned SNOMED CT module URI.
    DependencyMalformed = "DEPENDENCY_MALFORMED", lenient: Error, strict: Error;
    /// An empty `sct:packageDependency`.
    DependencyEmpty = "DEPENDENCY_EMPTY", lenient: Warning, strict: Warning;
    /// A dependency on a version the feed does not offer.
    DependencyNotInFeed = "DEPENDENCY_NOT_IN_FEED", lenient: Info, strict: Info;
    /// Package dependencies that form a cycle.
    DependencyCycle = "DEPENDENCY_CYCLE", lenient: Error, strict: Error;
}

impl FindingCode {
    /// Where the preload profile grades a code differently from the strict one: the gotchas
    /// of SERVERS.md §1.4.2 are errors, and what Ontoserver accepts in practice is not.
    fn preload_severity(self) -> Option<Severity> {
        Some(match self {
            FindingCode::FeedAuthorInPreload
            | FindingCode::FeedMissingSelfLink
            | FindingCode::EntryMissingPublished
            | FindingCode::ProfileVersionAttribute => Severity::Error,
            FindingCode::EntryDuplicateVersion | FindingCode::EntryFhirAlignment => Severity::Info,
            _ => return None,
        })
    }
}

impl fmt::Display for FindingCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for FindingCode {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for FindingCode {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        FindingCode::ALL
            .iter()
            .copied()
            .find(|c| c.as_str() == raw)
            .ok_or_else(|| de::Error::custom(format!("unknown finding code {raw:?}")))
    }
}

/// Where a finding is.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Location {
    /// The entry's index in document order, for entry-level findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry: Option<usize>,
    /// The entry's `id`, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entry_id: Option<AtomId>,
    /// Line and column, when the finding came from reading a document.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
}

impl Location {
    /// The feed as a whole.
    pub fn feed() -> Self {
        Self::default()
    }

    /// An entry.
    pub fn entry(index: usize, id: Option<AtomId>) -> Self {
        Self {
            entry: Some(index),
            entry_id: id,
            position: None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut sep = "";
        if let Some(p) = &self.position {
            write!(f, "{p}")?;
            sep = ", ";
        }
        match (self.entry, &self.entry_id) {
            (Some(i), Some(id)) => write!(f, "{sep}entry {i} ({id})"),
            (Some(i), None) => write!(f, "{sep}entry {i}"),
            _ if sep.is_empty() => f.write_str("feed"),
            _ => Ok(()),
        }
    }
}

/// One thing the reader or validator noticed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Finding {
    /// What kind of finding.
    pub code: FindingCode,
    /// How serious, under the profile that was applied.
    pub severity: Severity,
    /// Where.
    pub location: Location,
    /// What exactly, for a person.
    pub message: String,
}

impl Finding {
    /// A finding graded under a profile.
    pub fn new(
        code: FindingCode,
        profile: Profile,
        location: Location,
        message: impl Into<String>,
    ) -> Self {
        Self {
            code,
            severity: code.severity(profile),
            location,
            message: message.into(),
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} {}: {}",
            self.location, self.severity, self.code, self.message
        )
    }
}
