//! Release plans and the planner: given a deployment, what a release changes and the
//! operator's policy, the exact steps for every instance, and what they cost.
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
//! use release_model::deployment::*;
//! use release_model::plan::{plan_label_release, Strategy};
//!
//! let server = Instance::new(InstanceName::new("tx")?, BaseUrl::new("https://tx.example.org")?,
//!     Role::Production, Access::ReadWrite, Storage::Persistent);
//! let deployment = Deployment::new(DeploymentModel::SingleReadWrite, Topology::single(server));
//! // The grant comes from an approved `fhir_security_labels::ReadGrant`.
//! let p = plan_label_release(&deployment, &[("ValueSet".into(), "pathology".into(), vec!["PATHOLOGY.read".into()])])?;
//! assert_eq!(p.strategy, Strategy::LabelRelease);
//! assert_eq!(p.steps[0].action.http().unwrap().path, "/fhir/ValueSet/pathology/$meta-add");
//! # Ok::<(), release_model::Error>(())
//! ```

use std::fmt;
use std::time::Duration;

use serde::{Serialize, Serializer};

use crate::Error;
use crate::delta::{Delta, DeltaItem};
use crate::deployment::{
    Deployment, DeploymentModel, Instance, InstanceName, ReleaseCandidate, Storage, Topology,
};
use crate::feed::ContentType;

/// When preloads run on their own.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Default, Serialize)]
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

/// What the operator allows.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Policy {
    /// The service must stay up throughout.
    pub zero_downtime: bool,
    /// FHIR deletes may be sent to writable instances.
    pub fhir_deletes_allowed: bool,
    /// The longest acceptable downtime.
    #[serde(serialize_with = "minutes_opt")]
    pub max_downtime: Option<Duration>,
    /// When preloads run on their own.
    pub preload_schedule: PreloadSchedule,
    /// How long a rebuild from the preload feed takes (a full SNOMED CT index can take hours).
    #[serde(serialize_with = "minutes")]
    pub rebuild_time: Duration,
    /// Up to this many deletions, deleting is preferred to a rebuild when both are possible.
    pub max_deletes: usize,
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

    /// Sets how many deletions are preferred to a rebuild.
    pub fn with_max_deletes(mut self, n: usize) -> Self {
        self.max_deletes = n;
        self
    }
}

fn minutes<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs() / 60)
}

fn minutes_opt<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&(d.as_secs() / 60)),
        None => s.serialize_none(),
    }
}

/// How a release is carried out.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
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
        }
    }
}

impl fmt::Display for Strategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A content item a verification looks for.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct Expectation {
    /// The identifier (a canonical URL for FHIR content).
    pub identifier: String,
    /// The version.
    pub version: String,
    /// What kind of content.
    pub content_type: ContentType,
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
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Action {
    /// `POST /synd/redoPreload`.
    RedoPreload,
    /// A conditional FHIR delete of one resource version.
    DeleteResource {
        /// The resource type.
        resource_type: String,
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
        resource_type: String,
        /// The resource id.
        id: String,
        /// The label codes.
        labels: Vec<String>,
    },
}

/// The HTTP request behind a network step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct HttpCall {
    /// `GET`, `POST`, `DELETE`.
    pub method: &'static str,
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
            Action::RedoPreload => call("POST", "/synd/redoPreload".into()),
            Action::DeleteResource {
                resource_type,
                url,
                version,
            } => call(
                "DELETE",
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
                "POST",
                format!(
                    "/api/deleteCodeSystem?codeSystemId={}&codeSystemVersion={}",
                    query(code_system),
                    query(version)
                ),
            ),
            Action::AddLabels {
                resource_type, id, ..
            } => call("POST", format!("/fhir/{resource_type}/{id}/$meta-add")),
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

/// One step of a plan.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Step {
    /// The instance it acts on.
    pub instance: InstanceName,
    /// What it does.
    pub action: Action,
}

impl Serialize for Step {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let value = serde_json_like(&self.action);
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("instance", &self.instance)?;
        m.serialize_entry("action", self.action.name())?;
        if let Some(h) = self.action.http() {
            m.serialize_entry("method", h.method)?;
            m.serialize_entry("path", &h.path)?;
        }
        for (k, v) in value {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

/// The action's own fields, for the flat JSON form of a step.
fn serde_json_like(a: &Action) -> Vec<(&'static str, ActionField<'_>)> {
    match a {
        Action::DeleteResource {
            resource_type,
            url,
            version,
        } => vec![
            ("resource_type", ActionField::Str(resource_type)),
            ("url", ActionField::Str(url)),
            ("version", ActionField::Str(version)),
        ],
        Action::DeleteCodeSystem {
            code_system,
            version,
        } => {
            vec![
                ("code_system", ActionField::Str(code_system)),
                ("version", ActionField::Str(version)),
            ]
        }
        Action::SetPreloadFeed { url } => vec![("url", ActionField::Str(url))],
        Action::Verify { present, absent } => {
            vec![
                ("present", ActionField::Items(present)),
                ("absent", ActionField::Items(absent)),
            ]
        }
        Action::SwitchLoadBalancer { to } => vec![("to", ActionField::Names(to))],
        Action::AddLabels {
            resource_type,
            id,
            labels,
        } => vec![
            ("resource_type", ActionField::Str(resource_type)),
            ("id", ActionField::Str(id)),
            ("labels", ActionField::Strs(labels)),
        ],
        _ => Vec::new(),
    }
}

#[derive(Serialize)]
#[serde(untagged)]
enum ActionField<'a> {
    Str(&'a str),
    Strs(&'a [String]),
    Items(&'a [Expectation]),
    Names(&'a [InstanceName]),
}

/// A release plan: data first, then rendered or executed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Plan {
    /// How the release is carried out.
    pub strategy: Strategy,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Whether the service goes down.
    pub downtime: bool,
    /// How long it is expected to be down.
    #[serde(serialize_with = "minutes_opt", rename = "downtime_minutes")]
    pub downtime_estimate: Option<Duration>,
    /// Why this strategy.
    pub rationale: String,
    /// What the operator should watch for.
    pub warnings: Vec<String>,
}

impl Plan {
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

/// How a removed or replaced artefact can be taken off a server through its API.
enum Removal {
    Resource(String),
    CodeSystem(String),
    /// Only a rebuild removes it (a bundle's contents, AMT CSV, unknown packages).
    RebuildOnly,
}

fn removal(item: &DeltaItem) -> Removal {
    match &item.content_type {
        ContentType::FhirCodeSystem => Removal::Resource("CodeSystem".into()),
        ContentType::FhirValueSet => Removal::Resource("ValueSet".into()),
        ContentType::FhirConceptMap => Removal::Resource("ConceptMap".into()),
        ContentType::FhirStructureDefinition => Removal::Resource("StructureDefinition".into()),
        ContentType::FhirResource(t) => Removal::Resource(t.clone()),
        ContentType::BinaryIndex { .. } => Removal::CodeSystem(item.identifier.as_str().to_owned()),
        t if t.is_snomed_package() => Removal::CodeSystem("http://snomed.info/sct".into()),
        ContentType::Loinc => Removal::CodeSystem("http://loinc.org".into()),
        _ => Removal::RebuildOnly,
    }
}

fn delete_action(item: &DeltaItem) -> Option<Action> {
    match removal(item) {
        Removal::Resource(t) => Some(Action::DeleteResource {
            resource_type: t,
            url: item.identifier.as_str().to_owned(),
            version: item.version.as_str().to_owned(),
        }),
        Removal::CodeSystem(cs) => Some(Action::DeleteCodeSystem {
            code_system: cs,
            version: item.version.as_str().to_owned(),
        }),
        Removal::RebuildOnly => None,
    }
}

/// Plans a release of `delta` to `deployment` under `policy`.
///
/// # Errors
/// [`Error::PolicyRejected`] when the policy itself is unsafe for the deployment: the same
/// preload scheduled on every instance of a shared deployment, or on an unknown instance.
///
/// ```
/// use release_model::delta::{Delta, DeltaItem};
/// use release_model::deployment::*;
/// use release_model::feed::ContentType;
/// use release_model::plan::{plan, Policy, Strategy};
///
/// // Authoring → production, production scaled to three instances with their own storage.
/// let prod = |n: &str| Instance::new(
///     InstanceName::new(n).unwrap(),
///     BaseUrl::new(&format!("https://{n}.tx.example.org")).unwrap(),
///     Role::Production, Access::ReadOnly, Storage::Persistent);
/// let topology = Topology::scaled_separate(vec![prod("prod-0"), prod("prod-1"), prod("prod-2")])?;
/// let deployment = Deployment::new(DeploymentModel::AuthoringToProduction, topology);
///
/// let mut delta = Delta::default();
/// delta.added.push(DeltaItem::new(
///     "http://example.org/ValueSet/body-sites".into(), "1.1.0".into(), ContentType::FhirValueSet, None));
///
/// let p = plan(&deployment, &delta, &Policy::default())?;
/// assert_eq!(p.strategy, Strategy::Additive);
/// assert!(!p.downtime);
/// // Separate storage: every instance redoes its preload and is verified.
/// assert_eq!(p.steps.iter().filter(|s| s.action.name() == "redo-preload").count(), 3);
/// # Ok::<(), release_model::Error>(())
/// ```
pub fn plan(deployment: &Deployment, delta: &Delta, policy: &Policy) -> Result<Plan, Error> {
    check_policy(deployment, policy)?;
    let topology = &deployment.topology;
    let mut warnings = Vec::new();
    if let PreloadSchedule::CronOnEveryInstance { expression }
    | PreloadSchedule::CronOnOneInstance { expression, .. } = &policy.preload_schedule
    {
        warnings.push(format!(
            "a scheduled preload ({expression}) may run during the release; it only adds, so it cannot undo deletions, but a rebuild must not overlap it"
        ));
    }
    if deployment.model == DeploymentModel::SingleReadWrite && !delta.is_additive() {
        warnings.push("on a single read/write server, releasing is adding read labels; removing content is a FHIR delete".into());
    }

    if delta.is_additive() {
        let mut steps = Vec::new();
        for i in topology.update_targets() {
            steps.push(step(i, Action::RedoPreload));
        }
        if delta.is_empty() {
            steps.clear();
            warnings.push("nothing changes: the plan only verifies".into());
        }
        if !delta.updated.is_empty() {
            warnings.push(format!(
                "{} entries changed only in metadata; a preload skips resources already present",
                delta.updated.len()
            ));
        }
        verify_all(&mut steps, topology, delta);
        return Ok(Plan {
            strategy: Strategy::Additive,
            steps,
            downtime: false,
            downtime_estimate: None,
            rationale: "the release only adds content, so redoing the preload applies it; nothing needs wiping".into(),
            warnings,
        });
    }

    // Non-additive: something must be deleted or rebuilt.
    let deletions: Vec<&DeltaItem> = delta.to_delete().collect();
    let rebuild_only: Vec<&DeltaItem> = deletions
        .iter()
        .copied()
        .filter(|i| matches!(removal(i), Removal::RebuildOnly))
        .collect();
    let writable = topology.all_writable();
    let can_delete = writable && policy.fhir_deletes_allowed && rebuild_only.is_empty();
    let rebuild_fits = policy.max_downtime.is_none_or(|m| policy.rebuild_time <= m);
    let can_wipe = !policy.zero_downtime && rebuild_fits;
    let why_not_delete = if !writable {
        "the instances are read-only and reject FHIR deletes".to_owned()
    } else if !policy.fhir_deletes_allowed {
        "the policy does not allow FHIR deletes".to_owned()
    } else if !rebuild_only.is_empty() {
        format!(
            "{} item(s) cannot be deleted through the API (e.g. {}): only a rebuild removes them",
            rebuild_only.len(),
            rebuild_only[0]
        )
    } else {
        String::new()
    };
    if !delta.replaced.is_empty() {
        warnings.push(format!(
            "{} item(s) were republished under the same version; a preload alone would keep the old content",
            delta.replaced.len()
        ));
    }

    let strategy;
    let rationale;
    if can_delete && (!can_wipe || deletions.len() <= policy.max_deletes) {
        strategy = Strategy::DeleteThenPreload;
        rationale = if can_wipe {
            format!(
                "{} deletion(s) is within the policy's limit of {}, so deleting them keeps the service up instead of a rebuild",
                deletions.len(),
                policy.max_deletes
            )
        } else {
            "the release removes content and deleting it through the API is the only way without downtime".into()
        };
    } else if can_wipe {
        strategy = Strategy::WipeAndRestart;
        rationale = if can_delete {
            format!(
                "{} deletions exceed the policy's limit of {}; a rebuild from the candidate is simpler and certain",
                deletions.len(),
                policy.max_deletes
            )
        } else {
            format!(
                "content must be removed and {why_not_delete}; a rebuild from the candidate removes it"
            )
        };
    } else {
        strategy = Strategy::BlueGreen;
        rationale = format!(
            "content must be removed, {}, and {}: new instances are built from the candidate and the load balancer switched",
            if why_not_delete.is_empty() {
                "deletes are not possible".to_owned()
            } else {
                why_not_delete.clone()
            },
            if policy.zero_downtime {
                "the policy requires zero downtime".to_owned()
            } else {
                "a rebuild would exceed the allowed downtime".to_owned()
            }
        );
    }

    let mut steps = Vec::new();
    let feed = deployment.preload_feed.clone();
    match strategy {
        Strategy::DeleteThenPreload => {
            for i in topology.update_targets() {
                for item in &deletions {
                    if let Some(a) = delete_action(item) {
                        steps.push(step(i, a));
                    }
                }
                steps.push(step(i, Action::RedoPreload));
            }
            verify_all(&mut steps, topology, delta);
            Ok(Plan {
                strategy,
                steps,
                downtime: false,
                downtime_estimate: None,
                rationale,
                warnings,
            })
        }
        Strategy::WipeAndRestart => {
            wipe_steps(&mut steps, topology, feed.as_deref());
            verify_all(&mut steps, topology, delta);
            Ok(Plan {
                strategy,
                steps,
                downtime: true,
                downtime_estimate: Some(policy.rebuild_time),
                rationale,
                warnings,
            })
        }
        _ => {
            blue_green_steps(&mut steps, topology, feed.as_deref(), delta);
            Ok(Plan {
                strategy,
                steps,
                downtime: false,
                downtime_estimate: None,
                rationale,
                warnings,
            })
        }
    }
}

/// Plans a rollback to `last_good`: always a rebuild, because a preload never removes what
/// the bad release added. With zero downtime required it is a blue-green switch.
///
/// # Errors
/// As [`plan`] for the policy checks.
pub fn plan_rollback(
    deployment: &Deployment,
    last_good: &ReleaseCandidate,
    undo: &Delta,
    policy: &Policy,
) -> Result<Plan, Error> {
    check_policy(deployment, policy)?;
    let topology = &deployment.topology;
    let mut steps = Vec::new();
    let warnings = vec![format!(
        "repointing an alias at {} alone would not remove what the bad release added",
        last_good.name
    )];
    let zero = policy.zero_downtime || policy.max_downtime.is_some_and(|m| policy.rebuild_time > m);
    if zero {
        blue_green_steps(&mut steps, topology, Some(&last_good.feed_url), undo);
    } else {
        wipe_steps(&mut steps, topology, Some(&last_good.feed_url));
        verify_all(&mut steps, topology, undo);
    }
    Ok(Plan {
        strategy: Strategy::Rollback,
        steps,
        downtime: !zero,
        downtime_estimate: (!zero).then_some(policy.rebuild_time),
        rationale: format!(
            "roll back by rebuilding from the last known good candidate {}{}",
            last_good.name,
            if zero {
                " on new instances, then switching the load balancer"
            } else {
                ""
            }
        ),
        warnings,
    })
}

/// Plans a release on a single read/write server: add read labels to approved content. Each
/// grant is `(resource type, id, label codes)` of a [`ReadGrant`] made from an approval.
///
/// [`ReadGrant`]: https://docs.rs/fhir-security-labels
///
/// # Errors
/// [`Error::PolicyRejected`] when the deployment is not a single read/write server.
pub fn plan_label_release(
    deployment: &Deployment,
    grants: &[(String, String, Vec<String>)],
) -> Result<Plan, Error> {
    let Topology::Single { instance } = &deployment.topology else {
        return Err(Error::PolicyRejected {
            reason: "a label release needs a single read/write server".into(),
        });
    };
    if !instance.is_writable() {
        return Err(Error::PolicyRejected {
            reason: format!("{} is read-only and cannot take $meta-add", instance.name),
        });
    }
    let steps = grants
        .iter()
        .map(|(t, id, labels)| {
            step(
                instance,
                Action::AddLabels {
                    resource_type: t.clone(),
                    id: id.clone(),
                    labels: labels.clone(),
                },
            )
        })
        .collect();
    Ok(Plan {
        strategy: Strategy::LabelRelease,
        steps,
        downtime: false,
        downtime_estimate: None,
        rationale: "on a single read/write server, content is released by granting read labels after approval".into(),
        warnings: vec!["a denied read looks like 'not found': verify with the intended cohort's credentials".into()],
    })
}

fn check_policy(deployment: &Deployment, policy: &Policy) -> Result<(), Error> {
    if let (Topology::ScaledShared { through, .. }, PreloadSchedule::CronOnEveryInstance { .. }) =
        (&deployment.topology, &policy.preload_schedule)
    {
        return Err(Error::PolicyRejected {
            reason: format!(
                "the instances share one database, so a preload scheduled on every instance would run the same load concurrently; schedule it on {through} only"
            ),
        });
    }
    if let PreloadSchedule::CronOnOneInstance { instance, .. } = &policy.preload_schedule
        && !deployment
            .topology
            .instances()
            .iter()
            .any(|i| &i.name == instance)
    {
        return Err(Error::PolicyRejected {
            reason: format!(
                "the preload is scheduled on {instance}, which is not an instance of this deployment"
            ),
        });
    }
    Ok(())
}

fn step(i: &Instance, action: Action) -> Step {
    Step {
        instance: i.name.clone(),
        action,
    }
}

/// Every plan ends by verifying each instance: what must be there, and what must be gone.
fn verify_all(steps: &mut Vec<Step>, topology: &Topology, delta: &Delta) {
    let present: Vec<Expectation> = delta.to_load().map(Expectation::from).collect();
    let absent: Vec<Expectation> = delta
        .removed
        .iter()
        .chain(&delta.retracted)
        .map(Expectation::from)
        .collect();
    for i in topology.instances() {
        steps.push(step(
            i,
            Action::Verify {
                present: present.clone(),
                absent: absent.clone(),
            },
        ));
    }
}

fn wipe_steps(steps: &mut Vec<Step>, topology: &Topology, feed: Option<&str>) {
    let instances = topology.instances();
    for i in instances {
        steps.push(step(i, Action::Stop));
    }
    for i in instances {
        if let Some(url) = feed {
            steps.push(step(
                i,
                Action::SetPreloadFeed {
                    url: url.to_owned(),
                },
            ));
        }
    }
    let first = topology.update_targets().first().map(|i| i.name.clone());
    match topology.storage() {
        Storage::Persistent => {
            for i in instances {
                steps.push(step(i, Action::ClearDisk));
            }
            // A shared database is dropped once; separate ones each.
            for i in instances {
                if !topology.is_shared() || Some(&i.name) == first.as_ref() {
                    steps.push(step(i, Action::DropSchema));
                }
            }
        }
        Storage::Transient => {
            for i in instances {
                steps.push(step(i, Action::RecreateContainer));
            }
        }
    }
    if topology.is_shared() {
        // One instance loads the shared database before the others start, or they contend
        // for it.
        let (lead, rest): (Vec<&Instance>, Vec<&Instance>) = instances
            .iter()
            .partition(|i| Some(&i.name) == first.as_ref());
        for i in lead {
            steps.push(step(i, Action::Start));
            steps.push(step(i, Action::WaitForPreload));
        }
        for i in rest {
            steps.push(step(i, Action::Start));
            steps.push(step(i, Action::WaitForPreload));
        }
    } else {
        for i in instances {
            steps.push(step(i, Action::Start));
        }
        for i in instances {
            steps.push(step(i, Action::WaitForPreload));
        }
    }
}

fn blue_green_steps(steps: &mut Vec<Step>, topology: &Topology, feed: Option<&str>, delta: &Delta) {
    let present: Vec<Expectation> = delta.to_load().map(Expectation::from).collect();
    let absent: Vec<Expectation> = delta
        .removed
        .iter()
        .chain(&delta.retracted)
        .map(Expectation::from)
        .collect();
    let green: Vec<InstanceName> = topology
        .instances()
        .iter()
        .map(|i| InstanceName::new(&format!("{}-green", i.name)).unwrap_or_else(|_| i.name.clone()))
        .collect();
    for g in &green {
        steps.push(Step {
            instance: g.clone(),
            action: Action::CreateInstance,
        });
        if let Some(url) = feed {
            steps.push(Step {
                instance: g.clone(),
                action: Action::SetPreloadFeed {
                    url: url.to_owned(),
                },
            });
        }
        steps.push(Step {
            instance: g.clone(),
            action: Action::Start,
        });
        steps.push(Step {
            instance: g.clone(),
            action: Action::WaitForPreload,
        });
        steps.push(Step {
            instance: g.clone(),
            action: Action::Verify {
                present: present.clone(),
                absent: absent.clone(),
            },
        });
    }
    if let Some(first) = topology.instances().first() {
        steps.push(step(
            first,
            Action::SwitchLoadBalancer { to: green.clone() },
        ));
    }
    for blue in topology.instances() {
        steps.push(step(blue, Action::RetireInstance));
    }
    for g in &green {
        steps.push(Step {
            instance: g.clone(),
            action: Action::Verify {
                present: present.clone(),
                absent: absent.clone(),
            },
        });
    }
}
