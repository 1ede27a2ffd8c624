//! The feed reader: bytes → [`Feed`], and a streaming reader that yields one entry at a time.
//!
//! Elements are bound by namespace URI, never by prefix. The parser pulls events from
//! `quick-xml` and descends the document directly into the model, so the full read allocates
//! little beyond the values it keeps.

use std::collections::{HashSet, VecDeque};
use std::io::{self, BufRead, Read};
use std::sync::Arc;

use quick_xml::NsReader;
use quick_xml::events::{BytesStart, Event};
use quick_xml::name::{NamespaceResolver, ResolveResult};

use super::finding::{Finding, FindingCode, Location, Profile};
use super::model::{
    AtomId, Attribute, BundleInterpretation, Category, ContentItemIdentifier, ContentItemVersion,
    Element, Entry, Feed, FhirVersion, Generator, Link, LinkRel, Node, PackageDependency,
    PermissionCode, Person, Source, Text, TextKind, XmlName, collect_text,
};
use super::ns;
use super::values::{AtomDate, Checked, LengthRead, Md5, Sha256, parse_bool, parse_length};
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
    /// The feed.
    pub feed: Feed,
    /// Deviations the reader recovered from (document-level: raw `&`, legacy namespace,
    /// separators in lengths …). Run [`validate`](super::validate) for the rule checks.
    pub findings: Vec<Finding>,
    /// Findings past [`Limits::max_findings`], counted but not kept.
    pub dropped_findings: usize,
    /// Where each entry starts, by entry index.
    pub entry_positions: Vec<Position>,
}

/// Reads a whole feed from bytes.
///
/// # Errors
/// A document that is not well-formed XML (lenient mode recovers a raw `&`), whose root is
/// not an Atom feed, or that exceeds a limit; each error carries line and column.
pub fn read_feed(bytes: &[u8], options: &ReadOptions) -> Result<ReadOutcome, Error> {
    let mut parser = Parser::new(SliceSource::new(bytes, options.mode), *options);
    let mut feed = parser.parse_root()?;
    // Sizing the entry list up front keeps it from doubling past what the feed needs; a
    // `<entry` inside a comment only over-reserves a little.
    let expected = memchr::memmem::find_iter(bytes, b"<entry").count();
    feed.entries.reserve_exact(expected);
    let mut entry_positions = Vec::with_capacity(expected);
    while let Some((entry, pos)) = parser.next_in_feed(&mut feed)? {
        feed.entries.push(entry);
        entry_positions.push(pos);
    }
    Ok(ReadOutcome {
        feed,
        findings: parser.findings,
        dropped_findings: parser.dropped_findings,
        entry_positions,
    })
}

/// Reads a whole feed from an [`io::Read`], buffering it first so errors and findings carry
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
        let source = BufSource::new(reader, options.mode, options.limits.max_text_bytes);
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
        match self.parser.next_in_feed(&mut self.header) {
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
// Sources: where events come from, and how byte offsets become lines and columns.

trait EventSource {
    fn next_event(&mut self) -> quick_xml::Result<(Event<'_>, &NamespaceResolver)>;
    /// Bytes consumed so far.
    fn offset(&self) -> u64;
    /// Where the last error was detected.
    fn error_offset(&self) -> u64;
    fn position(&mut self, offset: u64) -> Position;
    /// A limit the source itself enforced, when the last error came from it.
    fn source_limit(&self) -> Option<(Limit, u64)> {
        None
    }
}

fn configure<R>(reader: &mut NsReader<R>, mode: Mode) {
    let config = reader.config_mut();
    config.expand_empty_elements = true;
    config.check_end_names = true;
    config.allow_dangling_amp = mode == Mode::Lenient;
}

struct SliceSource<'i> {
    reader: NsReader<&'i [u8]>,
    input: &'i [u8],
    // Lines are counted incrementally from the last position asked for, since entry positions
    // are requested in document order.
    cursor_offset: usize,
    cursor_line: u64,
    cursor_line_start: usize,
}

impl<'i> SliceSource<'i> {
    fn new(input: &'i [u8], mode: Mode) -> Self {
        let mut reader = NsReader::from_reader(input);
        configure(&mut reader, mode);
        Self {
            reader,
            input,
            cursor_offset: 0,
            cursor_line: 1,
            cursor_line_start: 0,
        }
    }
}

impl EventSource for SliceSource<'_> {
    fn next_event(&mut self) -> quick_xml::Result<(Event<'_>, &NamespaceResolver)> {
        let ev = self.reader.read_event()?;
        Ok((ev, self.reader.resolver()))
    }

    fn offset(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn error_offset(&self) -> u64 {
        self.reader.error_position()
    }

    fn position(&mut self, offset: u64) -> Position {
        let target = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.input.len());
        if target < self.cursor_offset {
            self.cursor_offset = 0;
            self.cursor_line = 1;
            self.cursor_line_start = 0;
        }
        let span = &self.input[self.cursor_offset..target];
        if let Some(last) = memchr::memrchr(b'\n', span) {
            self.cursor_line += memchr::memchr_iter(b'\n', span).count() as u64;
            self.cursor_line_start = self.cursor_offset + last + 1;
        }
        self.cursor_offset = target;
        Position {
            line: self.cursor_line,
            column: (target - self.cursor_line_start) as u64 + 1,
            byte_offset: target as u64,
        }
    }
}

/// Counts lines as bytes are consumed, remembering recent line starts so positions of errors
/// inside the current event can be resolved without keeping the document; and bounds the run
/// of bytes between markup, so a hostile text node cannot grow the event buffer without limit.
struct LineCounter<R> {
    inner: R,
    consumed: u64,
    newlines: u64,
    recent: VecDeque<u64>,
    since_markup: usize,
    max_run: usize,
    tripped: bool,
}

const RECENT_LINES: usize = 4096;

impl<R: BufRead> LineCounter<R> {
    fn position(&self, offset: u64) -> Position {
        // Newline offsets after `offset` are subtracted from the running count.
        let later = self
            .recent
            .iter()
            .rev()
            .take_while(|&&nl| nl >= offset)
            .count() as u64;
        let line = self.newlines - later + 1;
        let line_start = self
            .recent
            .iter()
            .rev()
            .find(|&&nl| nl < offset)
            .map(|nl| nl + 1)
            .unwrap_or(0);
        Position {
            line,
            column: offset.saturating_sub(line_start) + 1,
            byte_offset: offset,
        }
    }
}

impl<R: BufRead> Read for LineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for LineCounter<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.since_markup > self.max_run {
            self.tripped = true;
            return Err(io::Error::other("text exceeds the configured size limit"));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, amt: usize) {
        if let Ok(buf) = self.inner.fill_buf() {
            let n = amt.min(buf.len());
            for (i, &b) in buf[..n].iter().enumerate() {
                match b {
                    b'\n' => {
                        self.newlines += 1;
                        if self.recent.len() == RECENT_LINES {
                            self.recent.pop_front();
                        }
                        self.recent.push_back(self.consumed + i as u64);
                        self.since_markup += 1;
                    }
                    b'<' | b'>' => self.since_markup = 0,
                    _ => self.since_markup += 1,
                }
            }
        }
        self.consumed += amt as u64;
        self.inner.consume(amt);
    }
}

struct BufSource<R: BufRead> {
    reader: NsReader<LineCounter<R>>,
    buf: Vec<u8>,
    max_text: usize,
}

impl<R: BufRead> BufSource<R> {
    fn new(inner: R, mode: Mode, max_text: usize) -> Self {
        let counter = LineCounter {
            inner,
            consumed: 0,
            newlines: 0,
            recent: VecDeque::new(),
            since_markup: 0,
            // Attribute values and markup also count towards the run; leave headroom.
            max_run: max_text.saturating_add(64 << 10),
            tripped: false,
        };
        let mut reader = NsReader::from_reader(counter);
        configure(&mut reader, mode);
        Self {
            reader,
            buf: Vec::with_capacity(8 << 10),
            max_text,
        }
    }
}

impl<R: BufRead> EventSource for BufSource<R> {
    fn next_event(&mut self) -> quick_xml::Result<(Event<'_>, &NamespaceResolver)> {
        self.buf.clear();
        let ev = self.reader.read_event_into(&mut self.buf)?;
        Ok((ev, self.reader.resolver()))
    }

    fn offset(&self) -> u64 {
        self.reader.buffer_position()
    }

    fn error_offset(&self) -> u64 {
        self.reader.error_position()
    }

    fn position(&mut self, offset: u64) -> Position {
        self.reader.get_ref().position(offset)
    }

    fn source_limit(&self) -> Option<(Limit, u64)> {
        self.reader
            .get_ref()
            .tripped
            .then_some((Limit::TextSize, self.max_text as u64))
    }
}

// ---------------------------------------------------------------------------------------
// Tokens: events classified by namespace and name, with owned attribute values.

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
    /// Anything else.
    Foreign(XmlName),
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
            Tag::Foreign(name) => return name.clone(),
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
    Foreign(XmlName),
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

#[derive(Debug)]
struct RawAttr {
    key: AttrKey,
    value: String,
}

#[derive(Debug)]
struct Start {
    tag: Tag,
    attrs: Vec<RawAttr>,
    offset: u64,
}

enum Tok {
    Start(Start),
    End,
    Text(String),
    Eof,
}

/// A problem found while the source is borrowed; turned into a finding or error afterwards.
struct Note {
    code: FindingCode,
    message: String,
    offset: u64,
}

enum Fail {
    Xml(quick_xml::Error),
    Malformed {
        offset: u64,
        message: String,
        expected: Option<String>,
    },
    Limit(Limit, u64, u64),
}

fn attr_name(prefix_local: &str, resolved: &ResolveResult<'_>) -> XmlName {
    let (prefix, local) = match prefix_local.split_once(':') {
        Some((p, l)) => (Some(p.to_owned()), l),
        None => (None, prefix_local),
    };
    let namespace = match resolved {
        ResolveResult::Bound(n) => Some(n.0.to_owned()),
        _ => None,
    };
    XmlName {
        namespace,
        local: local.to_owned(),
        prefix,
    }
}

/// Unescapes an attribute value and normalises literal white space (XML 1.0 §3.3.3),
/// recovering a raw `&` in lenient mode.
fn unescape_attr(
    raw: &str,
    mode: Mode,
    offset: u64,
    notes: &mut Vec<Note>,
) -> Result<String, Fail> {
    if !raw
        .bytes()
        .any(|b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'))
    {
        return Ok(raw.to_owned());
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find(['&', '\t', '\n', '\r']) {
        out.push_str(&rest[..i]);
        let c = rest.as_bytes()[i];
        if c != b'&' {
            // A CR LF pair is one line end, so one space.
            let crlf = c == b'\r' && rest.as_bytes().get(i + 1) == Some(&b'\n');
            out.push(' ');
            rest = &rest[i + if crlf { 2 } else { 1 }..];
            continue;
        }
        let after = &rest[i + 1..];
        let resolved = after.find(';').and_then(|semi| {
            let name = &after[..semi];
            resolve_entity(name).map(|c| (c, semi))
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
    Ok(out)
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

fn classify_start(
    e: &BytesStart<'_>,
    resolver: &NamespaceResolver,
    offset: u64,
    mode: Mode,
    max_text: usize,
    notes: &mut Vec<Note>,
) -> Result<Start, Fail> {
    let qname = e.name();
    let (resolved, local) = resolver.resolve_element(qname);
    let local = local.into_inner();
    let tag = match &resolved {
        ResolveResult::Bound(n) => {
            let kind = ns_kind(n.0);
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
            Tag::classify(kind, local)
        }
        ResolveResult::Unbound => None,
        ResolveResult::Unknown(p) => {
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
                    "prefix '{p}' of <{}> is not declared; read as no namespace",
                    qname.0
                ),
                offset,
            });
            None
        }
    };
    let tag = tag.unwrap_or_else(|| {
        let prefix = qname.0.split_once(':').map(|(p, _)| p.to_owned());
        let namespace = match &resolved {
            ResolveResult::Bound(n) => Some(n.0.to_owned()),
            _ => None,
        };
        Tag::Foreign(XmlName {
            namespace,
            local: local.to_owned(),
            prefix,
        })
    });

    // One allocation of about the right size rather than growth from four.
    let raw = e.attributes_raw();
    let mut attrs = if raw.is_empty() {
        Vec::new()
    } else {
        Vec::with_capacity(memchr::memchr_iter(b'=', raw.as_bytes()).count())
    };
    for a in e.attributes() {
        let a = a.map_err(|err| Fail::Malformed {
            offset,
            message: format!("bad attribute in <{}>: {err}", qname.0),
            expected: None,
        })?;
        let key = a.key.0;
        if key == "xmlns" || key.starts_with("xmlns:") {
            continue;
        }
        if a.value.len() > max_text {
            return Err(Fail::Limit(Limit::TextSize, max_text as u64, offset));
        }
        let (res, alocal) = resolver.resolve_attribute(a.key);
        let kind = match &res {
            ResolveResult::Bound(n) => ns_kind(n.0),
            ResolveResult::Unbound => NsKind::None,
            ResolveResult::Unknown(p) => {
                if mode == Mode::Strict {
                    return Err(Fail::Malformed {
                        offset,
                        message: format!(
                            "prefix '{p}' of attribute '{key}' is not bound to a namespace"
                        ),
                        expected: Some(format!("an xmlns:{p} declaration")),
                    });
                }
                notes.push(Note {
                    code: FindingCode::XmlUnknownPrefix,
                    message: format!(
                        "prefix '{p}' of attribute '{key}' is not declared; read as no namespace"
                    ),
                    offset,
                });
                NsKind::Other
            }
        };
        let value = unescape_attr(&a.value, mode, offset, notes)?;
        let key = classify_attr(kind, alocal.into_inner())
            .unwrap_or_else(|| AttrKey::Foreign(attr_name(key, &res)));
        attrs.push(RawAttr { key, value });
    }
    Ok(Start { tag, attrs, offset })
}

// ---------------------------------------------------------------------------------------
// The parser.

struct Parser<S: EventSource> {
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
    interned: HashSet<Arc<str>>,
}

/// Values shared through the interner are short and few per feed (schemes, terms, labels,
/// media types, publishers); the bounds keep hostile input from growing the table.
const INTERN_MAX_ENTRIES: usize = 4096;
const INTERN_MAX_LEN: usize = 512;

/// The content of an element that should hold only text.
enum Leaf {
    Text(String),
    Element(Element),
}

impl<S: EventSource> Parser<S> {
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
            interned: HashSet::new(),
        }
    }

    /// One shared copy of a value that repeats across entries.
    fn intern(&mut self, s: String) -> Arc<str> {
        if let Some(found) = self.interned.get(s.as_str()) {
            return Arc::clone(found);
        }
        let shared: Arc<str> = Arc::from(s);
        if shared.len() <= INTERN_MAX_LEN && self.interned.len() < INTERN_MAX_ENTRIES {
            self.interned.insert(Arc::clone(&shared));
        }
        shared
    }

    fn shared_leaf(&mut self, s: Start, ext: &mut Vec<Element>) -> Result<Option<Arc<str>>, Error> {
        Ok(self.leaf_into(s, ext)?.map(|v| self.intern(v)))
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

    fn flush_notes(&mut self) {
        if self.notes.is_empty() {
            return;
        }
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
        match fail {
            Fail::Xml(err) => {
                if let Some((limit, max)) = self.src.source_limit() {
                    let position = self.src.position(self.src.offset());
                    return Error::LimitExceeded {
                        limit,
                        max,
                        position,
                    };
                }
                if let quick_xml::Error::Io(io) = &err {
                    return Error::Io(io::Error::new(io.kind(), io.to_string()));
                }
                let position = self.src.position(self.src.error_offset());
                Error::Malformed {
                    position,
                    message: err.to_string(),
                    expected: expected_for(&err),
                }
            }
            Fail::Malformed {
                offset,
                message,
                expected,
            } => Error::Malformed {
                position: self.src.position(offset),
                message,
                expected,
            },
            Fail::Limit(limit, max, offset) => Error::LimitExceeded {
                limit,
                max,
                position: self.src.position(offset),
            },
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

    /// The next token. With `want_text` false, white space is skipped and other character
    /// data is reported and dropped: the caller is a container of elements.
    fn next_tok(&mut self, want_text: bool) -> Result<Tok, Error> {
        loop {
            let offset = self.src.offset();
            let mode = self.mode;
            let max_text = self.limits.max_text_bytes;
            let result: Result<Option<Tok>, Fail> = match self.src.next_event() {
                Err(e) => Err(Fail::Xml(e)),
                Ok((ev, resolver)) => {
                    match ev {
                        Event::Start(e) => {
                            classify_start(&e, resolver, offset, mode, max_text, &mut self.notes)
                                .map(|s| Some(Tok::Start(s)))
                        }
                        Event::End(_) => Ok(Some(Tok::End)),
                        Event::Empty(_) => Err(Fail::Malformed {
                            offset,
                            message: "empty element was not expanded".into(),
                            expected: None,
                        }),
                        Event::Text(t) => {
                            let content = t.xml10_content();
                            if content.len() > max_text {
                                Err(Fail::Limit(Limit::TextSize, max_text as u64, offset))
                            } else if want_text {
                                if mode == Mode::Lenient && content.contains('&') {
                                    self.notes.push(Note {
                                        code: FindingCode::XmlUnescapedAmpersand,
                                        message: "unescaped '&' in text read as a literal '&'"
                                            .into(),
                                        offset,
                                    });
                                }
                                Ok(Some(Tok::Text(content.into_owned())))
                            } else if content.bytes().all(|b| b.is_ascii_whitespace()) {
                                Ok(None)
                            } else {
                                self.notes.push(Note {
                                code: FindingCode::UnexpectedText,
                                message: format!(
                                    "character data '{}' where only elements belong is not kept",
                                    truncate(content.trim(), 40)
                                ),
                                offset,
                            });
                                Ok(None)
                            }
                        }
                        Event::CData(c) => {
                            let content = c.into_inner();
                            if want_text {
                                Ok(Some(Tok::Text(content.into_owned())))
                            } else {
                                self.notes.push(Note {
                                    code: FindingCode::UnexpectedText,
                                    message: "CDATA where only elements belong is not kept".into(),
                                    offset,
                                });
                                Ok(None)
                            }
                        }
                        Event::GeneralRef(r) => {
                            let name = r.into_inner();
                            match resolve_entity(&name) {
                            Some(c) if want_text => Ok(Some(Tok::Text(c.to_string()))),
                            Some(_) => {
                                self.notes.push(Note {
                                    code: FindingCode::UnexpectedText,
                                    message: format!("reference '&{name};' where only elements belong is not kept"),
                                    offset,
                                });
                                Ok(None)
                            }
                            None if mode == Mode::Strict => Err(Fail::Malformed {
                                offset,
                                message: format!("reference to undeclared entity '&{name};'"),
                                expected: Some("one of &lt; &gt; &amp; &apos; &quot; or a character reference".into()),
                            }),
                            None => {
                                self.notes.push(Note {
                                    code: FindingCode::XmlUnknownEntity,
                                    message: format!("reference to undeclared entity '&{name};' kept as text (entities are never expanded)"),
                                    offset,
                                });
                                Ok(want_text.then(|| Tok::Text(format!("&{name};"))))
                            }
                        }
                        }
                        // Declarations, comments and processing instructions carry nothing the
                        // model keeps; a DOCTYPE is never expanded.
                        Event::Decl(_) | Event::Comment(_) | Event::PI(_) | Event::DocType(_) => {
                            Ok(None)
                        }
                        Event::Eof => Ok(Some(Tok::Eof)),
                    }
                }
            };
            self.flush_notes();
            match result {
                Err(f) => return Err(self.fail(f)),
                Ok(None) => continue,
                Ok(Some(tok)) => {
                    match &tok {
                        Tok::Start(s) => {
                            self.depth += 1;
                            if self.depth > self.limits.max_depth {
                                let (max, off) = (self.limits.max_depth as u64, s.offset);
                                return Err(self.fail(Fail::Limit(Limit::Depth, max, off)));
                            }
                        }
                        Tok::End => self.depth = self.depth.saturating_sub(1),
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
                Tok::End | Tok::Text(_) => {}
            }
        };
        if start.tag != Tag::Feed {
            let found = start.tag.xml_name().to_string();
            let position = self.src.position(start.offset);
            return Err(Error::NotAFeed { position, found });
        }
        Ok(Feed {
            attributes: foreign_attrs(start.attrs),
            ..Feed::default()
        })
    }

    /// Reads the feed's children up to the next entry (returned) or the end of the feed.
    fn next_in_feed(&mut self, feed: &mut Feed) -> Result<Option<(Entry, Position)>, Error> {
        loop {
            let s = match self.next_tok(false)? {
                Tok::End => {
                    self.finish_document()?;
                    return Ok(None);
                }
                Tok::Start(s) => s,
                Tok::Eof | Tok::Text(_) => {
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
                    let entry = self.parse_entry(s)?;
                    return Ok(Some((entry, position)));
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
                    feed.updated = self.leaf_into(s, &mut feed.extensions)?.map(|t| date(&t));
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
                Tok::End | Tok::Text(_) => {}
            }
        }
    }

    fn parse_entry(&mut self, start: Start) -> Result<Entry, Error> {
        let index = self.entries;
        self.entries += 1;
        self.entry_index = Some(index);
        let first_finding = self.findings.len();
        let mut e = Entry {
            attributes: foreign_attrs(start.attrs),
            ..Entry::default()
        };
        loop {
            let s = match self.next_tok(false)? {
                Tok::End => break,
                Tok::Start(s) => s,
                Tok::Eof | Tok::Text(_) => return Err(self.eof_inside()),
            };
            let ext = &mut e.extensions;
            match s.tag {
                Tag::Id if e.id.is_none() => e.id = self.leaf_into(s, ext)?.map(AtomId::from),
                Tag::Title if e.title.is_none() => e.title = Some(self.text_construct(s)?),
                Tag::Summary if e.summary.is_none() => e.summary = Some(self.text_construct(s)?),
                Tag::Rights if e.rights.is_none() => e.rights = Some(self.text_construct(s)?),
                Tag::Updated if e.updated.is_none() => {
                    e.updated = self.leaf_into(s, ext)?.map(|t| date(&t))
                }
                Tag::Published if e.published.is_none() => {
                    e.published = self.leaf_into(s, ext)?.map(|t| date(&t));
                }
                Tag::Author => push_small(&mut e.authors, self.person(s)?),
                Tag::Contributor => push_small(&mut e.contributors, self.person(s)?),
                Tag::Category => push_small(&mut e.categories, self.category(s)?),
                Tag::Link => push_small(&mut e.links, self.link(s)?),
                Tag::Source if e.source.is_none() => e.source = Some(Box::new(self.source(s)?)),
                Tag::ContentItemIdentifier if e.identifier.is_none() => {
                    e.identifier = self.leaf_into(s, ext)?.map(ContentItemIdentifier::from);
                }
                Tag::ContentItemVersion if e.version.is_none() => {
                    e.version = self.leaf_into(s, ext)?.map(ContentItemVersion::from);
                }
                Tag::FhirVersion => {
                    if let Some(v) = self.leaf_into(s, ext)? {
                        e.fhir_versions.push(FhirVersion::from(v));
                    }
                }
                Tag::FhirProfile => {
                    if let Some(v) = self.leaf_into(s, ext)? {
                        e.fhir_profiles.push(v);
                    }
                }
                Tag::BundleInterpretation if e.bundle_interpretation.is_none() => {
                    e.bundle_interpretation = self
                        .leaf_into(s, ext)?
                        .map(|t| BundleInterpretation::parse(&t));
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
        Ok(e)
    }

    /// Reads an element that should hold only text. One that carries attributes or child
    /// elements is kept whole as foreign markup instead, with a finding.
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
        let mut text = String::new();
        loop {
            match self.next_tok(true)? {
                Tok::Text(t) => {
                    if text.is_empty() {
                        text = t;
                    } else {
                        text.push_str(&t);
                    }
                    if text.len() > self.limits.max_text_bytes {
                        let max = self.limits.max_text_bytes as u64;
                        return Err(self.fail(Fail::Limit(Limit::TextSize, max, s.offset)));
                    }
                }
                Tok::End => return Ok(Leaf::Text(text)),
                Tok::Start(child) => {
                    let name = s.tag.xml_name();
                    self.finding(
                        FindingCode::UnexpectedMarkup,
                        Some(s.offset),
                        format!("<{name}> contains elements; kept as foreign markup"),
                    );
                    let mut children = Vec::new();
                    if !text.is_empty() {
                        children.push(Node::Text(text));
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

    fn leaf_into(
        &mut self,
        s: Start,
        extensions: &mut Vec<Element>,
    ) -> Result<Option<String>, Error> {
        Ok(match self.leaf(s)? {
            Leaf::Text(t) => Some(t),
            Leaf::Element(el) => {
                extensions.push(el);
                None
            }
        })
    }

    /// Reads a foreign element whole.
    fn element(&mut self, s: Start) -> Result<Element, Error> {
        let name = s.tag.xml_name();
        let attributes = s.attrs.into_iter().map(raw_to_attribute).collect();
        let mut children = Vec::new();
        self.element_content(&mut children)?;
        Ok(Element {
            name,
            attributes,
            children,
        })
    }

    fn element_content(&mut self, children: &mut Vec<Node>) -> Result<(), Error> {
        loop {
            match self.next_tok(true)? {
                Tok::Text(t) => match children.last_mut() {
                    Some(Node::Text(prev)) => prev.push_str(&t),
                    _ => children.push(Node::Text(t)),
                },
                Tok::Start(c) => {
                    let el = self.element(c)?;
                    children.push(Node::Element(el));
                }
                Tok::End => return Ok(()),
                Tok::Eof => return Err(self.eof_inside()),
            }
        }
    }

    fn text_construct(&mut self, s: Start) -> Result<Text, Error> {
        let mut text = Text::default();
        for a in s.attrs {
            match a.key {
                AttrKey::Type => text.kind = Some(TextKind::parse(&a.value)),
                _ => text.attributes.push(raw_to_attribute(a)),
            }
        }
        let mut nodes = Vec::new();
        loop {
            match self.next_tok(true)? {
                Tok::Text(t) => {
                    if nodes.is_empty() && text.value.is_empty() {
                        text.value = t;
                    } else if nodes.is_empty() {
                        text.value.push_str(&t);
                    } else {
                        nodes.push(Node::Text(t));
                    }
                    if text.value.len() > self.limits.max_text_bytes {
                        let max = self.limits.max_text_bytes as u64;
                        return Err(self.fail(Fail::Limit(Limit::TextSize, max, s.offset)));
                    }
                }
                Tok::Start(c) => {
                    if nodes.is_empty() && !text.value.is_empty() {
                        nodes.push(Node::Text(std::mem::take(&mut text.value)));
                    }
                    let el = self.element(c)?;
                    nodes.push(Node::Element(el));
                }
                Tok::End => break,
                Tok::Eof => return Err(self.eof_inside()),
            }
        }
        if !nodes.is_empty() {
            text.value.clear();
            collect_text(&nodes, &mut text.value);
            text.markup = nodes;
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
                Tok::Eof | Tok::Text(_) => return Err(self.eof_inside()),
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
        for a in s.attrs {
            match a.key {
                AttrKey::Rel => link.rel = Some(LinkRel::parse(&a.value)),
                AttrKey::Href => link.href = a.value,
                AttrKey::Type => link.media_type = Some(self.intern(a.value)),
                AttrKey::Title => link.title = Some(a.value),
                AttrKey::Hreflang => link.hreflang = Some(a.value),
                AttrKey::Length => {
                    link.length = Some(match parse_length(&a.value) {
                        Some(LengthRead::Plain(n)) => Checked::Valid(n),
                        Some(LengthRead::Separated(n)) => {
                            self.finding(
                                FindingCode::LinkLengthSeparators,
                                Some(s.offset),
                                format!(
                                    "length '{}' has thousands separators; read as {n}",
                                    a.value
                                ),
                            );
                            Checked::Valid(n)
                        }
                        None => Checked::Malformed(a.value),
                    });
                }
                AttrKey::Sha256 => link.sha256 = Some(sha256(a.value)),
                AttrKey::Md5 => link.md5 = Some(md5(a.value)),
                AttrKey::UnprefixedSha256 => unprefixed_sha = Some(a.value),
                AttrKey::UnprefixedMd5 => unprefixed_md5 = Some(a.value),
                AttrKey::Validated => {
                    link.validated = Some(match parse_bool(&a.value) {
                        Some(b) => Checked::Valid(b),
                        None => Checked::Malformed(a.value),
                    });
                }
                _ => link.attributes.push(raw_to_attribute(a)),
            }
        }
        // The SCT README writes `sha256Hash` without a prefix; read it as the hash unless the
        // namespaced attribute is also present.
        if let Some(raw) = unprefixed_sha {
            if link.sha256.is_none() {
                self.finding(
                    FindingCode::LinkHashUnprefixed,
                    Some(s.offset),
                    "'sha256Hash' without the ncts namespace read as ncts:sha256Hash".into(),
                );
                link.sha256 = Some(sha256(raw));
            } else {
                link.attributes.push(Attribute {
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
                link.md5 = Some(md5(raw));
            } else {
                link.attributes.push(Attribute {
                    name: XmlName::new(None, "md5Hash"),
                    value: raw,
                });
            }
        }
        link.extensions = self.children_as_extensions()?;
        Ok(link)
    }

    fn children_as_extensions(&mut self) -> Result<Vec<Element>, Error> {
        let mut out = Vec::new();
        loop {
            match self.next_tok(false)? {
                Tok::End => return Ok(out),
                Tok::Start(c) => out.push(self.element(c)?),
                Tok::Eof | Tok::Text(_) => return Err(self.eof_inside()),
            }
        }
    }

    fn category(&mut self, s: Start) -> Result<Category, Error> {
        let mut c = Category::default();
        let mut term = None;
        for a in s.attrs {
            match a.key {
                AttrKey::Term => term = Some(a.value),
                AttrKey::Scheme => c.scheme = Some(self.intern(a.value)),
                AttrKey::Label => c.label = Some(self.intern(a.value)),
                _ => c.attributes.push(raw_to_attribute(a)),
            }
        }
        c.term = self.intern(term.unwrap_or_default());
        self.no_children("category", s.offset)?;
        Ok(c)
    }

    fn person(&mut self, s: Start) -> Result<Person, Error> {
        let mut p = Person {
            attributes: foreign_attrs(s.attrs),
            ..Person::default()
        };
        loop {
            let c = match self.next_tok(false)? {
                Tok::End => return Ok(p),
                Tok::Start(c) => c,
                Tok::Eof | Tok::Text(_) => return Err(self.eof_inside()),
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
                AttrKey::Uri => g.uri = Some(a.value),
                AttrKey::Version => g.version = Some(a.value),
                _ => g.attributes.push(raw_to_attribute(a)),
            }
        }
        let t = self.text_construct(Start {
            tag: Tag::Generator,
            attrs: Vec::new(),
            offset: s.offset,
        })?;
        g.value = t.value;
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
                AttrKey::Version => version = Some(a.value),
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
                Tok::Eof | Tok::Text(_) => return Err(self.eof_inside()),
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
            .into_iter()
            .next()
            .map(|a| a.value)
            .unwrap_or_default();
        let dropped = self.no_children("onto:permission", offset)?;
        if !dropped.is_empty() {
            let mut el = Element {
                name: Tag::Permission.xml_name(),
                attributes: vec![Attribute {
                    name: XmlName::new(None, "code"),
                    value: code,
                }],
                children: Vec::new(),
            };
            el.children = dropped.into_iter().map(Node::Element).collect();
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
                Tok::Eof | Tok::Text(_) => return Err(self.eof_inside()),
            };
            let ext = &mut src.extensions;
            match c.tag {
                Tag::Id if src.id.is_none() => src.id = self.leaf_into(c, ext)?.map(AtomId::from),
                Tag::Title if src.title.is_none() => src.title = Some(self.text_construct(c)?),
                Tag::Updated if src.updated.is_none() => {
                    src.updated = self.leaf_into(c, ext)?.map(|t| date(&t))
                }
                Tag::Link => src.links.push(self.link(c)?),
                _ => {
                    let el = self.element(c)?;
                    src.extensions.push(el);
                }
            }
        }
    }
}

fn expected_for(err: &quick_xml::Error) -> Option<String> {
    use quick_xml::errors::IllFormedError;
    match err {
        quick_xml::Error::IllFormed(IllFormedError::MismatchedEndTag { expected, .. }) => {
            Some(format!("</{expected}>"))
        }
        quick_xml::Error::IllFormed(IllFormedError::UnclosedReference) => {
            Some("'&amp;' or a reference ending in ';'".into())
        }
        quick_xml::Error::Syntax(_) => Some("well-formed markup".into()),
        _ => None,
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

fn raw_to_attribute(a: RawAttr) -> Attribute {
    let name = match a.key {
        AttrKey::Foreign(n) => n,
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
    };
    Attribute {
        name,
        value: a.value,
    }
}

fn foreign_attrs(attrs: Vec<RawAttr>) -> Vec<Attribute> {
    attrs.into_iter().map(raw_to_attribute).collect()
}

fn date(raw: &str) -> Checked<AtomDate> {
    match AtomDate::parse(raw) {
        Ok(d) => Checked::Valid(d),
        Err(_) => Checked::Malformed(raw.to_owned()),
    }
}

fn sha256(raw: String) -> Checked<Sha256> {
    match Sha256::parse(&raw) {
        Ok(h) => Checked::Valid(h),
        Err(_) => Checked::Malformed(raw),
    }
}

fn md5(raw: String) -> Checked<Md5> {
    match Md5::parse(&raw) {
        Ok(h) => Checked::Valid(h),
        Err(_) => Checked::Malformed(raw),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Found by the `read_feed` fuzz target: a CR LF pair advanced past the end of the value.
    #[test]
    fn attribute_white_space_is_normalised_including_cr_lf() {
        let mut notes = Vec::new();
        let out = unescape_attr("a\r\n\r\nb\tc\nd&amp;e\r", Mode::Lenient, 0, &mut notes)
            .map_err(|_| "lenient unescaping does not fail")
            .expect("lenient");
        assert_eq!(out, "a  b c d&e ");
        assert!(notes.is_empty());
    }
}
