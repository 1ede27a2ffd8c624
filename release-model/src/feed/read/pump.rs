//! The token pump: the parser's state, tokens pulled from the source with depth, namespace
//! scope and findings kept, and the readers of generic content (text-only leaves and
//! foreign elements) that the element builders share.

use super::markup::{Markup, RawAttr, Start};
use super::names::attr_key_name;
use super::options::{Limits, Mode, ReadOptions};
use super::unescape::{push_cdata, truncate, unescape_text};
use crate::error::{Error, Limit};
use crate::feed::finding::{Finding, FindingCode, Location, Profile};
use crate::feed::model::{Attribute, Element, Node};
use crate::feed::source::{Source as TokenSource, SourceError, Token};

pub(super) enum Tok {
    Start(Start),
    End,
    /// Character data, appended to the parser's text buffer.
    Text,
    Eof,
}

/// A problem found while the source is borrowed; turned into a finding or error afterwards.
pub(super) struct Note {
    pub(super) code: FindingCode,
    pub(super) message: String,
    pub(super) offset: u64,
}

pub(super) enum Fail {
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

/// The reader of one document: what it has read so far and what it found on the way.
pub(super) struct Parser<S: TokenSource> {
    pub(super) src: S,
    pub(super) mode: Mode,
    pub(super) profile: Profile,
    pub(super) limits: Limits,
    pub(super) findings: Vec<Finding>,
    pub(super) dropped_findings: usize,
    pub(super) depth: usize,
    pub(super) entries: usize,
    pub(super) entry_index: Option<usize>,
    pub(super) legacy_reported: bool,
    pub(super) notes: Vec<Note>,
    pub(super) markup: Markup,
    /// An empty-element tag was returned as a start; its end comes next.
    pub(super) pending_end: bool,
    /// Character data read for the element being read, unescaped; text-accepting readers
    /// take it at each markup boundary.
    pub(super) text: String,
    /// Memory taken so far by foreign markup kept whole, against `limits.max_foreign_bytes`.
    pub(super) foreign_bytes: usize,
}

/// The content of an element that should hold only text.
pub(super) enum Leaf {
    /// The text is in the parser's text buffer.
    Text,
    Element(Element),
}

fn attr_value<'a>(values: &'a str, a: &RawAttr) -> &'a str {
    &values[a.value.clone()]
}

impl<S: TokenSource> Parser<S> {
    pub(super) fn new(src: S, options: ReadOptions) -> Self {
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
            markup: Markup::with_namespace_limit(options.limits.max_namespace_declarations),
            pending_end: false,
            text: String::new(),
            foreign_bytes: 0,
        }
    }

    /// The value of an attribute of the last start tag.
    pub(super) fn value(&self, a: &RawAttr) -> &str {
        attr_value(&self.markup.values, a)
    }

    pub(super) fn value_string(&self, a: &RawAttr) -> String {
        self.value(a).to_owned()
    }

    pub(super) fn attribute(&self, a: RawAttr) -> Attribute {
        let value = self.value_string(&a);
        Attribute {
            name: attr_key_name(a.key),
            value,
        }
    }

    pub(super) fn attributes(&self, attrs: Vec<RawAttr>) -> Vec<Attribute> {
        attrs.into_iter().map(|a| self.attribute(a)).collect()
    }

    /// The text buffer's content, leaving the buffer empty (with its capacity kept).
    pub(super) fn take_text(&mut self) -> String {
        let out = self.text.as_str().to_owned();
        self.text.clear();
        out
    }

    pub(super) fn finding(&mut self, code: FindingCode, offset: Option<u64>, message: String) {
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
    /// token, nearly always with none.
    #[inline]
    pub(super) fn flush_notes(&mut self) {
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

    /// A character XML 1.0 does not allow: an error in strict mode; in lenient mode a
    /// finding, and the character is kept as read.
    fn forbidden_char(&mut self, offset: u64, c: char) -> Result<(), Error> {
        let message = format!("U+{:04X} is not a character XML 1.0 allows", u32::from(c));
        if self.mode == Mode::Strict {
            return Err(self.malformed(
                offset,
                message,
                Some("a character XML allows (tab, LF, CR, or U+0020 and above, but not U+FFFE or U+FFFF)".into()),
            ));
        }
        self.finding(
            FindingCode::XmlForbiddenCharacter,
            Some(offset),
            format!("{message}; kept as read, but a writer cannot write it back"),
        );
        Ok(())
    }

    pub(super) fn fail(&mut self, fail: Fail) -> Error {
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
    pub(super) fn eof_inside(&mut self) -> Error {
        let off = self.src.offset();
        self.malformed(
            off,
            "document ended inside an element".into(),
            Some("a closing tag".into()),
        )
    }

    pub(super) fn malformed(
        &mut self,
        offset: u64,
        message: String,
        expected: Option<String>,
    ) -> Error {
        self.fail(Fail::Malformed {
            offset,
            message,
            expected,
        })
    }

    /// The next token. With `want_text`, character data is appended to the text buffer and
    /// reported as [`Tok::Text`]; without, white space is skipped and other character data is
    /// reported and dropped: the caller is a container of elements.
    pub(super) fn next_tok(&mut self, want_text: bool) -> Result<Tok, Error> {
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
            if let Some((offset, c)) = self.src.take_forbidden() {
                self.forbidden_char(offset, c)?;
            }
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

    /// Reads an element that should hold only text, leaving the text in the text buffer. One
    /// that carries attributes or child elements is kept whole as foreign markup instead,
    /// with a finding.
    pub(super) fn leaf(&mut self, s: Start) -> Result<Leaf, Error> {
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
                    let el = Element {
                        name,
                        attributes: Vec::new(),
                        children,
                    };
                    self.charge(&el, s.offset)?;
                    return Ok(Leaf::Element(el));
                }
                Tok::Eof => return Err(self.eof_inside()),
            }
        }
    }

    /// As [`quick_text`](Self::quick_text), into the text buffer, emptied first.
    pub(super) fn quick_text_buffered(&mut self) -> Option<Result<(), Error>> {
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        let quick = self.quick_text(&mut text);
        self.text = text;
        quick
    }

    /// Appends the open element's content to `out` when it is character data followed at
    /// once by the element's end tag, and closes the element; `None`, with nothing read,
    /// when the content is anything else.
    pub(super) fn quick_text(&mut self, out: &mut String) -> Option<Result<(), Error>> {
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

    pub(super) fn leaf_into(
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

    /// Reads a foreign element whole.
    pub(super) fn element(&mut self, s: Start) -> Result<Element, Error> {
        let name = s.tag.xml_name();
        let attributes = self.attributes(s.attrs);
        let mut children = Vec::new();
        self.element_content(&mut children)?;
        let el = Element {
            name,
            attributes,
            children,
        };
        self.charge(&el, s.offset)?;
        Ok(el)
    }

    /// Counts what a foreign element takes in the model, its child elements excepted (each
    /// is counted as it is read): the element, its names, attributes and text, and a node
    /// for each child.
    fn charge(&mut self, el: &Element, offset: u64) -> Result<(), Error> {
        let name = |n: &crate::feed::model::XmlName| {
            n.local.len()
                + n.namespace.as_ref().map_or(0, String::len)
                + n.prefix.as_ref().map_or(0, String::len)
        };
        let mut cost = std::mem::size_of::<Element>()
            + name(&el.name)
            + el.children.len() * std::mem::size_of::<Node>();
        for a in &el.attributes {
            cost += std::mem::size_of::<crate::feed::model::Attribute>()
                + name(&a.name)
                + a.value.len();
        }
        for c in &el.children {
            if let Node::Text(t) = c {
                cost += t.len();
            }
        }
        self.foreign_bytes = self.foreign_bytes.saturating_add(cost);
        let max = self.limits.max_foreign_bytes;
        if self.foreign_bytes > max {
            return Err(self.fail(Fail::Limit(Limit::ForeignMarkup, max as u64, offset)));
        }
        Ok(())
    }

    /// Moves the text buffer into `children`, joining it to a text node before it.
    pub(super) fn flush_text(&mut self, children: &mut Vec<Node>) {
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

    pub(super) fn element_content(&mut self, children: &mut Vec<Node>) -> Result<(), Error> {
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
}
