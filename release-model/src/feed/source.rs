//! Where the reader's tokens come from: a document in memory, or a [`BufRead`] read through a
//! bounded window; and how byte offsets become lines and columns.

use std::collections::VecDeque;
use std::io::{self, BufRead};

use super::xml::{AttrSpan, Raw, Step, Syntax, Tokenizer};
use crate::error::{Limit, Position};

/// A token with its text borrowed from the source.
#[derive(Debug)]
pub(crate) enum Token<'a> {
    Start {
        name: &'a str,
        /// What follows the name.
        attrs: &'a str,
        /// Each attribute, as ranges into `attrs`.
        spans: &'a [AttrSpan],
        empty: bool,
    },
    End,
    Text(&'a str),
    CData(&'a str),
    Skipped,
    Eof,
}

/// Why a source could not produce a token.
#[derive(Debug)]
pub(crate) enum SourceError {
    Syntax {
        offset: u64,
        message: String,
        expected: Option<String>,
    },
    Limit(Limit, u64, u64),
    Io(io::Error),
}

pub(crate) trait Source {
    /// The next token and the document offset where it starts; with `skip_space`, white
    /// space before it is passed over.
    fn next_token(&mut self, skip_space: bool) -> Result<(Token<'_>, u64), SourceError>;
    /// The raw text of the open element, its offset and whether it is plain (no reference,
    /// no CR: nothing to unescape), when the element holds only text and its end tag follows
    /// in the input already read; the element is then closed.
    fn leaf_text(&mut self) -> Option<(&str, u64, bool)>;
    /// The document offset of the next token.
    fn offset(&self) -> u64;
    /// The line and column of a document offset already read.
    fn position(&mut self, offset: u64) -> Position;
    /// The first character of the document read so far that XML 1.0 does not allow, with its
    /// offset, once: the reader decides whether it is an error or a finding.
    fn take_forbidden(&mut self) -> Option<(u64, char)>;
}

#[inline(always)]
fn token_of<'a>(window: &'a str, tokenizer: &'a Tokenizer, raw: Raw) -> Token<'a> {
    match raw {
        Raw::Start { name, attrs, empty } => Token::Start {
            name: &window[name],
            attrs: &window[attrs],
            spans: tokenizer.attributes(),
            empty,
        },
        Raw::End => Token::End,
        Raw::Text(r) => Token::Text(&window[r]),
        Raw::CData(r) => Token::CData(&window[r]),
        Raw::Skipped => Token::Skipped,
        Raw::Eof => Token::Eof,
    }
}

fn syntax(base: u64, s: Syntax) -> SourceError {
    SourceError::Syntax {
        offset: base + s.at as u64,
        message: s.message,
        expected: s.expected,
    }
}

const BOM: &str = "\u{feff}";

/// The first character of `s` that XML 1.0 does not allow (§2.2: C0 controls other than tab,
/// LF and CR, and U+FFFE, U+FFFF), with its offset.
pub(crate) fn forbidden_char(s: &str) -> Option<(usize, char)> {
    // A look at every byte without an early exit, which the compiler vectorises, rules most
    // documents out; U+FFFE and U+FFFF both start with 0xEF.
    let suspect = s.bytes().fold(0u8, |any, b| {
        let control = (b < 0x20) & (b != b'\t') & (b != b'\n') & (b != b'\r');
        any | u8::from(control | (b == 0xEF))
    });
    if suspect == 0 {
        return None;
    }
    s.char_indices().find(|&(_, c)| {
        (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{FFFE}' || c == '\u{FFFF}'
    })
}

/// Line starts are remembered this far back, so positions of findings inside the current
/// entry resolve after the reader has moved on (an entry is a few dozen lines).
const RECENT_LINES: usize = 1024;

/// Lines counted up to an offset, moving forward only: the streaming source's, which cannot
/// look back at bytes it has dropped.
#[derive(Debug, Default)]
struct Lines {
    counted: u64,
    line: u64,
    line_start: u64,
    recent: VecDeque<u64>,
}

impl Lines {
    /// Counts the newlines in `bytes`, which start where counting stopped.
    fn advance(&mut self, bytes: &[u8]) {
        for i in memchr::memchr_iter(b'\n', bytes) {
            let nl = self.counted + i as u64;
            self.line += 1;
            self.line_start = nl + 1;
            if self.recent.len() == RECENT_LINES {
                self.recent.pop_front();
            }
            self.recent.push_back(nl);
        }
        self.counted += bytes.len() as u64;
    }

    /// The position of an offset at or before where counting stopped.
    fn locate(&self, offset: u64) -> Position {
        if offset >= self.line_start {
            return Position {
                line: self.line + 1,
                column: offset - self.line_start + 1,
                byte_offset: offset,
            };
        }
        let later = self
            .recent
            .iter()
            .rev()
            .take_while(|&&nl| nl >= offset)
            .count() as u64;
        let line_start = self
            .recent
            .iter()
            .rev()
            .find(|&&nl| nl < offset)
            .map_or(0, |nl| nl + 1);
        Position {
            line: self.line - later + 1,
            column: offset.saturating_sub(line_start) + 1,
            byte_offset: offset,
        }
    }
}

/// Lines of a document held whole, counted in bulk up to the furthest offset asked for. A
/// position behind that is found by counting back over the bytes, so nothing is kept per
/// line: the full read asks for the position of every entry, and remembering each line it
/// passed cost up to a tenth of the read (measured at 1k entries).
#[derive(Debug, Default)]
struct WholeLines {
    counted: usize,
    /// Newlines before `counted`.
    newlines: u64,
    /// Start of the line holding `counted`.
    line_start: usize,
}

impl WholeLines {
    /// The position of `target`, at most `bytes.len()`.
    fn locate(&mut self, bytes: &[u8], target: usize) -> Position {
        let (newlines, line_start) = if target >= self.counted {
            let ahead = &bytes[self.counted..target];
            let n = memchr::memchr_iter(b'\n', ahead).count();
            if n > 0 {
                self.newlines += n as u64;
                self.line_start = memchr::memrchr(b'\n', ahead).map_or(0, |i| self.counted + i + 1);
            }
            self.counted = target;
            (self.newlines, self.line_start)
        } else {
            // Findings inside the entry just read: rare, and a short way back.
            let n = memchr::memchr_iter(b'\n', &bytes[target..self.counted]).count();
            let line_start = if n == 0 {
                self.line_start
            } else {
                memchr::memrchr(b'\n', &bytes[..target]).map_or(0, |i| i + 1)
            };
            (self.newlines - n as u64, line_start)
        };
        Position {
            line: newlines + 1,
            column: (target - line_start) as u64 + 1,
            byte_offset: target as u64,
        }
    }
}

/// A whole document in memory, validated as UTF-8 once.
pub(crate) struct SliceSource<'i> {
    bytes: &'i [u8],
    text: &'i str,
    pos: usize,
    tokenizer: Tokenizer,
    lines: WholeLines,
    forbidden: Option<(u64, char)>,
}

impl<'i> SliceSource<'i> {
    /// # Errors
    /// When the document is not UTF-8, at the first byte that is not.
    pub(crate) fn new(bytes: &'i [u8]) -> Result<Self, (SourceError, Position)> {
        let text = match std::str::from_utf8(bytes) {
            Ok(t) => t,
            Err(e) => {
                let at = e.valid_up_to();
                let err = SourceError::Syntax {
                    offset: at as u64,
                    message: "the document is not UTF-8".into(),
                    expected: Some("UTF-8 text".into()),
                };
                return Err((err, WholeLines::default().locate(bytes, at)));
            }
        };
        let pos = if text.starts_with(BOM) { BOM.len() } else { 0 };
        Ok(Self {
            bytes,
            text,
            pos,
            tokenizer: Tokenizer::default(),
            lines: WholeLines::default(),
            forbidden: forbidden_char(text).map(|(at, c)| (at as u64, c)),
        })
    }
}

impl Source for SliceSource<'_> {
    #[inline]
    fn next_token(&mut self, skip_space: bool) -> Result<(Token<'_>, u64), SourceError> {
        match self
            .tokenizer
            .next(self.text, &mut self.pos, true, skip_space)
        {
            Ok(Step::Token(raw, at)) => Ok((token_of(self.text, &self.tokenizer, raw), at as u64)),
            Ok(Step::NeedMore) => Err(SourceError::Syntax {
                offset: self.pos as u64,
                message: "document ended inside markup".into(),
                expected: None,
            }),
            Err(s) => Err(syntax(0, s)),
        }
    }

    #[inline]
    fn leaf_text(&mut self) -> Option<(&str, u64, bool)> {
        let (r, plain) = self.tokenizer.leaf_text(self.text, &mut self.pos)?;
        Some((&self.text[r.clone()], r.start as u64, plain))
    }

    fn offset(&self) -> u64 {
        self.pos as u64
    }

    fn position(&mut self, offset: u64) -> Position {
        let target = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        self.lines.locate(self.bytes, target)
    }

    fn take_forbidden(&mut self) -> Option<(u64, char)> {
        self.forbidden.take()
    }
}

/// Bytes read from the underlying reader at a time, at least.
const READ_CHUNK: usize = 64 << 10;

/// A document read through a window that holds the token being read and little more, so
/// memory does not grow with the document.
pub(crate) struct BufSource<R: BufRead> {
    inner: R,
    window: String,
    pos: usize,
    /// Document offset of `window[0]`.
    base: u64,
    /// Bytes read but not yet appended: a UTF-8 sequence cut by a read.
    pending: Vec<u8>,
    ended: bool,
    started: bool,
    tokenizer: Tokenizer,
    lines: Lines,
    max_text: usize,
    forbidden: Option<(u64, char)>,
    /// Whether a forbidden character was found (only the first is reported).
    forbidden_seen: bool,
}

impl<R: BufRead> BufSource<R> {
    pub(crate) fn new(inner: R, max_text: usize) -> Self {
        Self {
            inner,
            window: String::new(),
            pos: 0,
            base: 0,
            pending: Vec::new(),
            ended: false,
            started: false,
            tokenizer: Tokenizer::default(),
            lines: Lines::default(),
            max_text,
            forbidden: None,
            forbidden_seen: false,
        }
    }

    /// Appends validated text to the window, noting the first forbidden character.
    fn append(&mut self, s: &str) {
        if !self.forbidden_seen
            && let Some((at, c)) = forbidden_char(s)
        {
            self.forbidden_seen = true;
            self.forbidden = Some((self.base + (self.window.len() + at) as u64, c));
        }
        self.window.push_str(s);
    }

    /// Drops what has been read from the window and appends more input.
    fn refill(&mut self) -> Result<(), SourceError> {
        let unread = self.window.len() - self.pos;
        // A single token may hold text up to the limit, plus its markup.
        if unread > self.max_text.saturating_add(64 << 10) {
            return Err(SourceError::Limit(
                Limit::TextSize,
                self.max_text as u64,
                self.base + self.pos as u64,
            ));
        }
        if self.pos > 0 {
            let from = (self.lines.counted - self.base) as usize;
            if from < self.pos {
                self.lines.advance(&self.window.as_bytes()[from..self.pos]);
            }
            self.window.drain(..self.pos);
            self.base += self.pos as u64;
            self.pos = 0;
        }
        // Reading at least as much again as is unread scans a long token a bounded number
        // of times.
        let want = unread.max(READ_CHUNK);
        let mut got = 0;
        while got < want {
            let buf = self.inner.fill_buf().map_err(SourceError::Io)?;
            if buf.is_empty() {
                self.ended = true;
                break;
            }
            let n = buf.len().min(want - got);
            self.pending.extend_from_slice(&buf[..n]);
            self.inner.consume(n);
            got += n;
        }
        // Validated once, as it is appended; an incomplete sequence at the end waits for the
        // next read.
        let pending = std::mem::take(&mut self.pending);
        let valid = match std::str::from_utf8(&pending) {
            Ok(s) => {
                self.append(s);
                None
            }
            Err(e) if e.error_len().is_none() && !self.ended => Some(e.valid_up_to()),
            Err(e) => {
                let at = self.base + (self.window.len() + e.valid_up_to()) as u64;
                // Kept so the error's line and column can be counted up to it.
                if let Ok(s) = std::str::from_utf8(&pending[..e.valid_up_to()]) {
                    self.append(s);
                }
                return Err(SourceError::Syntax {
                    offset: at,
                    message: "the document is not UTF-8".into(),
                    expected: Some("UTF-8 text".into()),
                });
            }
        };
        if let Some(valid) = valid {
            if let Ok(s) = std::str::from_utf8(&pending[..valid]) {
                self.append(s);
            }
            self.pending = pending[valid..].to_vec();
        }
        if !self.started && (self.window.len() >= BOM.len() || self.ended) {
            self.started = true;
            if self.window.starts_with(BOM) {
                self.pos = BOM.len();
            }
        }
        Ok(())
    }
}

impl<R: BufRead> Source for BufSource<R> {
    #[inline]
    fn next_token(&mut self, skip_space: bool) -> Result<(Token<'_>, u64), SourceError> {
        let (raw, at) = loop {
            if !self.started {
                self.refill()?;
                continue;
            }
            match self
                .tokenizer
                .next(&self.window, &mut self.pos, self.ended, skip_space)
            {
                Ok(Step::Token(raw, at)) => break (raw, at),
                Ok(Step::NeedMore) => self.refill()?,
                Err(s) => return Err(syntax(self.base, s)),
            }
        };
        Ok((
            token_of(&self.window, &self.tokenizer, raw),
            self.base + at as u64,
        ))
    }

    #[inline]
    fn leaf_text(&mut self) -> Option<(&str, u64, bool)> {
        let (r, plain) = self.tokenizer.leaf_text(&self.window, &mut self.pos)?;
        Some((&self.window[r.clone()], self.base + r.start as u64, plain))
    }

    fn offset(&self) -> u64 {
        self.base + self.pos as u64
    }

    fn position(&mut self, offset: u64) -> Position {
        let end = self.base + self.window.len() as u64;
        let target = offset.min(end);
        if target > self.lines.counted {
            let from = (self.lines.counted - self.base) as usize;
            let to = (target - self.base) as usize;
            self.lines.advance(&self.window.as_bytes()[from..to]);
        }
        self.lines.locate(target)
    }

    fn take_forbidden(&mut self) -> Option<(u64, char)> {
        self.forbidden.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain<S: Source>(src: &mut S) -> Result<Vec<(String, u64)>, SourceError> {
        let mut out = Vec::new();
        loop {
            let (tok, at) = src.next_token(false)?;
            let shown = match tok {
                Token::Eof => return Ok(out),
                Token::Start {
                    name, attrs, empty, ..
                } => {
                    format!("<{name}{attrs}{}>", if empty { "/" } else { "" })
                }
                Token::End => "</>".into(),
                Token::Text(t) => format!("text {t:?}"),
                Token::CData(t) => format!("cdata {t:?}"),
                Token::Skipped => "skipped".into(),
            };
            out.push((shown, at));
        }
    }

    /// A reader that hands out one byte at a time, the worst case for the window.
    struct Trickle<'a>(&'a [u8]);

    impl io::Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.len().min(1).min(buf.len());
            buf[..n].copy_from_slice(&self.0[..n]);
            self.0 = &self.0[n..];
            Ok(n)
        }
    }

    impl BufRead for Trickle<'_> {
        fn fill_buf(&mut self) -> io::Result<&[u8]> {
            Ok(&self.0[..self.0.len().min(1)])
        }
        fn consume(&mut self, n: usize) {
            self.0 = &self.0[n..];
        }
    }

    #[test]
    fn slice_and_window_give_the_same_tokens_and_offsets() {
        let doc = "\u{feff}<?xml version='1.0'?>\n<feed a='é'>\n  <t>Zoë &amp; co</t><!-- x --><e/>\n</feed>\n";
        let mut slice = SliceSource::new(doc.as_bytes())
            .map_err(|e| e.0)
            .expect("UTF-8");
        let from_slice = drain(&mut slice).expect("well-formed");
        let mut window = BufSource::new(Trickle(doc.as_bytes()), 1 << 20);
        let from_window = drain(&mut window).expect("well-formed");
        assert_eq!(from_slice, from_window);
        assert_eq!(from_slice[0], ("skipped".to_owned(), 3));
        let at = from_slice[4].1;
        assert_eq!(slice.position(at).line, 3);
        assert_eq!(window.position(at), slice.position(at));
    }

    /// Line and column of `offset`, counted from the start every time.
    fn naive(bytes: &[u8], offset: usize) -> (u64, u64) {
        let before = &bytes[..offset];
        let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        let start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        (line, (offset - start) as u64 + 1)
    }

    #[test]
    fn positions_of_a_whole_document_agree_with_counting_from_the_start() {
        for doc in [
            &b"<feed>\n  <entry>\n\n    <id>x</id>\n  </entry>\n</feed>\n"[..],
            b"\n\n\n",
            b"<feed><entry><id>all on one line</id></entry></feed>",
        ] {
            let mut lines = WholeLines::default();
            // Forward to every offset, each followed by a look back to every earlier one, as
            // findings inside an entry are located after the entry's start.
            for target in 0..=doc.len() {
                let p = lines.locate(doc, target);
                assert_eq!((p.line, p.column), naive(doc, target), "at {target}");
                assert_eq!(p.byte_offset, target as u64);
                for back in 0..target {
                    let p = lines.locate(doc, back);
                    assert_eq!((p.line, p.column), naive(doc, back), "back to {back}");
                }
            }
            // Far ahead in one step, then behind.
            let mut jump = WholeLines::default();
            for target in [doc.len(), 0, doc.len() / 2, doc.len()] {
                let p = jump.locate(doc, target);
                assert_eq!((p.line, p.column), naive(doc, target), "jump to {target}");
            }
        }
    }

    #[test]
    fn invalid_utf8_is_located() {
        let doc = b"<feed>\n<t>ok \xff</t></feed>";
        let Err((_, pos)) = SliceSource::new(doc) else {
            panic!("not UTF-8")
        };
        assert_eq!((pos.line, pos.column), (2, 7));
        let mut window = BufSource::new(&doc[..], 1 << 20);
        assert!(matches!(
            drain(&mut window),
            Err(SourceError::Syntax { offset: 13, .. })
        ));
    }

    #[test]
    fn a_token_larger_than_the_limit_stops_the_window_growing() {
        let doc = format!("<feed>{}</feed>", "x".repeat(300_000));
        let mut window = BufSource::new(doc.as_bytes(), 1000);
        assert!(matches!(
            drain(&mut window),
            Err(SourceError::Limit(Limit::TextSize, 1000, 6))
        ));
    }
}
