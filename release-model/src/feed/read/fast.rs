//! The full read's shortcut for the commonest shape of entry.
//!
//! Nearly every entry a terminology server publishes is the same dozen Atom and NCTS
//! elements: text-only leaves, a link and a category with known attributes, an author with a
//! name, a URI and an email, now and then SNOMED package dependencies or Ontoserver
//! permissions. This reader fills such an entry from the tokenizer's output directly, without
//! the general reader's tokens, attribute lists and attribute buffer.
//!
//! It gives up on anything else: an element or attribute it does not know, markup inside a
//! leaf, a repeat of a single-valued element, a comment, a legacy namespace, anything that
//! would be a finding or an error, a limit within reach. The caller then restores the
//! cursor and the tokenizer and reads the entry again with the general reader, so an entry
//! read here is exactly what the general reader makes of it. The streaming reader never
//! takes this path, which is what the fixture tests and the fuzz target compare against.

use super::*;
use crate::feed::source::Whole;
use crate::feed::xml::{Raw, Step, Tokenizer};

/// The attributes of a link this reader fills, as bits of a set: an attribute met twice is
/// left to the general reader (which rejects a repeated name).
fn link_bit(key: &AttrKey) -> Option<u32> {
    Some(match key {
        AttrKey::Rel => 1,
        AttrKey::Href => 1 << 1,
        AttrKey::Type => 1 << 2,
        AttrKey::Length => 1 << 3,
        AttrKey::Sha256 => 1 << 4,
        AttrKey::Md5 => 1 << 5,
        _ => return None,
    })
}

/// The one attribute an element may carry.
fn only(wanted: AttrKey) -> impl Fn(&AttrKey) -> Option<u32> {
    move |key| (*key == wanted).then_some(1)
}

fn category_bit(key: &AttrKey) -> Option<u32> {
    Some(match key {
        AttrKey::Term => 1,
        AttrKey::Scheme => 1 << 1,
        AttrKey::Label => 1 << 2,
        _ => return None,
    })
}

/// How the shortcut has fared in this document. An entry it turns back from is read twice,
/// in part, so once it has turned back from more than a few entries and from more than a
/// third of those it tried, the document is not of the common shape and it stops trying:
/// that is where the time it loses on misses would pass what it saves on hits (it reads an
/// entry in about three quarters of the general reader's time, or less).
#[derive(Debug, Default)]
pub(super) struct Record {
    hits: usize,
    misses: usize,
}

impl Record {
    /// Misses always tolerated, whatever the hits.
    const GRACE: usize = 16;

    fn worth_trying(&self) -> bool {
        self.misses <= Self::GRACE || self.misses * 2 <= self.hits
    }
}

/// The last author element the shortcut read, as its place in the document, what it read
/// as, and the namespace bindings it was read under. An NCTS feed repeats its publisher's
/// author block on every entry, and an element whose bytes are those of one read before,
/// under the same bindings, reads the same: the shortcut read it without a note, at the
/// same depth, with the same limits. Comparing the bytes is a small part of reading them
/// (the author was a ninth of the full read's instructions).
#[derive(Default)]
pub(super) struct Repeated {
    author: Option<ReadBefore<Person>>,
}

struct ReadBefore<T> {
    bytes: Range<usize>,
    generation: u64,
    read: T,
}

/// A new last item of a list that usually holds one or two, to be filled in place: an entry
/// the shortcut turns back from is emptied whole, so a half-filled item never stays.
fn pushed<T: Default>(v: &mut Vec<T>) -> &mut T {
    let at = v.len();
    push_small(v, T::default());
    &mut v[at]
}

/// What the shortcut reads with: the document, the parser's state it shares, and scratch.
struct Fast<'a, 'p> {
    doc: &'a str,
    pos: &'a mut usize,
    tokenizer: &'a mut Tokenizer,
    ns: &'p Namespaces,
    interner: &'p mut Interner,
    repeated: &'p mut Repeated,
    /// The parser's notes, empty on entry: a note means a finding, so the shortcut gives up.
    notes: &'p mut Vec<Note>,
    scratch: &'p mut String,
    mode: Mode,
    max_text: usize,
}

/// A start tag, as ranges into the document. Written in place by
/// [`Fast::next_start`]: returned inside options, it was copied through the stack in pieces
/// that stalled the loads after them, 3-4% of the full read (measured).
#[derive(Default)]
struct StartTag {
    name: Range<usize>,
    attrs: Range<usize>,
    empty: bool,
    offset: usize,
}

impl<S: TokenSource> Parser<S> {
    /// Reads the entry whose start tag was just read into `e` (which is empty), when it has
    /// the common shape; `false`, with the cursor, the tokenizer and `e` as they were, when
    /// it does not or the source is not held whole.
    pub(super) fn fast_entry(&mut self, e: &mut Entry) -> bool {
        // An entry's deepest elements are an author's children, two below it.
        if self.pending_end
            || self.depth + 2 > self.limits.max_depth
            || !self.notes.is_empty()
            || !self.shortcut.worth_trying()
        {
            return false;
        }
        let Some(Whole {
            text,
            pos,
            tokenizer,
        }) = self.src.whole()
        else {
            return false;
        };
        let (start, open) = (*pos, tokenizer.open_count());
        let mut fast = Fast {
            doc: text,
            pos,
            tokenizer,
            ns: &self.markup.ns,
            interner: &mut self.interner,
            repeated: &mut self.repeated,
            notes: &mut self.notes,
            scratch: &mut self.text,
            mode: self.mode,
            max_text: self.limits.max_text_bytes,
        };
        if fast.entry(e).is_some() {
            self.shortcut.hits += 1;
            // The entry's end tag was read: close it as the general reader does.
            self.markup.ns.end(self.depth);
            self.depth -= 1;
            return true;
        }
        self.shortcut.misses += 1;
        *fast.pos = start;
        fast.tokenizer.close_to(open);
        fast.notes.clear();
        *e = Entry::default();
        false
    }
}

impl Fast<'_, '_> {
    /// Reads the next token: `true` for a start tag, now in `s`; `false` at the open
    /// element's end tag; `None`, given up on, for any other token.
    fn next_start(&mut self, s: &mut StartTag) -> Option<bool> {
        match self.tokenizer.next(self.doc, self.pos, true, true) {
            Ok(Step::Token(Raw::End, _)) => Some(false),
            Ok(Step::Token(Raw::Start { name, attrs, empty }, offset)) => {
                s.name = name;
                s.attrs = attrs;
                s.empty = empty;
                s.offset = offset;
                Some(true)
            }
            _ => None,
        }
    }

    /// The tag of a start tag's name, when its namespace is bound and current.
    fn tag(&self, s: &StartTag) -> Option<Tag> {
        let (prefix, local) = split_qname(&self.doc[s.name.clone()]);
        match self.ns.resolve(prefix) {
            Resolved::Bound(_, kind) if kind != NsKind::NctsLegacy => Tag::classify(kind, local),
            _ => None,
        }
    }

    fn entry(&mut self, e: &mut Entry) -> Option<()> {
        let mut s = StartTag::default();
        while self.next_start(&mut s)? {
            match self.tag(&s)? {
                Tag::Id if e.id.is_none() => e.id = Some(AtomId::from(self.leaf_owned(&s)?)),
                Tag::Title if e.title.is_none() => {
                    self.text(&s, Run::Title, e.title.insert(Text::default()))?
                }
                Tag::Summary if e.summary.is_none() => {
                    self.text(&s, Run::Summary, e.summary.insert(Text::default()))?;
                }
                Tag::Rights if e.rights.is_none() => {
                    self.text(&s, Run::Rights, e.rights.insert(Text::default()))?;
                }
                Tag::Updated if e.updated.is_none() => {
                    self.leaf(&s)?;
                    e.updated = Some(date(self.scratch));
                }
                Tag::Published if e.published.is_none() => {
                    self.leaf(&s)?;
                    e.published = Some(date(self.scratch));
                }
                Tag::Author => self.author(&s, pushed(&mut e.authors))?,
                Tag::Contributor => self.person(&s, pushed(&mut e.contributors))?,
                Tag::Category => self.category(&s, pushed(&mut e.categories))?,
                Tag::Link => self.link(&s, pushed(&mut e.links))?,
                Tag::ContentItemIdentifier if e.identifier.is_none() => {
                    self.leaf(&s)?;
                    let v = self.interner.recent(Run::Identifier, self.scratch);
                    e.identifier = Some(ContentItemIdentifier::from(v));
                }
                Tag::ContentItemVersion if e.version.is_none() => {
                    self.leaf(&s)?;
                    let v = self.interner.recent(Run::Version, self.scratch);
                    e.version = Some(ContentItemVersion::from(v));
                }
                Tag::FhirVersion => {
                    self.leaf(&s)?;
                    let v = self.interner.intern(self.scratch);
                    e.fhir_versions.push(FhirVersion::from(v));
                }
                Tag::FhirProfile => e.fhir_profiles.push(self.leaf_owned(&s)?),
                Tag::BundleInterpretation if e.bundle_interpretation.is_none() => {
                    self.leaf(&s)?;
                    e.bundle_interpretation = Some(BundleInterpretation::parse(self.scratch));
                }
                Tag::SctBaseVersion if e.sct_base_version.is_none() => {
                    e.sct_base_version = Some(self.leaf_owned(&s)?);
                }
                Tag::PackageDependency if e.package_dependency.is_none() => {
                    e.package_dependency = Some(Box::new(self.package_dependency(&s)?));
                }
                Tag::Permission => e.permissions.push(self.permission(&s)?),
                _ => return None,
            }
        }
        Some(())
    }

    /// The text of a text-only element without attributes, unescaped into `out`; the
    /// element is then closed.
    fn leaf_into(&mut self, s: &StartTag, out: &mut String) -> Option<()> {
        if !self.tokenizer.attributes().is_empty() {
            return None;
        }
        self.text_into(s, out)
    }

    /// As [`leaf_into`](Self::leaf_into), whatever attributes the element has.
    fn text_into(&mut self, s: &StartTag, out: &mut String) -> Option<()> {
        if s.empty {
            return None;
        }
        let (text, plain) = self.tokenizer.leaf_text(self.doc, self.pos)?;
        let raw = &self.doc[text.clone()];
        out.reserve(raw.len());
        if plain {
            out.push_str(raw);
        } else {
            unescape_text(raw, text.start as u64, self.mode, self.notes, out).ok()?;
        }
        (self.notes.is_empty() && out.len() <= self.max_text).then_some(())
    }

    /// A leaf's text, left in the scratch buffer.
    fn leaf(&mut self, s: &StartTag) -> Option<()> {
        if !self.tokenizer.attributes().is_empty() {
            return None;
        }
        self.text_in_scratch(s)
    }

    /// As [`text_into`](Self::text_into), into the scratch buffer, emptied first.
    fn text_in_scratch(&mut self, s: &StartTag) -> Option<()> {
        let mut scratch = std::mem::take(self.scratch);
        scratch.clear();
        let read = self.text_into(s, &mut scratch);
        *self.scratch = scratch;
        read
    }

    /// A leaf's text as a value of its own.
    fn leaf_owned(&mut self, s: &StartTag) -> Option<String> {
        let mut out = String::new();
        self.leaf_into(s, &mut out)?;
        Some(out)
    }

    /// A text construct holding text, with or without its `type`.
    fn text(&mut self, s: &StartTag, run: Run, text: &mut Text) -> Option<()> {
        self.each_attribute(s, only(AttrKey::Type), |_, _, v| {
            text.kind = Some(TextKind::parse(v));
            Some(())
        })?;
        self.text_in_scratch(s)?;
        text.value = self.interner.recent(run, self.scratch);
        Some(())
    }

    fn package_dependency(&mut self, s: &StartTag) -> Option<PackageDependency> {
        if !self.tokenizer.attributes().is_empty() {
            return None;
        }
        let mut d = PackageDependency::default();
        if s.empty {
            return Some(d);
        }
        let mut c = StartTag::default();
        while self.next_start(&mut c)? {
            let list = match self.tag(&c)? {
                Tag::EditionDependency => &mut d.editions,
                Tag::DerivativeDependency => &mut d.derivatives,
                _ => return None,
            };
            list.push(self.leaf_owned(&c)?);
        }
        Some(d)
    }

    /// An `onto:permission` with its one attribute, `code`.
    fn permission(&mut self, s: &StartTag) -> Option<PermissionCode> {
        let mut code = None;
        self.each_attribute(s, only(AttrKey::Code), |_, _, v| {
            code = Some(PermissionCode::from(v.to_owned()));
            Some(())
        })?;
        self.close_empty(s)?;
        code
    }

    /// An element that has no content in the model: empty, or closed with only white space
    /// before its end tag.
    fn close_empty(&mut self, s: &StartTag) -> Option<()> {
        if s.empty {
            return Some(());
        }
        (!self.next_start(&mut StartTag::default())?).then_some(())
    }

    /// An author, copied from the last one read when its bytes are the same.
    fn author(&mut self, s: &StartTag, p: &mut Person) -> Option<()> {
        if let Some(last) = &self.repeated.author
            && last.generation == self.ns.generation
            && !s.empty
        {
            let b = self.doc.as_bytes();
            let here = s.offset..s.offset + last.bytes.len();
            if b.get(here.clone()) == b.get(last.bytes.clone()) {
                *p = last.read.clone();
                *self.pos = here.end;
                // The author's start tag was read: close it as its end tag would have.
                let open = self.tokenizer.open_count();
                self.tokenizer.close_to(open.saturating_sub(1));
                return Some(());
            }
        }
        self.person(s, p)?;
        self.repeated.author = Some(ReadBefore {
            bytes: s.offset..*self.pos,
            generation: self.ns.generation,
            read: p.clone(),
        });
        Some(())
    }

    fn person(&mut self, s: &StartTag, p: &mut Person) -> Option<()> {
        if s.empty || !self.tokenizer.attributes().is_empty() {
            return None;
        }
        let mut c = StartTag::default();
        while self.next_start(&mut c)? {
            let slot = match self.tag(&c)? {
                Tag::Name if p.name.is_none() => &mut p.name,
                Tag::Uri if p.uri.is_none() => &mut p.uri,
                Tag::Email if p.email.is_none() => &mut p.email,
                _ => return None,
            };
            self.leaf(&c)?;
            *slot = Some(self.interner.intern(self.scratch));
        }
        Some(())
    }

    /// Each attribute of the start tag just read, classified, with its value (unescaped
    /// through the scratch buffer when it is not plain) for `fill` to take. `bit` admits a
    /// key once.
    fn each_attribute(
        &mut self,
        s: &StartTag,
        bit: impl Fn(&AttrKey) -> Option<u32>,
        mut fill: impl FnMut(&mut Interner, AttrKey, &str) -> Option<()>,
    ) -> Option<()> {
        let attrs = &self.doc[s.attrs.clone()];
        let mut seen = 0;
        let mut value = std::mem::take(self.scratch);
        for span in self.tokenizer.attributes() {
            let raw = &attrs[span.value.clone()];
            if raw.len() > self.max_text {
                return None;
            }
            let (prefix, local) = split_qname(&attrs[span.name.clone()]);
            let kind = match prefix {
                None => NsKind::None,
                Some(_) => match self.ns.resolve(prefix) {
                    Resolved::Bound(_, kind) if kind != NsKind::NctsLegacy => kind,
                    _ => return None,
                },
            };
            let key = classify_attr(kind, local)?;
            let b = bit(&key)?;
            if seen & b != 0 {
                return None;
            }
            seen |= b;
            let v = if span.plain {
                raw
            } else {
                value.clear();
                unescape_attr(raw, self.mode, s.offset as u64, self.notes, &mut value).ok()?;
                if !self.notes.is_empty() {
                    return None;
                }
                value.as_str()
            };
            fill(self.interner, key, v)?;
        }
        *self.scratch = value;
        Some(())
    }

    fn link(&mut self, s: &StartTag, link: &mut Link) -> Option<()> {
        self.each_attribute(s, link_bit, |interner, key, v| {
            match key {
                AttrKey::Rel => link.rel = Some(LinkRel::parse(v)),
                AttrKey::Href => link.href = v.to_owned(),
                AttrKey::Type => link.media_type = Some(interner.intern(v)),
                AttrKey::Length => {
                    link.length = Some(match parse_length(v) {
                        Some(LengthRead::Plain(n)) => Checked::Valid(n),
                        // A finding: the general reader reports it.
                        Some(LengthRead::Separated(_)) => return None,
                        None => Checked::Malformed(v.to_owned()),
                    });
                }
                AttrKey::Sha256 => link.sha256 = Some(sha256(v)),
                AttrKey::Md5 => link.md5 = Some(md5(v)),
                _ => return None,
            }
            Some(())
        })?;
        self.close_empty(s)
    }

    fn category(&mut self, s: &StartTag, c: &mut Category) -> Option<()> {
        let mut term = None;
        self.each_attribute(s, category_bit, |interner, key, v| {
            let v = interner.intern(v);
            match key {
                AttrKey::Term => term = Some(v),
                AttrKey::Scheme => c.scheme = Some(v),
                AttrKey::Label => c.label = Some(v),
                _ => return None,
            }
            Some(())
        })?;
        c.term = term.unwrap_or_else(|| self.interner.intern(""));
        self.close_empty(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ATOM_NCTS: &str = r#"xmlns="http://www.w3.org/2005/Atom" xmlns:ncts="http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/1.0.0" xmlns:sct="http://snomed.info/syndication/sct-extension/1.0.0" xmlns:onto="http://ontoserver.csiro.au/syndication/""#;

    const COMMON: &str = r#"<entry>
    <title>SNOMED CT-AU &amp; AMT</title>
    <link rel="alternate" type="application/zip" href="https://example.org/a.zip?x=1&amp;y=2" length="1234" ncts:sha256Hash="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"/>
    <category term="SCT_RF2_FULL" label="SNOMED CT RF2 Full" scheme="http://ns.electronichealth.net.au/ncts/syndication/asf/scheme/1.0.0"/>
    <author><name>Australian Digital Health Agency</name><uri>http://www.digitalhealth.gov.au</uri><email>help@digitalhealth.gov.au</email></author>
    <id>urn:uuid:8d0fbb68-e8dc-3820-0001-000000000001</id>
    <rights>Copyright &#169; 2026</rights>
    <updated>2026-08-01T00:25:01Z</updated>
    <published>2026-08-01T00:25:01+10:00</published>
    <summary>terms &lt;new&gt; and &quot;retired&quot;</summary>
    <ncts:contentItemIdentifier>http://snomed.info/sct/32506021000036107</ncts:contentItemIdentifier>
    <ncts:contentItemVersion>http://snomed.info/sct/32506021000036107/version/20260831</ncts:contentItemVersion>
    <ncts:fhirVersion>4.0.1</ncts:fhirVersion>
    <ncts:bundleInterpretation>batch</ncts:bundleInterpretation>
  </entry>"#;

    fn feed(entry: &str) -> String {
        format!("<feed {ATOM_NCTS}><id>urn:uuid:f</id>\n  {entry}\n</feed>")
    }

    /// Whether the shortcut read the document's first entry, and what it read.
    fn shortcut(doc: &str, options: ReadOptions) -> Option<Entry> {
        let source = SliceSource::new(doc.as_bytes()).ok()?;
        let mut parser = Parser::new(source, options);
        let mut feed = parser.parse_root().ok()?;
        let (start, _) = parser.next_in_feed(&mut feed).ok()??;
        assert!(
            start.attrs.is_empty(),
            "the tests' entries have no attributes"
        );
        let mut e = Entry::default();
        parser.fast_entry(&mut e).then_some(e)
    }

    /// The full read, which takes the shortcut where it can, agrees with the streaming read,
    /// which never does: the same entries, findings and errors.
    fn agree(doc: &str, options: ReadOptions) {
        let full = read_feed(doc.as_bytes(), &options);
        let mut stream = match EntryReader::new(doc.as_bytes(), &options) {
            Ok(s) => s,
            Err(e) => {
                let full = full.expect_err("the stream failed to start, so the full read fails");
                assert_eq!(full.to_string(), e.to_string());
                return;
            }
        };
        let streamed: Result<Vec<Entry>, Error> = (&mut stream).collect();
        match (full, streamed) {
            (Ok(full), Ok(entries)) => {
                assert_eq!(full.feed.entries, entries, "entries of {doc}");
                assert_eq!(full.findings, stream.take_findings(), "findings of {doc}");
            }
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string(), "error for {doc}"),
            (a, b) => panic!("full read {a:?} and stream {b:?} disagree on {doc}"),
        }
    }

    /// Whether the shortcut takes `entry`, as `taken` says; either way, the full read agrees
    /// with the stream in both modes.
    fn check(entry: &str, taken: bool) {
        let doc = feed(entry);
        let took = shortcut(&doc, ReadOptions::lenient()).is_some();
        assert_eq!(took, taken, "{entry}");
        agree(&doc, ReadOptions::lenient());
        agree(&doc, ReadOptions::strict());
    }

    #[test]
    fn the_common_entry_is_read_by_the_shortcut_as_the_general_reader_reads_it() {
        let doc = feed(COMMON);
        let e = shortcut(&doc, ReadOptions::lenient()).expect("the shortcut takes it");
        let general = EntryReader::new(doc.as_bytes(), &ReadOptions::lenient())
            .expect("starts")
            .next()
            .expect("an entry")
            .expect("reads");
        assert_eq!(e, general);
        assert_eq!(e.links[0].href, "https://example.org/a.zip?x=1&y=2");
        assert_eq!(
            e.rights.as_ref().map(|t| t.as_str()),
            Some("Copyright © 2026")
        );
        agree(&doc, ReadOptions::lenient());
        agree(&doc, ReadOptions::strict());
    }

    #[test]
    fn bound_prefixes_line_ends_and_empty_end_tags_stay_on_the_shortcut() {
        for entry in [
            // Atom under a prefix, NCTS under another one than usual.
            r#"<a:entry xmlns:a="http://www.w3.org/2005/Atom" xmlns:n="http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/1.0.0"><a:id>urn:uuid:1</a:id><n:contentItemVersion>1</n:contentItemVersion></a:entry>"#,
            "<entry><title>two\r\nlines\rhere</title><id>urn:uuid:1</id></entry>",
            r#"<entry><link href="a" rel="related"></link><category term="t">  </category></entry>"#,
            "<entry><author><name>n</name></author><contributor><email>e</email></contributor></entry>",
            "<entry><ncts:fhirVersion>4.0</ncts:fhirVersion><ncts:fhirVersion>4.0.1</ncts:fhirVersion></entry>",
            r#"<entry><link href="a" length="12x" ncts:sha256Hash="nothex"/></entry>"#,
            r#"<entry><title type="html">&lt;b&gt;</title><summary type="text">s</summary><rights type="other">r</rights></entry>"#,
            "<entry><sct:packageDependency>\n  <sct:editionDependency>http://snomed.info/sct/900000000000207008/version/20250301</sct:editionDependency>\n  <sct:derivativeDependency>d </sct:derivativeDependency>\n</sct:packageDependency></entry>",
            "<entry><sct:packageDependency/></entry>",
            r#"<entry><onto:permission code="a"/><onto:permission code="b&amp;c"></onto:permission></entry>"#,
        ] {
            check(entry, true);
        }
    }

    #[test]
    fn anything_else_is_left_to_the_general_reader() {
        for entry in [
            r#"<entry><x:y xmlns:x="urn:x">foreign</x:y></entry>"#,
            r#"<entry><title xml:lang="en">t</title></entry>"#,
            r#"<entry><summary type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></summary></entry>"#,
            r#"<entry><sct:packageDependency a="b"/></entry>"#,
            "<entry><sct:packageDependency><sct:derivateDependency>x</sct:derivateDependency></sct:packageDependency></entry>",
            "<entry><ncts:fhirVersion>4.0.1</ncts:fhirVersion><ncts:fhirProfile/></entry>",
            r#"<entry><onto:permission code="a" other="b"/></entry>"#,
            "<entry><onto:permission/></entry>",
            r#"<entry><onto:permission code="a"><x/></onto:permission></entry>"#,
            "<entry><summary>&nbsp;</summary></entry>",
            r#"<entry><link href="a?b&c"/></entry>"#,
            r#"<entry><link href="a" length="1,234"/></entry>"#,
            r#"<entry><link href="a" sha256Hash="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"/></entry>"#,
            r#"<entry><link href="a" title="t"/></entry>"#,
            r#"<entry><link href="a" bad:attr="b"/></entry>"#,
            r#"<entry><legacy:contentItemVersion xmlns:legacy="http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/0.1.0">1</legacy:contentItemVersion></entry>"#,
            r#"<entry><ncts:contentItemVersion xmlns:ncts="urn:other">1</ncts:contentItemVersion></entry>"#,
            "<entry><id>urn:uuid:1</id><id>urn:uuid:2</id></entry>",
            "<entry><!-- a comment --><id>urn:uuid:1</id></entry>",
            "<entry><title><![CDATA[a < b]]></title></entry>",
            "<entry>loose text<id>urn:uuid:1</id></entry>",
            r#"<entry><category term="t"><x/></category></entry>"#,
            r#"<entry><author xml:lang="en"><name>n</name></author></entry>"#,
            "<entry><author><name>n</name><name>m</name></author></entry>",
            "<entry><author><name>n<b/></name></author></entry>",
            "<entry><id/></entry>",
            "<entry><undeclared:id>1</undeclared:id></entry>",
            "<entry><id>urn:uuid:1</wrong></entry>",
            "<entry><id>urn:uuid:1</id>",
        ] {
            check(entry, false);
        }
    }

    #[test]
    fn the_legacy_namespace_is_left_to_the_general_reader_which_reports_it() {
        let legacy = r#"xmlns="http://www.w3.org/2005/Atom" xmlns:ncts="http://ns.electronichealth.net.au/ncts/syndication/asf/extensions/0.1.0""#;
        for entry in [
            "<entry><ncts:contentItemVersion>1</ncts:contentItemVersion></entry>",
            r#"<entry><link href="a" ncts:sha256Hash="e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"/></entry>"#,
        ] {
            let doc = format!("<feed {legacy}>{entry}</feed>");
            assert!(shortcut(&doc, ReadOptions::lenient()).is_none(), "{entry}");
            agree(&doc, ReadOptions::lenient());
        }
    }

    #[test]
    fn limits_within_reach_are_left_to_the_general_reader() {
        let doc = feed(COMMON);
        for limits in [
            Limits::default().max_depth(3),
            Limits::default().max_text_bytes(20),
        ] {
            let options = ReadOptions::lenient().with_limits(limits);
            assert!(shortcut(&doc, options).is_none());
            agree(&doc, options);
        }
    }

    #[test]
    fn a_refused_entry_leaves_the_cursor_where_the_general_reader_starts() {
        // The shortcut reads the link before it meets the foreign element and turns back.
        let doc = feed(
            r#"<entry><link href="a"/><x:y xmlns:x="urn:x"/></entry><entry><id>urn:uuid:2</id></entry>"#,
        );
        let outcome = read_feed(doc.as_bytes(), &ReadOptions::lenient()).expect("reads");
        let entries = &outcome.feed.entries;
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].links.len(), 1);
        assert_eq!(entries[0].extensions.len(), 1);
        assert_eq!(
            entries[1].id.as_ref().map(|i| i.as_str()),
            Some("urn:uuid:2")
        );
        agree(&doc, ReadOptions::lenient());
    }

    #[test]
    fn the_shortcut_stops_trying_where_most_entries_are_not_common() {
        let record = |hits, misses| Record { hits, misses }.worth_trying();
        assert!(record(0, Record::GRACE));
        assert!(!record(0, Record::GRACE + 1));
        assert!(record(100, 50));
        assert!(!record(100, 51));
        // A document of odd entries, then common ones, reads the same either way.
        let odd = r#"<entry><x:y xmlns:x="urn:x"/><id>urn:uuid:odd</id></entry>"#;
        let entries = [odd; 20].join("") + &[COMMON; 5].join("");
        agree(&feed(&entries), ReadOptions::lenient());
    }

    #[test]
    fn repeated_texts_share_one_copy_on_either_path_and_in_the_stream() {
        // The second entry has a foreign element, so the general reader reads it.
        let odd = COMMON.replace("<title>", r#"<x:y xmlns:x="urn:x"/><title>"#);
        let doc = feed(&[COMMON, &odd, COMMON].join(""));
        let full = read_feed(doc.as_bytes(), &ReadOptions::lenient())
            .expect("reads")
            .feed
            .entries;
        assert_eq!(full[1].extensions.len(), 1, "the general reader read it");
        let streamed = EntryReader::new(doc.as_bytes(), &ReadOptions::lenient())
            .expect("starts")
            .collect::<Result<Vec<_>, _>>()
            .expect("streams");
        for entries in [full, streamed] {
            let texts = |e: &Entry| [&e.title, &e.summary, &e.rights].map(|t| t.clone());
            let first = texts(&entries[0]);
            for e in &entries[1..] {
                for (a, b) in first.iter().zip(texts(e)) {
                    let (a, b) = (a.as_ref().expect("present"), b.expect("present"));
                    assert!(Arc::ptr_eq(&a.value, &b.value), "{:?} shared", a.value);
                }
            }
        }
    }

    #[test]
    fn an_author_block_read_before_is_copied_and_any_other_is_read() {
        let author = |name: &str, rest: &str| {
            format!(
                "<entry><author><name>{name}</name>{rest}</author><id>urn:uuid:{name}</id></entry>"
            )
        };
        let entries = [
            author("A", "<email>a@example.org</email>"),
            author("A", "<email>a@example.org</email>"),
            // One byte more, one byte different, a longer block starting with the same
            // bytes, one with a comment (not the shortcut's), and the first again.
            author("A", "<email>a@example.org </email>"),
            author("A", "<email>b@example.org</email>"),
            author("A", "<email>a@example.org</email><uri>u</uri>"),
            author("A", "<email>a@example.org</email><!-- c -->"),
            author("A", "<email>a@example.org</email>"),
            COMMON.to_owned(),
            COMMON.to_owned(),
        ];
        let doc = feed(&entries.join("\n"));
        agree(&doc, ReadOptions::lenient());
        agree(&doc, ReadOptions::strict());
        let read = read_feed(doc.as_bytes(), &ReadOptions::lenient()).expect("reads");
        let e = &read.feed.entries;
        let email = |i: usize| e[i].authors[0].email.clone().expect("an email");
        assert!(Arc::ptr_eq(&email(0), &email(1)), "copied");
        assert_eq!(&*email(2), "a@example.org ");
        assert_eq!(&*email(3), "b@example.org");
        assert_eq!(e[4].authors[0].uri.as_deref(), Some("u"));
        assert_eq!(e[6].authors[0], e[0].authors[0]);
        // What follows a copied author is read from where the author ends.
        assert_eq!(e[1].id.as_ref().map(|i| i.as_str()), Some("urn:uuid:A"));
        assert_eq!(e[8], e[7]);
    }

    #[test]
    fn an_author_block_is_read_again_under_other_namespace_bindings() {
        // The same bytes, but the second entry binds `b` elsewhere: its `b:name` is foreign.
        let root = r#"xmlns="http://www.w3.org/2005/Atom" xmlns:b="http://www.w3.org/2005/Atom""#;
        let block = "<author><b:name>A</b:name></author>";
        let doc = format!(
            "<feed {root}><entry>{block}</entry><entry xmlns:b=\"urn:x\">{block}</entry><entry>{block}</entry></feed>"
        );
        agree(&doc, ReadOptions::lenient());
        let read = read_feed(doc.as_bytes(), &ReadOptions::lenient()).expect("reads");
        let names: Vec<_> = read
            .feed
            .entries
            .iter()
            .map(|e| e.authors[0].name.as_deref())
            .collect();
        assert_eq!(names, [Some("A"), None, Some("A")]);
        assert_eq!(read.feed.entries[1].authors[0].extensions.len(), 1);
    }
}
