//! The feed reader: bytes → [`Feed`], and a streaming reader that yields one entry at a time.
//!
//! Elements are bound by namespace URI, never by prefix. The parser pulls tokens from the
//! feed's own XML tokenizer (`xml`) and descends the document directly into the model;
//! character data and attribute values are unescaped into buffers the parser reuses, so the
//! full read allocates little beyond the values it keeps. A document held whole has its
//! entries of the common shape read by a shortcut (`fast`) that fills them straight from the
//! tokenizer and hands any other entry back to this parser.

mod fast;

use std::collections::HashSet;
use std::io::{BufRead, Read};
use std::ops::Range;
use std::sync::Arc;

use super::finding::{Finding, FindingCode, Location, Profile};
use super::model::{
    AtomId, Attribute, BundleInterpretation, Category, ContentItemIdentifier, ContentItemVersion,
    Element, Entry, Feed, FhirVersion, Generator, Link, LinkRel, Node, PackageDependency,
    PermissionCode, Person, Source, Text, TextKind, XmlName, collect_text,
};
use super::ns;
use super::source::{BufSource, SliceSource, Source as TokenSource, SourceError, Token};
use super::values::{AtomDate, Checked, LengthRead, Md5, Sha256, parse_bool, parse_length};
use super::xml::{AttrSpan, find2, first_special, has_below, has_byte, same};
use crate::error::{Error, Limit, Position};

/// How forgiving the reader is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Mode {
    /// Survive every deviation of FEED-FORMAT §17 and record each as a finding; a raw `&`
    /// that starts no reference is read as a literal `&`.
    #[default]
    Lenient,
    /// Apply XML 1.0, the IG and RFC 4287: a document that is not well-formed is an error, and
    /// deviations are graded as errors.
    Strict,
}

impl Mode {
    fn profile(self) -> Profile {
        match self {
            Mode::Lenient => Profile::Lenient,
            Mode::Strict => Profile::Strict,
        }
    }
}

/// Bounds on hostile input. Each one exceeded is an [`Error::LimitExceeded`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Limits {
    /// Deepest element nesting (the feed element is depth 1).
    pub max_depth: usize,
    /// Most entries in one feed.
    pub max_entries: usize,
    /// Most bytes of character data in one element or attribute value.
    pub max_text_bytes: usize,
    /// Most findings kept; further ones are counted, not kept, so memory stays bounded.
    pub max_findings: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_depth: 64,
            max_entries: 1_000_000,
            max_text_bytes: 16 << 20,
            max_findings: 10_000,
        }
    }
}

impl Limits {
    /// Sets the deepest element nesting.
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }

    /// Sets the most entries.
    pub fn max_entries(mut self, n: usize) -> Self {
        self.max_entries = n;
        self
    }

    /// Sets the most bytes of character data in one element or attribute.
    pub fn max_text_bytes(mut self, n: usize) -> Self {
        self.max_text_bytes = n;
        self
    }

    /// Sets the most findings kept.
    pub fn max_findings(mut self, n: usize) -> Self {
        self.max_findings = n;
        self
    }
}

/// Options for reading a feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct ReadOptions {
    /// Lenient (default) or strict.
    pub mode: Mode,
    /// Bounds on hostile input.
    pub limits: Limits,
}

impl ReadOptions {
    /// Lenient reading with default limits.
    pub fn lenient() -> Self {
        Self::default()
    }

    /// Strict reading with default limits.
    pub fn strict() -> Self {
        Self {
            mode: Mode::Strict,
            ..Self::default()
        }
    }

    /// Replaces the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }
}

/// A feed read in full, with what the reader noticed on the way.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ReadOutcome {
    // Fields drop in declaration order. This one large buffer goes first, because freeing it
    // after the feed's many small allocations made glibc consolidate all of them at that
    // moment (full read of 100k entries: 4-5% faster this way round).
    /// Where each entry starts, by entry index.
    pub entry_positions: Vec<Position>,
    /// The feed.
    pub feed: Feed,
    /// Deviations the reader recovered from (document-level: raw `&`, legacy namespace,
    /// separators in lengths …). Run [`validate`](super::validate) for the rule checks.
    pub findings: Vec<Finding>,
    /// Findings past [`Limits::max_findings`], counted but not kept.
    pub dropped_findings: usize,
}

/// Reads a whole feed from bytes.
///
/// # Errors
/// A document that is not UTF-8 or not well-formed XML (lenient mode recovers a raw `&` and
/// keeps an undeclared entity as text), whose root is not an Atom feed, or that exceeds a
/// limit; each error carries line and column.
pub fn read_feed(bytes: &[u8], options: &ReadOptions) -> Result<ReadOutcome, Error> {
    let source = SliceSource::new(bytes).map_err(|(e, position)| match e {
        SourceError::Syntax {
            message, expected, ..
        } => Error::Malformed {
            position,
            message,
            expected,
        },
        SourceError::Limit(limit, max, _) => Error::LimitExceeded {
            limit,
            max,
            position,
        },
        SourceError::Io(e) => Error::Io(e),
    })?;
    let mut parser = Parser::new(source, *options);
    let mut feed = parser.parse_root()?;
    // Sizing the entry list up front keeps it from doubling past what the feed needs; a
    // `<entry` inside a comment only over-reserves a little.
    let expected = memchr::memmem::find_iter(bytes, b"<entry").count();
    feed.entries.reserve_exact(expected);
    let mut entry_positions = Vec::with_capacity(expected);
    while let Some((start, pos)) = parser.next_in_feed(&mut feed)? {
        // Read in place: an entry is over half a kilobyte, and moving each one out of the
        // parser and into the list was measurable.
        feed.entries.push(Entry::default());
        if let Some(entry) = feed.entries.last_mut() {
            parser.parse_entry(start, entry)?;
        }
        entry_positions.push(pos);
    }
    Ok(ReadOutcome {
        feed,
        findings: parser.findings,
        dropped_findings: parser.dropped_findings,
        entry_positions,
    })
}

/// Reads a whole feed from an [`std::io::Read`], buffering it first so errors and findings carry
/// exact positions.
///
/// # Errors
/// As [`read_feed`], plus [`Error::Io`] when reading fails.
pub fn read_feed_from<R: Read>(mut reader: R, options: &ReadOptions) -> Result<ReadOutcome, Error> {
    let mut bytes = Vec::new();
    reader.read_to_end(&mut bytes).map_err(Error::Io)?;
    read_feed(&bytes, options)
}

impl Feed {
    /// Reads a feed leniently, discarding findings.
    ///
    /// # Errors
    /// As [`read_feed`].
    pub fn from_slice(bytes: &[u8]) -> Result<Feed, Error> {
        read_feed(bytes, &ReadOptions::lenient()).map(|o| o.feed)
    }
}

/// Reads a feed one entry at a time, with memory independent of the entry count.
///
/// The feed's own metadata read so far is in [`header`](Self::header); elements that follow
/// the entries (Ontoserver writes the profile last) appear there once iteration has ended.
/// Findings are kept up to [`Limits::max_findings`]; drain them with
/// [`take_findings`](Self::take_findings).
///
/// ```
/// use release_model::feed::{EntryReader, ReadOptions};
///
/// let xml = br#"<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:1</id>
///   <entry><id>urn:uuid:2</id></entry><entry><id>urn:uuid:3</id></entry></feed>"#;
/// let mut reader = EntryReader::new(&xml[..], &ReadOptions::lenient())?;
/// let mut ids = Vec::new();
/// for entry in &mut reader {
///     ids.push(entry?.id.expect("both entries have an id").into_string());
/// }
/// assert_eq!(ids, ["urn:uuid:2", "urn:uuid:3"]);
/// assert_eq!(reader.header().id.as_ref().map(|i| i.as_str()), Some("urn:uuid:1"));
/// # Ok::<(), release_model::Error>(())
/// ```
pub struct EntryReader<R: BufRead> {
    parser: Parser<BufSource<R>>,
    header: Feed,
    last_position: Option<Position>,
    done: bool,
}

impl<R: BufRead> EntryReader<R> {
    /// Starts reading: consumes everything up to and including the `feed` start tag.
    ///
    /// # Errors
    /// As [`read_feed`], for the part of the document read so far.
    pub fn new(reader: R, options: &ReadOptions) -> Result<Self, Error> {
        let source = BufSource::new(reader, options.limits.max_text_bytes);
        let mut parser = Parser::new(source, *options);
        let header = parser.parse_root()?;
        Ok(Self {
            parser,
            header,
            last_position: None,
            done: false,
        })
    }

    /// The feed's metadata read so far (its `entries` stay empty).
    pub fn header(&self) -> &Feed {
        &self.header
    }

    /// Where the last entry returned starts.
    pub fn last_position(&self) -> Option<Position> {
        self.last_position
    }

    /// Takes the findings recorded so far.
    pub fn take_findings(&mut self) -> Vec<Finding> {
        std::mem::take(&mut self.parser.findings)
    }

    /// Findings past [`Limits::max_findings`], counted but not kept.
    pub fn dropped_findings(&self) -> usize {
        self.parser.dropped_findings
    }

    /// Reads the rest of the document, skipping remaining entries, and returns the header.
    ///
    /// # Errors
    /// As [`read_feed`].
    pub fn finish(mut self) -> Result<Feed, Error> {
        for entry in self.by_ref() {
            entry?;
        }
        Ok(self.header)
    }
}

impl<R: BufRead> Iterator for EntryReader<R> {
    type Item = Result<Entry, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let next = self
            .parser
            .next_in_feed(&mut self.header)
            .and_then(|found| {
                found
                    .map(|(start, pos)| {
                        let mut entry = Entry::default();
                        self.parser
                            .parse_entry(start, &mut entry)
                            .map(|()| (entry, pos))
                    })
                    .transpose()
            });
        match next {
            Ok(Some((entry, pos))) => {
                self.last_position = Some(pos);
                Some(Ok(entry))
            }
            Ok(None) => {
                self.done = true;
                None
            }
            Err(e) => {
                self.done = true;
                Some(Err(e))
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tokens: start tags classified by namespace and name, attribute values unescaped.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum NsKind {
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

fn ns_kind(uri: &str) -> NsKind {
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
enum Resolved<'a> {
    Bound(&'a str, NsKind),
    /// No prefix and no default namespace (or an attribute without a prefix).
    Unbound,
    /// A prefix that is not declared.
    Unknown,
}

/// The namespace declarations in scope, innermost last. Feeds declare a handful, nearly
/// always on the root, so a list searched from the end beats a map.
#[derive(Default)]
struct Namespaces {
    bindings: Vec<Binding>,
    /// Changes whenever the bindings do, so that markup read under them is known to mean
    /// the same while it holds.
    generation: u64,
}

impl Namespaces {
    fn bind(&mut self, prefix: &str, uri: &str, depth: usize) {
        self.bindings.push(Binding {
            prefix: prefix.into(),
            uri: uri.into(),
            kind: ns_kind(uri),
            depth,
        });
        self.generation += 1;
    }

    /// Drops the declarations of the element at `depth`, which has ended.
    fn end(&mut self, depth: usize) {
        while self.bindings.last().is_some_and(|b| b.depth >= depth) {
            self.bindings.pop();
            self.generation += 1;
        }
    }

    fn resolve(&self, prefix: Option<&str>) -> Resolved<'_> {
        let wanted = match prefix {
            Some("xml") => return Resolved::Bound(ns::XML, NsKind::Xml),
            Some(p) => p,
            None => "",
        };
        match self.bindings.iter().rev().find(|b| same(&b.prefix, wanted)) {
            Some(b) if !b.uri.is_empty() => Resolved::Bound(&b.uri, b.kind),
            _ if prefix.is_none() => Resolved::Unbound,
            _ => Resolved::Unknown,
        }
    }
}

/// The prefix an attribute declares a namespace for (`""` for `xmlns`), when it is a
/// declaration.
fn declared_prefix(name: &str) -> Option<&str> {
    match name.strip_prefix("xmlns")? {
        "" => Some(""),
        p => p.strip_prefix(':'),
    }
}

fn split_qname(qname: &str) -> (Option<&str>, &str) {
    // Names are a few bytes: a plain scan beats a call into `memchr`.
    match qname.bytes().position(|b| b == b':') {
        Some(i) => (Some(&qname[..i]), &qname[i + 1..]),
        None => (None, qname),
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Tag {
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
    fn classify(kind: NsKind, local: &str) -> Option<Tag> {
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
    fn xml_name(&self) -> XmlName {
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
enum AttrKey {
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

fn classify_attr(kind: NsKind, local: &str) -> Option<AttrKey> {
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

/// An attribute of the last start tag; its value is a range of [`Markup::values`].
#[derive(Debug)]
struct RawAttr {
    key: AttrKey,
    value: Range<usize>,
}

#[derive(Debug)]
struct Start {
    tag: Tag,
    /// Valid until the next token is read: every element reader takes what it needs from
    /// the attributes before reading the element's content.
    attrs: Vec<RawAttr>,
    offset: u64,
}

enum Tok {
    Start(Start),
    End,
    /// Character data, appended to the parser's text buffer.
    Text,
    Eof,
}

/// A problem found while the source is borrowed; turned into a finding or error afterwards.
struct Note {
    code: FindingCode,
    message: String,
    offset: u64,
}

enum Fail {
    Source(SourceError),
    Malformed {
        offset: u64,
        message: String,
        expected: Option<String>,
    },
    Limit(Limit, u64, u64),
}

impl From<SourceError> for Fail {
    fn from(e: SourceError) -> Self {
        Fail::Source(e)
    }
}

/// What follows the white space character at `i`: a CR LF pair is one line end (XML 1.0
/// §2.11), so both are passed over.
fn after_line_end(rest: &str, i: usize) -> &str {
    let crlf = rest.as_bytes()[i] == b'\r' && rest.as_bytes().get(i + 1) == Some(&b'\n');
    &rest[i + if crlf { 2 } else { 1 }..]
}

/// Where an attribute value needs more than copying: a reference, or white space that
/// normalises to a space.
fn attr_special(raw: &str) -> Option<usize> {
    first_special(
        raw.as_bytes(),
        |w| has_byte(w, b'&') || has_below(w, b'\r' + 1),
        |b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'),
    )
}

/// Where character data needs more than copying: a reference, or a CR line end.
fn text_special(raw: &str) -> Option<usize> {
    find2(b'&', b'\r', raw.as_bytes())
}

/// Appends a raw attribute value to `out`, unescaped and with literal white space
/// normalised (XML 1.0 §3.3.3), recovering a raw `&` in lenient mode.
fn unescape_attr(
    raw: &str,
    mode: Mode,
    offset: u64,
    notes: &mut Vec<Note>,
    out: &mut String,
) -> Result<(), Fail> {
    let mut rest = raw;
    while let Some(i) = attr_special(rest) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        if c != b'&' {
            out.push(' ');
            rest = after_line_end(rest, i);
            continue;
        }
        let after = &rest[i + 1..];
        let resolved = predefined(after.as_bytes())
            .map(|(c, len)| (c, len - 1))
            .or_else(|| {
                let semi = after.find(';')?;
                resolve_entity(&after[..semi]).map(|c| (c, semi))
            });
        match resolved {
            Some((c, semi)) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                if mode == Mode::Strict {
                    return Err(Fail::Malformed {
                        offset,
                        message: format!(
                            "unescaped '&' in attribute value '{}'",
                            truncate(raw, 80)
                        ),
                        expected: Some("'&amp;' or a character reference".into()),
                    });
                }
                notes.push(Note {
                    code: FindingCode::XmlUnescapedAmpersand,
                    message: format!(
                        "unescaped '&' in attribute value '{}' read as a literal '&'",
                        truncate(raw, 80)
                    ),
                    offset,
                });
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(())
}

/// The reference at the start of `s` (just after an `&`): its name and length with the
/// `;`, when it is one.
fn reference(s: &str) -> Option<(&str, usize)> {
    let b = s.as_bytes();
    let len = if b.first() == Some(&b'#') {
        1 + b[1..]
            .iter()
            .position(|c| !c.is_ascii_alphanumeric())
            .unwrap_or(b.len() - 1)
    } else {
        b.iter()
            .position(|&c| {
                !(c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b':') || c >= 0x80)
            })
            .unwrap_or(b.len())
    };
    (len > 0 && b.get(len) == Some(&b';')).then(|| (&s[..len], len + 1))
}

/// Appends character data to `out` with references resolved and line ends normalised
/// (XML 1.0 §2.11). Entities other than the five predefined ones are never expanded: in
/// lenient mode they are kept as written, with a finding; so is a raw `&`.
fn unescape_text(
    raw: &str,
    offset: u64,
    mode: Mode,
    notes: &mut Vec<Note>,
    out: &mut String,
) -> Result<(), Fail> {
    let mut rest = raw;
    let mut dangling_reported = false;
    while let Some(i) = text_special(rest) {
        out.push_str(&rest[..i]);
        let at = offset + (raw.len() - rest.len() + i) as u64;
        if rest.as_bytes()[i] == b'\r' {
            out.push('\n');
            rest = after_line_end(rest, i);
            continue;
        }
        let after = &rest[i + 1..];
        // The predefined entities are nearly every reference a feed has: matched as they
        // stand, without scanning for the name first.
        if let Some((c, len)) = predefined(after.as_bytes()) {
            out.push(c);
            rest = &after[len..];
            continue;
        }
        match reference(after) {
            Some((name, len)) => {
                match resolve_entity(name) {
                    Some(c) => out.push(c),
                    None if mode == Mode::Strict => {
                        return Err(Fail::Malformed {
                            offset: at,
                            message: format!("reference to undeclared entity '&{name};'"),
                            expected: Some(
                                "one of &lt; &gt; &amp; &apos; &quot; or a character reference"
                                    .into(),
                            ),
                        });
                    }
                    None => {
                        notes.push(Note {
                            code: FindingCode::XmlUnknownEntity,
                            message: format!("reference to undeclared entity '&{name};' kept as text (entities are never expanded)"),
                            offset: at,
                        });
                        out.push('&');
                        out.push_str(name);
                        out.push(';');
                    }
                }
                rest = &after[len..];
            }
            None if mode == Mode::Strict => {
                return Err(Fail::Malformed {
                    offset: at,
                    message: "unescaped '&' in text".into(),
                    expected: Some("'&amp;' or a reference ending in ';'".into()),
                });
            }
            None => {
                if !dangling_reported {
                    dangling_reported = true;
                    notes.push(Note {
                        code: FindingCode::XmlUnescapedAmpersand,
                        message: "unescaped '&' in text read as a literal '&'".into(),
                        offset: at,
                    });
                }
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    Ok(())
}

/// Appends CDATA content to `out` with line ends normalised.
fn push_cdata(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some(i) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = after_line_end(rest, i);
    }
    out.push_str(rest);
}

/// The character of the predefined entity reference that `after` (what follows a `&`)
/// starts with, and the reference's length past the `&`.
fn predefined(after: &[u8]) -> Option<(char, usize)> {
    Some(match after {
        [b'a', b'm', b'p', b';', ..] => ('&', 4),
        [b'l', b't', b';', ..] => ('<', 3),
        [b'g', b't', b';', ..] => ('>', 3),
        [b'q', b'u', b'o', b't', b';', ..] => ('"', 5),
        [b'a', b'p', b'o', b's', b';', ..] => ('\'', 5),
        _ => return None,
    })
}

fn resolve_entity(name: &str) -> Option<char> {
    match name {
        "lt" => Some('<'),
        "gt" => Some('>'),
        "amp" => Some('&'),
        "apos" => Some('\''),
        "quot" => Some('"'),
        _ => {
            let num = name.strip_prefix('#')?;
            let code = match num.strip_prefix('x') {
                Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                None => num.parse().ok()?,
            };
            char::from_u32(code).filter(|&c| c != '\0')
        }
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Attributes in one start tag past which duplicates are found with a set rather than by
/// comparing each pair.
const PAIRWISE_ATTRIBUTES: usize = 16;

/// The state of start-tag classification: namespaces in scope, and the unescaped attribute
/// values of the last start tag.
#[derive(Default)]
struct Markup {
    ns: Namespaces,
    values: String,
    /// Attribute lists given back by the readers of the elements that always have
    /// attributes (links, categories), reused rather than allocated for every entry.
    spare: Vec<Vec<RawAttr>>,
}

impl Markup {
    /// Classifies a start tag at `depth`: binds its namespace declarations, resolves its
    /// name and attributes, and unescapes the attribute values into `self.values`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn start(
        &mut self,
        qname: &str,
        attrs: &str,
        spans: &[AttrSpan],
        offset: u64,
        depth: usize,
        mode: Mode,
        max_text: usize,
        notes: &mut Vec<Note>,
    ) -> Result<Start, Fail> {
        self.values.clear();
        if spans.len() > 1 {
            check_unique(qname, attrs, spans, offset)?;
        }
        for span in spans {
            let name = &attrs[span.name.clone()];
            let Some(prefix) = declared_prefix(name) else {
                continue;
            };
            let mut uri = String::new();
            unescape_attr(&attrs[span.value.clone()], mode, offset, notes, &mut uri)?;
            if prefix != "xml" {
                self.ns.bind(prefix, &uri, depth);
            }
        }

        let (prefix, local) = split_qname(qname);
        let tag = match self.ns.resolve(prefix) {
            Resolved::Bound(uri, kind) => {
                if kind == NsKind::NctsLegacy {
                    notes.push(Note {
                        code: FindingCode::NamespaceLegacyNcts,
                        message: format!(
                            "extension namespace {} read as {}",
                            ns::NCTS_LEGACY,
                            ns::NCTS
                        ),
                        offset,
                    });
                }
                Tag::classify(kind, local).unwrap_or_else(|| {
                    Tag::Foreign(Box::new(XmlName {
                        namespace: Some(uri.to_owned()),
                        local: local.to_owned(),
                        prefix: prefix.map(str::to_owned),
                    }))
                })
            }
            Resolved::Unbound => Tag::Foreign(Box::new(XmlName {
                namespace: None,
                local: local.to_owned(),
                prefix: None,
            })),
            Resolved::Unknown => {
                let p = prefix.unwrap_or_default();
                if mode == Mode::Strict {
                    return Err(Fail::Malformed {
                        offset,
                        message: format!("prefix '{p}' is not bound to a namespace"),
                        expected: Some(format!("an xmlns:{p} declaration")),
                    });
                }
                notes.push(Note {
                    code: FindingCode::XmlUnknownPrefix,
                    message: format!(
                        "prefix '{p}' of <{qname}> is not declared; read as no namespace"
                    ),
                    offset,
                });
                Tag::Foreign(Box::new(XmlName {
                    namespace: None,
                    local: local.to_owned(),
                    prefix: prefix.map(str::to_owned),
                }))
            }
        };

        let mut out = if spans.is_empty() {
            Vec::new()
        } else {
            self.spare.pop().unwrap_or_default()
        };
        for span in spans {
            let name = &attrs[span.name.clone()];
            if declared_prefix(name).is_some() {
                continue;
            }
            let raw = &attrs[span.value.clone()];
            if raw.len() > max_text {
                return Err(Fail::Limit(Limit::TextSize, max_text as u64, offset));
            }
            let (aprefix, alocal) = split_qname(name);
            let (kind, uri) = match aprefix {
                None => (NsKind::None, None),
                Some(_) => match self.ns.resolve(aprefix) {
                    Resolved::Bound(uri, kind) => (kind, Some(uri)),
                    Resolved::Unbound | Resolved::Unknown => {
                        let p = aprefix.unwrap_or_default();
                        if mode == Mode::Strict {
                            return Err(Fail::Malformed {
                                offset,
                                message: format!(
                                    "prefix '{p}' of attribute '{name}' is not bound to a namespace"
                                ),
                                expected: Some(format!("an xmlns:{p} declaration")),
                            });
                        }
                        notes.push(Note {
                            code: FindingCode::XmlUnknownPrefix,
                            message: format!(
                                "prefix '{p}' of attribute '{name}' is not declared; read as no namespace"
                            ),
                            offset,
                        });
                        (NsKind::Other, None)
                    }
                },
            };
            let key = classify_attr(kind, alocal).unwrap_or_else(|| {
                AttrKey::Foreign(Box::new(XmlName {
                    namespace: uri.map(str::to_owned),
                    local: alocal.to_owned(),
                    prefix: aprefix.map(str::to_owned),
                }))
            });
            let from = self.values.len();
            if span.plain {
                self.values.push_str(raw);
            } else {
                unescape_attr(raw, mode, offset, notes, &mut self.values)?;
            }
            if out.capacity() == 0 {
                out.reserve_exact(spans.len());
            }
            out.push(RawAttr {
                key,
                value: from..self.values.len(),
            });
        }
        Ok(Start {
            tag,
            attrs: out,
            offset,
        })
    }

    /// Takes back an attribute list for reuse.
    fn recycle(&mut self, mut attrs: Vec<RawAttr>) {
        const SPARE: usize = 8;
        if attrs.capacity() > 0 && self.spare.len() < SPARE {
            attrs.clear();
            self.spare.push(attrs);
        }
    }
}

/// XML allows an attribute name once per start tag.
fn check_unique(qname: &str, attrs: &str, spans: &[AttrSpan], offset: u64) -> Result<(), Fail> {
    let names = spans.iter().map(|s| &attrs[s.name.clone()]);
    let duplicate = if spans.len() <= PAIRWISE_ATTRIBUTES {
        names
            .clone()
            .enumerate()
            .find(|(i, n)| names.clone().take(*i).any(|m| same(m, n)))
            .map(|(_, n)| n)
    } else {
        let mut seen = HashSet::with_capacity(spans.len());
        names.clone().find(|n| !seen.insert(*n))
    };
    match duplicate {
        Some(n) => Err(Fail::Malformed {
            offset,
            message: format!("attribute '{n}' appears twice in <{qname}>"),
            expected: Some("each attribute once".into()),
        }),
        None => Ok(()),
    }
}

/// Values shared through the interner are short and few per feed (schemes, terms, labels,
/// media types, publishers); the bounds keep hostile input from growing the table.
const INTERN_MAX_ENTRIES: usize = 4096;
const INTERN_MAX_LEN: usize = 512;
const INTERN_RECENT: usize = 1 << INTERN_RECENT_BITS;

/// One shared copy of each value that repeats across entries. A small direct-mapped table
/// of recent values in front of the set turns the usual hit into one comparison, with no
/// hashing of the whole value.
struct Interner {
    set: HashSet<Arc<str>>,
    recent: Vec<Option<Arc<str>>>,
    /// The recent values of each [`Run`] field, [`RUN_SLOTS`] a field.
    runs: Vec<Option<Arc<str>>>,
}

/// The fields whose values repeat in runs of entries rather than across the whole feed: a
/// content item's versions, the packages of one release, one product's title, summary and
/// copyright notice. Their values are shared when met recently and never looked up in the
/// set, and each field has recent values of its own: in one table, an author's URI took
/// the summaries' slot and no summary was shared.
#[derive(Clone, Copy, Debug)]
enum Run {
    Identifier,
    Version,
    Title,
    Summary,
    Rights,
}

impl Run {
    /// The number of fields: the last one's index, plus one.
    const COUNT: usize = Run::Rights as usize + 1;

    /// The field of a text construct's value.
    fn of_text(tag: &Tag) -> Run {
        match tag {
            Tag::Summary => Run::Summary,
            Tag::Rights => Run::Rights,
            _ => Run::Title,
        }
    }
}

/// Recent values kept for each [`Run`] field, as a power of two: products interleave in a
/// feed, so a field holds a few at once.
const RUN_SLOTS_BITS: u32 = 3;
const RUN_SLOTS: usize = 1 << RUN_SLOTS_BITS;
const INTERN_RECENT_BITS: u32 = 6;

impl Default for Interner {
    fn default() -> Self {
        Self {
            set: HashSet::new(),
            recent: vec![None; INTERN_RECENT],
            runs: vec![None; Run::COUNT * RUN_SLOTS],
        }
    }
}

impl Interner {
    /// A slot of a table of `1 << bits`, from the length and three bytes of `s`: values
    /// of one field mostly differ in their last characters (a version's date, a release
    /// number), and hashing all of a 700-byte notice would cost more than the comparison.
    fn slot(s: &str, bits: u32) -> usize {
        let b = s.as_bytes();
        let n = b.len();
        let at = |i: usize| b.get(i).copied().map_or(0, u64::from);
        let key = n as u64 ^ at(n.wrapping_sub(1)) << 16 ^ at(n / 2) << 24 ^ at(n / 4) << 32;
        (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> (64 - bits)) as usize
    }

    /// `s`, shared with the last value of its slot among `run`'s recent values when equal.
    fn recent(&mut self, run: Run, s: &str) -> Arc<str> {
        let slot = &mut self.runs[run as usize * RUN_SLOTS + Self::slot(s, RUN_SLOTS_BITS)];
        match slot {
            Some(hit) if **hit == *s => Arc::clone(hit),
            _ => Arc::clone(slot.insert(Arc::from(s))),
        }
    }

    fn intern(&mut self, s: &str) -> Arc<str> {
        let slot = Self::slot(s, INTERN_RECENT_BITS);
        if let Some(hit) = &self.recent[slot]
            && **hit == *s
        {
            return Arc::clone(hit);
        }
        if s.len() > INTERN_MAX_LEN {
            return Arc::from(s);
        }
        let shared = match self.set.get(s) {
            Some(found) => Arc::clone(found),
            None => {
                let shared: Arc<str> = Arc::from(s);
                if self.set.len() < INTERN_MAX_ENTRIES {
                    self.set.insert(Arc::clone(&shared));
                }
                shared
            }
        };
        self.recent[slot] = Some(Arc::clone(&shared));
        shared
    }
}

// ---------------------------------------------------------------------------------------
// The parser.

struct Parser<S: TokenSource> {
    src: S,
    mode: Mode,
    profile: Profile,
    limits: Limits,
    findings: Vec<Finding>,
    dropped_findings: usize,
    depth: usize,
    entries: usize,
    entry_index: Option<usize>,
    legacy_reported: bool,
    notes: Vec<Note>,
    markup: Markup,
    interner: Interner,
    /// An empty-element tag was returned as a start; its end comes next.
    pending_end: bool,
    /// Character data read for the element being read, unescaped; text-accepting readers
    /// take it at each markup boundary.
    text: String,
    /// Entries the shortcut for common entries read, and entries it turned back from.
    shortcut: fast::Record,
    repeated: fast::Repeated,
}

/// The content of an element that should hold only text.
enum Leaf {
    /// The text is in the parser's text buffer.
    Text,
    Element(Element),
}

fn attr_value<'a>(values: &'a str, a: &RawAttr) -> &'a str {
    &values[a.value.clone()]
}

impl<S: TokenSource> Parser<S> {
    fn new(src: S, options: ReadOptions) -> Self {
        Self {
            src,
            mode: options.mode,
            profile: options.mode.profile(),
            limits: options.limits,
            findings: Vec::new(),
            dropped_findings: 0,
            depth: 0,
            entries: 0,
            entry_index: None,
            legacy_reported: false,
            notes: Vec::new(),
            markup: Markup::default(),
            interner: Interner::default(),
            pending_end: false,
            text: String::new(),
            shortcut: fast::Record::default(),
            repeated: fast::Repeated::default(),
        }
    }

    /// The value of an attribute of the last start tag.
    fn value(&self, a: &RawAttr) -> &str {
        attr_value(&self.markup.values, a)
    }

    fn value_string(&self, a: &RawAttr) -> String {
        self.value(a).to_owned()
    }

    fn shared_value(&mut self, a: &RawAttr) -> Arc<str> {
        self.interner.intern(attr_value(&self.markup.values, a))
    }

    fn attribute(&self, a: RawAttr) -> Attribute {
        let value = self.value_string(&a);
        Attribute {
            name: attr_key_name(a.key),
            value,
        }
    }

    fn attributes(&self, attrs: Vec<RawAttr>) -> Vec<Attribute> {
        attrs.into_iter().map(|a| self.attribute(a)).collect()
    }

    /// The text buffer's content, leaving the buffer empty (with its capacity kept).
    fn take_text(&mut self) -> String {
        let out = self.text.as_str().to_owned();
        self.text.clear();
        out
    }

    /// A text-only element's text, shared through the interner; any other element goes to
    /// `ext`.
    fn shared_leaf(&mut self, s: Start, ext: &mut Vec<Element>) -> Result<Option<Arc<str>>, Error> {
        self.leaf_shared_by(s, ext, Interner::intern)
    }

    /// Like [`Self::shared_leaf`], for values with many distinct forms that repeat mostly
    /// in runs (the packages of one release): shared when met recently, never looked up.
    fn recent_leaf(
        &mut self,
        run: Run,
        s: Start,
        ext: &mut Vec<Element>,
    ) -> Result<Option<Arc<str>>, Error> {
        self.leaf_shared_by(s, ext, |i, v| i.recent(run, v))
    }

    fn leaf_shared_by(
        &mut self,
        s: Start,
        ext: &mut Vec<Element>,
        share: impl FnOnce(&mut Interner, &str) -> Arc<str>,
    ) -> Result<Option<Arc<str>>, Error> {
        Ok(match self.leaf(s)? {
            Leaf::Text => Some(share(&mut self.interner, &self.text)),
            Leaf::Element(el) => {
                ext.push(el);
                None
            }
        })
    }

    fn finding(&mut self, code: FindingCode, offset: Option<u64>, message: String) {
        if self.findings.len() >= self.limits.max_findings {
            self.dropped_findings += 1;
            return;
        }
        let mut location = match self.entry_index {
            Some(i) => Location::entry(i, None),
            None => Location::feed(),
        };
        location.position = offset.map(|o| self.src.position(o));
        self.findings
            .push(Finding::new(code, self.profile, location, message));
    }

    /// Turns the notes taken while the source was borrowed into findings. Called after every
    /// token and nearly always with none, so the check is inlined and the work is not.
    #[inline]
    fn flush_notes(&mut self) {
        if !self.notes.is_empty() {
            self.flush_notes_slow();
        }
    }

    #[inline(never)]
    fn flush_notes_slow(&mut self) {
        for note in std::mem::take(&mut self.notes) {
            if note.code == FindingCode::NamespaceLegacyNcts {
                if self.legacy_reported {
                    continue;
                }
                self.legacy_reported = true;
            }
            self.finding(note.code, Some(note.offset), note.message);
        }
    }

    fn fail(&mut self, fail: Fail) -> Error {
        let (offset, message, expected) = match fail {
            Fail::Source(SourceError::Io(e)) => return Error::Io(e),
            Fail::Source(SourceError::Limit(limit, max, offset))
            | Fail::Limit(limit, max, offset) => {
                return Error::LimitExceeded {
                    limit,
                    max,
                    position: self.src.position(offset),
                };
            }
            Fail::Source(SourceError::Syntax {
                offset,
                message,
                expected,
            })
            | Fail::Malformed {
                offset,
                message,
                expected,
            } => (offset, message, expected),
        };
        Error::Malformed {
            position: self.src.position(offset),
            message,
            expected,
        }
    }

    /// `next_tok` already turns end of input inside an element into an error and drops stray
    /// text in element-only content; this keeps containers total should that ever change.
    fn eof_inside(&mut self) -> Error {
        let off = self.src.offset();
        self.malformed(
            off,
            "document ended inside an element".into(),
            Some("a closing tag".into()),
        )
    }

    fn malformed(&mut self, offset: u64, message: String, expected: Option<String>) -> Error {
        self.fail(Fail::Malformed {
            offset,
            message,
            expected,
        })
    }

    /// The next token. With `want_text`, character data is appended to the text buffer and
    /// reported as [`Tok::Text`]; without, white space is skipped and other character data is
    /// reported and dropped: the caller is a container of elements.
    fn next_tok(&mut self, want_text: bool) -> Result<Tok, Error> {
        loop {
            if self.pending_end {
                self.pending_end = false;
                self.markup.ns.end(self.depth);
                self.depth = self.depth.saturating_sub(1);
                return Ok(Tok::End);
            }
            let mode = self.mode;
            let max_text = self.limits.max_text_bytes;
            let depth = self.depth + 1;
            let result: Result<Option<Tok>, Fail> = match self.src.next_token(!want_text) {
                Err(e) => Err(Fail::Source(e)),
                Ok((token, offset)) => match token {
                    Token::Start {
                        name,
                        attrs,
                        spans,
                        empty,
                    } => {
                        if depth > self.limits.max_depth {
                            Err(Fail::Limit(
                                Limit::Depth,
                                self.limits.max_depth as u64,
                                offset,
                            ))
                        } else {
                            self.pending_end = empty;
                            self.markup
                                .start(
                                    name,
                                    attrs,
                                    spans,
                                    offset,
                                    depth,
                                    mode,
                                    max_text,
                                    &mut self.notes,
                                )
                                .map(|s| Some(Tok::Start(s)))
                        }
                    }
                    Token::End => Ok(Some(Tok::End)),
                    Token::Text(raw) if want_text => {
                        match unescape_text(raw, offset, mode, &mut self.notes, &mut self.text) {
                            Err(f) => Err(f),
                            Ok(()) if self.text.len() > max_text => {
                                Err(Fail::Limit(Limit::TextSize, max_text as u64, offset))
                            }
                            Ok(()) => Ok(Some(Tok::Text)),
                        }
                    }
                    Token::Text(raw) => {
                        if !raw.bytes().all(|b| b.is_ascii_whitespace()) {
                            self.notes.push(Note {
                                code: FindingCode::UnexpectedText,
                                message: format!(
                                    "character data '{}' where only elements belong is not kept",
                                    truncate(raw.trim(), 40)
                                ),
                                offset,
                            });
                        }
                        Ok(None)
                    }
                    Token::CData(raw) if want_text => {
                        push_cdata(raw, &mut self.text);
                        if self.text.len() > max_text {
                            Err(Fail::Limit(Limit::TextSize, max_text as u64, offset))
                        } else {
                            Ok(Some(Tok::Text))
                        }
                    }
                    Token::CData(_) => {
                        self.notes.push(Note {
                            code: FindingCode::UnexpectedText,
                            message: "CDATA where only elements belong is not kept".into(),
                            offset,
                        });
                        Ok(None)
                    }
                    // Declarations, comments and processing instructions carry nothing the
                    // model keeps; a DOCTYPE is never expanded.
                    Token::Skipped => Ok(None),
                    Token::Eof => Ok(Some(Tok::Eof)),
                },
            };
            self.flush_notes();
            match result {
                Err(f) => return Err(self.fail(f)),
                Ok(None) => continue,
                Ok(Some(tok)) => {
                    match &tok {
                        Tok::Start(_) => self.depth += 1,
                        Tok::End => {
                            self.markup.ns.end(self.depth);
                            self.depth = self.depth.saturating_sub(1);
                        }
                        Tok::Eof if self.depth > 0 => {
                            let off = self.src.offset();
                            return Err(self.malformed(
                                off,
                                "document ended before every element was closed".into(),
                                Some("closing tags".into()),
                            ));
                        }
                        _ => {}
                    }
                    return Ok(tok);
                }
            }
        }
    }

    fn parse_root(&mut self) -> Result<Feed, Error> {
        let start = loop {
            match self.next_tok(false)? {
                Tok::Start(s) => break s,
                Tok::Eof => {
                    let off = self.src.offset();
                    return Err(self.malformed(
                        off,
                        "document has no root element".into(),
                        Some("<feed>".into()),
                    ));
                }
                Tok::End | Tok::Text => {}
            }
        };
        if start.tag != Tag::Feed {
            let found = start.tag.xml_name().to_string();
            let position = self.src.position(start.offset);
            return Err(Error::NotAFeed { position, found });
        }
        Ok(Feed {
            attributes: self.attributes(start.attrs),
            ..Feed::default()
        })
    }

    /// Reads the feed's children up to the next entry, whose start tag is returned for
    /// [`parse_entry`](Self::parse_entry), or to the end of the feed.
    fn next_in_feed(&mut self, feed: &mut Feed) -> Result<Option<(Start, Position)>, Error> {
        loop {
            let s = match self.next_tok(false)? {
                Tok::End => {
                    self.finish_document()?;
                    return Ok(None);
                }
                Tok::Start(s) => s,
                Tok::Eof | Tok::Text => {
                    let off = self.src.offset();
                    return Err(self.malformed(
                        off,
                        "document ended inside <feed>".into(),
                        Some("</feed>".into()),
                    ));
                }
            };
            match s.tag {
                Tag::Entry => {
                    if self.entries >= self.limits.max_entries {
                        let max = self.limits.max_entries as u64;
                        return Err(self.fail(Fail::Limit(Limit::Entries, max, s.offset)));
                    }
                    let position = self.src.position(s.offset);
                    return Ok(Some((s, position)));
                }
                Tag::Id if feed.id.is_none() => {
                    feed.id = self.leaf_into(s, &mut feed.extensions)?.map(AtomId::from)
                }
                Tag::Title if feed.title.is_none() => feed.title = Some(self.text_construct(s)?),
                Tag::Subtitle if feed.subtitle.is_none() => {
                    feed.subtitle = Some(self.text_construct(s)?)
                }
                Tag::Rights if feed.rights.is_none() => feed.rights = Some(self.text_construct(s)?),
                Tag::Updated if feed.updated.is_none() => {
                    feed.updated = self.date_leaf(s, &mut feed.extensions)?;
                }
                Tag::Icon if feed.icon.is_none() => {
                    feed.icon = self.leaf_into(s, &mut feed.extensions)?
                }
                Tag::Logo if feed.logo.is_none() => {
                    feed.logo = self.leaf_into(s, &mut feed.extensions)?
                }
                Tag::Generator if feed.generator.is_none() => {
                    feed.generator = Some(self.generator(s)?)
                }
                Tag::Link => feed.links.push(self.link(s)?),
                Tag::Author => feed.authors.push(self.person(s)?),
                Tag::Contributor => feed.contributors.push(self.person(s)?),
                Tag::Category => feed.categories.push(self.category(s)?),
                Tag::Profile if feed.profile.is_none() => {
                    feed.profile = self.profile(s, &mut feed.extensions)?
                }
                _ => {
                    let el = self.element(s)?;
                    feed.extensions.push(el);
                }
            }
        }
    }

    fn finish_document(&mut self) -> Result<(), Error> {
        loop {
            match self.next_tok(false)? {
                Tok::Eof => return Ok(()),
                Tok::Start(s) => {
                    return Err(self.malformed(
                        s.offset,
                        format!("content after </feed>: <{}>", s.tag.xml_name()),
                        Some("end of document".into()),
                    ));
                }
                Tok::End | Tok::Text => {}
            }
        }
    }

    /// Reads an entry into `e`, which is empty.
    fn parse_entry(&mut self, start: Start, e: &mut Entry) -> Result<(), Error> {
        let index = self.entries;
        self.entries += 1;
        self.entry_index = Some(index);
        let first_finding = self.findings.len();
        e.attributes = self.attributes(start.attrs);
        if e.attributes.is_empty() && self.fast_entry(e) {
            self.entry_index = None;
            return Ok(());
        }
        loop {
            let s = match self.next_tok(false)? {
                Tok::End => break,
                Tok::Start(s) => s,
                Tok::Eof | Tok::Text => return Err(self.eof_inside()),
            };
            let ext = &mut e.extensions;
            match s.tag {
                Tag::Id if e.id.is_none() => e.id = self.leaf_into(s, ext)?.map(AtomId::from),
                Tag::Title if e.title.is_none() => e.title = Some(self.text_construct(s)?),
                Tag::Summary if e.summary.is_none() => e.summary = Some(self.text_construct(s)?),
                Tag::Rights if e.rights.is_none() => e.rights = Some(self.text_construct(s)?),
                Tag::Updated if e.updated.is_none() => e.updated = self.date_leaf(s, ext)?,
                Tag::Published if e.published.is_none() => {
                    e.published = self.date_leaf(s, ext)?;
                }
                Tag::Author => push_small(&mut e.authors, self.person(s)?),
                Tag::Contributor => push_small(&mut e.contributors, self.person(s)?),
                Tag::Category => push_small(&mut e.categories, self.category(s)?),
                Tag::Link => push_small(&mut e.links, self.link(s)?),
                Tag::Source if e.source.is_none() => e.source = Some(Box::new(self.source(s)?)),
                Tag::ContentItemIdentifier if e.identifier.is_none() => {
                    e.identifier = self
                        .recent_leaf(Run::Identifier, s, ext)?
                        .map(ContentItemIdentifier::from);
                }
                Tag::ContentItemVersion if e.version.is_none() => {
                    e.version = self
                        .recent_leaf(Run::Version, s, ext)?
                        .map(ContentItemVersion::from);
                }
                Tag::FhirVersion => {
                    if let Some(v) = self.shared_leaf(s, ext)? {
                        e.fhir_versions.push(FhirVersion::from(v));
                    }
                }
                Tag::FhirProfile => {
                    if let Some(v) = self.leaf_into(s, ext)? {
                        e.fhir_profiles.push(v);
                    }
                }
                Tag::BundleInterpretation if e.bundle_interpretation.is_none() => {
                    e.bundle_interpretation = match self.leaf(s)? {
                        Leaf::Text => Some(BundleInterpretation::parse(&self.text)),
                        Leaf::Element(el) => {
                            ext.push(el);
                            None
                        }
                    };
                }
                Tag::SctBaseVersion if e.sct_base_version.is_none() => {
                    e.sct_base_version = self.leaf_into(s, ext)?;
                }
                Tag::PackageDependency if e.package_dependency.is_none() => {
                    e.package_dependency = Some(Box::new(self.package_dependency(s)?));
                }
                Tag::Permission => match self.permission(s)? {
                    Ok(code) => e.permissions.push(code),
                    Err(el) => e.extensions.push(el),
                },
                Tag::ArtifactType
                | Tag::ArtifactVersion
                | Tag::Hl7FhirVersion
                | Tag::PublishAction
                    if crmi_slot(&mut e.crmi, &s.tag).is_none() =>
                {
                    let tag = s.tag.clone();
                    let value = self.leaf_into(s, ext)?;
                    *crmi_slot(&mut e.crmi, &tag) = value;
                }
                _ => {
                    let el = self.element(s)?;
                    e.extensions.push(el);
                }
            }
        }
        // A CRMI element kept as foreign markup leaves an empty block behind.
        if e.crmi.as_ref().is_some_and(|c| c.is_empty()) {
            e.crmi = None;
        }
        for f in &mut self.findings[first_finding..] {
            f.location.entry_id.clone_from(&e.id);
        }
        self.entry_index = None;
        Ok(())
    }

    /// Reads an element that should hold only text, leaving the text in the text buffer. One
    /// that carries attributes or child elements is kept whole as foreign markup instead,
    /// with a finding.
    fn leaf(&mut self, s: Start) -> Result<Leaf, Error> {
        if !s.attrs.is_empty() {
            let name = s.tag.xml_name();
            self.finding(
                FindingCode::UnexpectedMarkup,
                Some(s.offset),
                format!("<{name}> carries attributes; kept as foreign markup"),
            );
            return self.element(s).map(Leaf::Element);
        }
        if let Some(read) = self.quick_text_buffered() {
            read?;
            return Ok(Leaf::Text);
        }
        loop {
            match self.next_tok(true)? {
                Tok::Text => {}
                Tok::End => return Ok(Leaf::Text),
                Tok::Start(child) => {
                    let name = s.tag.xml_name();
                    self.finding(
                        FindingCode::UnexpectedMarkup,
                        Some(s.offset),
                        format!("<{name}> contains elements; kept as foreign markup"),
                    );
                    let mut children = Vec::new();
                    if !self.text.is_empty() {
                        children.push(Node::Text(self.take_text()));
                    }
                    children.push(Node::Element(self.element(child)?));
                    self.element_content(&mut children)?;
                    return Ok(Leaf::Element(Element {
                        name,
                        attributes: Vec::new(),
                        children,
                    }));
                }
                Tok::Eof => return Err(self.eof_inside()),
            }
        }
    }

    /// As [`quick_text`](Self::quick_text), into the text buffer, emptied first.
    fn quick_text_buffered(&mut self) -> Option<Result<(), Error>> {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let quick = self.quick_text(&mut text);
        self.text = text;
        quick
    }

    /// Appends the open element's content to `out` when it is character data followed at
    /// once by the element's end tag, and closes the element; `None`, with nothing read,
    /// when the content is anything else.
    fn quick_text(&mut self, out: &mut String) -> Option<Result<(), Error>> {
        if self.pending_end {
            return None;
        }
        let (mode, max_text) = (self.mode, self.limits.max_text_bytes);
        let read = self.src.leaf_text().map(|(raw, offset, plain)| {
            // Room for the raw text holds the unescaped text in one allocation, with no copy
            // through the text buffer. References leave slack, never more than the text took
            // in the input (measured, before text constructs were shared: 1.17× the input at
            // peak, against 1.15× sized exactly, which cost 2-3% of the full read's speed).
            out.reserve(raw.len());
            if plain {
                out.push_str(raw);
            } else {
                unescape_text(raw, offset, mode, &mut self.notes, out)?;
            }
            if out.len() > max_text {
                return Err(Fail::Limit(Limit::TextSize, max_text as u64, offset));
            }
            Ok(())
        })?;
        self.flush_notes();
        Some(match read {
            Ok(()) => {
                self.markup.ns.end(self.depth);
                self.depth = self.depth.saturating_sub(1);
                Ok(())
            }
            Err(f) => Err(self.fail(f)),
        })
    }

    fn leaf_into(
        &mut self,
        s: Start,
        extensions: &mut Vec<Element>,
    ) -> Result<Option<String>, Error> {
        // The usual case is unescaped straight into the value kept, sparing a copy through
        // the text buffer.
        if s.attrs.is_empty() {
            let mut value = String::new();
            if let Some(read) = self.quick_text(&mut value) {
                read?;
                return Ok(Some(value));
            }
        }
        Ok(match self.leaf(s)? {
            Leaf::Text => Some(self.take_text()),
            Leaf::Element(el) => {
                extensions.push(el);
                None
            }
        })
    }

    /// A date element, parsed from the text buffer.
    fn date_leaf(
        &mut self,
        s: Start,
        extensions: &mut Vec<Element>,
    ) -> Result<Option<Checked<AtomDate>>, Error> {
        Ok(match self.leaf(s)? {
            Leaf::Text => Some(date(&self.text)),
            Leaf::Element(el) => {
                extensions.push(el);
                None
            }
        })
    }

    /// Reads a foreign element whole.
    fn element(&mut self, s: Start) -> Result<Element, Error> {
        let name = s.tag.xml_name();
        let attributes = self.attributes(s.attrs);
        let mut children = Vec::new();
        self.element_content(&mut children)?;
        Ok(Element {
            name,
            attributes,
            children,
        })
    }

    /// Moves the text buffer into `children`, joining it to a text node before it.
    fn flush_text(&mut self, children: &mut Vec<Node>) {
        if self.text.is_empty() {
            return;
        }
        match children.last_mut() {
            Some(Node::Text(prev)) => {
                prev.push_str(&self.text);
                self.text.clear();
            }
            _ => {
                let t = self.take_text();
                children.push(Node::Text(t));
            }
        }
    }

    fn element_content(&mut self, children: &mut Vec<Node>) -> Result<(), Error> {
        self.text.clear();
        loop {
            match self.next_tok(true)? {
                Tok::Text => {}
                Tok::Start(c) => {
                    self.flush_text(children);
                    let el = self.element(c)?;
                    children.push(Node::Element(el));
                }
                Tok::End => {
                    self.flush_text(children);
                    return Ok(());
                }
                Tok::Eof => return Err(self.eof_inside()),
            }
        }
    }

    fn text_construct(&mut self, s: Start) -> Result<Text, Error> {
        let run = Run::of_text(&s.tag);
        let mut text = Text::default();
        for a in s.attrs {
            match a.key {
                AttrKey::Type => text.kind = Some(TextKind::parse(self.value(&a))),
                _ => text.push_attribute(self.attribute(a)),
            }
        }
        if let Some(read) = self.quick_text_buffered() {
            read?;
            text.value = self.interner.recent(run, &self.text);
            return Ok(text);
        }
        self.text.clear();
        let mut nodes = Vec::new();
        loop {
            match self.next_tok(true)? {
                Tok::Text => {}
                Tok::Start(c) => {
                    self.flush_text(&mut nodes);
                    let el = self.element(c)?;
                    nodes.push(Node::Element(el));
                }
                Tok::End => break,
                Tok::Eof => return Err(self.eof_inside()),
            }
        }
        if nodes.is_empty() {
            text.value = self.interner.recent(run, &self.text);
            self.text.clear();
        } else {
            self.flush_text(&mut nodes);
            let mut value = String::new();
            collect_text(&nodes, &mut value);
            text.value = value.into();
            text.set_markup(nodes);
        }
        Ok(text)
    }

    /// Reads the children of an element with no children of its own in the model, reporting
    /// (and dropping) any it has.
    fn no_children(&mut self, owner: &str, offset: u64) -> Result<Vec<Element>, Error> {
        let mut dropped = Vec::new();
        loop {
            match self.next_tok(false)? {
                Tok::End => break,
                Tok::Start(c) => dropped.push(self.element(c)?),
                Tok::Eof | Tok::Text => return Err(self.eof_inside()),
            }
        }
        if !dropped.is_empty() {
            self.finding(
                FindingCode::UnexpectedMarkup,
                Some(offset),
                format!("<{owner}> contains {} child element(s)", dropped.len()),
            );
        }
        Ok(dropped)
    }

    fn link(&mut self, s: Start) -> Result<Link, Error> {
        let mut link = Link::default();
        let mut unprefixed_sha = None;
        let mut unprefixed_md5 = None;
        let mut attrs = s.attrs;
        for a in attrs.drain(..) {
            match a.key {
                AttrKey::Rel => link.rel = Some(LinkRel::parse(self.value(&a))),
                AttrKey::Href => link.href = self.value_string(&a),
                AttrKey::Type => link.media_type = Some(self.shared_value(&a)),
                AttrKey::Title => link.extras_mut().title = Some(self.value_string(&a)),
                AttrKey::Hreflang => link.extras_mut().hreflang = Some(self.value_string(&a)),
                AttrKey::Length => {
                    link.length = Some(match parse_length(self.value(&a)) {
                        Some(LengthRead::Plain(n)) => Checked::Valid(n),
                        Some(LengthRead::Separated(n)) => {
                            let raw = self.value_string(&a);
                            self.finding(
                                FindingCode::LinkLengthSeparators,
                                Some(s.offset),
                                format!("length '{raw}' has thousands separators; read as {n}"),
                            );
                            Checked::Valid(n)
                        }
                        None => Checked::Malformed(self.value_string(&a)),
                    });
                }
                AttrKey::Sha256 => link.sha256 = Some(sha256(self.value(&a))),
                AttrKey::Md5 => link.md5 = Some(md5(self.value(&a))),
                AttrKey::UnprefixedSha256 => unprefixed_sha = Some(self.value_string(&a)),
                AttrKey::UnprefixedMd5 => unprefixed_md5 = Some(self.value_string(&a)),
                AttrKey::Validated => {
                    link.extras_mut().validated = Some(match parse_bool(self.value(&a)) {
                        Some(b) => Checked::Valid(b),
                        None => Checked::Malformed(self.value_string(&a)),
                    });
                }
                _ => link.extras_mut().attributes.push(self.attribute(a)),
            }
        }
        self.markup.recycle(attrs);
        // The SCT README writes `sha256Hash` without a prefix; read it as the hash unless the
        // namespaced attribute is also present.
        if let Some(raw) = unprefixed_sha {
            if link.sha256.is_none() {
                self.finding(
                    FindingCode::LinkHashUnprefixed,
                    Some(s.offset),
                    "'sha256Hash' without the ncts namespace read as ncts:sha256Hash".into(),
                );
                link.sha256 = Some(sha256(&raw));
            } else {
                link.extras_mut().attributes.push(Attribute {
                    name: XmlName::new(None, "sha256Hash"),
                    value: raw,
                });
            }
        }
        if let Some(raw) = unprefixed_md5 {
            if link.md5.is_none() {
                self.finding(
                    FindingCode::LinkHashUnprefixed,
                    Some(s.offset),
                    "'md5Hash' without the sct namespace read as sct:md5Hash".into(),
                );
                link.md5 = Some(md5(&raw));
            } else {
                link.extras_mut().attributes.push(Attribute {
                    name: XmlName::new(None, "md5Hash"),
                    value: raw,
                });
            }
        }
        let extensions = self.children_as_extensions()?;
        if !extensions.is_empty() {
            link.extras_mut().extensions = extensions;
        }
        Ok(link)
    }

    fn children_as_extensions(&mut self) -> Result<Vec<Element>, Error> {
        let mut out = Vec::new();
        loop {
            match self.next_tok(false)? {
                Tok::End => return Ok(out),
                Tok::Start(c) => out.push(self.element(c)?),
                Tok::Eof | Tok::Text => return Err(self.eof_inside()),
            }
        }
    }

    fn category(&mut self, s: Start) -> Result<Category, Error> {
        let mut c = Category::default();
        let mut term = None;
        let mut attrs = s.attrs;
        for a in attrs.drain(..) {
            match a.key {
                AttrKey::Term => term = Some(self.shared_value(&a)),
                AttrKey::Scheme => c.scheme = Some(self.shared_value(&a)),
                AttrKey::Label => c.label = Some(self.shared_value(&a)),
                _ => c.attributes.push(self.attribute(a)),
            }
        }
        self.markup.recycle(attrs);
        c.term = term.unwrap_or_else(|| self.interner.intern(""));
        self.no_children("category", s.offset)?;
        Ok(c)
    }

    fn person(&mut self, s: Start) -> Result<Person, Error> {
        let mut p = Person {
            attributes: self.attributes(s.attrs),
            ..Person::default()
        };
        loop {
            let c = match self.next_tok(false)? {
                Tok::End => return Ok(p),
                Tok::Start(c) => c,
                Tok::Eof | Tok::Text => return Err(self.eof_inside()),
            };
            let ext = &mut p.extensions;
            match c.tag {
                Tag::Name if p.name.is_none() => p.name = self.shared_leaf(c, ext)?,
                Tag::Uri if p.uri.is_none() => p.uri = self.shared_leaf(c, ext)?,
                Tag::Email if p.email.is_none() => p.email = self.shared_leaf(c, ext)?,
                _ => {
                    let el = self.element(c)?;
                    p.extensions.push(el);
                }
            }
        }
    }

    fn generator(&mut self, s: Start) -> Result<Generator, Error> {
        let mut g = Generator::default();
        for a in s.attrs {
            match a.key {
                AttrKey::Uri => g.uri = Some(self.value_string(&a)),
                AttrKey::Version => g.version = Some(self.value_string(&a)),
                _ => g.attributes.push(self.attribute(a)),
            }
        }
        let t = self.text_construct(Start {
            tag: Tag::Generator,
            attrs: Vec::new(),
            offset: s.offset,
        })?;
        g.value = String::from(&*t.value);
        Ok(g)
    }

    fn profile(
        &mut self,
        s: Start,
        extensions: &mut Vec<Element>,
    ) -> Result<Option<String>, Error> {
        let mut version = None;
        let mut others = Vec::new();
        for a in s.attrs {
            match a.key {
                AttrKey::Version => version = Some(self.value_string(&a)),
                _ => others.push(a),
            }
        }
        let offset = s.offset;
        let text = self.leaf_into(
            Start {
                tag: Tag::Profile,
                attrs: others,
                offset,
            },
            extensions,
        )?;
        Ok(match (text, version) {
            (Some(t), _) if !t.trim().is_empty() => Some(t),
            (_, Some(v)) => {
                self.finding(
                    FindingCode::ProfileVersionAttribute,
                    Some(offset),
                    format!("profile given as version=\"{v}\" on an empty element; terminology servers expect the profile URI as element text"),
                );
                Some(v)
            }
            (t, None) => t,
        })
    }

    fn package_dependency(&mut self, s: Start) -> Result<PackageDependency, Error> {
        let mut d = PackageDependency::default();
        if !s.attrs.is_empty() {
            self.finding(
                FindingCode::UnexpectedMarkup,
                Some(s.offset),
                "<sct:packageDependency> carries attributes, which are not kept".into(),
            );
        }
        loop {
            let c = match self.next_tok(false)? {
                Tok::End => return Ok(d),
                Tok::Start(c) => c,
                Tok::Eof | Tok::Text => return Err(self.eof_inside()),
            };
            let ext = &mut d.extensions;
            match c.tag {
                Tag::EditionDependency => {
                    if let Some(v) = self.leaf_into(c, ext)? {
                        d.editions.push(v);
                    }
                }
                Tag::DerivativeDependency => {
                    if let Some(v) = self.leaf_into(c, ext)? {
                        d.derivatives.push(v);
                    }
                }
                _ => {
                    let el = self.element(c)?;
                    d.extensions.push(el);
                }
            }
        }
    }

    fn permission(&mut self, s: Start) -> Result<Result<PermissionCode, Element>, Error> {
        let only_code = s.attrs.len() == 1 && s.attrs[0].key == AttrKey::Code;
        if !only_code {
            self.finding(
                FindingCode::UnexpectedMarkup,
                Some(s.offset),
                "<onto:permission> should carry exactly one attribute, code; kept as foreign markup".into(),
            );
            return self.element(s).map(Err);
        }
        let offset = s.offset;
        let code = s
            .attrs
            .first()
            .map(|a| self.value_string(a))
            .unwrap_or_default();
        let dropped = self.no_children("onto:permission", offset)?;
        if !dropped.is_empty() {
            let el = Element {
                name: Tag::Permission.xml_name(),
                attributes: vec![Attribute {
                    name: XmlName::new(None, "code"),
                    value: code,
                }],
                children: dropped.into_iter().map(Node::Element).collect(),
            };
            return Ok(Err(el));
        }
        Ok(Ok(PermissionCode::from(code)))
    }

    fn source(&mut self, s: Start) -> Result<Source, Error> {
        let mut src = Source::default();
        if !s.attrs.is_empty() {
            self.finding(
                FindingCode::UnexpectedMarkup,
                Some(s.offset),
                "<source> carries attributes, which are not kept".into(),
            );
        }
        loop {
            let c = match self.next_tok(false)? {
                Tok::End => return Ok(src),
                Tok::Start(c) => c,
                Tok::Eof | Tok::Text => return Err(self.eof_inside()),
            };
            let ext = &mut src.extensions;
            match c.tag {
                Tag::Id if src.id.is_none() => src.id = self.leaf_into(c, ext)?.map(AtomId::from),
                Tag::Title if src.title.is_none() => src.title = Some(self.text_construct(c)?),
                Tag::Updated if src.updated.is_none() => src.updated = self.date_leaf(c, ext)?,
                Tag::Link => src.links.push(self.link(c)?),
                _ => {
                    let el = self.element(c)?;
                    src.extensions.push(el);
                }
            }
        }
    }
}

/// Pushes onto a list that usually holds one or two items, growing it one slot at a time
/// (a plain push reserves four, which for links is over a kilobyte per entry).
fn push_small<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() && v.len() < 4 {
        v.reserve_exact(1);
    }
    v.push(item);
}

/// The CRMI field an `hl7:*` element fills, creating the CRMI block on first use.
fn crmi_slot<'a>(
    crmi: &'a mut Option<Box<super::model::Crmi>>,
    tag: &Tag,
) -> &'a mut Option<String> {
    let c = crmi.get_or_insert_with(Box::default);
    match tag {
        Tag::ArtifactType => &mut c.artifact_type,
        Tag::ArtifactVersion => &mut c.artifact_version,
        Tag::Hl7FhirVersion => &mut c.fhir_version,
        _ => &mut c.publish_action,
    }
}

fn attr_key_name(key: AttrKey) -> XmlName {
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

fn date(raw: &str) -> Checked<AtomDate> {
    match AtomDate::parse(raw) {
        Ok(d) => Checked::Valid(d),
        Err(_) => Checked::Malformed(raw.to_owned()),
    }
}

fn sha256(raw: &str) -> Checked<Sha256> {
    match Sha256::parse(raw) {
        Ok(h) => Checked::Valid(h),
        Err(_) => Checked::Malformed(raw.to_owned()),
    }
}

fn md5(raw: &str) -> Checked<Md5> {
    match Md5::parse(raw) {
        Ok(h) => Checked::Valid(h),
        Err(_) => Checked::Malformed(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::feed::xml::LONG_TEXT;

    // The shortcut for the five predefined entities reads what the general path reads, and
    // takes nothing else.
    #[test]
    fn predefined_references_read_as_the_general_path_reads_them() {
        for after in [
            "amp;", "lt;", "gt;", "quot;", "apos;", "amp;x", "lt;;", "amp", "am;", "ampx;", "quot",
            "apos ;", "#38;", "#x3c;", "nbsp;", "", ";", "AMP;",
        ] {
            let general = reference(after).and_then(|(name, len)| {
                let c = resolve_entity(name)?;
                (!name.starts_with('#')).then_some((c, len))
            });
            assert_eq!(predefined(after.as_bytes()), general, "{after:?}");
        }
        let mut out = String::new();
        let raw = "a&amp;b&lt;c&gt;d&quot;e&apos;f&#38;g";
        let read = unescape_text(raw, 0, Mode::Strict, &mut Vec::new(), &mut out);
        assert!(read.is_ok());
        assert_eq!(out, "a&b<c>d\"e'f&g");
        out.clear();
        let read = unescape_attr(raw, Mode::Strict, 0, &mut Vec::new(), &mut out);
        assert!(read.is_ok());
        assert_eq!(out, "a&b<c>d\"e'f&g");
    }

    // Found by the `read_feed` fuzz target: a CR LF pair advanced past the end of the value.
    #[test]
    fn attribute_white_space_is_normalised_including_cr_lf() {
        let mut notes = Vec::new();
        let mut out = String::new();
        unescape_attr(
            "a\r\n\r\nb\tc\nd&amp;e\r",
            Mode::Lenient,
            0,
            &mut notes,
            &mut out,
        )
        .map_err(|_| "lenient unescaping does not fail")
        .expect("lenient");
        assert_eq!(out, "a  b c d&e ");
        assert!(notes.is_empty());
    }

    // The scans pass over plain bytes a word at a time, and long text through `memchr`:
    // what needs unescaping is found wherever it falls.
    #[test]
    fn references_and_line_ends_are_found_past_the_first_words() {
        for pad in [7, 8, 9, 23, LONG_TEXT - 3, LONG_TEXT + 40] {
            let plain = "x".repeat(pad);
            let (mut notes, mut out) = (Vec::new(), String::new());
            let raw = format!("{plain}\t{plain}&amp;{plain}\r\n");
            unescape_attr(&raw, Mode::Strict, 0, &mut notes, &mut out)
                .map_err(|_| "well-formed")
                .expect("strict");
            assert_eq!(out, format!("{plain} {plain}&{plain} "), "pad {pad}");
            out.clear();
            let raw = format!("{plain}&lt;{plain}\r\n{plain}");
            unescape_text(&raw, 0, Mode::Strict, &mut notes, &mut out)
                .map_err(|_| "well-formed")
                .expect("strict");
            assert_eq!(out, format!("{plain}<{plain}\n{plain}"), "pad {pad}");
        }
    }

    #[test]
    fn text_references_line_ends_and_raw_ampersands() {
        let mut notes = Vec::new();
        let mut out = String::new();
        let raw = "a &amp; b\r\nc&#x41;&#66;&lt;&nope; & d&e\rf";
        unescape_text(raw, 100, Mode::Lenient, &mut notes, &mut out)
            .map_err(|_| "lenient unescaping does not fail")
            .expect("lenient");
        assert_eq!(out, "a & b\ncAB<&nope; & d&e\nf");
        let codes: Vec<_> = notes.iter().map(|n| (n.code, n.offset)).collect();
        assert_eq!(
            codes,
            [
                (FindingCode::XmlUnknownEntity, 100 + 27),
                (FindingCode::XmlUnescapedAmpersand, 100 + 34),
            ]
        );
        let strict = unescape_text(raw, 100, Mode::Strict, &mut notes, &mut String::new());
        assert!(matches!(strict, Err(Fail::Malformed { offset: 127, .. })));
    }

    #[test]
    fn the_interner_shares_equal_values() {
        let mut i = Interner::default();
        let a = i.intern("http://ns.electronichealth.net.au/ncts/syndication/asf/scheme/1.0.0");
        let b = i.intern("SCT_RF2_FULL");
        let c = i.intern(&String::from(
            "http://ns.electronichealth.net.au/ncts/syndication/asf/scheme/1.0.0",
        ));
        assert!(Arc::ptr_eq(&a, &c));
        assert!(Arc::ptr_eq(&b, &i.intern("SCT_RF2_FULL")));
        assert!(!Arc::ptr_eq(&b, &i.intern("SCT_RF2_ALL")));
        let long = "x".repeat(INTERN_MAX_LEN + 1);
        assert!(!Arc::ptr_eq(&i.intern(&long), &i.intern(&long)));
    }

    #[test]
    fn packages_of_one_release_share_their_identifier_and_version() {
        let entry = |term: &str| {
            format!(
                "<entry><id>urn:uuid:{term}</id><category term=\"{term}\"/>\
                 <ncts:contentItemIdentifier>http://snomed.info/sct/32506021000036107</ncts:contentItemIdentifier>\
                 <ncts:contentItemVersion>http://snomed.info/sct/32506021000036107/version/20260831</ncts:contentItemVersion>\
                 <ncts:fhirVersion>4.0.1</ncts:fhirVersion></entry>"
            )
        };
        let xml = format!(
            "<feed xmlns=\"http://www.w3.org/2005/Atom\" \
             xmlns:ncts=\"http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/1.0.0\">{}{}</feed>",
            entry("SCT_RF2_FULL"),
            entry("SCT_RF2_SNAPSHOT")
        );
        let feed = read_feed(xml.as_bytes(), &ReadOptions::lenient())
            .expect("reads")
            .feed;
        let [a, b] = &feed.entries[..] else {
            panic!("two entries")
        };
        let same = |x: &str, y: &str| x.as_ptr() == y.as_ptr();
        let (ai, bi) = (a.identifier.as_ref(), b.identifier.as_ref());
        let (ai, bi) = (ai.expect("identifier"), bi.expect("identifier"));
        assert!(same(ai.as_str(), bi.as_str()));
        let (av, bv) = (
            a.version.as_ref().expect("version"),
            b.version.as_ref().expect("version"),
        );
        assert!(same(av.as_str(), bv.as_str()));
        assert!(same(
            a.fhir_versions[0].as_str(),
            b.fhir_versions[0].as_str()
        ));
    }

    #[test]
    fn a_recent_value_is_shared_until_its_slot_is_taken() {
        let mut i = Interner::default();
        let v = "http://snomed.info/sct/32506021000036107/version/20260831";
        let first = i.recent(Run::Version, v);
        assert!(Arc::ptr_eq(
            &first,
            &i.recent(Run::Version, &String::from(v))
        ));
        assert_eq!(
            &*i.recent(Run::Version, "http://amt.info/csv"),
            "http://amt.info/csv"
        );
        // Another field's values never take its slot.
        for n in 0..64 {
            i.recent(Run::Summary, &format!("{v}{n}"));
            i.intern(&format!("{v}{n}"));
        }
        assert!(Arc::ptr_eq(&first, &i.recent(Run::Version, v)));
        // A different value of the field in the same slot replaces it: equal text, a new
        // allocation.
        let rival = (0..)
            .map(|n| format!("{v}{n}"))
            .find(|r| Interner::slot(r, RUN_SLOTS_BITS) == Interner::slot(v, RUN_SLOTS_BITS))
            .expect("some suffix lands in the same slot");
        assert_eq!(&*i.recent(Run::Version, &rival), rival);
        let again = i.recent(Run::Version, v);
        assert_eq!(&*again, v);
        assert!(!Arc::ptr_eq(&first, &again));
    }
}
