//! The validator: the checklist of FEED-FORMAT §15, graded by [`Profile`].

use std::collections::HashMap;

use crate::feed::finding::{Finding, FindingCode, Location, Profile};
use crate::feed::model::{Feed, LinkRel};
use crate::feed::ns;
use crate::feed::read::ReadOutcome;
use crate::feed::values::Checked;

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
}

mod entry;
mod packages;

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::entry::{fhir_version_ok, snomed_version_uri};
    use super::packages::find_cycle;

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
