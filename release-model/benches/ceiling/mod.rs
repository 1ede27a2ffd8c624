//! Probes of how fast any reader that keeps this model could be, for `feed_ratio --ceiling`.
//!
//! None of them is a reader a user could have. Each does part of the full read's work, or
//! less than all of it, over the generated feed only:
//!
//! - [`tokens`]: the reader's own tokenizer over the feed, building nothing;
//! - [`Specialised`]: the same tokenizer filling the same entries with the least logic that
//!   fills them. It matches local names and ignores namespaces, keeps no findings, checks no
//!   limits, keeps no foreign markup and panics on anything the generator does not write.
//!   It reads into the same `Entry` values as the full read does (checked before it is timed).
//!   It reads every author block, where the full read copies one whose bytes repeat the last
//!   (the generated feed's all do), so on this feed the full read can pass it;
//! - [`clone_model`]: a copy of a feed read beforehand, made and dropped, which is every
//!   allocation and byte copy the model needs and none of the parsing.
//!
//! The tokenizer is the library's own source, compiled into the bench, so the probes parse
//! exactly as the reader does.

use std::sync::Arc;

use release_model::feed::{
    AtomDate, AtomId, BundleInterpretation, Category, Checked, ContentItemIdentifier,
    ContentItemVersion, Entry, Feed, FhirVersion, Link, LinkRel, Person, Sha256, Text,
};

#[allow(dead_code)]
#[path = "../../src/feed/xml.rs"]
mod xml;

use xml::{Raw, Step, Tokenizer};

/// Every token of the feed, with text-only elements read by the same shortcut the reader
/// takes; the start-tag count.
pub(super) fn tokens(bytes: &[u8]) -> usize {
    let doc = std::str::from_utf8(bytes).expect("generated feed is UTF-8");
    let mut t = Tokenizer::default();
    let mut pos = 0;
    let mut starts = 0;
    loop {
        match t.next(doc, &mut pos, true, true) {
            Ok(Step::Token(Raw::Eof, _)) => return starts,
            Ok(Step::Token(Raw::Start { empty, .. }, _)) => {
                starts += 1;
                if !empty {
                    let _ = t.leaf_text(doc, &mut pos);
                }
            }
            Ok(Step::Token(..)) => {}
            Ok(Step::NeedMore) | Err(_) => panic!("generated feed is whole and well-formed"),
        }
    }
}

/// A copy of `feed`, made and dropped; the entry count.
pub(super) fn clone_model(feed: &Feed) -> usize {
    feed.clone().entries.len()
}

/// The specialised fill: the entries of the generated feed.
pub(super) fn specialised(bytes: &[u8]) -> Vec<Entry> {
    let doc = std::str::from_utf8(bytes).expect("generated feed is UTF-8");
    Specialised::default().read(doc)
}

/// The last value of each shared field, as the reader shares values that repeat.
#[derive(Default)]
struct Specialised {
    term: Recent,
    scheme: Recent,
    label: Recent,
    media_type: Recent,
    name: Recent,
    uri: Recent,
    email: Recent,
    identifier: Recent,
    version: Recent,
    fhir_version: Recent,
    title: Recent,
    summary: Recent,
    rights: Recent,
    scratch: String,
}

#[derive(Default)]
struct Recent(Option<Arc<str>>);

impl Recent {
    fn get(&mut self, s: &str) -> Arc<str> {
        match &self.0 {
            Some(a) if **a == *s => a.clone(),
            _ => self.0.insert(s.into()).clone(),
        }
    }
}

impl Specialised {
    fn read(mut self, doc: &str) -> Vec<Entry> {
        let mut t = Tokenizer::default();
        let mut pos = 0;
        // Sized and filled in place, as the reader does.
        let mut entries: Vec<Entry> =
            Vec::with_capacity(memchr::memmem::find_iter(doc.as_bytes(), b"<entry").count());
        let mut depth = 0usize;
        let mut in_entry = false;
        let mut in_author = false;
        loop {
            let tok = match t.next(doc, &mut pos, true, true) {
                Ok(Step::Token(tok, _)) => tok,
                Ok(Step::NeedMore) | Err(_) => panic!("generated feed is whole and well-formed"),
            };
            let (name, attrs, empty) = match tok {
                Raw::Eof => return entries,
                Raw::End => {
                    depth -= 1;
                    in_entry &= depth > 1;
                    in_author &= depth > 2;
                    continue;
                }
                Raw::Start { name, attrs, empty } => (&doc[name], &doc[attrs], empty),
                Raw::Text(_) | Raw::CData(_) | Raw::Skipped => continue,
            };
            depth += 1;
            let local = local(name);
            if depth == 2 && local == "entry" {
                entries.push(Entry::default());
                in_entry = true;
            } else if let (true, Some(e)) = (in_entry, entries.last_mut()) {
                match local {
                    "link" => push_small(&mut e.links, self.link(attrs, t.attributes())),
                    "category" => {
                        push_small(&mut e.categories, self.category(attrs, t.attributes()));
                    }
                    "author" => {
                        push_small(&mut e.authors, Person::default());
                        in_author = true;
                    }
                    _ => {
                        let (text, _) = t.leaf_text(doc, &mut pos).expect("a text-only element");
                        depth -= 1;
                        self.leaf(e, in_author, local, &doc[text]);
                    }
                }
            } else if !empty && depth > 1 && t.leaf_text(doc, &mut pos).is_some() {
                depth -= 1;
            }
            if empty {
                depth -= 1;
            }
        }
    }

    fn link(&mut self, attrs: &str, spans: &[xml::AttrSpan]) -> Link {
        let attr = |key: &str| attribute(attrs, spans, key);
        let mut link = Link::new(
            LinkRel::parse(attr("rel").unwrap_or("alternate")),
            owned(attr("href").unwrap_or_default()),
        );
        link.media_type = attr("type").map(|v| self.media_type.get(v));
        link.length = attr("length").map(|v| checked(v, str::parse));
        link.sha256 = attr("sha256Hash").map(|v| checked(v, Sha256::parse));
        link
    }

    fn category(&mut self, attrs: &str, spans: &[xml::AttrSpan]) -> Category {
        let attr = |key: &str| attribute(attrs, spans, key);
        let mut category = Category::new(
            self.scheme.get(attr("scheme").unwrap_or_default()),
            self.term.get(attr("term").unwrap_or_default()),
        );
        category.label = attr("label").map(|v| self.label.get(v));
        category
    }

    fn leaf(&mut self, e: &mut Entry, in_author: bool, local: &str, raw: &str) {
        if in_author {
            if let Some(p) = e.authors.last_mut() {
                match local {
                    "name" => p.name = Some(self.name.get(raw)),
                    "uri" => p.uri = Some(self.uri.get(raw)),
                    _ => p.email = Some(self.email.get(raw)),
                }
            }
            return;
        }
        match local {
            "title" => e.title = Some(shared_text(&mut self.title, &mut self.scratch, raw)),
            "summary" => e.summary = Some(shared_text(&mut self.summary, &mut self.scratch, raw)),
            "rights" => e.rights = Some(shared_text(&mut self.rights, &mut self.scratch, raw)),
            "id" => e.id = Some(AtomId::from(owned(raw))),
            "updated" => e.updated = Some(checked(raw, AtomDate::parse)),
            "published" => e.published = Some(checked(raw, AtomDate::parse)),
            "contentItemIdentifier" => {
                e.identifier = Some(ContentItemIdentifier::from(self.identifier.get(raw)));
            }
            "contentItemVersion" => {
                e.version = Some(ContentItemVersion::from(self.version.get(raw)));
            }
            "fhirVersion" => e
                .fhir_versions
                .push(FhirVersion::from(self.fhir_version.get(raw))),
            "bundleInterpretation" => {
                e.bundle_interpretation = Some(match raw {
                    "batch" => BundleInterpretation::Batch,
                    "collection" => BundleInterpretation::Collection,
                    other => BundleInterpretation::Other(other.to_owned()),
                });
            }
            other => panic!("the generator writes no <{other}> in an entry"),
        }
    }
}

/// A push that grows the list one slot at a time, as the reader's does.
fn push_small<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() && v.len() < 4 {
        v.reserve_exact(1);
    }
    v.push(item);
}

/// The local part of a qualified name: names are short, so a plain scan.
fn local(name: &str) -> &str {
    match name.bytes().position(|b| b == b':') {
        Some(i) => &name[i + 1..],
        None => name,
    }
}

fn attribute<'a>(attrs: &'a str, spans: &[xml::AttrSpan], key: &str) -> Option<&'a str> {
    spans
        .iter()
        .find(|s| local(&attrs[s.name.clone()]) == key)
        .map(|s| &attrs[s.value.clone()])
}

fn checked<T, E>(raw: &str, parse: impl Fn(&str) -> Result<T, E>) -> Checked<T> {
    parse(raw).map_or_else(|_| Checked::Malformed(raw.to_owned()), Checked::Valid)
}

/// The text with the predefined entities resolved, the only references the generator writes.
fn owned(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    unescape_into(raw, &mut out);
    out
}

/// A text construct, shared with the last equal one as the reader shares them; unescaped
/// through `scratch`, so a repeat costs no allocation.
fn shared_text(recent: &mut Recent, scratch: &mut String, raw: &str) -> Text {
    scratch.clear();
    unescape_into(raw, scratch);
    Text::plain(recent.get(scratch))
}

fn unescape_into(raw: &str, out: &mut String) {
    let mut rest = raw;
    while let Some(i) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..i]);
        let (name, after) = rest[i + 1..]
            .split_once(';')
            .expect("a reference ends with ';'");
        out.push(match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "quot" => '"',
            "apos" => '\'',
            other => panic!("the generator writes no &{other};"),
        });
        rest = after;
    }
    out.push_str(rest);
}
