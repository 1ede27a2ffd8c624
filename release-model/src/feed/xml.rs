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
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b':' | b'-' | b'.') || b >= 0x80
}

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
mod tests {
    use super::*;

    fn tokens(doc: &str) -> Result<Vec<(Raw, usize)>, Syntax> {
        let mut t = Tokenizer::default();
        let mut pos = 0;
        let mut out = Vec::new();
        loop {
            match t.next(doc, &mut pos, true, false)? {
                Step::Token(Raw::Eof, _) => return Ok(out),
                Step::Token(tok, at) => out.push((tok, at)),
                Step::NeedMore => unreachable!("the whole document is given"),
            }
        }
    }

    #[test]
    fn splits_markup_and_text() {
        let doc = "<?xml version=\"1.0\"?><!-- c --><a x='1>'><b/>t&amp;<![CDATA[<x>]]></a>";
        let toks = tokens(doc).expect("well-formed");
        let kinds: Vec<&Raw> = toks.iter().map(|(t, _)| t).collect();
        assert!(matches!(kinds[0], Raw::Skipped));
        assert!(matches!(kinds[1], Raw::Skipped));
        let Raw::Start { name, attrs, empty } = kinds[2].clone() else {
            panic!("{kinds:?}")
        };
        assert_eq!((&doc[name], &doc[attrs], empty), ("a", " x='1>'", false));
        assert!(matches!(kinds[3], Raw::Start { empty: true, .. }));
        assert!(matches!(kinds[4], Raw::Text(r) if &doc[r.clone()] == "t&amp;"));
        assert!(matches!(kinds[5], Raw::CData(r) if &doc[r.clone()] == "<x>"));
        assert_eq!(kinds[6], &Raw::End);
    }

    #[test]
    fn end_tags_must_match() {
        let err = tokens("<a><b></a>").expect_err("mismatch");
        assert_eq!(err.at, 6);
        assert_eq!(err.expected.as_deref(), Some("</b>"));
        assert!(tokens("</a>").is_err());
        assert!(tokens("<a></a ").is_err());
        assert!(tokens("<a></ a>").is_err());
    }

    #[test]
    fn malformed_markup_is_located() {
        for (doc, at) in [
            ("<a>< b</a>", 3),
            ("<a><!x></a>", 3),
            ("<a><!-- open", 3),
            ("<a><b x='1></a>", 8),
            ("<a><1/></a>", 3),
            ("<a><b\"x\"/></a>", 5),
        ] {
            let err = tokens(doc).expect_err(doc);
            assert_eq!(err.at, at, "{doc}: {err:?}");
        }
    }

    #[test]
    fn a_leaf_is_read_in_one_step_only_when_plain() {
        let doc = "<a><b>x &amp; y</b><c>1<!-- -->2</c><d>t</d ></a>";
        let plain = "<a><b>plain text</b><c>line\r\nend</c></a>";
        let mut t = Tokenizer::default();
        let mut pos = 0;
        let start = |t: &mut Tokenizer, pos: &mut usize| {
            assert!(matches!(
                t.next(doc, pos, true, false),
                Ok(Step::Token(Raw::Start { .. }, _))
            ));
        };
        start(&mut t, &mut pos);
        start(&mut t, &mut pos);
        assert_eq!(
            t.leaf_text(doc, &mut pos)
                .map(|(r, plain)| (&doc[r], plain)),
            Some(("x &amp; y", false)),
            "a reference is not plain"
        );
        assert_eq!(t.top(), Some("a"));
        start(&mut t, &mut pos);
        let before = pos;
        assert_eq!(t.leaf_text(doc, &mut pos), None, "a comment inside");
        assert_eq!((pos, t.top()), (before, Some("c")));
        while !matches!(
            t.next(doc, &mut pos, true, false),
            Ok(Step::Token(Raw::End, _))
        ) {}
        start(&mut t, &mut pos);
        assert_eq!(
            t.leaf_text(doc, &mut pos),
            None,
            "white space in the end tag"
        );
        assert_eq!(t.top(), Some("d"));
        let mut t = Tokenizer::default();
        let mut pos = 0;
        let read = |t: &mut Tokenizer, pos: &mut usize| {
            for _ in 0..2 {
                assert!(matches!(
                    t.next(plain, pos, true, false),
                    Ok(Step::Token(Raw::Start { .. }, _))
                ));
                let text = t
                    .leaf_text(plain, pos)
                    .map(|(r, plain_text)| (&plain[r], plain_text));
                if text.is_some() {
                    return text;
                }
            }
            None
        };
        assert_eq!(read(&mut t, &mut pos), Some(("plain text", true)));
        assert_eq!(
            read(&mut t, &mut pos),
            Some(("line\r\nend", false)),
            "a CR is not plain"
        );
    }

    #[test]
    fn doctype_is_skipped_whole() {
        let doc = "<!DOCTYPE feed [<!ENTITY x \"a>b\"> <!ELEMENT e ANY>]><feed/>";
        let toks = tokens(doc).expect("well-formed");
        assert_eq!(toks[0].0, Raw::Skipped);
        assert!(matches!(&toks[1].0, Raw::Start { name, .. } if &doc[name.clone()] == "feed"));
    }

    #[test]
    fn a_window_that_ends_mid_token_asks_for_more() {
        let doc = "<feed><entry x='1'>text</entry></feed>";
        for cut in 1..doc.len() {
            let mut t = Tokenizer::default();
            let mut pos = 0;
            let mut seen = Vec::new();
            // Feed the document in two windows: up to `cut`, then all of it.
            while let Step::Token(tok, _) =
                t.next(&doc[..cut], &mut pos, false, false).expect("prefix")
            {
                seen.push(tok);
            }
            loop {
                match t.next(doc, &mut pos, true, false).expect("rest") {
                    Step::Token(Raw::Eof, _) => break,
                    Step::Token(tok, _) => seen.push(tok),
                    Step::NeedMore => unreachable!(),
                }
            }
            assert_eq!(
                seen,
                tokens(doc)
                    .expect("whole")
                    .into_iter()
                    .map(|t| t.0)
                    .collect::<Vec<_>>(),
                "cut {cut}"
            );
        }
    }

    #[test]
    fn attributes_split_with_their_errors() {
        let doc = "<e a=\"1\"  b = 'x\"y'\n/>";
        let mut t = Tokenizer::default();
        let mut pos = 0;
        let Ok(Step::Token(Raw::Start { attrs, empty, .. }, _)) =
            t.next(doc, &mut pos, true, false)
        else {
            panic!("a start tag")
        };
        assert!(empty);
        let text = &doc[attrs];
        let got: Vec<(&str, &str)> = t
            .attributes()
            .iter()
            .map(|a| (&text[a.name.clone()], &text[a.value.clone()]))
            .collect();
        assert_eq!(got, [("a", "1"), ("b", "x\"y")]);
        for bad in [
            "<e a/>",
            "<e a=1/>",
            "<e a='1'b='2'/>",
            "<e ='1'/>",
            "<e a='<'/>",
            "<e a='1'/ >",
        ] {
            let mut pos = 0;
            let got = Tokenizer::default().next(bad, &mut pos, true, false);
            assert!(got.is_err(), "{bad}: {got:?}");
        }
    }

    fn oracle(doc: &str) -> Option<Vec<String>> {
        use quick_xml::events::Event;
        let mut r = quick_xml::Reader::from_str(doc);
        r.config_mut().check_end_names = true;
        let mut out = Vec::new();
        loop {
            match r.read_event().ok()? {
                Event::Start(e) => out.push(format!("<{}", e.name().0)),
                Event::Empty(e) => out.push(format!("<{}/", e.name().0)),
                Event::End(_) => out.push(">".into()),
                Event::Eof => return Some(out),
                _ => {}
            }
        }
    }

    fn ours(doc: &str) -> Result<Vec<String>, Syntax> {
        let doc = doc.strip_prefix('\u{feff}').unwrap_or(doc);
        Ok(tokens(doc)?
            .into_iter()
            .filter_map(|(t, _)| match t {
                Raw::Start { name, empty, .. } => {
                    Some(format!("<{}{}", &doc[name], if empty { "/" } else { "" }))
                }
                Raw::End => Some(">".into()),
                _ => None,
            })
            .collect())
    }

    // Every real feed and every in-repo deviation fixture tokenizes into the same element
    // structure as quick-xml finds, and is well-formed to both or to neither.
    #[test]
    fn agrees_with_quick_xml_on_real_feeds() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let shared = test_support::fixtures_dir(env!("CARGO_MANIFEST_DIR"))
            .unwrap_or_else(|| root.join("../../shared/fixtures"));
        let mut files = Vec::new();
        for dir in [shared.join("feeds"), root.join("tests/data")] {
            let Ok(listing) = std::fs::read_dir(&dir) else {
                assert!(
                    std::env::var_os("CI").is_none(),
                    "{} is missing",
                    dir.display()
                );
                continue;
            };
            files.extend(listing.filter_map(|e| e.ok()).map(|e| e.path()));
        }
        let mut compared = 0;
        for path in files
            .iter()
            .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        {
            let Ok(doc) = std::fs::read_to_string(path) else {
                continue;
            };
            match (oracle(&doc), ours(&doc)) {
                (Some(theirs), Ok(mine)) => {
                    assert_eq!(mine, theirs, "{}", path.display());
                    compared += 1;
                }
                (None, Err(_)) => {}
                (theirs, mine) => panic!(
                    "{}: quick-xml well-formed {}, ours {:?}",
                    path.display(),
                    theirs.is_some(),
                    mine.err()
                ),
            }
        }
        assert!(compared >= 10, "compared {compared} documents");
    }
}
