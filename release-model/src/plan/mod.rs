//! Release plans (the types here) and the planner (`planner`): given a deployment, what a
//! release changes and the operator's policy, the exact steps for every instance, and what
//! they cost.
//!
//! The facts behind the rules (SERVERS.md §1.4–§1.7): a preload only adds, and replaces a
//! resource with the same URL and version only when the incoming `date` is later; read-only
//! (and so every scaled) instance rejects FHIR deletes; instances with separate storage must
//! each be updated; instances sharing a database are updated through exactly one.
//!
//! # Comprehensive model: production pointed at a release candidate
//!
//! ```
//! use release_model::delta::{Delta, DeltaItem};
//! use release_model::deployment::*;
//! use release_model::feed::ContentType;
//! use release_model::plan::{plan, Policy, Strategy};
//!
//! let prod = |n: &str| Instance::new(
//!     InstanceName::new(n).unwrap(),
//!     BaseUrl::new(&format!("https://{n}.tx.example.org")).unwrap(),
//!     Role::Production, Access::ReadOnly, Storage::Transient);
//! let candidate = ReleaseCandidateName::parse("release-candidate-20261123T0900")?;
//! let feed = format!("https://synd.example.org/feed/{candidate}/syndication.xml");
//! let topology = Topology::scaled_shared(vec![prod("prod-0"), prod("prod-1")], InstanceName::new("prod-0")?)?;
//! let deployment = Deployment::new(DeploymentModel::Comprehensive, topology).with_preload_feed(feed);
//!
//! // The candidate drops a CodeSystem: read-only instances cannot delete it, so rebuild.
//! let mut delta = Delta::default();
//! delta.removed.push(DeltaItem::new(
//!     "http://example.org/CodeSystem/lab".into(), "1".into(), ContentType::FhirCodeSystem, None));
//! let p = plan(&deployment, &delta, &Policy::default())?;
//! assert_eq!(p.strategy, Strategy::WipeAndRestart);
//! assert!(p.downtime);
//! assert!(p.steps.iter().any(|s| s.action.name() == "recreate-container"));
//!
//! // The same release without downtime: new instances, then the load balancer.
//! let p = plan(&deployment, &delta, &Policy::default().with_zero_downtime(true))?;
//! assert_eq!(p.strategy, Strategy::BlueGreen);
//! # Ok::<(), release_model::Error>(())
//! ```
//!
//! # Single read/write server: release by label
//!
//! ```
//! use chrono::{TimeZone, Utc};
//! use fhir_security_labels::{Approval, ContentRef, ReadGrant};
//! use release_model::deployment::*;
//! use release_model::plan::{plan_label_release, Strategy};
//!
//! let server = Instance::new(InstanceName::new("tx")?, BaseUrl::new("https://tx.example.org")?,
//!     Role::Production, Access::ReadWrite, Storage::Persistent);
//! let deployment = Deployment::new(DeploymentModel::SingleReadWrite, Topology::single(server));
//! // Read is granted only on approved content.
//! let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
//! let approval = Approval::new("approver", now, ContentRef::new("ValueSet", "pathology")).unwrap();
//! let grant = ReadGrant::cohort("PATHOLOGY", approval, now).unwrap();
//! let p = plan_label_release(&deployment, &[grant])?;
//! assert_eq!(p.strategy, Strategy::LabelRelease);
//! assert_eq!(p.steps[0].action.http().unwrap().path, "/fhir/ValueSet/pathology/$meta-add");
//! # Ok::<(), release_model::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::delta::{DeltaItem, Hazard};
use crate::deployment::InstanceName;
use crate::feed::ContentType;
use crate::resource::ResourceType;

mod converge;
mod planner;
mod steps;

pub use converge::{Choice, Decision, Target, plan_to_target};
pub use planner::{plan, plan_label_release, plan_release, plan_rollback};

/// When preloads run on their own.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum PreloadSchedule {
    /// Only when asked (`redoPreload` or a restart).
    #[default]
    Manual,
    /// `atom.preload.schedule.cron` on every instance.
    CronOnEveryInstance {
        /// The Spring cron expression.
        expression: String,
    },
    /// `atom.preload.schedule.cron` on one instance only.
    CronOnOneInstance {
        /// The Spring cron expression.
        expression: String,
        /// The instance it is configured on.
        instance: InstanceName,
    },
}

/// What the platform the instances run on can do, beyond the servers' own API: the planner
/// never chooses a strategy that needs more. [`Capabilities::all`] (the default) assumes
/// everything; an orchestration that cannot create instances, say, is never planned a
/// blue-green release.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Capabilities {
    /// Stop and start an instance.
    pub restart: bool,
    /// Clear an instance's disk.
    pub clear_disk: bool,
    /// Drop and recreate an instance's database schema.
    pub drop_schema: bool,
    /// Delete and recreate an instance's container.
    pub recreate_container: bool,
    /// Point an instance at another preload feed.
    pub set_preload_feed: bool,
    /// Create and retire instances.
    pub create_instances: bool,
    /// Switch the load balancer to other instances.
    pub switch_load_balancer: bool,
}

impl Default for Capabilities {
    fn default() -> Self {
        Self::all()
    }
}

impl Capabilities {
    /// Everything.
    pub fn all() -> Self {
        Self {
            restart: true,
            clear_disk: true,
            drop_schema: true,
            recreate_container: true,
            set_preload_feed: true,
            create_instances: true,
            switch_load_balancer: true,
        }
    }

    /// Nothing but the servers' API (redo the preload, deletes, labels).
    pub fn none() -> Self {
        Self {
            restart: false,
            clear_disk: false,
            drop_schema: false,
            recreate_container: false,
            set_preload_feed: false,
            create_instances: false,
            switch_load_balancer: false,
        }
    }

    /// Whether a rebuild in place is possible for this storage: stop, clear (or recreate),
    /// start, and repoint the preload when `repoint` is asked.
    pub fn can_rebuild(&self, storage: crate::deployment::Storage, repoint: bool) -> bool {
        let clear = match storage {
            crate::deployment::Storage::Persistent => self.clear_disk && self.drop_schema,
            crate::deployment::Storage::Transient => self.recreate_container,
        };
        self.restart && clear && (self.set_preload_feed || !repoint)
    }

    /// Whether new instances can be stood up and switched to.
    pub fn can_blue_green(&self, repoint: bool) -> bool {
        self.create_instances
            && self.switch_load_balancer
            && self.restart
            && (self.set_preload_feed || !repoint)
    }
}

/// What the operator allows.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
#[non_exhaustive]
pub struct Policy {
    /// The service must stay up throughout.
    pub zero_downtime: bool,
    /// FHIR deletes may be sent to writable instances.
    pub fhir_deletes_allowed: bool,
    /// The longest acceptable downtime.
    #[serde(with = "minutes_opt")]
    pub max_downtime: Option<Duration>,
    /// When preloads run on their own.
    pub preload_schedule: PreloadSchedule,
    /// How long a rebuild from the preload feed takes (a full SNOMED CT index can take hours).
    #[serde(with = "minutes")]
    pub rebuild_time: Duration,
    /// Up to this many deletions, deleting is preferred to a rebuild when both are possible.
    pub max_deletes: usize,
    /// What the platform can do.
    pub platform: Capabilities,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            zero_downtime: false,
            fhir_deletes_allowed: true,
            max_downtime: None,
            preload_schedule: PreloadSchedule::Manual,
            rebuild_time: Duration::from_secs(60 * 60),
            max_deletes: 20,
            platform: Capabilities::all(),
        }
    }
}

impl Policy {
    /// Requires (or not) that the service stays up throughout.
    pub fn with_zero_downtime(mut self, yes: bool) -> Self {
        self.zero_downtime = yes;
        self
    }

    /// Allows (or forbids) FHIR deletes.
    pub fn with_fhir_deletes(mut self, allowed: bool) -> Self {
        self.fhir_deletes_allowed = allowed;
        self
    }

    /// Sets the longest acceptable downtime.
    pub fn with_max_downtime(mut self, max: Duration) -> Self {
        self.max_downtime = Some(max);
        self
    }

    /// Sets when preloads run on their own.
    pub fn with_preload_schedule(mut self, schedule: PreloadSchedule) -> Self {
        self.preload_schedule = schedule;
        self
    }

    /// Sets how long a rebuild takes.
    pub fn with_rebuild_time(mut self, time: Duration) -> Self {
        self.rebuild_time = time;
        self
    }

    /// Sets what the platform can do.
    pub fn with_platform(mut self, platform: Capabilities) -> Self {
        self.platform = platform;
        self
    }

    /// Sets how many deletions are preferred to a rebuild.
    pub fn with_max_deletes(mut self, n: usize) -> Self {
        self.max_deletes = n;
        self
    }
}

/// A duration written as whole minutes, as operators state downtime.
pub(crate) mod minutes {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(d.as_secs() / 60)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(|m| Duration::from_secs(m.saturating_mul(60)))
    }
}

/// An optional duration written as whole minutes.
pub(crate) mod minutes_opt {
    use super::*;

    pub(crate) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => s.serialize_some(&(d.as_secs() / 60)),
            None => s.serialize_none(),
        }
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        Option::<u64>::deserialize(d).map(|m| m.map(|m| Duration::from_secs(m.saturating_mul(60))))
    }
}

/// How a release is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Strategy {
    /// Redo the preload: it adds what is new.
    Additive,
    /// Delete each removed or replaced resource or binary index, then redo the preload.
    DeleteThenPreload,
    /// Stop, point the preload at the candidate, clear storage, start, wait for the preload.
    WipeAndRestart,
    /// New instances from the candidate, verified, then the load balancer switched to them.
    BlueGreen,
    /// Redeploy the last known good candidate: always a rebuild, since a preload never removes.
    Rollback,
    /// Single read/write server: add read labels after approval.
    LabelRelease,
    /// Single read/write server: delete removed content through the FHIR API (it has no
    /// preload feed to reload from).
    Delete,
}

impl Strategy {
    /// The strategy's name (`delete-then-preload`).
    pub fn as_str(self) -> &'static str {
        match self {
            Strategy::Additive => "additive",
            Strategy::DeleteThenPreload => "delete-then-preload",
            Strategy::WipeAndRestart => "wipe-and-restart",
            Strategy::BlueGreen => "blue-green",
            Strategy::Rollback => "rollback",
            Strategy::LabelRelease => "label-release",
            Strategy::Delete => "delete",
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A content item a verification looks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Expectation {
    /// The identifier (a canonical URL for FHIR content).
    pub identifier: String,
    /// The version.
    pub version: String,
    /// What kind of content.
    pub content_type: ContentType,
}

/// The search that finds a content item on a terminology server: its resource type and the
/// canonical `url` and `version` the server stores it under. It is also how an instance's
/// observed holdings are named ([`InstanceState`](crate::state::InstanceState)).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContentSearch {
    /// The resource type searched (`CodeSystem` for SNOMED CT, LOINC and binary indexes).
    pub resource_type: ResourceType,
    /// The canonical URL: the content item's identifier for FHIR resources, the code system
    /// for the rest (`http://snomed.info/sct`, not the edition's identifier).
    pub url: String,
    /// The version: the content item's version (for SNOMED CT, the version URI).
    pub version: String,
}

impl ContentSearch {
    /// The content of `resource_type` stored under `url` and `version`.
    pub fn new(
        resource_type: ResourceType,
        url: impl Into<String>,
        version: impl Into<String>,
    ) -> Self {
        Self {
            resource_type,
            url: url.into(),
            version: version.into(),
        }
    }
}

impl Expectation {
    /// How a terminology server is asked for this content item.
    pub fn search(&self) -> ContentSearch {
        let retracted = self.content_type.retracted();
        let content_type = retracted.as_ref().unwrap_or(&self.content_type);
        let (resource_type, url) = match (content_type.resource_type(), content_type.code_system())
        {
            (Some(t), _) => (t, self.identifier.clone()),
            (None, Some(cs)) => (ResourceType::CodeSystem, cs.to_owned()),
            (None, None) => (ResourceType::CodeSystem, self.identifier.clone()),
        };
        ContentSearch {
            resource_type,
            url,
            version: self.version.clone(),
        }
    }
}

impl From<&DeltaItem> for Expectation {
    fn from(i: &DeltaItem) -> Self {
        Self {
            identifier: i.identifier.as_str().to_owned(),
            version: i.version.as_str().to_owned(),
            content_type: i.content_type.clone(),
        }
    }
}

/// What a step does.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Action {
    /// `POST /synd/redoPreload`.
    RedoPreload,
    /// A conditional FHIR delete of one resource version.
    DeleteResource {
        /// The resource type.
        resource_type: ResourceType,
        /// Its canonical URL.
        url: String,
        /// Its version.
        version: String,
    },
    /// `POST /api/deleteCodeSystem`: remove a SNOMED CT or LOINC code system version.
    DeleteCodeSystem {
        /// The code system (`http://snomed.info/sct`).
        code_system: String,
        /// The version URI.
        version: String,
    },
    /// Stop the instance.
    Stop,
    /// Start the instance.
    Start,
    /// Clear the instance's disk (`/var/onto`).
    ClearDisk,
    /// Drop and recreate the database schema.
    DropSchema,
    /// Delete and recreate the container (transient storage).
    RecreateContainer,
    /// Point `atom.preload.feedLocation` at a feed.
    SetPreloadFeed {
        /// The feed.
        url: String,
    },
    /// Wait until the preload has finished (health check `-L`, or content polling).
    WaitForPreload,
    /// Check the instance's content.
    Verify {
        /// Content items that must be present.
        present: Vec<Expectation>,
        /// Content items that must be gone.
        absent: Vec<Expectation>,
    },
    /// Stand up a new instance.
    CreateInstance,
    /// Route the load balancer to these instances.
    SwitchLoadBalancer {
        /// The instances that serve afterwards.
        to: Vec<InstanceName>,
    },
    /// Retire the instance.
    RetireInstance,
    /// `$meta-add` read labels to approved content.
    AddLabels {
        /// The resource type.
        resource_type: ResourceType,
        /// The resource id.
        id: String,
        /// The labels' codes (`PATHOLOGY.read`, `*.read`).
        labels: Vec<String>,
    },
}

/// The method of an HTTP request a plan makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
#[non_exhaustive]
pub enum HttpMethod {
    /// `GET`.
    Get,
    /// `POST`.
    Post,
    /// `DELETE`.
    Delete,
}

impl HttpMethod {
    /// The method as written in a request line.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Delete => "DELETE",
        }
    }
}

impl fmt::Display for HttpMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The HTTP request behind a network step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct HttpCall {
    /// The method.
    pub method: HttpMethod,
    /// The path and query, relative to the instance's base URL.
    pub path: String,
}

impl Action {
    /// The action's name (`redo-preload`).
    pub fn name(&self) -> &'static str {
        match self {
            Action::RedoPreload => "redo-preload",
            Action::DeleteResource { .. } => "delete-resource",
            Action::DeleteCodeSystem { .. } => "delete-code-system",
            Action::Stop => "stop",
            Action::Start => "start",
            Action::ClearDisk => "clear-disk",
            Action::DropSchema => "drop-schema",
            Action::RecreateContainer => "recreate-container",
            Action::SetPreloadFeed { .. } => "set-preload-feed",
            Action::WaitForPreload => "wait-for-preload",
            Action::Verify { .. } => "verify",
            Action::CreateInstance => "create-instance",
            Action::SwitchLoadBalancer { .. } => "switch-load-balancer",
            Action::RetireInstance => "retire-instance",
            Action::AddLabels { .. } => "add-labels",
        }
    }

    /// The HTTP request for a network step; `None` for an infrastructure step.
    pub fn http(&self) -> Option<HttpCall> {
        let call = |method, path: String| Some(HttpCall { method, path });
        match self {
            Action::RedoPreload => call(HttpMethod::Post, "/synd/redoPreload".into()),
            Action::DeleteResource {
                resource_type,
                url,
                version,
            } => call(
                HttpMethod::Delete,
                format!(
                    "/fhir/{resource_type}?url={}&version={}",
                    query(url),
                    query(version)
                ),
            ),
            Action::DeleteCodeSystem {
                code_system,
                version,
            } => call(
                HttpMethod::Post,
                format!(
                    "/api/deleteCodeSystem?codeSystemId={}&codeSystemVersion={}",
                    query(code_system),
                    query(version)
                ),
            ),
            Action::AddLabels {
                resource_type, id, ..
            } => call(
                HttpMethod::Post,
                format!("/fhir/{resource_type}/{id}/$meta-add"),
            ),
            _ => None,
        }
    }

    /// Whether the step talks to the server's API (as opposed to the platform).
    pub fn is_network(&self) -> bool {
        self.http().is_some()
    }
}

/// Percent-encodes a query value.
fn query(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' | b':' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// One step of a plan. Its JSON form is flat: the instance, the action's name and fields,
/// and for a network step the HTTP method and path it sends (which reading ignores, since the
/// action determines them).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Deserialize)]
#[non_exhaustive]
pub struct Step {
    /// The instance it acts on.
    pub instance: InstanceName,
    /// What it does.
    #[serde(flatten)]
    pub action: Action,
}

impl Step {
    /// A step of `action` on `instance`.
    pub fn new(instance: InstanceName, action: Action) -> Self {
        Self { instance, action }
    }
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Shape<'a> {
            instance: &'a InstanceName,
            #[serde(skip_serializing_if = "Option::is_none")]
            method: Option<HttpMethod>,
            #[serde(skip_serializing_if = "Option::is_none")]
            path: Option<String>,
            #[serde(flatten)]
            action: &'a Action,
        }
        let http = self.action.http();
        Shape {
            instance: &self.instance,
            method: http.as_ref().map(|h| h.method),
            path: http.map(|h| h.path),
            action: &self.action,
        }
        .serialize(s)
    }
}

/// A release plan: data first, then rendered or executed.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Plan {
    /// How the release is carried out.
    pub strategy: Strategy,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Whether the service goes down.
    pub downtime: bool,
    /// How long it is expected to be down.
    #[serde(with = "minutes_opt", rename = "downtime_minutes")]
    pub downtime_estimate: Option<Duration>,
    /// Why this strategy.
    pub rationale: String,
    /// What the operator should watch for.
    pub warnings: Vec<String>,
    /// Every hazard of the release the plan was made for (from its [`Delta`](crate::delta::Delta)).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hazards: Vec<Hazard>,
    /// The notice its downtime needs ([`Plan::with_notice`]); an executor refuses to take
    /// the service down without one given in time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice: Option<crate::notice::Notice>,
    /// The feed the instances preload once the plan is done: what the deployment's record
    /// names next (`Deployment::with_preload_feed`), so the next release is planned from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload_feed: Option<String>,
    /// What was decided for each instance and why, when the plan was made from the
    /// deployment's observed state ([`plan_to_target`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub decisions: Vec<Decision>,
}

impl Plan {
    /// The plan, with the notice its downtime needs.
    pub fn with_notice(mut self, notice: crate::notice::Notice) -> Self {
        self.notice = Some(notice);
        self
    }

    /// The instances the plan acts on.
    pub fn instances(&self) -> Vec<&InstanceName> {
        let mut v: Vec<&InstanceName> = Vec::new();
        for s in &self.steps {
            if !v.contains(&&s.instance) {
                v.push(&s.instance);
            }
        }
        v
    }
}
