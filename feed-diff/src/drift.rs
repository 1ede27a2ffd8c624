//! Drift: where the instances of one deployment disagree about the content they offer.
//!
//! Scaled instances with separate storage must each be updated; when one is missed, answers
//! depend on where the load balancer routes. Comparing the feeds the instances publish shows
//! which instance lacks or differs on which content.

use std::collections::{BTreeMap, HashMap};

use release_model::feed::{Checked, Entry, Feed};
use serde::{Deserialize, Serialize};

use crate::error::Error;

/// The artefact an instance offers, as compared across instances.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Offered {
    /// Content item identifier.
    pub identifier: String,
    /// Content item version.
    pub version: String,
    /// Primary category term.
    pub term: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Fingerprint {
    sha256: Option<String>,
    length: Option<String>,
}

fn offered(feed: &Feed) -> BTreeMap<Offered, Fingerprint> {
    feed.entries
        .iter()
        .filter(|e| !e.is_retraction())
        .filter_map(|e| {
            let key = Offered {
                identifier: e.identifier.as_ref()?.trimmed().to_owned(),
                version: e.version.as_ref()?.trimmed().to_owned(),
                term: e
                    .categories
                    .first()
                    .map(|c| c.term.to_string())
                    .unwrap_or_default(),
            };
            Some((key, fingerprint(e)))
        })
        .collect()
}

fn fingerprint(e: &Entry) -> Fingerprint {
    let link = e.alternate_link();
    let raw = |c: Option<String>| c;
    Fingerprint {
        sha256: raw(link.and_then(|l| l.sha256.as_ref()).map(|h| match h {
            Checked::Valid(h) => h.as_str().to_ascii_lowercase(),
            Checked::Malformed(r) => r.clone(),
        })),
        length: link.and_then(|l| l.length.as_ref()).map(|n| match n {
            Checked::Valid(n) => n.to_string(),
            Checked::Malformed(r) => r.clone(),
        }),
    }
}

/// What the instances were compared against.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Reference {
    /// The feed the deployment should serve.
    Expected,
    /// What more than half of the instances offer.
    Majority,
}

/// How one instance departs from the reference.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceDrift {
    /// The instance's name.
    pub instance: String,
    /// Content the reference offers and this instance does not.
    pub missing: Vec<Offered>,
    /// Content this instance offers and the reference does not.
    pub extra: Vec<Offered>,
    /// Content both offer with different bytes (hash or length).
    pub differing: Vec<Offered>,
}

impl InstanceDrift {
    /// Whether the instance agrees with the reference.
    pub fn is_consistent(&self) -> bool {
        self.missing.is_empty() && self.extra.is_empty() && self.differing.is_empty()
    }
}

/// Drift across the instances of a deployment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DriftReport {
    /// What the instances were compared against.
    pub reference: Reference,
    /// Every instance, in the order given.
    pub instances: Vec<InstanceDrift>,
}

impl DriftReport {
    /// Whether every instance agrees with the reference.
    pub fn is_consistent(&self) -> bool {
        self.instances.iter().all(InstanceDrift::is_consistent)
    }

    /// The instances that do not agree.
    pub fn drifted(&self) -> impl Iterator<Item = &InstanceDrift> {
        self.instances.iter().filter(|i| !i.is_consistent())
    }
}

/// Compares the feeds of several instances against `expected`, or, when it is `None`, against
/// what more than half of them offer (content offered by exactly half is in no majority and
/// shows as extra where present).
///
/// # Errors
/// [`Error::NoInstances`] for an empty list; [`Error::DuplicateInstance`] when two instances
/// share a name.
///
/// ```
/// use feed_diff::{drift, Reference};
/// use release_model::feed::Feed;
///
/// let full = Feed::from_slice(include_bytes!("../tests/data/candidate-additive.xml"))?;
/// let stale = Feed::from_slice(include_bytes!("../tests/data/deployed.xml"))?;
/// let report = drift(&[("prod-0", &full), ("prod-1", &full), ("prod-2", &stale)], None)?;
/// assert_eq!(report.reference, Reference::Majority);
/// let drifted: Vec<_> = report.drifted().map(|i| i.instance.as_str()).collect();
/// assert_eq!(drifted, ["prod-2"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn drift(instances: &[(&str, &Feed)], expected: Option<&Feed>) -> Result<DriftReport, Error> {
    if instances.is_empty() {
        return Err(Error::NoInstances);
    }
    let mut names = std::collections::HashSet::new();
    for (name, _) in instances {
        if !names.insert(*name) {
            return Err(Error::DuplicateInstance((*name).to_owned()));
        }
    }
    let offers: Vec<BTreeMap<Offered, Fingerprint>> =
        instances.iter().map(|(_, f)| offered(f)).collect();
    let (reference, kind) = match expected {
        Some(f) => (offered(f), Reference::Expected),
        None => (majority(&offers), Reference::Majority),
    };
    let instances = instances
        .iter()
        .zip(&offers)
        .map(|((name, _), have)| InstanceDrift {
            instance: (*name).to_owned(),
            missing: reference
                .keys()
                .filter(|k| !have.contains_key(*k))
                .cloned()
                .collect(),
            extra: have
                .keys()
                .filter(|k| !reference.contains_key(*k))
                .cloned()
                .collect(),
            differing: have
                .iter()
                .filter(|(k, fp)| reference.get(*k).is_some_and(|r| r != *fp))
                .map(|(k, _)| k.clone())
                .collect(),
        })
        .collect();
    Ok(DriftReport {
        reference: kind,
        instances,
    })
}

/// Content offered by more than half of the instances, with the fingerprint most of those
/// instances agree on.
fn majority(offers: &[BTreeMap<Offered, Fingerprint>]) -> BTreeMap<Offered, Fingerprint> {
    let mut counts: HashMap<&Offered, Vec<&Fingerprint>> = HashMap::new();
    for o in offers {
        for (k, fp) in o {
            counts.entry(k).or_default().push(fp);
        }
    }
    let half = offers.len() / 2;
    counts
        .into_iter()
        .filter(|(_, fps)| fps.len() > half)
        .map(|(k, fps)| {
            let best = fps
                .iter()
                .max_by_key(|fp| fps.iter().filter(|x| x == fp).count())
                .map(|fp| (*fp).clone())
                .unwrap_or(Fingerprint {
                    sha256: None,
                    length: None,
                });
            (k.clone(), best)
        })
        .collect()
}
