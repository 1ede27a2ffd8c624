//! Deployments: instances, topologies, deployment models, release candidates and aliases.

use std::fmt;

use chrono::NaiveDateTime;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::Error;

/// The name of a server instance (`prod-0`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceName(String);

impl InstanceName {
    /// Parses a name.
    ///
    /// # Errors
    /// [`Error::InstanceName`] for an empty name or one with white space or `/`.
    pub fn new(name: &str) -> Result<Self, Error> {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '/') {
            return Err(Error::InstanceName(name.to_owned()));
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for InstanceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for InstanceName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for InstanceName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::new(&raw).map_err(D::Error::custom)
    }
}

/// An instance's base URL (`https://tx.example.org`), without a trailing slash; the FHIR API
/// is under `/fhir`, syndication under `/synd`, administration under `/api`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Parses a base URL.
    ///
    /// # Errors
    /// [`Error::BaseUrl`] unless it is `http(s)://host…` without query or fragment.
    pub fn new(url: &str) -> Result<Self, Error> {
        let bad = || Error::BaseUrl(url.to_owned());
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))
            .ok_or_else(bad)?;
        let host = rest.split('/').next().unwrap_or("");
        if host.is_empty() || url.contains(['?', '#']) || url.chars().any(char::is_whitespace) {
            return Err(bad());
        }
        Ok(Self(url.trim_end_matches('/').to_owned()))
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for BaseUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for BaseUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::new(&raw).map_err(D::Error::custom)
    }
}

/// What an instance is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Role {
    /// Where content is authored and approved.
    Authoring,
    /// Where a release candidate is tested.
    Staging,
    /// What users read.
    Production,
}

/// Whether an instance accepts writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Access {
    /// Accepts FHIR writes and deletes.
    ReadWrite,
    /// Rejects writes (`ontoserver.deployment.readOnly`, and every scaled instance).
    ReadOnly,
}

/// What an instance's disk and database are.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Storage {
    /// Kept across restarts: a rebuild clears the disk and drops the database schema.
    Persistent,
    /// Gone with the container: a rebuild recreates the container.
    Transient,
}

/// One terminology-server instance.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Instance {
    /// Its name.
    pub name: InstanceName,
    /// Its base URL.
    pub base_url: BaseUrl,
    /// What it is for.
    pub role: Role,
    /// Whether it accepts writes.
    pub access: Access,
    /// Its storage.
    pub storage: Storage,
}

impl Instance {
    /// An instance.
    pub fn new(
        name: InstanceName,
        base_url: BaseUrl,
        role: Role,
        access: Access,
        storage: Storage,
    ) -> Self {
        Self {
            name,
            base_url,
            role,
            access,
            storage,
        }
    }

    /// Whether FHIR deletes can be sent to it.
    pub fn is_writable(&self) -> bool {
        self.access == Access::ReadWrite
    }
}

/// How the instances serving one role are arranged. Reading one checks it as the
/// constructors do.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", try_from = "TopologyShape")]
#[non_exhaustive]
pub enum Topology {
    /// One server.
    Single {
        /// The server.
        instance: Instance,
    },
    /// Several read-only instances, each with its own disk and database: every action goes to
    /// every instance, or they drift.
    ScaledSeparate {
        /// The instances.
        instances: Vec<Instance>,
    },
    /// Several read-only instances sharing one database: an update goes through exactly one
    /// instance; the same schedule must never run on all of them.
    ScaledShared {
        /// The instances.
        instances: Vec<Instance>,
        /// The instance updates go through.
        through: InstanceName,
    },
}

impl Topology {
    /// One server.
    pub fn single(instance: Instance) -> Self {
        Topology::Single { instance }
    }

    /// Scaled instances with separate storage.
    ///
    /// # Errors
    /// Fewer than two instances, a read-write instance, a repeated name, or mixed storage.
    pub fn scaled_separate(instances: Vec<Instance>) -> Result<Self, Error> {
        check_scaled(&instances)?;
        Ok(Topology::ScaledSeparate { instances })
    }

    /// Scaled instances sharing a database, updated through `through`.
    ///
    /// # Errors
    /// As [`Topology::scaled_separate`], and `through` must be one of the instances.
    pub fn scaled_shared(instances: Vec<Instance>, through: InstanceName) -> Result<Self, Error> {
        check_scaled(&instances)?;
        if !instances.iter().any(|i| i.name == through) {
            return Err(Error::UnknownInstance(through.to_string()));
        }
        Ok(Topology::ScaledShared { instances, through })
    }

    /// Every instance.
    pub fn instances(&self) -> &[Instance] {
        match self {
            Topology::Single { instance } => std::slice::from_ref(instance),
            Topology::ScaledSeparate { instances } | Topology::ScaledShared { instances, .. } => {
                instances
            }
        }
    }

    /// Whether the instances share one database.
    pub fn is_shared(&self) -> bool {
        matches!(self, Topology::ScaledShared { .. })
    }

    /// The storage kind of the instances.
    pub fn storage(&self) -> Storage {
        self.instances()
            .first()
            .map_or(Storage::Persistent, |i| i.storage)
    }

    /// Whether every instance accepts FHIR deletes.
    pub fn all_writable(&self) -> bool {
        self.instances().iter().all(Instance::is_writable)
    }

    /// The instances that receive network (update) steps: all of them, or for shared storage
    /// the one updates go through.
    pub fn update_targets(&self) -> Vec<&Instance> {
        match self {
            Topology::ScaledShared { instances, through } => {
                instances.iter().filter(|i| &i.name == through).collect()
            }
            _ => self.instances().iter().collect(),
        }
    }
}

/// A topology as written, before it is checked.
#[derive(Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
enum TopologyShape {
    Single {
        instance: Instance,
    },
    ScaledSeparate {
        instances: Vec<Instance>,
    },
    ScaledShared {
        instances: Vec<Instance>,
        through: InstanceName,
    },
}

impl TryFrom<TopologyShape> for Topology {
    type Error = Error;

    fn try_from(shape: TopologyShape) -> Result<Self, Error> {
        match shape {
            TopologyShape::Single { instance } => Ok(Topology::single(instance)),
            TopologyShape::ScaledSeparate { instances } => Topology::scaled_separate(instances),
            TopologyShape::ScaledShared { instances, through } => {
                Topology::scaled_shared(instances, through)
            }
        }
    }
}

fn check_scaled(instances: &[Instance]) -> Result<(), Error> {
    if instances.len() < 2 {
        return Err(Error::TooFewInstances(instances.len()));
    }
    let mut names = std::collections::HashSet::new();
    for i in instances {
        if i.access == Access::ReadWrite {
            return Err(Error::ScaledReadWrite(i.name.to_string()));
        }
        if !names.insert(&i.name) {
            return Err(Error::DuplicateInstance(i.name.to_string()));
        }
        if i.storage != instances[0].storage {
            return Err(Error::MixedStorage);
        }
    }
    Ok(())
}

/// How an organisation releases content (the release-process documents' three models).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DeploymentModel {
    /// One read/write server: releasing is adding read labels after approval.
    SingleReadWrite,
    /// Production preloads the authoring server's feed.
    AuthoringToProduction,
    /// A syndication server snapshots release candidates; staging is tested first; production
    /// is pointed at a candidate.
    Comprehensive,
}

/// The servers a release goes to, and how they get content.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Deployment {
    /// The release process in use.
    pub model: DeploymentModel,
    /// The instances being released to.
    pub topology: Topology,
    /// The feed the instances preload (`atom.preload.feedLocation`), when known.
    pub preload_feed: Option<String>,
}

impl Deployment {
    /// A deployment.
    pub fn new(model: DeploymentModel, topology: Topology) -> Self {
        Self {
            model,
            topology,
            preload_feed: None,
        }
    }

    /// Sets the feed the instances preload.
    pub fn with_preload_feed(mut self, url: impl Into<String>) -> Self {
        self.preload_feed = Some(url.into());
        self
    }
}

/// A release candidate's name: `release-candidate-YYYYMMDDThhmm`, naming when it was cut.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReleaseCandidateName {
    name: String,
    at: NaiveDateTime,
}

impl ReleaseCandidateName {
    /// The prefix every candidate name has.
    pub const PREFIX: &'static str = "release-candidate-";

    /// Parses a name.
    ///
    /// # Errors
    /// [`Error::CandidateName`] unless the name is the prefix and a valid
    /// `YYYYMMDDThhmm`.
    pub fn parse(name: &str) -> Result<Self, Error> {
        let bad = || Error::CandidateName(name.to_owned());
        let stamp = name.strip_prefix(Self::PREFIX).ok_or_else(bad)?;
        if stamp.len() != 13 || stamp.as_bytes()[8] != b'T' {
            return Err(bad());
        }
        let at = NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M").map_err(|_| bad())?;
        Ok(Self {
            name: name.to_owned(),
            at,
        })
    }

    /// The name for a candidate cut at `at` (seconds are dropped).
    pub fn at(at: NaiveDateTime) -> Self {
        let name = format!("{}{}", Self::PREFIX, at.format("%Y%m%dT%H%M"));
        let at =
            NaiveDateTime::parse_from_str(&name[Self::PREFIX.len()..], "%Y%m%dT%H%M").unwrap_or(at);
        Self { name, at }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.name
    }

    /// When the candidate was cut.
    pub fn time(&self) -> NaiveDateTime {
        self.at
    }
}

impl fmt::Display for ReleaseCandidateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Serialize for ReleaseCandidateName {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.name)
    }
}

impl<'de> Deserialize<'de> for ReleaseCandidateName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(d)?;
        Self::parse(&raw).map_err(D::Error::custom)
    }
}

/// A snapshot of a feed on a syndication server: immutable, named by when it was cut.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ReleaseCandidate {
    /// Its name.
    pub name: ReleaseCandidateName,
    /// The URL of its feed, which instances preload.
    pub feed_url: String,
}

impl ReleaseCandidate {
    /// A candidate served at `feed_url`.
    pub fn new(name: ReleaseCandidateName, feed_url: impl Into<String>) -> Self {
        Self {
            name,
            feed_url: feed_url.into(),
        }
    }
}

/// A movable name for a release candidate (`production`, `uat`). Repointing an alias changes
/// only what the next preload adds: it is not a content rollback.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Alias {
    /// The alias.
    pub name: String,
    /// The candidate it points at.
    pub target: ReleaseCandidateName,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inst(name: &str, access: Access) -> Instance {
        Instance::new(
            InstanceName::new(name).expect("valid"),
            BaseUrl::new(&format!("https://{name}.example.org/")).expect("valid"),
            Role::Production,
            access,
            Storage::Persistent,
        )
    }

    #[test]
    fn release_candidate_names_parse_to_a_time() {
        let n = ReleaseCandidateName::parse("release-candidate-20200820T1630").expect("valid");
        assert_eq!(n.time().to_string(), "2020-08-20 16:30:00");
        for bad in [
            "release-candidate-20200820",
            "rc-20200820T1630",
            "release-candidate-20201320T1630",
            "release-candidate-20200820T2460",
            "release-candidate-20200820t1630",
        ] {
            assert!(ReleaseCandidateName::parse(bad).is_err(), "{bad}");
        }
        let at = n.time();
        assert_eq!(ReleaseCandidateName::at(at), n);
    }

    #[test]
    fn scaled_topologies_are_read_only_and_named_uniquely() {
        assert!(
            Topology::scaled_separate(vec![
                inst("a", Access::ReadOnly),
                inst("b", Access::ReadWrite)
            ])
            .is_err()
        );
        assert!(Topology::scaled_separate(vec![inst("a", Access::ReadOnly)]).is_err());
        assert!(
            Topology::scaled_separate(vec![
                inst("a", Access::ReadOnly),
                inst("a", Access::ReadOnly)
            ])
            .is_err()
        );
        let shared = Topology::scaled_shared(
            vec![inst("a", Access::ReadOnly), inst("b", Access::ReadOnly)],
            InstanceName::new("a").expect("valid"),
        )
        .expect("valid");
        assert_eq!(shared.update_targets().len(), 1);
        assert!(
            Topology::scaled_shared(
                vec![inst("a", Access::ReadOnly), inst("b", Access::ReadOnly)],
                InstanceName::new("c").expect("valid")
            )
            .is_err()
        );
    }

    #[test]
    fn base_urls_are_checked() {
        assert_eq!(
            BaseUrl::new("https://tx.example.org/")
                .expect("valid")
                .as_str(),
            "https://tx.example.org"
        );
        for bad in [
            "tx.example.org",
            "ftp://x",
            "https://",
            "https://x?y=1",
            "https://a b",
        ] {
            assert!(BaseUrl::new(bad).is_err(), "{bad}");
        }
    }
}
