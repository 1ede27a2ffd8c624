//! Element builders: the model's types read from their elements, in the order the parser
//! meets them. A known element where it does not belong, or a repeat of a single-valued one,
//! is kept as foreign markup.

use super::markup::Start;
use super::names::{AttrKey, Tag};
use super::pump::{Fail, Leaf, Parser, Tok};
use crate::error::{Error, Limit, Position};
use crate::feed::finding::FindingCode;
use crate::feed::model::{
    AtomId, Attribute, BundleInterpretation, Category, ContentItemIdentifier, ContentItemVersion,
    Crmi, Element, Entry, Feed, FhirVersion, Generator, Link, LinkRel, Node, PackageDependency,
    PermissionCode, Person, Source, Text, TextKind, XmlName, collect_text,
};
use crate::feed::source::Source as TokenSource;
use crate::feed::values::{AtomDate, Checked, LengthRead, Md5, Sha256, parse_bool, parse_length};

impl<S: TokenSource> Parser<S> {
    pub(super) fn parse_root(&mut self) -> Result<Feed, Error> {
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
    pub(super) fn next_in_feed(
        &mut self,
        feed: &mut Feed,
    ) -> Result<Option<(Start, Position)>, Error> {
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
    pub(super) fn parse_entry(&mut self, start: Start) -> Result<Entry, Error> {
        let index = self.entries;
        self.entries += 1;
        self.entry_index = Some(index);
        let first_finding = self.findings.len();
        let mut e = Entry {
            attributes: self.attributes(start.attrs),
            ..Entry::default()
        };
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
        Ok(e)
    }

    /// A date element, parsed from the text buffer.
    pub(super) fn date_leaf(
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

    fn text_construct(&mut self, s: Start) -> Result<Text, Error> {
        let mut text = Text::default();
        for a in s.attrs {
            match a.key {
                AttrKey::Type => text.kind = Some(TextKind::parse(self.value(&a))),
                _ => text.attributes.push(self.attribute(a)),
            }
        }
        if let Some(read) = self.quick_text(&mut text.value) {
            read?;
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
            text.value = self.take_text();
        } else {
            self.flush_text(&mut nodes);
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
                AttrKey::Type => link.media_type = Some(self.value_string(&a)),
                AttrKey::Title => link.title = Some(self.value_string(&a)),
                AttrKey::Hreflang => link.hreflang = Some(self.value_string(&a)),
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
                    link.validated = Some(match parse_bool(self.value(&a)) {
                        Some(b) => Checked::Valid(b),
                        None => Checked::Malformed(self.value_string(&a)),
                    });
                }
                _ => link.attributes.push(self.attribute(a)),
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
                link.md5 = Some(md5(&raw));
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
                AttrKey::Term => term = Some(self.value_string(&a)),
                AttrKey::Scheme => c.scheme = Some(self.value_string(&a)),
                AttrKey::Label => c.label = Some(self.value_string(&a)),
                _ => c.attributes.push(self.attribute(a)),
            }
        }
        self.markup.recycle(attrs);
        c.term = term.unwrap_or_default();
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
                Tag::Name if p.name.is_none() => p.name = self.leaf_into(c, ext)?,
                Tag::Uri if p.uri.is_none() => p.uri = self.leaf_into(c, ext)?,
                Tag::Email if p.email.is_none() => p.email = self.leaf_into(c, ext)?,
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

/// Pushes onto a list that usually holds one or two items (an entry's links, categories and
/// authors), growing it one slot at a time: a first push reserves four, which for links is
/// over a kilobyte per entry and tripled the memory of a full read.
fn push_small<T>(v: &mut Vec<T>, item: T) {
    if v.len() == v.capacity() && v.len() < 4 {
        v.reserve_exact(1);
    }
    v.push(item);
}

/// The CRMI field an `hl7:*` element fills, creating the CRMI block on first use.
fn crmi_slot<'a>(crmi: &'a mut Option<Box<Crmi>>, tag: &Tag) -> &'a mut Option<String> {
    let c = crmi.get_or_insert_with(Box::default);
    match tag {
        Tag::ArtifactType => &mut c.artifact_type,
        Tag::ArtifactVersion => &mut c.artifact_version,
        Tag::Hl7FhirVersion => &mut c.fhir_version,
        _ => &mut c.publish_action,
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
