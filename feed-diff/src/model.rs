//! What a diff reports: the entries added, removed, updated, moved and retracted, the
//! hazards, and their JSON form.

use std::fmt;

use release_model::delta::{Delta, DeltaItem, HazardKind};
use release_model::feed::{AtomId, ContentItemIdentifier, ContentItemVersion, ContentType, Entry};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::version::VersionOrder;

/// An entry as the diff reports it: its entry id and the artefact it carries.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct EntryRef {
    /// `ncts:contentItemIdentifier`.
    pub identifier: Option<ContentItemIdentifier>,
    /// `ncts:contentItemVersion`.
    pub version: Option<ContentItemVersion>,
    /// The primary category's term.
    pub term: Option<String>,
    /// The primary category's scheme.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheme: Option<String>,
    /// The entry's `atom:id`.
    pub entry_id: Option<AtomId>,
    /// The entry's index in its feed.
    pub index: usize,
}

impl EntryRef {
    pub(crate) fn of(entry: &Entry, index: usize) -> Self {
        let (scheme, term) = match primary_category(entry) {
            Some((s, t)) => (s.map(str::to_owned), Some(t.to_owned())),
            None => (None, None),
        };
        Self {
            identifier: entry.identifier.clone(),
            version: entry.version.clone(),
            term,
            scheme,
            entry_id: entry.id.clone(),
            index,
        }
    }

    fn content_type(&self) -> ContentType {
        ContentType::from_category(self.scheme.as_deref(), self.term.as_deref().unwrap_or(""))
    }

    /// The delta item for this artefact, when it names a content item.
    pub fn delta_item(&self) -> Option<DeltaItem> {
        Some(DeltaItem::new(
            self.identifier.clone()?,
            self.version.clone()?,
            self.content_type(),
            self.entry_id.clone(),
        ))
    }
}

impl fmt::Display for EntryRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = |o: Option<&str>| o.unwrap_or("-").to_owned();
        write!(
            f,
            "{} {} {} [{}]",
            s(self.identifier.as_ref().map(|i| i.as_str())),
            s(self.version.as_ref().map(|v| v.as_str())),
            s(self.term.as_deref()),
            s(self.entry_id.as_ref().map(|i| i.as_str())),
        )
    }
}

/// The category that names what an entry carries: the first in a recognised scheme, else the
/// first.
pub(crate) fn primary_category(entry: &Entry) -> Option<(Option<&str>, &str)> {
    let first = entry.categories.first()?;
    let chosen = entry
        .categories
        .iter()
        .find(|c| {
            c.scheme
                .as_deref()
                .is_some_and(ContentType::scheme_is_registered)
        })
        .unwrap_or(first);
    Some((chosen.scheme.as_deref(), &chosen.term))
}

/// One thing that differs between two entries for the same artefact.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "field", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Change {
    /// `updated` moved.
    Updated {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// The primary (alternate) link's URL.
    Href {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// The primary link's `length`.
    Length {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// The primary link's SHA-256.
    Sha256 {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// The primary link's MD5.
    Md5 {
        /// Before.
        from: Option<String>,
        /// After.
        to: Option<String>,
    },
    /// Ancillary (non-primary) links.
    RelatedLinks {
        /// URLs no longer linked.
        removed: Vec<String>,
        /// URLs newly linked.
        added: Vec<String>,
    },
    /// Categories (scheme and term).
    Categories {
        /// Before.
        from: Vec<String>,
        /// After.
        to: Vec<String>,
    },
    /// `onto:permission` codes.
    Permissions {
        /// Codes no longer required.
        removed: Vec<String>,
        /// Codes newly required.
        added: Vec<String>,
    },
    /// SNOMED CT package dependencies.
    Dependencies {
        /// Before.
        from: Vec<String>,
        /// After.
        to: Vec<String>,
    },
    /// Anything else in the entry (title, summary, rights, FHIR metadata, foreign markup).
    Metadata,
}

impl Change {
    /// Whether the change is to the artefact's bytes (hash or length), not to its description.
    pub fn changes_artefact(&self) -> bool {
        matches!(
            self,
            Change::Length { .. } | Change::Sha256 { .. } | Change::Md5 { .. }
        )
    }
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".into());
        match self {
            Change::Updated { from, to } => write!(f, "updated {} → {}", o(from), o(to)),
            Change::Href { from, to } => write!(f, "href {} → {}", o(from), o(to)),
            Change::Length { from, to } => write!(f, "length {} → {}", o(from), o(to)),
            Change::Sha256 { from, to } => write!(f, "sha256 {} → {}", o(from), o(to)),
            Change::Md5 { from, to } => write!(f, "md5 {} → {}", o(from), o(to)),
            Change::RelatedLinks { removed, added } => {
                write!(
                    f,
                    "related links -[{}] +[{}]",
                    removed.join(", "),
                    added.join(", ")
                )
            }
            Change::Categories { from, to } => {
                write!(f, "categories [{}] → [{}]", from.join(", "), to.join(", "))
            }
            Change::Permissions { removed, added } => {
                write!(
                    f,
                    "permissions -[{}] +[{}]",
                    removed.join(", "),
                    added.join(", ")
                )
            }
            Change::Dependencies { from, to } => {
                write!(
                    f,
                    "dependencies [{}] → [{}]",
                    from.join(", "),
                    to.join(", ")
                )
            }
            Change::Metadata => f.write_str("metadata"),
        }
    }
}

/// An artefact whose entry changed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Updated {
    /// The candidate's entry.
    #[serde(flatten)]
    pub entry: EntryRef,
    /// What changed.
    pub changes: Vec<Change>,
}

/// The same artefact offered under a new entry id.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Moved {
    /// The candidate's entry.
    #[serde(flatten)]
    pub entry: EntryRef,
    /// The deployed entry's id.
    pub from_entry_id: Option<AtomId>,
    /// What else changed.
    pub changes: Vec<Change>,
}

/// A retraction in the candidate.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Retracted {
    /// The retraction entry.
    #[serde(flatten)]
    pub entry: EntryRef,
    /// The deployed entries it withdraws (empty: it retracts something never offered, which
    /// consumers ignore).
    pub targets: Vec<EntryRef>,
}

/// Which feed a finding is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Side {
    /// The deployed feed.
    Deployed,
    /// The candidate feed.
    Candidate,
}

/// Something about a release an operator must know before pressing the button.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Hazard {
    /// The same identifier and version republished with different bytes. A terminology server
    /// keeps the resource it has unless the new one's `date` is later, so a preload will not
    /// apply it: delete it first, or rebuild.
    SameVersionChanged {
        /// The candidate's entry.
        #[serde(flatten)]
        entry: EntryRef,
        /// The changes to the bytes.
        changes: Vec<Change>,
    },
    /// An entry the deployed feed offers and the candidate neither offers nor retracts: no
    /// longer offered, and a preload will not remove it.
    Vanished {
        /// The deployed entry.
        #[serde(flatten)]
        entry: EntryRef,
    },
    /// A SNOMED CT package depends on a version the candidate does not offer.
    MissingDependency {
        /// The dependent entry.
        #[serde(flatten)]
        entry: EntryRef,
        /// The missing dependency.
        dependency: String,
    },
    /// Two entries of one feed share a key, so matching them is ambiguous.
    DuplicateKey {
        /// Which feed.
        side: Side,
        /// The shared key.
        key: String,
        /// The entries sharing it.
        entries: Vec<EntryRef>,
    },
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hazard::SameVersionChanged { entry, changes } => {
                let c: Vec<String> = changes.iter().map(ToString::to_string).collect();
                write!(
                    f,
                    "same version republished with different bytes ({}): {entry}; a preload will not apply it",
                    c.join("; ")
                )
            }
            Hazard::Vanished { entry } => write!(
                f,
                "no longer offered (not retracted): {entry}; a preload will not remove it"
            ),
            Hazard::MissingDependency { entry, dependency } => {
                write!(
                    f,
                    "dependency {dependency} of {entry} is not in the candidate"
                )
            }
            Hazard::DuplicateKey { side, key, entries } => {
                let side = match side {
                    Side::Deployed => "deployed",
                    Side::Candidate => "candidate",
                };
                write!(f, "{} {side} entries share the key {key}", entries.len())
            }
        }
    }
}

/// A new version of a content item the deployed feed offers in another version, compared with
/// the newest deployed version.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct VersionChange {
    /// The content item.
    pub identifier: ContentItemIdentifier,
    /// The deployed version.
    pub from: ContentItemVersion,
    /// The candidate version.
    pub to: ContentItemVersion,
    /// How the candidate version compares with the deployed one (`older` is a downgrade).
    pub order: VersionOrder,
}

/// What changed between a deployed feed and a candidate. Its JSON form adds `additive`
/// (from [`is_additive`](Self::is_additive)), which reading ignores.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct FeedDiff {
    /// Entries offering artefacts the deployed feed does not.
    pub added: Vec<EntryRef>,
    /// Deployed entries the candidate no longer offers and does not retract.
    pub removed: Vec<EntryRef>,
    /// Entries for the same artefact that changed.
    pub updated: Vec<Updated>,
    /// Entries whose artefact is served from a new URL with the same bytes (the same SHA-256
    /// and length on both sides), and nothing else changed: a syndication server's snapshot
    /// rewrites every href to point at itself. A relocation, not an update: the planner
    /// counts these as carried over unchanged.
    pub relocated: Vec<Updated>,
    /// Entries the same in both feeds.
    pub unchanged: Vec<EntryRef>,
    /// The same artefact under a new entry id.
    pub moved: Vec<Moved>,
    /// Candidate retractions of artefacts the deployed feed has.
    pub retracted: Vec<Retracted>,
    /// Candidate retractions of artefacts the deployed feed never offered: harmless no-ops.
    pub noop_retractions: Vec<Retracted>,
    /// Hazards.
    pub hazards: Vec<Hazard>,
    /// New versions of content items that the deployed feed offers in another version, each
    /// against the newest deployed one.
    pub version_changes: Vec<VersionChange>,
}

impl FeedDiff {
    /// Whether a redo of the preload applies the candidate: nothing removed, nothing
    /// retracted, no artefact replaced under the same version.
    pub fn is_additive(&self) -> bool {
        self.removed.is_empty()
            && self.retracted.is_empty()
            && !self
                .hazards
                .iter()
                .any(|h| matches!(h, Hazard::SameVersionChanged { .. }))
    }

    /// Whether the feeds offer the same entries in the same way.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.removed.is_empty()
            && self.updated.is_empty()
            && self.relocated.is_empty()
            && self.moved.is_empty()
            && self.retracted.is_empty()
            && self.noop_retractions.is_empty()
    }

    /// The planner's view of the diff. Entries that name no content item (no identifier or
    /// version) cannot be loaded or deleted by content and are left out.
    pub fn to_delta(&self) -> Delta {
        let mut d = Delta::default();
        d.added = self.added.iter().filter_map(EntryRef::delta_item).collect();
        d.removed = self
            .removed
            .iter()
            .filter_map(EntryRef::delta_item)
            .collect();
        d.retracted = self
            .retracted
            .iter()
            .flat_map(|r| r.targets.iter().filter_map(EntryRef::delta_item))
            .collect();
        let changed = self.updated.iter().map(|u| (&u.entry, &u.changes)).chain(
            self.moved
                .iter()
                .filter(|m| !m.changes.is_empty())
                .map(|m| (&m.entry, &m.changes)),
        );
        d.hazards = self
            .hazards
            .iter()
            .map(|h| {
                let kind = match h {
                    Hazard::SameVersionChanged { .. } => HazardKind::SameVersionChanged,
                    Hazard::Vanished { .. } => HazardKind::Vanished,
                    Hazard::MissingDependency { .. } => HazardKind::MissingDependency,
                    Hazard::DuplicateKey { .. } => HazardKind::DuplicateKey,
                };
                release_model::delta::Hazard::new(kind, h.to_string())
            })
            .collect();
        d.unchanged = self
            .unchanged
            .iter()
            .chain(self.relocated.iter().map(|r| &r.entry))
            .chain(
                self.moved
                    .iter()
                    .filter(|m| m.changes.is_empty())
                    .map(|m| &m.entry),
            )
            .filter_map(EntryRef::delta_item)
            .collect();
        for (entry, changes) in changed {
            let Some(item) = entry.delta_item() else {
                continue;
            };
            if changes.iter().any(Change::changes_artefact) {
                d.replaced.push(item);
            } else {
                d.updated.push(item);
            }
        }
        d
    }
}

impl From<&FeedDiff> for Delta {
    fn from(diff: &FeedDiff) -> Delta {
        diff.to_delta()
    }
}

impl Serialize for FeedDiff {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Json<'a> {
            additive: bool,
            added: &'a [EntryRef],
            removed: &'a [EntryRef],
            updated: &'a [Updated],
            #[serde(skip_serializing_if = "<[Updated]>::is_empty")]
            relocated: &'a [Updated],
            moved: &'a [Moved],
            retracted: &'a [Retracted],
            noop_retractions: &'a [Retracted],
            unchanged: &'a [EntryRef],
            version_changes: &'a [VersionChange],
            hazards: &'a [Hazard],
        }
        Json {
            additive: self.is_additive(),
            added: &self.added,
            removed: &self.removed,
            updated: &self.updated,
            relocated: &self.relocated,
            moved: &self.moved,
            retracted: &self.retracted,
            noop_retractions: &self.noop_retractions,
            unchanged: &self.unchanged,
            version_changes: &self.version_changes,
            hazards: &self.hazards,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for FeedDiff {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Json {
            added: Vec<EntryRef>,
            removed: Vec<EntryRef>,
            updated: Vec<Updated>,
            #[serde(default)]
            relocated: Vec<Updated>,
            moved: Vec<Moved>,
            retracted: Vec<Retracted>,
            noop_retractions: Vec<Retracted>,
            unchanged: Vec<EntryRef>,
            version_changes: Vec<VersionChange>,
            hazards: Vec<Hazard>,
        }
        let j = Json::deserialize(d)?;
        Ok(FeedDiff {
            added: j.added,
            removed: j.removed,
            updated: j.updated,
            relocated: j.relocated,
            unchanged: j.unchanged,
            moved: j.moved,
            retracted: j.retracted,
            noop_retractions: j.noop_retractions,
            hazards: j.hazards,
            version_changes: j.version_changes,
        })
    }
}
