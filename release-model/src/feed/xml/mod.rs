//! The XML tokenizer under the feed reader.
//!
//! It splits a document into start tags (with each attribute's name and raw value, found in
//! the same pass as the tag's end), end tags, character data and CDATA, checks the markup it
//! skips (comments, processing instructions, the XML declaration, a DOCTYPE, which is never
//! expanded) and matches every end tag against the element it closes. Resolving references,
//! namespaces and attribute values is the reader's job.
//!
//! Two shortcuts serve the shape of a feed: white space is passed over when the reader is in
//! element-only content, and an element holding only character data is read together with its
//! end tag ([`Tokenizer::leaf_text`]).
//!
//! Why not quick-xml's reader: `release-model/DESIGN-NOTES.md` records the measurement. In
//! short, the whole reader built on this tokenizer, model included, runs at about the speed
//! of quick-xml's bare event loop over the same bytes, so quick-xml underneath could only
//! make it slower, and this tokenizer already gives what the reader needs: byte offsets for
//! located errors, one UTF-8 check per input, and the lenient recoveries of FEED-FORMAT §17.
//!
//! Tokens are returned as byte ranges into the window the caller passes, so a streaming
//! caller can refill its buffer between tokens; a token that does not fit in the window yet is
//! [`Step::NeedMore`] until the caller says the input has ended.

use std::ops::Range;

use memchr::{memchr, memchr2, memchr3, memmem};

/// One token, as ranges into the window it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Raw {
    /// `<name attributes>` or, with `empty`, `<name attributes/>`.
    Start {
        name: Range<usize>,
        attrs: Range<usize>,
        empty: bool,
    },
    /// A closing tag that matched the open element.
    End,
    /// Character data, references unresolved and line ends as written.
    Text(Range<usize>),
    /// The content of a CDATA section.
    CData(Range<usize>),
    /// A comment, processing instruction, XML declaration or DOCTYPE.
    Skipped,
    /// The end of the input.
    Eof,
}

/// What the tokenizer found at the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Step {
    /// A token, which started at the window offset given.
    Token(Raw, usize),
    /// The token at the cursor continues past the window; call again with more input.
    NeedMore,
}

/// Markup that is not well-formed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Syntax {
    /// Window offset of the problem.
    pub(crate) at: usize,
    pub(crate) message: String,
    pub(crate) expected: Option<String>,
}

impl Syntax {
    fn new(at: usize, message: impl Into<String>, expected: Option<&str>) -> Self {
        Self {
            at,
            message: message.into(),
            expected: expected.map(str::to_owned),
        }
    }
}

/// The tokenizer's state between tokens: the names of the open elements, and the
/// attributes of the last start tag.
#[derive(Debug, Default)]
pub(crate) struct Tokenizer {
    open: String,
    /// Where each open element's name starts in `open`, innermost last.
    open_starts: Vec<usize>,
    attrs: Vec<AttrSpan>,
}

pub(crate) fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_' || b == b':' || b >= 0x80
}

fn is_name_byte(b: u8) -> bool {
    NAME_BYTES[usize::from(b)]
}

/// Which bytes may continue a name (ASCII letters and digits, `_ : - .`, and every byte of a
/// multi-byte character), looked up rather than tested range by range: names are scanned in
/// every tag.
static NAME_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric() || matches!(c, b'_' | b':' | b'-' | b'.') || c >= 0x80;
        b += 1;
    }
    table
};

/// String equality for the short names of markup (prefixes, local names), compared in
/// line: a call into the C library per comparison was a seventh of the reader's time.
pub(crate) fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// The length of the name at the start of `bytes` (0 when none starts there).
fn name_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        Some(&b) if is_name_start(b) => bytes
            .iter()
            .position(|&b| !is_name_byte(b))
            .unwrap_or(bytes.len()),
        _ => 0,
    }
}

fn excerpt(s: &str, at: usize) -> &str {
    let end = (at + 20).min(s.len());
    let end = (end..=s.len())
        .find(|&i| s.is_char_boundary(i))
        .unwrap_or(s.len());
    &s[at..end]
}

/// A token that continues past the window: more input is needed, or, when none follows,
/// the document ended inside it.
fn ended_inside(at: usize, last: bool, what: &str, expected: &str) -> Result<Step, Syntax> {
    if last {
        Err(Syntax::new(
            at,
            format!("document ended inside {what}"),
            Some(expected),
        ))
    } else {
        Ok(Step::NeedMore)
    }
}

impl Tokenizer {
    /// The innermost open element's name.
    fn top(&self) -> Option<&str> {
        self.open.get(*self.open_starts.last()?..)
    }

    fn pop(&mut self) {
        if let Some(start) = self.open_starts.pop() {
            self.open.truncate(start);
        }
    }

    /// Reads the token at `*pos` in `window`, advancing `*pos` past it. `last` says that no
    /// input follows the window.
    // Inlined into the sources, so the token's kind is decided once rather than re-matched
    // at each layer (measured: the re-dispatch was a tenth of the reader's time).
    #[inline]
    ///
    /// With `skip_space`, white space at the cursor is passed over rather than returned as
    /// text: the caller is in element-only content, where it means nothing, and a feed has it
    /// between every two elements.
    pub(crate) fn next(
        &mut self,
        window: &str,
        pos: &mut usize,
        last: bool,
        skip_space: bool,
    ) -> Result<Step, Syntax> {
        let b = window.as_bytes();
        if skip_space {
            while *pos < b.len() && is_space(b[*pos]) {
                *pos += 1;
            }
        }
        let i = *pos;
        if i >= b.len() {
            return Ok(if last {
                Step::Token(Raw::Eof, i)
            } else {
                Step::NeedMore
            });
        }
        if b[i] != b'<' {
            return Ok(match memchr(b'<', &b[i..]) {
                Some(n) => {
                    *pos = i + n;
                    Step::Token(Raw::Text(i..i + n), i)
                }
                None if last => {
                    *pos = b.len();
                    Step::Token(Raw::Text(i..b.len()), i)
                }
                None => Step::NeedMore,
            });
        }
        let incomplete = |what: &str, expected: &str| ended_inside(i, last, what, expected);
        let Some(&next) = b.get(i + 1) else {
            return incomplete("a tag", "a tag name");
        };
        match next {
            b'/' => {
                let Some(n) = memchr(b'>', &b[i + 2..]) else {
                    return incomplete("a closing tag", "'>'");
                };
                let gt = i + 2 + n;
                let inner = &window[i + 2..gt];
                let len = name_len(inner.as_bytes());
                if len == 0 || !inner.as_bytes()[len..].iter().all(|&c| is_space(c)) {
                    return Err(Syntax::new(
                        i,
                        format!("malformed closing tag '</{}>'", excerpt(inner, 0)),
                        Some("'</' name '>'"),
                    ));
                }
                let name = &inner[..len];
                match self.top() {
                    Some(open) if same(open, name) => {}
                    Some(open) => {
                        let expected = format!("</{open}>");
                        return Err(Syntax {
                            at: i,
                            message: format!("closing tag </{name}> does not match <{open}>"),
                            expected: Some(expected),
                        });
                    }
                    None => {
                        return Err(Syntax::new(
                            i,
                            format!("closing tag </{name}> has no open element"),
                            Some("end of document"),
                        ));
                    }
                }
                self.pop();
                *pos = gt + 1;
                Ok(Step::Token(Raw::End, i))
            }
            b'!' => self.bang(window, pos, last),
            b'?' => {
                let Some(n) = memmem::find(&b[i + 2..], b"?>") else {
                    return incomplete("a processing instruction", "'?>'");
                };
                if name_len(&b[i + 2..]) == 0 {
                    return Err(Syntax::new(
                        i,
                        "processing instruction without a target",
                        Some("a name after '<?'"),
                    ));
                }
                *pos = i + 2 + n + 2;
                Ok(Step::Token(Raw::Skipped, i))
            }
            _ => self.start_tag(window, pos, last),
        }
    }

    /// The content of the open element when it is character data followed at once by the
    /// element's end tag, the commonest shape in a feed (`<id>…</id>`): the text's range, with
    /// the cursor past the end tag and the element closed. Anything else leaves the cursor
    /// where it was and returns `None`, for [`next`](Self::next) to read token by token.
    pub(crate) fn leaf_text(
        &mut self,
        window: &str,
        pos: &mut usize,
    ) -> Option<(Range<usize>, bool)> {
        let b = window.as_bytes();
        let i = *pos;
        let rest = b.get(i..)?;
        // The same pass tells whether the text holds a reference or a CR, so plain text (most
        // of a feed's) is copied as it stands rather than scanned again to unescape it.
        let first = memchr3(b'<', b'&', b'\r', rest)?;
        let (lt, plain) = match rest[first] {
            b'<' => (i + first, true),
            _ => (i + first + memchr(b'<', &rest[first..])?, false),
        };
        if b.get(lt + 1) != Some(&b'/') {
            return None;
        }
        let top = self.top()?;
        let name_end = lt + 2 + top.len();
        let closes = same(window.get(lt + 2..name_end)?, top) && b.get(name_end) == Some(&b'>');
        if !closes {
            return None;
        }
        self.pop();
        *pos = name_end + 1;
        Some((i..lt, plain))
    }

    /// A start tag, its attributes split as they are passed: one pass finds both the tag's
    /// end (a `>` outside quoted values) and each attribute.
    fn start_tag(&mut self, window: &str, pos: &mut usize, last: bool) -> Result<Step, Syntax> {
        let b = window.as_bytes();
        let i = *pos;
        let len = name_len(&b[i + 1..]);
        if len == 0 {
            return Err(Syntax::new(
                i,
                format!("'<' not followed by a name: '{}'", excerpt(window, i)),
                Some("an element name, or '&lt;' for a literal '<'"),
            ));
        }
        let name_end = i + 1 + len;
        let element = &window[i + 1..name_end];
        let more = |at: usize, what: &str, expected: &str| ended_inside(at, last, what, expected);
        let skip_space = |mut j: usize| {
            while j < b.len() && is_space(b[j]) {
                j += 1;
            }
            j
        };
        self.attrs.clear();
        let mut j = name_end;
        let (gt, empty) = loop {
            let spaced = j;
            j = skip_space(j);
            let Some(&c) = b.get(j) else {
                return more(i, "a start tag", "'>'");
            };
            match c {
                b'>' => break (j, false),
                b'/' => match b.get(j + 1) {
                    Some(b'>') => break (j + 1, true),
                    Some(_) => {
                        return Err(Syntax::new(
                            j,
                            format!("'/' not followed by '>' in <{element}>"),
                            Some("'/>'"),
                        ));
                    }
                    None => return more(i, "a start tag", "'>'"),
                },
                _ if j == spaced => {
                    let message = if j == name_end {
                        format!("unexpected character in the name of <{element}")
                    } else {
                        format!(
                            "attributes must be separated by white space in <{element}> at '{}'",
                            excerpt(window, j)
                        )
                    };
                    return Err(Syntax::new(j, message, Some("white space, '>' or '/>'")));
                }
                _ => {}
            }
            let alen = name_len(&b[j..]);
            if alen == 0 {
                return Err(Syntax::new(
                    j,
                    format!(
                        "expected an attribute name in <{element}> at '{}'",
                        excerpt(window, j)
                    ),
                    Some("an attribute name"),
                ));
            }
            let name = j..j + alen;
            j = skip_space(j + alen);
            match b.get(j) {
                Some(b'=') => {}
                Some(_) => {
                    return Err(Syntax::new(
                        j,
                        format!("attribute '{}' of <{element}> has no value", &window[name]),
                        Some("'='"),
                    ));
                }
                None => return more(i, "a start tag", "'='"),
            }
            j = skip_space(j + 1);
            let q = match b.get(j) {
                Some(&q @ (b'"' | b'\'')) => q,
                Some(_) => {
                    return Err(Syntax::new(
                        j,
                        format!(
                            "value of attribute '{}' of <{element}> is not quoted",
                            &window[name]
                        ),
                        Some("a quote"),
                    ));
                }
                None => return more(i, "a start tag", "a quoted value"),
            };
            // The value ends at its closing quote; a '<' before it is an error.
            let found = memchr2(q, b'<', &b[j + 1..]);
            let Some(n) = found else {
                return more(j, "an attribute value", "a closing quote");
            };
            if b[j + 1 + n] == b'<' {
                return Err(Syntax::new(
                    j,
                    format!("'<' in the value of attribute '{}'", &window[name]),
                    Some("'&lt;'"),
                ));
            }
            let value = j + 1..j + 1 + n;
            // Kept relative to the attribute text, which is what the reader is handed.
            self.attrs.push(AttrSpan {
                name: name.start - name_end..name.end - name_end,
                value: value.start - name_end..value.end - name_end,
            });
            j = value.end + 1;
        };
        if !empty {
            self.open_starts.push(self.open.len());
            self.open.push_str(element);
        }
        *pos = gt + 1;
        Ok(Step::Token(
            Raw::Start {
                name: i + 1..name_end,
                attrs: name_end..if empty { gt - 1 } else { gt },
                empty,
            },
            i,
        ))
    }

    /// The attributes of the last start tag, as ranges into its attribute text.
    pub(crate) fn attributes(&self) -> &[AttrSpan] {
        &self.attrs
    }

    /// `<!--`, `<![CDATA[` or `<!DOCTYPE`.
    fn bang(&mut self, window: &str, pos: &mut usize, last: bool) -> Result<Step, Syntax> {
        let b = window.as_bytes();
        let i = *pos;
        let rest = &b[i..];
        let need = |what: &str, expected: &str| ended_inside(i, last, what, expected);
        // Too short to tell which markup this is yet.
        if rest.len() < 9
            && !last
            && [&b"<!--"[..], b"<![CDATA[", b"<!DOCTYPE"]
                .iter()
                .any(|p| p.starts_with(rest))
        {
            return Ok(Step::NeedMore);
        }
        if rest.starts_with(b"<!--") {
            let Some(n) = memmem::find(&b[i + 4..], b"-->") else {
                return need("a comment", "'-->'");
            };
            *pos = i + 4 + n + 3;
            return Ok(Step::Token(Raw::Skipped, i));
        }
        if rest.starts_with(b"<![CDATA[") {
            let Some(n) = memmem::find(&b[i + 9..], b"]]>") else {
                return need("a CDATA section", "']]>'");
            };
            *pos = i + 9 + n + 3;
            return Ok(Step::Token(Raw::CData(i + 9..i + 9 + n), i));
        }
        if rest.starts_with(b"<!DOCTYPE") {
            // Skip the declaration and its internal subset without interpreting either:
            // entities are never expanded.
            let mut depth = 0usize;
            let mut j = i + 9;
            while j < b.len() {
                match b[j] {
                    q @ (b'"' | b'\'') => match memchr(q, &b[j + 1..]) {
                        Some(m) => j += m + 1,
                        None => return need("a DOCTYPE", "a closing quote"),
                    },
                    b'[' => depth += 1,
                    b']' => depth = depth.saturating_sub(1),
                    b'>' if depth == 0 => {
                        *pos = j + 1;
                        return Ok(Step::Token(Raw::Skipped, i));
                    }
                    _ => {}
                }
                j += 1;
            }
            return need("a DOCTYPE", "'>'");
        }
        Err(Syntax::new(
            i,
            format!("unknown markup '{}'", excerpt(window, i)),
            Some("'<!--', '<![CDATA[' or '<!DOCTYPE'"),
        ))
    }
}

/// One attribute of a start tag: the qualified name and the raw value, as ranges into the
/// tag's attribute text (what follows the element name).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttrSpan {
    pub(crate) name: Range<usize>,
    pub(crate) value: Range<usize>,
}

#[cfg(test)]
mod tests;
