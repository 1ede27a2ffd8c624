//! The feed writer: [`Feed`] → well-formed, canonical XML that terminology servers accept.

use std::fmt::Write as _;
use std::io;

use super::model::{
    Attribute, Category, Element, Entry, Feed, Generator, Link, Node, Person, Source, Text, XmlName,
};
use super::ns;
use super::read::{Limits, ReadOptions, read_feed};
use super::values::{AtomDate, Checked};
use crate::Error;

mod escape;

use escape::{escape_attr, escape_text};

/// What the document is written for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum WriteTarget {
    /// Exactly the model: `read(write(feed)) == feed`.
    #[default]
    Faithful,
    /// A feed a terminology server preloads (SERVERS.md §1.4.2): no feed-level `author`
    /// (feed authors are written on each entry that has none, which keeps RFC 4287's author
    /// rule), `published` on every entry (its `updated` when it has none), the ASF profile
    /// declared, and a `self` link when one is given and the feed has none.
    Preload {
        /// The URL the feed will be served from, for its `self` link.
        self_link: Option<String>,
    },
}

/// Options for writing a feed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct WriteOptions {
    /// What the document is for.
    pub target: WriteTarget,
}

impl WriteOptions {
    /// Write exactly the model.
    pub fn faithful() -> Self {
        Self::default()
    }

    /// Write a preload feed for a terminology server.
    pub fn preload(self_link: Option<String>) -> Self {
        Self {
            target: WriteTarget::Preload { self_link },
        }
    }
}

/// Writes a feed.
///
/// # Errors
/// [`Error::Unwritable`] when the model holds what XML cannot (a forbidden character, a name
/// that is not an XML name), with nothing written; [`Error::Io`] for those of `out`.
pub fn write_feed<W: io::Write>(
    feed: &Feed,
    options: &WriteOptions,
    mut out: W,
) -> Result<(), Error> {
    out.write_all(feed_to_string(feed, options)?.as_bytes())
        .map_err(Error::Io)
}

impl Feed {
    /// The feed as XML, exactly as modelled.
    ///
    /// ```
    /// use release_model::feed::Feed;
    ///
    /// let xml = br#"<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:1</id></feed>"#;
    /// let feed = Feed::from_slice(xml)?;
    /// assert_eq!(Feed::from_slice(feed.to_xml()?.as_bytes())?, feed);
    /// # Ok::<(), release_model::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`Error::Unwritable`] when the model holds what XML cannot.
    pub fn to_xml(&self) -> Result<String, Error> {
        feed_to_string(self, &WriteOptions::faithful())
    }
}

fn feed_to_string(feed: &Feed, options: &WriteOptions) -> Result<String, Error> {
    let mut w = Writer::new(feed);
    w.feed(feed, options);
    check_well_formed(&w.out)?;
    Ok(w.out)
}

/// Refuses output that is not well-formed: the writer escapes what needs escaping, so what
/// is left is what the model holds and XML cannot (a forbidden character, a name that is not
/// a name). The strict reader decides, with no limits, so a feed the writer emits always
/// reads back.
fn check_well_formed(xml: &str) -> Result<(), Error> {
    if let Some((at, c)) = crate::feed::source::forbidden_char(xml) {
        // Up to 40 bytes before it, from a character's start (offset 0 always is one).
        let mut start = at.saturating_sub(40);
        while !xml.is_char_boundary(start) {
            start -= 1;
        }
        return Err(Error::Unwritable {
            reason: format!(
                "U+{:04X} is not a character XML 1.0 allows, after '{}'",
                u32::from(c),
                &xml[start..at]
            ),
        });
    }
    let unlimited = Limits::default()
        .max_depth(usize::MAX)
        .max_entries(usize::MAX)
        .max_text_bytes(usize::MAX)
        .max_findings(0);
    match read_feed(
        xml.as_bytes(),
        &ReadOptions::strict().with_limits(unlimited),
    ) {
        Ok(_) => Ok(()),
        Err(Error::Malformed {
            position, message, ..
        }) => Err(Error::Unwritable {
            reason: format!("{message} at {position} of the output"),
        }),
        Err(e) => Err(e),
    }
}

struct Writer {
    out: String,
    /// In-scope namespace bindings, innermost last; the prefix "" is the default namespace
    /// and the namespace "" means none.
    scope: Vec<(String, String)>,
    generated: usize,
}

struct Usage {
    sct: bool,
    onto: bool,
    hl7: bool,
}

fn usage(feed: &Feed) -> Usage {
    let mut u = Usage {
        sct: false,
        onto: false,
        hl7: false,
    };
    let links = feed
        .links
        .iter()
        .chain(feed.entries.iter().flat_map(|e| e.links.iter()));
    for l in links {
        u.sct |= l.md5.is_some();
        u.onto |= l.validated.as_ref().is_some();
    }
    for e in &feed.entries {
        u.sct |= e.package_dependency.is_some();
        u.onto |= !e.permissions.is_empty();
        u.hl7 |= e.crmi.is_some();
    }
    u
}

impl Writer {
    fn new(feed: &Feed) -> Self {
        // Roughly what a feed of this size needs, so the buffer rarely grows.
        let capacity = 1024 + feed.entries.len() * 1024;
        let mut scope = vec![
            ("".to_owned(), ns::ATOM.to_owned()),
            ("ncts".to_owned(), ns::NCTS.to_owned()),
            ("xml".to_owned(), ns::XML.to_owned()),
        ];
        let u = usage(feed);
        if u.sct {
            scope.push(("sct".into(), ns::SCT.into()));
        }
        if u.onto {
            scope.push(("onto".into(), ns::ONTO.into()));
        }
        if u.hl7 {
            scope.push(("hl7".into(), ns::HL7.into()));
        }
        Self {
            out: String::with_capacity(capacity),
            scope,
            generated: 0,
        }
    }

    fn feed(&mut self, feed: &Feed, options: &WriteOptions) {
        let preload = match &options.target {
            WriteTarget::Faithful => None,
            WriteTarget::Preload { self_link } => Some(self_link.as_deref()),
        };
        self.out
            .push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<feed");
        for (prefix, uri) in self.scope.clone() {
            if prefix == "xml" {
                continue;
            }
            if prefix.is_empty() {
                let _ = write!(self.out, " xmlns=\"{uri}\"");
            } else {
                let _ = write!(self.out, " xmlns:{prefix}=\"{uri}\"");
            }
        }
        self.attributes(&feed.attributes);
        self.out.push_str(">\n");

        if let Some(id) = &feed.id {
            self.leaf(1, "id", id.as_str());
        }
        if let Some(t) = &feed.title {
            self.text(1, "title", t);
        }
        if let Some(t) = &feed.subtitle {
            self.text(1, "subtitle", t);
        }
        if let Some(d) = &feed.updated {
            self.date(1, "updated", d);
        }
        if let Some(g) = &feed.generator {
            self.generator(g);
        }
        for l in &feed.links {
            self.link(1, "link", l);
        }
        if let Some(Some(href)) = preload
            && feed.self_link().is_none()
        {
            let mut l = Link::new(super::model::LinkRel::SelfLink, href);
            l.media_type = Some("application/atom+xml".into());
            self.link(1, "link", &l);
        }
        if preload.is_none() {
            for p in &feed.authors {
                self.person(1, "author", p);
            }
        }
        for p in &feed.contributors {
            self.person(1, "contributor", p);
        }
        for c in &feed.categories {
            self.category(1, c);
        }
        if let Some(t) = &feed.rights {
            self.text(1, "rights", t);
        }
        if let Some(i) = &feed.icon {
            self.leaf(1, "icon", i);
        }
        if let Some(l) = &feed.logo {
            self.leaf(1, "logo", l);
        }
        match (&feed.profile, preload) {
            (Some(p), _) => self.leaf(1, "ncts:atomSyndicationFormatProfile", p),
            (None, Some(_)) => self.leaf(1, "ncts:atomSyndicationFormatProfile", ns::PROFILE_ASF),
            (None, None) => {}
        }
        for e in &feed.extensions {
            self.indent(1);
            self.element(e);
            self.out.push('\n');
        }
        for e in &feed.entries {
            let pushed_authors = match preload {
                Some(_) if e.authors.is_empty() => feed.authors.as_slice(),
                _ => &[],
            };
            self.entry(e, pushed_authors, preload.is_some());
        }
        self.out.push_str("</feed>\n");
    }

    fn entry(&mut self, e: &Entry, extra_authors: &[Person], fill_published: bool) {
        self.indent(1);
        self.out.push_str("<entry");
        self.attributes(&e.attributes);
        self.out.push_str(">\n");
        if let Some(id) = &e.id {
            self.leaf(2, "id", id.as_str());
        }
        if let Some(t) = &e.title {
            self.text(2, "title", t);
        }
        if let Some(d) = &e.updated {
            self.date(2, "updated", d);
        }
        match (&e.published, &e.updated) {
            (Some(d), _) => self.date(2, "published", d),
            (None, Some(d)) if fill_published => self.date(2, "published", d),
            _ => {}
        }
        for p in e.authors.iter().chain(extra_authors) {
            self.person(2, "author", p);
        }
        for p in &e.contributors {
            self.person(2, "contributor", p);
        }
        for c in &e.categories {
            self.category(2, c);
        }
        for l in &e.links {
            self.link(2, "link", l);
        }
        if let Some(t) = &e.summary {
            self.text(2, "summary", t);
        }
        if let Some(t) = &e.rights {
            self.text(2, "rights", t);
        }
        if let Some(s) = &e.source {
            self.source(s);
        }
        if let Some(v) = &e.identifier {
            self.leaf(2, "ncts:contentItemIdentifier", v.as_str());
        }
        if let Some(v) = &e.version {
            self.leaf(2, "ncts:contentItemVersion", v.as_str());
        }
        for v in &e.fhir_versions {
            self.leaf(2, "ncts:fhirVersion", v.as_str());
        }
        for v in &e.fhir_profiles {
            self.leaf(2, "ncts:fhirProfile", v);
        }
        if let Some(b) = &e.bundle_interpretation {
            self.leaf(2, "ncts:bundleInterpretation", b.as_str());
        }
        if let Some(v) = &e.sct_base_version {
            self.leaf(2, "ncts:sctBaseVersion", v);
        }
        if let Some(d) = &e.package_dependency {
            self.indent(2);
            self.out.push_str("<sct:packageDependency>\n");
            for v in &d.editions {
                self.leaf(3, "sct:editionDependency", v);
            }
            for v in &d.derivatives {
                self.leaf(3, "sct:derivativeDependency", v);
            }
            for x in &d.extensions {
                self.indent(3);
                self.element(x);
                self.out.push('\n');
            }
            self.indent(2);
            self.out.push_str("</sct:packageDependency>\n");
        }
        for p in &e.permissions {
            self.indent(2);
            self.out.push_str("<onto:permission code=\"");
            escape_attr(&mut self.out, p.as_str());
            self.out.push_str("\"/>\n");
        }
        if let Some(c) = &e.crmi {
            let crmi = [
                ("hl7:artifactType", &c.artifact_type),
                ("hl7:artifactVersion", &c.artifact_version),
                ("hl7:fhirVersion", &c.fhir_version),
                ("hl7:publishAction", &c.publish_action),
            ];
            for (name, value) in crmi {
                if let Some(v) = value {
                    self.leaf(2, name, v);
                }
            }
        }
        for x in &e.extensions {
            self.indent(2);
            self.element(x);
            self.out.push('\n');
        }
        self.indent(1);
        self.out.push_str("</entry>\n");
    }

    fn indent(&mut self, level: usize) {
        for _ in 0..level {
            self.out.push_str("  ");
        }
    }

    fn leaf(&mut self, level: usize, name: &str, value: &str) {
        self.indent(level);
        let _ = write!(self.out, "<{name}>");
        escape_text(&mut self.out, value);
        let _ = writeln!(self.out, "</{name}>");
    }

    fn date(&mut self, level: usize, name: &str, d: &Checked<AtomDate>) {
        let raw = match d {
            Checked::Valid(d) => d.as_str(),
            Checked::Malformed(raw) => raw,
        };
        self.leaf(level, name, raw);
    }

    fn text(&mut self, level: usize, name: &str, t: &Text) {
        self.indent(level);
        let _ = write!(self.out, "<{name}");
        if let Some(k) = &t.kind {
            self.out.push_str(" type=\"");
            escape_attr(&mut self.out, k.as_str());
            self.out.push('"');
        }
        self.attributes(&t.attributes);
        self.out.push('>');
        if t.markup.is_empty() {
            escape_text(&mut self.out, &t.value);
        } else {
            self.nodes(&t.markup);
        }
        let _ = writeln!(self.out, "</{name}>");
    }

    fn generator(&mut self, g: &Generator) {
        self.indent(1);
        self.out.push_str("<generator");
        self.attr("uri", g.uri.as_deref());
        self.attr("version", g.version.as_deref());
        self.attributes(&g.attributes);
        self.out.push('>');
        escape_text(&mut self.out, &g.value);
        self.out.push_str("</generator>\n");
    }

    fn link(&mut self, level: usize, name: &str, l: &Link) {
        self.indent(level);
        let _ = write!(self.out, "<{name}");
        if let Some(r) = &l.rel {
            self.attr("rel", Some(r.as_str()));
        }
        if let Some(t) = &l.media_type {
            self.attr("type", Some(t));
        }
        self.attr("href", Some(&l.href));
        match &l.length {
            Some(Checked::Valid(n)) => self.attr("length", Some(&n.to_string())),
            Some(Checked::Malformed(raw)) => self.attr("length", Some(raw)),
            None => {}
        }
        if let Some(t) = l.title.as_deref() {
            self.attr("title", Some(t));
        }
        if let Some(h) = l.hreflang.as_deref() {
            self.attr("hreflang", Some(h));
        }
        match &l.sha256 {
            Some(Checked::Valid(h)) => self.attr("ncts:sha256Hash", Some(h.as_str())),
            Some(Checked::Malformed(raw)) => self.attr("ncts:sha256Hash", Some(raw)),
            None => {}
        }
        match &l.md5 {
            Some(Checked::Valid(h)) => self.attr("sct:md5Hash", Some(h.as_str())),
            Some(Checked::Malformed(raw)) => self.attr("sct:md5Hash", Some(raw)),
            None => {}
        }
        match l.validated.as_ref() {
            Some(Checked::Valid(b)) => {
                self.attr("onto:validated", Some(if *b { "true" } else { "false" }))
            }
            Some(Checked::Malformed(raw)) => self.attr("onto:validated", Some(raw)),
            None => {}
        }
        self.attributes(&l.attributes);
        if l.extensions.is_empty() {
            self.out.push_str("/>\n");
        } else {
            self.out.push('>');
            for x in &l.extensions {
                self.element(x);
            }
            let _ = writeln!(self.out, "</{name}>");
        }
    }

    fn category(&mut self, level: usize, c: &Category) {
        self.indent(level);
        self.out.push_str("<category term=\"");
        escape_attr(&mut self.out, &c.term);
        self.out.push('"');
        self.attr("label", c.label.as_deref());
        self.attr("scheme", c.scheme.as_deref());
        self.attributes(&c.attributes);
        self.out.push_str("/>\n");
    }

    fn person(&mut self, level: usize, name: &str, p: &Person) {
        self.indent(level);
        let _ = write!(self.out, "<{name}");
        self.attributes(&p.attributes);
        self.out.push_str(">\n");
        if let Some(v) = &p.name {
            self.leaf(level + 1, "name", v);
        }
        if let Some(v) = &p.uri {
            self.leaf(level + 1, "uri", v);
        }
        if let Some(v) = &p.email {
            self.leaf(level + 1, "email", v);
        }
        for x in &p.extensions {
            self.indent(level + 1);
            self.element(x);
            self.out.push('\n');
        }
        self.indent(level);
        let _ = writeln!(self.out, "</{name}>");
    }

    fn source(&mut self, s: &Source) {
        self.indent(2);
        self.out.push_str("<source>\n");
        if let Some(id) = &s.id {
            self.leaf(3, "id", id.as_str());
        }
        if let Some(t) = &s.title {
            self.text(3, "title", t);
        }
        if let Some(d) = &s.updated {
            self.date(3, "updated", d);
        }
        for l in &s.links {
            self.link(3, "link", l);
        }
        for x in &s.extensions {
            self.indent(3);
            self.element(x);
            self.out.push('\n');
        }
        self.indent(2);
        self.out.push_str("</source>\n");
    }

    /// Writes ` name="value"` when there is a value.
    fn attr(&mut self, name: &str, value: Option<&str>) {
        if let Some(v) = value {
            self.out.push(' ');
            self.out.push_str(name);
            self.out.push_str("=\"");
            escape_attr(&mut self.out, v);
            self.out.push('"');
        }
    }

    fn attributes(&mut self, attrs: &[Attribute]) {
        let mut decls = Vec::new();
        self.attributes_with(attrs, &mut decls);
        self.declare(&decls);
        self.scope.truncate(self.scope.len() - decls.len());
    }

    fn attributes_with(&mut self, attrs: &[Attribute], decls: &mut Vec<(String, String)>) {
        for a in attrs {
            let prefix = self.prefix_for(&a.name, true, decls);
            self.out.push(' ');
            if !prefix.is_empty() {
                self.out.push_str(&prefix);
                self.out.push(':');
            }
            self.out.push_str(&a.name.local);
            self.out.push_str("=\"");
            escape_attr(&mut self.out, &a.value);
            self.out.push('"');
        }
    }

    fn declare(&mut self, decls: &[(String, String)]) {
        for (p, uri) in decls {
            if p.is_empty() {
                self.out.push_str(" xmlns=\"");
            } else {
                let _ = write!(self.out, " xmlns:{p}=\"");
            }
            escape_attr(&mut self.out, uri);
            self.out.push('"');
        }
    }

    fn lookup(&self, prefix: &str) -> Option<&str> {
        self.scope
            .iter()
            .rev()
            .find(|(p, _)| p == prefix)
            .map(|(_, n)| n.as_str())
    }

    /// The prefix to write `name` with, declaring one (pushed to `decls` and the scope) when
    /// none is in scope. Attributes in a namespace always need a prefix; elements use the
    /// default namespace when it matches.
    fn prefix_for(
        &mut self,
        name: &XmlName,
        is_attr: bool,
        decls: &mut Vec<(String, String)>,
    ) -> String {
        let uri = name.namespace.as_deref().unwrap_or("");
        if uri.is_empty() {
            if !is_attr && self.lookup("").is_some_and(|d| !d.is_empty()) {
                self.scope.push((String::new(), String::new()));
                decls.push((String::new(), String::new()));
            }
            return String::new();
        }
        if uri == ns::XML {
            return "xml".into();
        }
        if !is_attr && self.lookup("") == Some(uri) {
            return String::new();
        }
        let bound = self
            .scope
            .iter()
            .rev()
            .find(|(p, n)| !p.is_empty() && n == uri)
            .map(|(p, _)| p.clone());
        if let Some(p) = bound {
            // The prefix is usable only if an inner binding does not shadow it.
            if self.lookup(&p) == Some(uri) {
                return p;
            }
        }
        let hint = name
            .prefix
            .as_deref()
            .filter(|p| !p.is_empty() && *p != "xml" && *p != "xmlns");
        let prefix = match hint {
            Some(h) if self.lookup(h).is_none() => h.to_owned(),
            _ => loop {
                self.generated += 1;
                let candidate = format!("ns{}", self.generated);
                if self.lookup(&candidate).is_none() {
                    break candidate;
                }
            },
        };
        self.scope.push((prefix.clone(), uri.to_owned()));
        decls.push((prefix.clone(), uri.to_owned()));
        prefix
    }

    fn element(&mut self, e: &Element) {
        let mut decls = Vec::new();
        let prefix = self.prefix_for(&e.name, false, &mut decls);
        let qname = if prefix.is_empty() {
            e.name.local.clone()
        } else {
            format!("{prefix}:{}", e.name.local)
        };
        self.out.push('<');
        self.out.push_str(&qname);
        // Attribute prefixes are declared on this element too, so they must be resolved
        // before the declarations are written.
        let mark = self.out.len();
        self.attributes_with(&e.attributes, &mut decls);
        let attrs = self.out.split_off(mark);
        self.declare(&decls);
        self.out.push_str(&attrs);
        if e.children.is_empty() {
            self.out.push_str("/>");
        } else {
            self.out.push('>');
            self.nodes(&e.children);
            let _ = write!(self.out, "</{qname}>");
        }
        self.scope.truncate(self.scope.len() - decls.len());
    }

    fn nodes(&mut self, nodes: &[Node]) {
        for n in nodes {
            match n {
                Node::Text(t) => escape_text(&mut self.out, t),
                Node::Element(e) => self.element(e),
            }
        }
    }
}
