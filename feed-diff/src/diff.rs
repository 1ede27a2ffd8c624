//! The diff of a deployed feed and a candidate feed.

use std::collections::{HashMap, HashSet};
use std::fmt;

use release_model::feed::{AtomId, Checked, ContentItemVersion, ContentType, Entry, Feed, Link};

use crate::model::{
    Change, EntryRef, FeedDiff, Hazard, Moved, Retracted, Side, Updated, VersionChange,
    primary_category,
};
use crate::version::{Version, VersionOrder};

/// The composite artefact key of FEED-FORMAT §8: real feeds repeat identifier and version
/// across FULL, SNAPSHOT and ALL packages and the binary index, so the category is part of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct ArtefactKey<'a> {
    identifier: &'a str,
    version: &'a str,
    scheme: &'a str,
    term: &'a str,
}

fn artefact_key(entry: &Entry) -> Option<ArtefactKey<'_>> {
    let (scheme, term) = primary_category(entry)?;
    Some(ArtefactKey {
        identifier: entry.identifier.as_ref()?.trimmed(),
        version: entry.version.as_ref()?.trimmed(),
        scheme: scheme.unwrap_or(""),
        term,
    })
}

fn entry_key(entry: &Entry) -> Option<&str> {
    entry
        .id
        .as_ref()
        .map(|i| i.trimmed())
        .filter(|i| !i.is_empty())
}

/// Computes what changes when `candidate` replaces `deployed`.
///
/// Entries are matched on `atom:id`, then, for entries whose id is new, on the artefact key
/// (identifier, version, category scheme and term): the same artefact under a new id is
/// *moved*, not removed and added. Document order never matters.
///
/// ```
/// use feed_diff::diff;
/// use release_model::feed::Feed;
///
/// let old = Feed::from_slice(include_bytes!("../tests/data/deployed.xml"))?;
/// let new = Feed::from_slice(include_bytes!("../tests/data/candidate-additive.xml"))?;
/// let d = diff(&old, &new);
/// assert!(d.is_additive());
/// assert_eq!(d.added.len(), 1);
/// # Ok::<(), release_model::Error>(())
/// ```
pub fn diff(deployed: &Feed, candidate: &Feed) -> FeedDiff {
    let mut out = FeedDiff::default();
    // Every deployed entry under each id, in order: entries that share an id (a hazard of
    // its own) are matched one to one, so a feed never differs from itself.
    let mut by_id: HashMap<&str, Vec<usize>> = HashMap::with_capacity(deployed.entries.len());
    for (i, e) in deployed.entries.iter().enumerate() {
        if let Some(id) = entry_key(e) {
            by_id.entry(id).or_default().push(i);
        }
    }
    let dup_ids: HashMap<&str, Vec<usize>> = by_id
        .iter()
        .filter(|(_, v)| v.len() > 1)
        .map(|(k, v)| (*k, v.clone()))
        .collect();
    duplicate_hazards(&mut out, Side::Deployed, dup_ids, deployed);

    let mut matched = vec![false; deployed.entries.len()];
    let mut unmatched_candidates = Vec::new();
    let mut candidate_ids: HashSet<&str> = HashSet::with_capacity(candidate.entries.len());
    let mut dup_candidate: HashMap<&str, Vec<usize>> = HashMap::new();
    for (ci, c) in candidate.entries.iter().enumerate() {
        let id = entry_key(c);
        if let Some(id) = id
            && !candidate_ids.insert(id)
        {
            let first = candidate
                .entries
                .iter()
                .position(|e| entry_key(e) == Some(id))
                .unwrap_or(ci);
            dup_candidate
                .entry(id)
                .or_insert_with(|| vec![first])
                .push(ci);
        }
        let hit = id.and_then(|id| by_id.get(id)).and_then(|candidates| {
            // The same entry id carrying another artefact is a different artefact.
            candidates
                .iter()
                .copied()
                .find(|&di| !matched[di] && artefact_key(&deployed.entries[di]) == artefact_key(c))
        });
        match hit {
            Some(di) => {
                matched[di] = true;
                compare(&mut out, &deployed.entries[di], c, ci, None);
            }
            None => unmatched_candidates.push(ci),
        }
    }
    duplicate_hazards(&mut out, Side::Candidate, dup_candidate, candidate);

    // Second pass, only over what the ids left unmatched: the artefact key.
    let mut by_artefact: HashMap<ArtefactKey<'_>, usize> = HashMap::new();
    for (di, e) in deployed.entries.iter().enumerate() {
        if !matched[di]
            && !e.is_retraction()
            && let Some(k) = artefact_key(e)
        {
            by_artefact.entry(k).or_insert(di);
        }
    }
    let mut retractions = Vec::new();
    for ci in unmatched_candidates {
        let c = &candidate.entries[ci];
        if c.is_retraction() {
            retractions.push(ci);
            continue;
        }
        let hit = artefact_key(c)
            .and_then(|k| by_artefact.get(&k))
            .copied()
            .filter(|&di| !matched[di]);
        match hit {
            Some(di) => {
                matched[di] = true;
                let d = &deployed.entries[di];
                compare(&mut out, d, c, ci, Some(d.id.clone()));
            }
            None => out.added.push(EntryRef::of(c, ci)),
        }
    }

    // Retractions target an identifier and version, whatever the entry id.
    let mut retracted_targets: HashSet<usize> = HashSet::new();
    let mut by_item: HashMap<(&str, &str), Vec<usize>> = HashMap::new();
    if !retractions.is_empty() {
        for (di, d) in deployed.entries.iter().enumerate() {
            if let (Some(i), Some(v), false) = (&d.identifier, &d.version, d.is_retraction()) {
                by_item
                    .entry((i.trimmed(), v.trimmed()))
                    .or_default()
                    .push(di);
            }
        }
    }
    for ci in retractions {
        let c = &candidate.entries[ci];
        let item = c
            .identifier
            .as_ref()
            .zip(c.version.as_ref())
            .map(|(i, v)| (i.trimmed(), v.trimmed()));
        let targets: Vec<EntryRef> = item
            .and_then(|k| by_item.get(&k))
            .into_iter()
            .flatten()
            .copied()
            .filter(|&di| retraction_targets(c, &deployed.entries[di]))
            .map(|di| {
                retracted_targets.insert(di);
                EntryRef::of(&deployed.entries[di], di)
            })
            .collect();
        let r = Retracted {
            entry: EntryRef::of(c, ci),
            targets,
        };
        if r.targets.is_empty() {
            out.noop_retractions.push(r);
        } else {
            out.retracted.push(r);
        }
    }

    for (di, d) in deployed.entries.iter().enumerate() {
        if matched[di] || retracted_targets.contains(&di) {
            continue;
        }
        // A deployed retraction that the candidate no longer carries removes nothing.
        if d.is_retraction() {
            continue;
        }
        let r = EntryRef::of(d, di);
        out.hazards.push(Hazard::Vanished { entry: r.clone() });
        out.removed.push(r);
    }

    duplicate_artefacts(&mut out, Side::Deployed, deployed);
    duplicate_artefacts(&mut out, Side::Candidate, candidate);
    missing_dependencies(&mut out, candidate);
    version_changes(&mut out, deployed);
    out
}

fn retraction_targets(retraction: &Entry, deployed: &Entry) -> bool {
    let same_item = retraction.identifier.as_ref().map(|i| i.trimmed())
        == deployed.identifier.as_ref().map(|i| i.trimmed())
        && retraction.version.as_ref().map(|v| v.trimmed())
            == deployed.version.as_ref().map(|v| v.trimmed())
        && retraction.identifier.is_some();
    if !same_item {
        return false;
    }
    // A typed retraction withdraws only its own kind of content; BINARY_RETRACT withdraws
    // binary indexes.
    match retraction.content_type() {
        Some(ContentType::BinaryRetract) => {
            deployed.content_type().is_some_and(|t| t.is_binary_index())
        }
        Some(t) => match t.retracted() {
            Some(kind) => deployed.content_type().as_ref() == Some(&kind),
            None => true,
        },
        None => true,
    }
}

fn compare(
    out: &mut FeedDiff,
    d: &Entry,
    c: &Entry,
    ci: usize,
    moved_from: Option<Option<AtomId>>,
) {
    let changes = if d == c { Vec::new() } else { changes(d, c) };
    let entry = EntryRef::of(c, ci);
    let bytes: Vec<Change> = changes
        .iter()
        .filter(|x| x.changes_artefact())
        .cloned()
        .collect();
    if !bytes.is_empty() {
        out.hazards.push(Hazard::SameVersionChanged {
            entry: entry.clone(),
            changes: bytes,
        });
    }
    match moved_from {
        Some(from_entry_id) => out.moved.push(Moved {
            entry,
            from_entry_id,
            changes,
        }),
        None if changes.is_empty() => out.unchanged.push(entry),
        None if relocated_only(d, c, &changes) => out.relocated.push(Updated { entry, changes }),
        None => out.updated.push(Updated { entry, changes }),
    }
}

/// Whether the changes only move where the artefacts are served: hrefs (the primary link's,
/// and related links' one for one) changed while the primary artefact keeps its SHA-256 and
/// length, and nothing else changed.
fn relocated_only(d: &Entry, c: &Entry, changes: &[Change]) -> bool {
    let same_bytes = match (primary_link(d), primary_link(c)) {
        (Some(dl), Some(cl)) => {
            let sha = |l: &Link| raw(&l.sha256).map(|h| h.to_ascii_lowercase());
            sha(dl).is_some() && sha(dl) == sha(cl) && raw(&dl.length) == raw(&cl.length)
        }
        _ => false,
    };
    same_bytes
        && changes.iter().all(|x| match x {
            Change::Href { .. } => true,
            Change::RelatedLinks { removed, added } => removed.len() == added.len(),
            _ => false,
        })
}

fn raw<T: fmt::Display>(c: &Option<Checked<T>>) -> Option<String> {
    c.as_ref().map(|v| match v {
        Checked::Valid(x) => x.to_string(),
        Checked::Malformed(r) => r.clone(),
    })
}

fn primary_link(e: &Entry) -> Option<&Link> {
    e.alternate_link()
}

fn changes(d: &Entry, c: &Entry) -> Vec<Change> {
    let mut out = Vec::new();
    let (du, cu) = (raw(&d.updated), raw(&c.updated));
    if du != cu {
        out.push(Change::Updated { from: du, to: cu });
    }
    let (dl, cl) = (primary_link(d), primary_link(c));
    let href = |l: Option<&Link>| l.map(|l| l.href.clone());
    if href(dl) != href(cl) {
        out.push(Change::Href {
            from: href(dl),
            to: href(cl),
        });
    }
    let length = |l: Option<&Link>| l.and_then(|l| raw(&l.length));
    if length(dl) != length(cl) {
        out.push(Change::Length {
            from: length(dl),
            to: length(cl),
        });
    }
    let sha = |l: Option<&Link>| l.and_then(|l| raw(&l.sha256).map(|h| h.to_ascii_lowercase()));
    if sha(dl) != sha(cl) {
        out.push(Change::Sha256 {
            from: sha(dl),
            to: sha(cl),
        });
    }
    let md5 = |l: Option<&Link>| l.and_then(|l| raw(&l.md5).map(|h| h.to_ascii_lowercase()));
    // MD5 is legacy: a change only matters when there is no SHA-256 to go by.
    if md5(dl) != md5(cl) && (sha(dl).is_none() || sha(cl).is_none()) {
        out.push(Change::Md5 {
            from: md5(dl),
            to: md5(cl),
        });
    }
    let related = |e: &Entry| -> Vec<String> {
        let mut v: Vec<String> = e
            .links
            .iter()
            .filter(|l| !l.is_alternate())
            .map(|l| l.href.clone())
            .collect();
        v.sort();
        v
    };
    let (dr, cr) = (related(d), related(c));
    if dr != cr {
        out.push(Change::RelatedLinks {
            removed: dr.iter().filter(|h| !cr.contains(h)).cloned().collect(),
            added: cr.iter().filter(|h| !dr.contains(h)).cloned().collect(),
        });
    }
    let cats = |e: &Entry| -> Vec<String> {
        let mut v: Vec<String> = e
            .categories
            .iter()
            .map(|c| format!("{}#{}", c.scheme.as_deref().unwrap_or(""), c.term))
            .collect();
        v.sort();
        v
    };
    if cats(d) != cats(c) {
        out.push(Change::Categories {
            from: cats(d),
            to: cats(c),
        });
    }
    let perms = |e: &Entry| -> Vec<String> {
        let mut v: Vec<String> = e
            .permissions
            .iter()
            .map(|p| p.as_str().to_owned())
            .collect();
        v.sort();
        v
    };
    let (dp, cp) = (perms(d), perms(c));
    if dp != cp {
        out.push(Change::Permissions {
            removed: dp.iter().filter(|p| !cp.contains(p)).cloned().collect(),
            added: cp.iter().filter(|p| !dp.contains(p)).cloned().collect(),
        });
    }
    let deps = |e: &Entry| -> Vec<String> {
        let mut v: Vec<String> = e
            .package_dependency
            .iter()
            .flat_map(|p| p.all().map(|s| s.trim().to_owned()))
            .collect();
        v.sort();
        v
    };
    if deps(d) != deps(c) {
        out.push(Change::Dependencies {
            from: deps(d),
            to: deps(c),
        });
    }
    if out.is_empty() || metadata_differs(d, c) {
        out.push(Change::Metadata);
    }
    out
}

/// Whether anything not covered by a typed change differs.
fn metadata_differs(d: &Entry, c: &Entry) -> bool {
    d.title != c.title
        || d.summary != c.summary
        || d.rights != c.rights
        || d.published != c.published
        || d.authors != c.authors
        || d.fhir_versions != c.fhir_versions
        || d.fhir_profiles != c.fhir_profiles
        || d.bundle_interpretation != c.bundle_interpretation
        || d.sct_base_version != c.sct_base_version
        || d.crmi != c.crmi
        || d.source != c.source
        || d.extensions != c.extensions
        || d.attributes != c.attributes
        || d.contributors != c.contributors
}

fn duplicate_hazards(out: &mut FeedDiff, side: Side, dups: HashMap<&str, Vec<usize>>, feed: &Feed) {
    let mut dups: Vec<_> = dups.into_iter().collect();
    dups.sort_by_key(|(_, v)| v[0]);
    for (key, idx) in dups {
        let entries = idx
            .iter()
            .map(|&i| EntryRef::of(&feed.entries[i], i))
            .collect();
        out.hazards.push(Hazard::DuplicateKey {
            side,
            key: key.to_owned(),
            entries,
        });
    }
}

/// Two entries of one feed offering the same artefact (identifier, version, scheme, term)
/// under different ids: one of them will be matched arbitrarily.
fn duplicate_artefacts(out: &mut FeedDiff, side: Side, feed: &Feed) {
    let mut first: HashMap<ArtefactKey<'_>, usize> = HashMap::with_capacity(feed.entries.len());
    let mut dups: HashMap<ArtefactKey<'_>, Vec<usize>> = HashMap::new();
    for (i, e) in feed.entries.iter().enumerate() {
        let Some(k) = artefact_key(e) else { continue };
        match first.get(&k) {
            None => {
                first.insert(k, i);
            }
            Some(&f) => {
                // Entries repeated under one id are reported as duplicate ids already.
                if entry_key(&feed.entries[f]) == entry_key(e) {
                    continue;
                }
                dups.entry(k).or_insert_with(|| vec![f]).push(i);
            }
        }
    }
    let mut dups: Vec<_> = dups.into_iter().collect();
    dups.sort_by_key(|(_, idx)| idx[0]);
    for (k, idx) in dups {
        let entries = idx
            .iter()
            .map(|&i| EntryRef::of(&feed.entries[i], i))
            .collect();
        let key = format!("{} {} {}#{}", k.identifier, k.version, k.scheme, k.term);
        out.hazards
            .push(Hazard::DuplicateKey { side, key, entries });
    }
}

fn missing_dependencies(out: &mut FeedDiff, candidate: &Feed) {
    let offered: HashSet<&str> = candidate
        .entries
        .iter()
        .filter_map(|e| e.version.as_ref().map(|v| v.trimmed()))
        .collect();
    for (ci, c) in candidate.entries.iter().enumerate() {
        let Some(deps) = &c.package_dependency else {
            continue;
        };
        for dep in deps.all().map(str::trim).filter(|d| !d.is_empty()) {
            if !offered.contains(dep) {
                out.hazards.push(Hazard::MissingDependency {
                    entry: EntryRef::of(c, ci),
                    dependency: dep.to_owned(),
                });
            }
        }
    }
}

fn version_changes(out: &mut FeedDiff, deployed: &Feed) {
    if out.added.is_empty() {
        return;
    }
    let wanted: HashSet<&str> = out
        .added
        .iter()
        .filter_map(|a| a.identifier.as_ref().map(|i| i.trimmed()))
        .collect();
    // The newest deployed version of each identifier a new version arrives for; a version in
    // another format than the first one seen is skipped rather than compared as a string.
    let mut latest: HashMap<&str, (&ContentItemVersion, Version)> = HashMap::new();
    for e in &deployed.entries {
        let (Some(i), Some(v)) = (&e.identifier, &e.version) else {
            continue;
        };
        if !wanted.contains(i.trimmed()) {
            continue;
        }
        let parsed = Version::parse(v.as_str());
        match latest.get_mut(i.trimmed()) {
            None => {
                latest.insert(i.trimmed(), (v, parsed));
            }
            Some(slot) => {
                if parsed.compare(&slot.1) == VersionOrder::Newer {
                    *slot = (v, parsed);
                }
            }
        }
    }
    let mut seen = HashSet::new();
    for a in &out.added {
        let (Some(id), Some(to)) = (&a.identifier, &a.version) else {
            continue;
        };
        let Some((from, from_parsed)) = latest.get(id.trimmed()) else {
            continue;
        };
        if *from == to || !seen.insert((id.trimmed(), to.trimmed())) {
            continue;
        }
        out.version_changes.push(VersionChange {
            identifier: id.clone(),
            from: (*from).clone(),
            to: to.clone(),
            order: Version::parse(to.as_str()).compare(from_parsed),
        });
    }
}
