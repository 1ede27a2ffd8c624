//! A security label (a FHIR `Coding` in `meta.security`) and a set of them.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// A FHIR `Coding` used as a security label.
///
/// Serialises exactly as FHIR JSON (`system`, `version`, `code`, `display`, `userSelected`,
/// absent fields omitted). Two labels are the same label when their
/// [`key`](SecurityLabel::key)s (system and code) are equal; `version` and `display` are
/// ignored there, as `$meta-add` and `$meta-delete` ignore them.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SecurityLabel {
    /// The code system. Always send it: whether servers match labels without it is unknown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The code system version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// The code.
    pub code: String,
    /// A display text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display: Option<String>,
    /// Whether a user chose this coding.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_selected: Option<bool>,
    /// Other elements of the `Coding` (extensions, ids), kept so they round-trip.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// What identifies a label: its system and code.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LabelKey {
    /// The system (`None` when the label has none).
    pub system: Option<String>,
    /// The code.
    pub code: String,
}

impl SecurityLabel {
    /// A label in a code system.
    pub fn new(system: impl Into<String>, code: impl Into<String>) -> Self {
        Self {
            system: Some(system.into()),
            version: None,
            code: code.into(),
            display: None,
            user_selected: None,
            other: serde_json::Map::new(),
        }
    }

    /// Adds a display text.
    pub fn with_display(mut self, display: impl Into<String>) -> Self {
        self.display = Some(display.into());
        self
    }

    /// The label's identity.
    pub fn key(&self) -> LabelKey {
        LabelKey {
            system: self.system.clone(),
            code: self.code.clone(),
        }
    }

    /// Whether `other` is the same label (same system and code).
    pub fn same_label(&self, other: &SecurityLabel) -> bool {
        self.system == other.system && self.code == other.code
    }
}

impl fmt::Display for SecurityLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.system {
            Some(s) => write!(f, "{s}|{}", self.code),
            None => f.write_str(&self.code),
        }
    }
}

/// The labels of `meta.security`: a set, identified by system and code, kept in the order
/// they were added (so a resource's JSON changes only where labels change).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LabelSet {
    labels: Vec<SecurityLabel>,
}

impl LabelSet {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a label; returns false (and changes nothing) when the set already has it.
    pub fn add(&mut self, label: SecurityLabel) -> bool {
        if self.contains(&label) {
            return false;
        }
        self.labels.push(label);
        true
    }

    /// Removes the label with the same system and code; returns it when it was present.
    /// Removing an absent label is not an error, as with `$meta-delete`.
    pub fn remove(&mut self, label: &SecurityLabel) -> Option<SecurityLabel> {
        let i = self.labels.iter().position(|l| l.same_label(label))?;
        Some(self.labels.remove(i))
    }

    /// Whether the set has a label with the same system and code.
    pub fn contains(&self, label: &SecurityLabel) -> bool {
        self.labels.iter().any(|l| l.same_label(label))
    }

    /// Adds every label of `other` that this set lacks.
    pub fn merge(&mut self, other: &LabelSet) {
        for l in &other.labels {
            self.add(l.clone());
        }
    }

    /// The labels of this set that `other` lacks.
    pub fn difference(&self, other: &LabelSet) -> LabelSet {
        self.labels
            .iter()
            .filter(|l| !other.contains(l))
            .cloned()
            .collect()
    }

    /// The labels, in order.
    pub fn iter(&self) -> std::slice::Iter<'_, SecurityLabel> {
        self.labels.iter()
    }

    /// How many labels.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }
}

impl FromIterator<SecurityLabel> for LabelSet {
    /// Collects labels, keeping the first of any repeated system and code.
    fn from_iter<I: IntoIterator<Item = SecurityLabel>>(iter: I) -> Self {
        let mut set = LabelSet::new();
        for l in iter {
            set.add(l);
        }
        set
    }
}

impl<'a> IntoIterator for &'a LabelSet {
    type Item = &'a SecurityLabel;
    type IntoIter = std::slice::Iter<'a, SecurityLabel>;
    fn into_iter(self) -> Self::IntoIter {
        self.labels.iter()
    }
}

impl IntoIterator for LabelSet {
    type Item = SecurityLabel;
    type IntoIter = std::vec::IntoIter<SecurityLabel>;
    fn into_iter(self) -> Self::IntoIter {
        self.labels.into_iter()
    }
}

impl<'de> Deserialize<'de> for LabelSet {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Vec::<SecurityLabel>::deserialize(d)?.into_iter().collect())
    }
}
