//! The validator: the checklist of FEED-FORMAT §15, graded by [`Profile`].

use std::collections::{HashMap, HashSet};

use super::content_type::ContentType;
use super::finding::{Finding, FindingCode, Location, Profile};
use super::model::{Element, Entry, Feed, Link, LinkRel};
use super::ns;
use super::read::ReadOutcome;
use super::values::{Checked, DateValue};

/// Checks a feed against a profile.
///
/// Findings are located by entry index and id; [`validate_read`] adds line and column for a
/// feed that was read from a document.
///
/// ```
/// use release_model::feed::{Feed, FindingCode, Profile, validate};
///
/// let feed = Feed::from_slice(br#"<feed xmlns="http://www.w3.org/2005/Atom">
///   <id>urn:uuid:1</id><title>t</title><updated>2024-01-01T00:00:00Z</updated>
///   <entry><id>urn:uuid:2</id><title>e</title></entry></feed>"#)?;
/// let findings = validate(&feed, Profile::Strict);
/// assert!(findings.iter().any(|f| f.code == FindingCode::EntryMissingUpdated));
/// # Ok::<(), release_model::Error>(())
/// ```
pub fn validate(feed: &Feed, profile: Profile) -> Vec<Finding> {
    let mut v = Validator {
        profile,
        findings: Vec::new(),
    };
    v.feed(feed);
    v.findings
}

/// Checks a feed that was read from a document: the reader's findings (graded under
/// `profile`) and the validator's, feed-level first and then entry by entry, each entry-level
/// one located at its entry's line and column.
pub fn validate_read(outcome: &ReadOutcome, profile: Profile) -> Vec<Finding> {
    let mut findings: Vec<Finding> = outcome
        .findings
        .iter()
        .cloned()
        .map(|mut f| {
            f.severity = f.code.severity(profile);
            f
        })
        .collect();
    for mut f in validate(&outcome.feed, profile) {
        if let Some(i) = f.location.entry {
            f.location.position = outcome.entry_positions.get(i).copied();
        }
        findings.push(f);
    }
    // Feed-level findings first, then each entry's in document order; stable, so each
    // entry's reader findings stay ahead of its rule checks.
    findings.sort_by_key(|f| f.location.entry.map_or(0, |i| i + 1));
    findings
}

struct Validator {
    profile: Profile,
    findings: Vec<Finding>,
}

const FEED_SINGLES: &[&str] = &[
    "id",
    "title",
    "subtitle",
    "updated",
    "generator",
    "rights",
    "icon",
    "logo",
];
const ENTRY_SINGLES: &[&str] = &[
    "id",
    "title",
    "summary",
    "rights",
    "updated",
    "published",
    "source",
    "content",
];
const EXTENSION_NAMES: &[&str] = &[
    "atomSyndicationFormatProfile",
    "contentItemIdentifier",
    "contentItemVersion",
    "fhirVersion",
    "fhirProfile",
    "bundleInterpretation",
    "sctBaseVersion",
    "packageDependency",
    "editionDependency",
    "derivativeDependency",
    "permission",
    "artifactType",
    "artifactVersion",
    "publishAction",
];
const NCTS_ENTRY_SINGLES: &[&str] = &[
    "contentItemIdentifier",
    "contentItemVersion",
    "bundleInterpretation",
    "sctBaseVersion",
];

impl Validator {
    fn push(&mut self, code: FindingCode, location: Location, message: String) {
        self.findings
            .push(Finding::new(code, self.profile, location, message));
    }

    fn strict(&self) -> bool {
        self.profile != Profile::Lenient
    }

    fn feed(&mut self, feed: &Feed) {
        let here = Location::feed;
        if feed.id.is_none() {
            self.push(
                FindingCode::FeedMissingId,
                here(),
                "the feed has no id".into(),
            );
        }
        if feed.title.is_none() {
            self.push(
                FindingCode::FeedMissingTitle,
                here(),
                "the feed has no title".into(),
            );
        }
        match &feed.updated {
            None => self.push(
                FindingCode::FeedMissingUpdated,
                here(),
                "the feed has no updated".into(),
            ),
            Some(d) => {
                self.date(d, "feed updated", here());
                if let (Some(Checked::Valid(d)), Some(latest)) =
                    (&feed.updated, feed.latest_entry_update())
                    && d.to_utc() < latest
                {
                    self.push(
                        FindingCode::FeedUpdatedNotLatest,
                        here(),
                        format!(
                            "feed updated {d} is earlier than the latest entry update {latest}"
                        ),
                    );
                }
            }
        }
        let self_links = feed
            .links
            .iter()
            .filter(|l| l.rel == Some(LinkRel::SelfLink))
            .count();
        if self_links == 0 {
            self.push(
                FindingCode::FeedMissingSelfLink,
                here(),
                "the feed has no link rel=\"self\"".into(),
            );
        }
        for l in &feed.links {
            if l.rel == Some(LinkRel::Alternate) && l.href == ns::PROFILE_ASF {
                self.push(
                    FindingCode::FeedAlternateIsProfile,
                    here(),
                    "the feed's alternate link points at the ASF profile URI, not at the feed"
                        .into(),
                );
            }
            if l.href.is_empty() {
                self.push(
                    FindingCode::LinkMissingHref,
                    here(),
                    "a feed link has no href".into(),
                );
            }
        }
        self.duplicates(&feed.extensions, FEED_SINGLES, &[], here());
        self.lookalikes(&feed.extensions, here());

        let uses_ncts = feed.entries.iter().any(|e| {
            e.identifier.is_some()
                || e.version.is_some()
                || !e.fhir_versions.is_empty()
                || e.links.iter().any(|l| l.sha256.is_some())
        });
        match &feed.profile {
            None if uses_ncts || self.profile == Profile::Preload => self.push(
                FindingCode::FeedProfileMissing,
                here(),
                "ncts: extensions are used but ncts:atomSyndicationFormatProfile is absent".into(),
            ),
            Some(p) if p.trim() != ns::PROFILE_ASF => self.push(
                FindingCode::FeedProfileUnknown,
                here(),
                format!("profile '{p}' is not {}", ns::PROFILE_ASF),
            ),
            _ => {}
        }

        if self.profile == Profile::Preload {
            if !feed.authors.is_empty() {
                self.push(
                    FindingCode::FeedAuthorInPreload,
                    here(),
                    "feed-level author: Ontoserver 6.24 rejects preload feeds that carry one"
                        .into(),
                );
            }
        } else if feed.authors.is_empty() && feed.entries.iter().any(|e| e.authors.is_empty()) {
            self.push(
                FindingCode::FeedMissingAuthor,
                here(),
                "no feed-level author and at least one entry has none (RFC 4287 §4.1.1)".into(),
            );
        }

        let mut ids: HashMap<&str, usize> = HashMap::new();
        let mut items: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
        let mut artefacts: HashMap<(&str, &str, &str, &str), usize> = HashMap::new();
        for (i, e) in feed.entries.iter().enumerate() {
            let loc = Location::entry(i, e.id.clone());
            if let Some(id) = &e.id
                && let Some(first) = ids.insert(id.as_str(), i)
            {
                self.push(
                    FindingCode::EntryDuplicateId,
                    loc.clone(),
                    format!("entry id {id} is also the id of entry {first}"),
                );
            }
            if let Some(v) = &e.version
                && let Some(id) = &e.identifier
            {
                items.entry((id.as_str(), v.as_str())).or_default().push(i);
                for c in &e.categories {
                    let key = (
                        id.as_str(),
                        v.as_str(),
                        c.scheme.as_deref().unwrap_or(""),
                        &*c.term,
                    );
                    if let Some(first) = artefacts.insert(key, i) {
                        self.push(
                            FindingCode::EntryDuplicateArtefact,
                            loc.clone(),
                            format!("{id} {v} {} is also offered by entry {first}", c.term),
                        );
                    }
                }
            }
            self.entry(e, loc);
        }
        // Bare versions (`1.0.0`) repeat across different content items legitimately; the IG's
        // uniqueness rule presumes `url|version`, so only a repeated item is reported.
        let mut dup_items: Vec<_> = items.into_iter().filter(|(_, v)| v.len() > 1).collect();
        dup_items.sort_by_key(|(_, v)| v[0]);
        for ((_, version), idx) in dup_items {
            let first = idx[0];
            for &i in &idx[1..] {
                self.push(
                    FindingCode::EntryDuplicateVersion,
                    Location::entry(i, feed.entries[i].id.clone()),
                    format!("contentItemVersion {version} is also used by entry {first}"),
                );
            }
        }
        self.dependencies(feed);
    }

    fn entry(&mut self, e: &Entry, loc: Location) {
        if e.id.is_none() {
            self.push(
                FindingCode::EntryMissingId,
                loc.clone(),
                "entry has no id".into(),
            );
        }
        if e.title.is_none() {
            self.push(
                FindingCode::EntryMissingTitle,
                loc.clone(),
                "entry has no title".into(),
            )
        }
        match &e.updated {
            None => self.push(
                FindingCode::EntryMissingUpdated,
                loc.clone(),
                "entry has no updated".into(),
            ),
            Some(d) => self.date(d, "entry updated", loc.clone()),
        }
        match &e.published {
            None if self.profile == Profile::Preload => self.push(
                FindingCode::EntryMissingPublished,
                loc.clone(),
                "entry has no published; Ontoserver 6.24's preload needs it".into(),
            ),
            None => {}
            Some(d) => self.date(d, "entry published", loc.clone()),
        }
        for p in &e.authors {
            let nulls = [&p.name, &p.uri, &p.email]
                .iter()
                .any(|v| v.as_deref() == Some("null"));
            if nulls {
                self.push(
                    FindingCode::EntryAuthorNull,
                    loc.clone(),
                    "author holds the string 'null'".into(),
                );
            }
        }

        // Categories.
        if e.categories.is_empty() {
            self.push(
                FindingCode::EntryMissingCategory,
                loc.clone(),
                "entry has no category".into(),
            );
        } else {
            let mut registered = false;
            for c in &e.categories {
                if c.term.is_empty() {
                    self.push(
                        FindingCode::CategoryMissingTerm,
                        loc.clone(),
                        "category has no term".into(),
                    );
                }
                match &c.scheme {
                    None => self.push(
                        FindingCode::CategoryMissingScheme,
                        loc.clone(),
                        format!("category {} has no scheme", c.term),
                    ),
                    Some(s) => {
                        registered |= ContentType::scheme_is_registered(s);
                        if ContentType::scheme_is_bound(s)
                            && matches!(c.content_type(), ContentType::Other { .. })
                        {
                            self.push(
                                FindingCode::CategoryTermNotInScheme,
                                loc.clone(),
                                format!("term {} is not in the value set bound to {s}", c.term),
                            );
                        }
                    }
                }
            }
            if !registered {
                self.push(
                    FindingCode::EntryNoRegisteredScheme,
                    loc.clone(),
                    "no category uses a registered scheme".into(),
                );
            }
        }

        // Content item.
        if e.identifier.is_none() {
            self.push(
                FindingCode::EntryMissingIdentifier,
                loc.clone(),
                "entry has no ncts:contentItemIdentifier".into(),
            );
        }
        if e.version.is_none() {
            self.push(
                FindingCode::EntryMissingVersion,
                loc.clone(),
                "entry has no ncts:contentItemVersion".into(),
            );
        }
        self.duplicates(
            &e.extensions,
            ENTRY_SINGLES,
            NCTS_ENTRY_SINGLES,
            loc.clone(),
        );
        self.lookalikes(&e.extensions, loc.clone());
        if let Some(d) = &e.package_dependency {
            self.lookalikes(&d.extensions, loc.clone());
        }

        // FHIR.
        let retraction = e.is_retraction();
        let fhir = e.categories.iter().any(|c| c.term.starts_with("FHIR_"));
        if fhir && e.fhir_versions.is_empty() {
            self.push(
                FindingCode::EntryMissingFhirVersion,
                loc.clone(),
                "a FHIR_* entry has no ncts:fhirVersion".into(),
            );
        }
        for v in &e.fhir_versions {
            if !fhir_version_ok(v.as_str()) {
                self.push(
                    FindingCode::EntryFhirVersionMalformed,
                    loc.clone(),
                    format!("fhirVersion '{v}' is not major.minor[.patch] within 5 characters"),
                );
            }
        }
        if let (Some(h), Some(n)) = (
            e.crmi.as_ref().and_then(|c| c.fhir_version.as_ref()),
            e.fhir_versions.first(),
        ) && h != n.as_str()
        {
            self.push(
                FindingCode::CrmiFhirVersionMismatch,
                loc.clone(),
                format!("hl7:fhirVersion {h} differs from ncts:fhirVersion {n}"),
            );
        }
        if let Some(super::model::BundleInterpretation::Other(v)) = &e.bundle_interpretation {
            self.push(
                FindingCode::EntryBundleInterpretationInvalid,
                loc.clone(),
                format!("bundleInterpretation '{v}' is neither batch nor collection"),
            );
        }
        if fhir
            && !retraction
            && let (Some(id), Some(v)) = (&e.identifier, &e.version)
        {
            let aligned = v
                .as_str()
                .split_once('|')
                .is_some_and(|(url, _)| url == id.as_str());
            if !aligned {
                self.push(
                    FindingCode::EntryFhirAlignment,
                    loc.clone(),
                    format!("contentItemVersion '{v}' is not '{id}|<version>'"),
                );
            }
        }

        // Links.
        let has_alternate = e.alternate_link().is_some();
        if retraction {
            if has_alternate {
                self.push(
                    FindingCode::RetractHasAlternateLink,
                    loc.clone(),
                    "a retraction must not carry an alternate link".into(),
                );
            }
            if e.package_dependency.is_some()
                || e.bundle_interpretation.is_some()
                || !e.fhir_profiles.is_empty()
            {
                self.push(
                    FindingCode::RetractHasPackageMetadata,
                    loc.clone(),
                    "a retraction should not carry packageDependency, bundleInterpretation or fhirProfile".into(),
                );
            }
        } else if e.links.is_empty() {
            self.push(
                FindingCode::EntryMissingLink,
                loc.clone(),
                "entry has no link".into(),
            );
        } else if !has_alternate {
            self.push(
                FindingCode::EntryMissingAlternateLink,
                loc.clone(),
                "entry has no alternate link (RFC 4287 §4.1.2)".into(),
            );
        }
        if e.links.len() > 1 {
            self.push(
                FindingCode::EntryMultipleLinks,
                loc.clone(),
                format!(
                    "entry has {} links (NCTS CP 107 asks for one)",
                    e.links.len()
                ),
            );
        }
        for l in &e.links {
            self.link(l, loc.clone());
        }
    }

    fn link(&mut self, l: &Link, loc: Location) {
        if l.href.is_empty() {
            self.push(
                FindingCode::LinkMissingHref,
                loc.clone(),
                "link has no href".into(),
            );
        }
        if l.rel.is_none() {
            self.push(
                FindingCode::LinkMissingRel,
                loc.clone(),
                format!("link {} has no rel", l.href),
            );
        }
        if l.media_type.is_none() {
            self.push(
                FindingCode::LinkMissingType,
                loc.clone(),
                format!("link {} has no type", l.href),
            );
        }
        let artefact = matches!(l.effective_rel(), LinkRel::Alternate | LinkRel::Related);
        if artefact && l.sha256.is_none() && l.md5.is_none() {
            self.push(
                FindingCode::LinkMissingHash,
                loc.clone(),
                format!(
                    "link {} has neither ncts:sha256Hash nor sct:md5Hash",
                    l.href
                ),
            );
        }
        match &l.sha256 {
            Some(Checked::Malformed(raw)) => self.push(
                FindingCode::LinkSha256Malformed,
                loc.clone(),
                format!("sha256Hash '{raw}' is not 64 hex digits"),
            ),
            Some(Checked::Valid(h)) if !h.is_canonical() => self.push(
                FindingCode::LinkHashNotLowercase,
                loc.clone(),
                format!("sha256Hash '{h}' is not lower case"),
            ),
            _ => {}
        }
        match &l.md5 {
            Some(Checked::Malformed(raw)) => self.push(
                FindingCode::LinkMd5Malformed,
                loc.clone(),
                format!("md5Hash '{raw}' is not 32 hex digits"),
            ),
            Some(Checked::Valid(h)) if !h.is_canonical() => self.push(
                FindingCode::LinkHashNotLowercase,
                loc.clone(),
                format!("md5Hash '{h}' is not lower case"),
            ),
            _ => {}
        }
        if let Some(Checked::Malformed(raw)) = &l.length {
            self.push(
                FindingCode::LinkLengthMalformed,
                loc.clone(),
                format!("length '{raw}' is not a non-negative integer"),
            );
        }
        if let Some(Checked::Malformed(raw)) = l.validated.as_ref() {
            self.push(
                FindingCode::LinkValidatedMalformed,
                loc,
                format!("onto:validated '{raw}' is not a boolean"),
            );
        }
    }

    fn date(&mut self, d: &Checked<super::values::AtomDate>, what: &str, loc: Location) {
        match d {
            Checked::Malformed(raw) => self.push(
                FindingCode::DateMalformed,
                loc,
                format!("{what} '{raw}' is not a date"),
            ),
            Checked::Valid(d) => match d.value() {
                DateValue::Instant(_) => {}
                DateValue::Floating(_) => self.push(
                    FindingCode::DateMissingOffset,
                    loc,
                    format!("{what} '{d}' has no offset; read as UTC"),
                ),
                DateValue::DateOnly(_) => self.push(
                    FindingCode::DateMissingTime,
                    loc,
                    format!("{what} '{d}' has no time; read as midnight UTC"),
                ),
            },
        }
    }

    /// Repeats of single-valued elements end up among the extensions.
    fn duplicates(&mut self, ext: &[Element], atom: &[&str], ncts_names: &[&str], loc: Location) {
        for x in ext {
            let ns = x.name.namespace.as_deref();
            let single = (ns == Some(ns::ATOM) && atom.contains(&x.name.local.as_str()))
                || (matches!(ns, Some(ns::NCTS) | Some(ns::NCTS_LEGACY))
                    && (ncts_names.contains(&x.name.local.as_str())
                        || (self.strict() && x.name.local == "atomSyndicationFormatProfile")));
            if single {
                self.push(
                    FindingCode::DuplicateElement,
                    loc.clone(),
                    format!(
                        "<{}> appears more than once; the repeat is kept as foreign markup",
                        x.name.local
                    ),
                );
            }
        }
    }

    /// Foreign elements that look like extension elements: unknown names in an extension
    /// namespace, or extension names in an unknown namespace.
    fn lookalikes(&mut self, ext: &[Element], loc: Location) {
        for x in ext {
            let local = x.name.local.as_str();
            match x.name.namespace.as_deref() {
                Some(ns::NCTS | ns::NCTS_LEGACY | ns::SCT | ns::ONTO | ns::HL7) => {
                    // Repeats of known single-valued elements are reported as duplicates.
                    if !EXTENSION_NAMES.contains(&local) {
                        self.push(
                            FindingCode::ExtensionUnknownElement,
                            loc.clone(),
                            format!(
                                "<{}> is not an element of its extension; kept as foreign markup",
                                x.name
                            ),
                        );
                    }
                }
                Some(ns::ATOM) => {}
                other => {
                    if EXTENSION_NAMES.contains(&local) {
                        self.push(
                            FindingCode::ExtensionWrongNamespace,
                            loc.clone(),
                            format!(
                                "<{local}> is in namespace '{}', not its extension's; kept as foreign markup",
                                other.unwrap_or("")
                            ),
                        );
                    }
                }
            }
        }
    }

    fn dependencies(&mut self, feed: &Feed) {
        let offered: HashSet<&str> = feed
            .entries
            .iter()
            .filter_map(|e| e.version.as_ref().map(|v| v.as_str()))
            .collect();
        let mut graph: HashMap<&str, Vec<&str>> = HashMap::new();
        for (i, e) in feed.entries.iter().enumerate() {
            let Some(d) = &e.package_dependency else {
                continue;
            };
            let loc = || Location::entry(i, e.id.clone());
            if d.editions.is_empty() && d.derivatives.is_empty() {
                self.push(
                    FindingCode::DependencyEmpty,
                    loc(),
                    "sct:packageDependency is empty".into(),
                );
            }
            for dep in d.all() {
                if !snomed_version_uri(dep) {
                    self.push(
                        FindingCode::DependencyMalformed,
                        loc(),
                        format!("dependency '{dep}' is not http://snomed.info/sct/<module>/version/<YYYYMMDD>"),
                    );
                } else if !offered.contains(dep) {
                    self.push(
                        FindingCode::DependencyNotInFeed,
                        loc(),
                        format!("dependency {dep} is not offered by this feed"),
                    );
                }
                if let Some(v) = &e.version {
                    graph.entry(v.as_str()).or_default().push(dep.trim());
                }
            }
        }
        if let Some(cycle) = find_cycle(&graph) {
            self.push(
                FindingCode::DependencyCycle,
                Location::feed(),
                format!("package dependencies form a cycle: {}", cycle.join(" → ")),
            );
        }
    }
}

fn fhir_version_ok(v: &str) -> bool {
    let parts: Vec<&str> = v.split('.').collect();
    v.len() <= 5
        && (parts.len() == 2 || parts.len() == 3)
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `^http://snomed\.info/x?sct/\d+/version/\d{8}$`
fn snomed_version_uri(s: &str) -> bool {
    let Some(rest) = s
        .strip_prefix("http://snomed.info/sct/")
        .or_else(|| s.strip_prefix("http://snomed.info/xsct/"))
    else {
        return false;
    };
    let Some((module, date)) = rest.split_once("/version/") else {
        return false;
    };
    !module.is_empty()
        && module.bytes().all(|b| b.is_ascii_digit())
        && date.len() == 8
        && date.bytes().all(|b| b.is_ascii_digit())
}

fn find_cycle<'a>(graph: &HashMap<&'a str, Vec<&'a str>>) -> Option<Vec<&'a str>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        Active,
        Done,
    }
    let mut marks: HashMap<&str, Mark> = HashMap::new();
    let mut roots: Vec<&str> = graph.keys().copied().collect();
    roots.sort_unstable();
    for root in roots {
        if marks.contains_key(root) {
            continue;
        }
        // Iterative depth-first search; the path is the chain of active nodes.
        let mut path: Vec<(&str, usize)> = vec![(root, 0)];
        marks.insert(root, Mark::Active);
        while let Some((node, next)) = path.last().copied() {
            let children = graph.get(node).map(Vec::as_slice).unwrap_or(&[]);
            if next < children.len() {
                if let Some(top) = path.last_mut() {
                    top.1 += 1;
                }
                let child = children[next];
                match marks.get(child) {
                    Some(Mark::Active) => {
                        let start = path.iter().position(|(n, _)| *n == child).unwrap_or(0);
                        let mut cycle: Vec<&str> = path[start..].iter().map(|(n, _)| *n).collect();
                        cycle.push(child);
                        return Some(cycle);
                    }
                    Some(Mark::Done) => {}
                    None => {
                        marks.insert(child, Mark::Active);
                        path.push((child, 0));
                    }
                }
            } else {
                marks.insert(node, Mark::Done);
                path.pop();
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_versions() {
        assert!(fhir_version_ok("4.0"));
        assert!(fhir_version_ok("4.0.1"));
        assert!(!fhir_version_ok("4"));
        assert!(!fhir_version_ok("4.0.10"));
        assert!(!fhir_version_ok("R4"));
    }

    #[test]
    fn snomed_dependency_uris() {
        assert!(snomed_version_uri(
            "http://snomed.info/sct/900000000000207008/version/20220731"
        ));
        assert!(snomed_version_uri(
            "http://snomed.info/xsct/1/version/20220731"
        ));
        assert!(!snomed_version_uri(
            "http://snomed.info/sct/816211006/version/20220131 "
        ));
        assert!(!snomed_version_uri(""));
    }

    #[test]
    fn cycles_are_found() {
        let mut g: HashMap<&str, Vec<&str>> = HashMap::new();
        g.insert("a", vec!["b"]);
        g.insert("b", vec!["c"]);
        g.insert("c", vec!["a"]);
        let cycle = find_cycle(&g).expect("a → b → c → a is a cycle");
        assert_eq!(cycle.first(), cycle.last());
        g.insert("c", vec![]);
        assert_eq!(find_cycle(&g), None);
    }
}
