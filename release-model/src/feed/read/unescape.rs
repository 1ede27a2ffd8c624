//! Character data and attribute values: references resolved, line ends normalised (XML 1.0
//! §2.11), attribute white space normalised (§3.3.3), and a raw `&` recovered in lenient mode.

use super::options::Mode;
use super::pump::{Fail, Note};
use crate::feed::finding::FindingCode;

/// What follows the white space character at `i`: a CR LF pair is one line end (XML 1.0
/// §2.11), so both are passed over.
fn after_line_end(rest: &str, i: usize) -> &str {
    let crlf = rest.as_bytes()[i] == b'\r' && rest.as_bytes().get(i + 1) == Some(&b'\n');
    &rest[i + if crlf { 2 } else { 1 }..]
}

/// Where an attribute value needs more than copying: a reference, or white space that
/// normalises to a space.
fn attr_special(raw: &str) -> Option<usize> {
    // Nearly every value needs nothing: a look at every byte without an early exit, which the
    // compiler vectorises, says so before a search for where.
    let bytes = raw.as_bytes();
    if !bytes
        .iter()
        .fold(false, |any, &b| any | (b == b'&') | (b < b' '))
    {
        return None;
    }
    bytes
        .iter()
        .position(|b| matches!(b, b'&' | b'\t' | b'\n' | b'\r'))
}

/// Where character data needs more than copying: a reference, or a CR line end.
fn text_special(raw: &str) -> Option<usize> {
    memchr::memchr2(b'&', b'\r', raw.as_bytes())
}

/// Appends a raw attribute value to `out`, unescaped and with literal white space
/// normalised (XML 1.0 §3.3.3), recovering a raw `&` in lenient mode.
pub(super) fn unescape_attr(
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
        let resolved = after
            .find(';')
            .and_then(|semi| resolve_entity(&after[..semi]).map(|c| (c, semi)));
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
pub(super) fn unescape_text(
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
        match reference(after) {
            Some((name, len)) => {
                match resolve_entity(name) {
                    Some(c) => out.push(c),
                    None if name.starts_with('#') => {
                        let message = format!(
                            "character reference '&{name};' is not a character XML 1.0 allows"
                        );
                        if mode == Mode::Strict {
                            return Err(Fail::Malformed {
                                offset: at,
                                message,
                                expected: Some(
                                    "a reference to tab, LF, CR, or U+0020 and above, but not U+FFFE or U+FFFF"
                                        .into(),
                                ),
                            });
                        }
                        notes.push(Note {
                            code: FindingCode::XmlForbiddenCharacter,
                            message: format!("{message}; kept as text"),
                            offset: at,
                        });
                        out.push('&');
                        out.push_str(name);
                        out.push(';');
                    }
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
pub(super) fn push_cdata(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some(i) = memchr::memchr(b'\r', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        out.push('\n');
        rest = after_line_end(rest, i);
    }
    out.push_str(rest);
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
            // A reference must name a character XML 1.0 allows (WFC: Legal Character): a
            // reference to a control character is no more a character than the raw byte.
            char::from_u32(code).filter(|&c| {
                !((c < ' ' && !matches!(c, '\t' | '\n' | '\r'))
                    || c == '\u{FFFE}'
                    || c == '\u{FFFF}')
            })
        }
    }
}

pub(super) fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_predefined_and_character_references_resolve() {
        let mut out = String::new();
        let raw = "a&amp;b&lt;c&gt;d&quot;e&apos;f&#38;g&#x3c;";
        let read = unescape_text(raw, 0, Mode::Strict, &mut Vec::new(), &mut out);
        assert!(read.is_ok());
        assert_eq!(out, "a&b<c>d\"e'f&g<");
        out.clear();
        let read = unescape_attr(raw, Mode::Strict, 0, &mut Vec::new(), &mut out);
        assert!(read.is_ok());
        assert_eq!(out, "a&b<c>d\"e'f&g<");
        for (raw, ok) in [
            ("&AMP;", false),
            ("&amp", false),
            ("&#0;", false),
            ("&ampx;", false),
        ] {
            let read = unescape_text(raw, 0, Mode::Strict, &mut Vec::new(), &mut String::new());
            assert_eq!(read.is_ok(), ok, "{raw:?}");
        }
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

    // What needs unescaping is found wherever it falls in the value.
    #[test]
    fn references_and_line_ends_are_found_past_the_first_words() {
        for pad in [0, 1, 7, 8, 9, 23, 125, 168] {
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
}
