//! The feed reader: bytes → [`Feed`], and a streaming reader that yields one entry at a time.
//!
//! Elements are bound by namespace URI, never by prefix. The reader is built in layers, one
//! module each:
//!
//! - the tokenizer (`feed::xml`) splits a window of text into markup and character data, and
//!   a source (`feed::source`) feeds it a whole document or a buffered stream;
//! - [`options`] holds the reading mode and the limits on hostile input;
//! - `names` classifies element and attribute names by namespace URI;
//! - `unescape` resolves references and normalises line ends and attribute white space;
//! - `markup` turns a start tag into a classified tag with unescaped attribute values;
//! - `pump` pulls tokens, keeps the depth and the findings, and reads generic content
//!   (text-only leaves, foreign elements);
//! - `elements` builds the model's types from their elements.
//!
//! The full read and the streaming [`EntryReader`] share every layer above the source, so
//! they read the same document into the same entries and findings.

mod elements;
mod markup;
mod names;
mod options;
mod pump;
mod unescape;

use std::io::{BufRead, Read};

pub use options::{Limits, Mode, ReadOptions, ReadOutcome};
use pump::Parser;

use super::finding::Finding;
use super::model::{Entry, Feed};
use super::source::{BufSource, SliceSource, SourceError};
use crate::error::{Error, Position};

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
    let mut entry_positions = Vec::new();
    while let Some((start, pos)) = parser.next_in_feed(&mut feed)? {
        feed.entries.push(parser.parse_entry(start)?);
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
                    .map(|(start, pos)| self.parser.parse_entry(start).map(|e| (e, pos)))
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
