//! What a release changes, in the terms the planner needs: the typed summary that
//! `feed-diff` produces from two feeds and the planner consumes.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::feed::{AtomId, ContentItemIdentifier, ContentItemVersion, ContentType};

/// One artefact a release touches.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeltaItem {
    /// The content item's identifier.
    pub identifier: ContentItemIdentifier,
    /// Its version.
    pub version: ContentItemVersion,
    /// What kind of artefact (decides how it is deleted: a FHIR resource or a binary index).
    pub content_type: ContentType,
    /// The feed entry that carries it (in the candidate for additions, in the deployed feed
    /// for removals).
    pub entry_id: Option<AtomId>,
}

impl DeltaItem {
    /// An item.
    pub fn new(
        identifier: ContentItemIdentifier,
        version: ContentItemVersion,
        content_type: ContentType,
        entry_id: Option<AtomId>,
    ) -> Self {
        Self {
            identifier,
            version,
            content_type,
            entry_id,
        }
    }

    /// Whether the artefact is an Ontoserver binary index (deleted through
    /// `/api/deleteCodeSystem`, not a FHIR delete).
    pub fn is_binary_index(&self) -> bool {
        self.content_type.is_binary_index()
    }
}

impl fmt::Display for DeltaItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} ({})",
            self.identifier, self.version, self.content_type
        )
    }
}

/// What a release changes.
///
/// A preload only ever adds: it skips what is present and replaces a resource with the same
/// URL and version only when the incoming `date` is later. So only [`Delta::is_additive`]
/// releases can be carried out by redoing the preload; anything removed, retracted or
/// replaced under the same version needs deletes or a rebuild.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Delta {
    /// Artefacts the candidate offers and the deployed feed does not.
    pub added: Vec<DeltaItem>,
    /// Artefacts whose entry changed (metadata, links) without changing the artefact.
    pub updated: Vec<DeltaItem>,
    /// Artefacts the deployed feed offers and the candidate no longer does (not retracted).
    pub removed: Vec<DeltaItem>,
    /// Artefacts the candidate retracts and the deployed feed had.
    pub retracted: Vec<DeltaItem>,
    /// Artefacts republished under the same identifier and version with different bytes
    /// (hash or length): a preload will not apply them.
    pub replaced: Vec<DeltaItem>,
    /// Artefacts the candidate carries over from the deployed feed as they were (the same
    /// entry, or the same artefact under a new entry id). With `added`, `updated` and
    /// `replaced` they make the whole target, which every instance must hold after any
    /// release: a rebuild verified only against the changes would pass with nothing loaded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unchanged: Vec<DeltaItem>,
    /// What an operator must know before the release: every hazard the diff found, which
    /// the plan carries and its runbook shows.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hazards: Vec<Hazard>,
}

/// The kind of a [`Hazard`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum HazardKind {
    /// The same identifier and version republished with different bytes.
    SameVersionChanged,
    /// An entry no longer offered and not retracted.
    Vanished,
    /// A SNOMED CT package depends on a version the candidate does not offer.
    MissingDependency,
    /// Two entries of one feed share a key, so matching them is ambiguous.
    DuplicateKey,
}

/// Something about a release an operator must know before pressing the button.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Hazard {
    /// What kind of hazard.
    pub kind: HazardKind,
    /// What it is about and what it means, for a person.
    pub description: String,
}

impl Hazard {
    /// A hazard.
    pub fn new(kind: HazardKind, description: impl Into<String>) -> Self {
        Self {
            kind,
            description: description.into(),
        }
    }
}

impl fmt::Display for Hazard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.description)
    }
}

/// The class of a delta, for choosing a strategy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DeltaKind {
    /// Nothing changes.
    Empty,
    /// Only additions and metadata updates: a redo of the preload applies it.
    Additive,
    /// Something must be removed or replaced.
    NonAdditive,
}

impl Delta {
    /// Whether a redo of the preload applies the whole release: nothing removed, nothing
    /// retracted, no artefact replaced under the same version.
    pub fn is_additive(&self) -> bool {
        self.removed.is_empty() && self.retracted.is_empty() && self.replaced.is_empty()
    }

    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty()
            && self.updated.is_empty()
            && self.removed.is_empty()
            && self.retracted.is_empty()
            && self.replaced.is_empty()
    }

    /// The class of the delta.
    pub fn kind(&self) -> DeltaKind {
        if self.is_empty() {
            DeltaKind::Empty
        } else if self.is_additive() {
            DeltaKind::Additive
        } else {
            DeltaKind::NonAdditive
        }
    }

    /// What must be deleted from a server before a preload can reach the candidate: the
    /// removed, retracted and replaced artefacts.
    pub fn to_delete(&self) -> impl Iterator<Item = &DeltaItem> {
        self.removed
            .iter()
            .chain(&self.retracted)
            .chain(&self.replaced)
    }

    /// What a server must hold afterwards that it may not hold now: added and replaced.
    pub fn to_load(&self) -> impl Iterator<Item = &DeltaItem> {
        self.added.iter().chain(&self.replaced)
    }

    /// Everything the candidate offers: what each instance must hold when the release is
    /// done, whatever the strategy (added, updated, replaced and unchanged artefacts).
    pub fn target(&self) -> impl Iterator<Item = &DeltaItem> {
        self.added
            .iter()
            .chain(&self.updated)
            .chain(&self.replaced)
            .chain(&self.unchanged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(v: &str) -> DeltaItem {
        DeltaItem::new("http://x".into(), v.into(), ContentType::FhirValueSet, None)
    }

    #[test]
    fn additive_means_nothing_removed_retracted_or_replaced() {
        let mut d = Delta::default();
        assert_eq!(d.kind(), DeltaKind::Empty);
        d.added.push(item("2"));
        d.updated.push(item("1"));
        assert_eq!(d.kind(), DeltaKind::Additive);
        for field in [0, 1, 2] {
            let mut n = d.clone();
            match field {
                0 => n.removed.push(item("0")),
                1 => n.retracted.push(item("0")),
                _ => n.replaced.push(item("1")),
            }
            assert_eq!(n.kind(), DeltaKind::NonAdditive);
            assert_eq!(n.to_delete().count(), 1);
        }
    }
}
