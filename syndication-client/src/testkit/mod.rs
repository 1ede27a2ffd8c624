//! Stateful fakes of the servers, for integration tests (feature `testkit`).
//!
//! A [`FakeTerminologyServer`] behaves like a terminology server, not like canned responses:
//! it holds resources, publishes a syndication feed generated from them (with correct hashes
//! and lengths), redoes its preload with the real update semantics (adds only; the same URL and
//! version is replaced only when the incoming `date` is later) in the background and in
//! virtual time, caches its preload feeds, reads a changed preload feed location only when it
//! restarts, shares one store between scaled-shared instances (and counts preloads that
//! contend for it), rejects writes when read-only or without the authority, filters reads by
//! security labels, and can be stopped, wiped and restarted; its docs list each behaviour. Fakes in one
//! scenario share a [`Registry`], through which they fetch each other's feeds and artefacts
//! without network tricks.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use syndication_client::testkit::{FakeResource, FakeTerminologyServer, Registry};
//! use syndication_client::{ClientOptions, NoAuth, TerminologyClient};
//!
//! let registry = Registry::new();
//! let authoring = FakeTerminologyServer::start(&registry).await;
//! let production = FakeTerminologyServer::start(&registry).await;
//! authoring.add(FakeResource::value_set("body-sites", "http://example.org/vs/body-sites", "1.0.0", "2026-11-01"));
//! authoring.set_syndicated("ValueSet", "body-sites", true);
//! // A preload feed takes effect when the server starts; the start-up preload then runs in the
//! // background, an item a second by the fakes' virtual clock.
//! production.set_preload_feeds(vec![authoring.feed_url()]);
//! production.start_again();
//!
//! let client = TerminologyClient::new(&production.base_url(), Arc::new(NoAuth), ClientOptions::for_local_testing()).unwrap();
//! assert_eq!(client.preload_running().await.unwrap(), Some(true));
//! assert!(!client.has_canonical("ValueSet", "http://example.org/vs/body-sites", "1.0.0").await.unwrap());
//! registry.clock().advance(std::time::Duration::from_secs(1));
//! assert!(client.has_canonical("ValueSet", "http://example.org/vs/body-sites", "1.0.0").await.unwrap());
//! # });
//! ```
//!
//! # An additive release, executed and verified
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use release_model::delta::{Delta, DeltaItem};
//! use release_model::deployment::*;
//! use release_model::feed::ContentType;
//! use release_model::plan::{plan, Policy, Strategy};
//! use syndication_client::testkit::{FakeInfrastructure, FakeResource, FakeTerminologyServer, Registry};
//! use syndication_client::{ClientOptions, Executor, Journal, NoAuth, WaitPolicy};
//!
//! let registry = Registry::new();
//! let authoring = FakeTerminologyServer::start(&registry).await;
//! authoring.add(FakeResource::value_set("vs", "http://example.org/vs", "1.0.0", "2026-11-01"));
//! authoring.set_syndicated("ValueSet", "vs", true);
//! let prod = Arc::new(FakeTerminologyServer::start(&registry).await);
//! prod.set_preload_feeds(vec![authoring.feed_url()]);
//! prod.start_again();
//!
//! let instance = Instance::new(InstanceName::new("prod").unwrap(), prod.base_url(),
//!     Role::Production, Access::ReadOnly, Storage::Persistent);
//! let deployment = Deployment::new(DeploymentModel::AuthoringToProduction, Topology::single(instance));
//! let mut delta = Delta::default();
//! delta.added.push(DeltaItem::new("http://example.org/vs".into(), "1.0.0".into(), ContentType::FhirValueSet, None));
//! let p = plan(&deployment, &delta, &Policy::default()).unwrap();
//! assert_eq!(p.strategy, Strategy::Additive);
//!
//! let infra = Arc::new(FakeInfrastructure::new(&registry, vec![("prod".into(), prod.clone())]));
//! // Waits pass by the fakes' virtual clock.
//! let mut exec = Executor::new(&deployment, Arc::new(NoAuth), infra, ClientOptions::for_local_testing(),
//!     WaitPolicy::virtual_time()).unwrap().with_clock(Arc::new(registry.clock()));
//! let mut journal = Journal::new();
//! exec.run(&p, &mut journal, |_| {}).await.unwrap();
//! assert!(prod.content().contains(&("http://example.org/vs".into(), "1.0.0".into())));
//! # });
//! ```
//!
//! # A rollback: a rebuild from the last good feed
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use release_model::delta::{Delta, DeltaItem};
//! use release_model::deployment::*;
//! use release_model::feed::ContentType;
//! use release_model::plan::{plan_rollback, Policy};
//! use syndication_client::testkit::{FakeInfrastructure, FakeResource, FakeTerminologyServer, Registry};
//! use syndication_client::{ClientOptions, Executor, Journal, NoAuth, WaitPolicy};
//!
//! let registry = Registry::new();
//! let good = FakeTerminologyServer::start(&registry).await; // stands in for the last good feed
//! good.add(FakeResource::value_set("vs", "http://example.org/vs", "1.0.0", "2026-11-01"));
//! good.set_syndicated("ValueSet", "vs", true);
//! let prod = Arc::new(FakeTerminologyServer::start(&registry).await);
//! prod.add(FakeResource::value_set("bad", "http://example.org/bad", "9.9.9", "2026-11-20"));
//!
//! let instance = Instance::new(InstanceName::new("prod").unwrap(), prod.base_url(),
//!     Role::Production, Access::ReadOnly, Storage::Persistent);
//! let deployment = Deployment::new(DeploymentModel::Comprehensive, Topology::single(instance));
//! let last_good = ReleaseCandidate::new(
//!     ReleaseCandidateName::parse("release-candidate-20261101T0900").unwrap(), good.feed_url());
//! // What rolling back changes: the bad release's value set goes, the last good one stays.
//! let mut undo = Delta::default();
//! undo.removed.push(DeltaItem::new("http://example.org/bad".into(), "9.9.9".into(), ContentType::FhirValueSet, None));
//! undo.unchanged.push(DeltaItem::new("http://example.org/vs".into(), "1.0.0".into(), ContentType::FhirValueSet, None));
//! let p = plan_rollback(&deployment, &last_good, &undo, &Policy::default()).unwrap();
//!
//! // A rebuild takes the service down: announced ten working days ahead, run in its window.
//! use chrono::NaiveDate;
//! use release_model::notice::{DowntimeWindow, Notice, ReleaseKind, WorkingDayCalendar};
//! let at = |h| NaiveDate::from_ymd_opt(2026, 12, 14).unwrap().and_hms_opt(h, 0, 0).unwrap();
//! let window = DowntimeWindow::new(at(20), at(23)).unwrap();
//! let notice = Notice::for_plan(&p, ReleaseKind::Content, window, vec!["Hospital A".into()],
//!     &WorkingDayCalendar::new()).unwrap().unwrap().given(NaiveDate::from_ymd_opt(2026, 11, 27).unwrap());
//! let p = p.with_notice(notice);
//!
//! let infra = Arc::new(FakeInfrastructure::new(&registry, vec![("prod".into(), prod.clone())]));
//! Executor::new(&deployment, Arc::new(NoAuth), infra, ClientOptions::for_local_testing(), WaitPolicy::virtual_time())
//!     .unwrap().with_clock(Arc::new(registry.clock()))
//!     .with_wall_clock(move || at(20) + chrono::Duration::minutes(30))
//!     // Production goes after staging (`StagingGate::verified`); this example has none.
//!     .with_staging(syndication_client::StagingGate::skipped("an example without staging"))
//!     .run(&p, &mut Journal::new(), |_| {}).await.unwrap();
//! // Only what the last good feed offers is left.
//! assert_eq!(prod.content().into_iter().collect::<Vec<_>>(), [("http://example.org/vs".into(), "1.0.0".into())]);
//! # });
//! ```
//!
//! # A label release on a single read/write server
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::sync::Arc;
//! use chrono::{TimeZone, Utc};
//! use fhir_security_labels::{Approval, ContentRef, ReadGrant};
//! use release_model::deployment::*;
//! use release_model::plan::plan_label_release;
//! use syndication_client::testkit::{FakeInfrastructure, FakeResource, FakeTerminologyServer, Registry};
//! use syndication_client::{ClientOptions, Executor, Journal, NoAuth, WaitPolicy};
//!
//! let registry = Registry::new();
//! let tx = Arc::new(FakeTerminologyServer::start(&registry).await);
//! tx.add(FakeResource::value_set("vs", "http://example.org/vs", "1.0.0", "2026-11-01"));
//! let instance = Instance::new(InstanceName::new("tx").unwrap(), tx.base_url(),
//!     Role::Production, Access::ReadWrite, Storage::Persistent);
//! let deployment = Deployment::new(DeploymentModel::SingleReadWrite, Topology::single(instance));
//!
//! let now = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
//! let approval = Approval::new("approver", now, ContentRef::new("ValueSet", "vs")).unwrap();
//! let grant = ReadGrant::global(approval, now).unwrap();
//! let p = plan_label_release(&deployment, std::slice::from_ref(&grant)).unwrap();
//!
//! let infra = Arc::new(FakeInfrastructure::new(&registry, vec![("tx".into(), tx.clone())]));
//! Executor::new(&deployment, Arc::new(NoAuth), infra, ClientOptions::for_local_testing(), WaitPolicy::immediate(1))
//!     .unwrap().with_grant(grant).run(&p, &mut Journal::new(), |_| {}).await.unwrap();
//! assert!(tx.resource("http://example.org/vs", "1.0.0").unwrap().labels.is_globally_readable());
//! # });
//! ```

mod auth;
mod infrastructure;
mod scenario;
mod syndication;
mod terminology;

pub use auth::FakeAuthServer;
pub use infrastructure::FakeInfrastructure;
pub use scenario::{
    Layout, PIPELINE_AUTHORITIES, PIPELINE_CLIENT, PIPELINE_SECRET, Scenario, ScenarioBuilder,
};
pub use syndication::FakeSyndicationServer;
pub use terminology::FakeTerminologyServer;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fhir_security_labels::{Authority, LabelSet, ResourceJson};
use serde_json::{Value, json};
use wiremock::Request;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not hide the original failure.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Provider = Arc<dyn Fn() -> Option<Vec<u8>> + Send + Sync>;

/// Where the fakes of one scenario find each other's documents by URL, and the virtual clock
/// they share.
#[derive(Clone, Default)]
pub struct Registry {
    documents: Arc<Mutex<HashMap<String, Provider>>>,
    clock: crate::ManualClock,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry")
            .field("documents", &lock(&self.documents).len())
            .finish()
    }
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Serves fixed bytes at `url`.
    pub fn put(&self, url: impl Into<String>, bytes: Vec<u8>) {
        let bytes = Arc::new(bytes);
        lock(&self.documents).insert(url.into(), Arc::new(move || Some(bytes.as_ref().clone())));
    }

    /// Serves whatever `provider` produces at `url` when it is fetched.
    pub fn provide(
        &self,
        url: impl Into<String>,
        provider: impl Fn() -> Option<Vec<u8>> + Send + Sync + 'static,
    ) {
        lock(&self.documents).insert(url.into(), Arc::new(provider));
    }

    /// The fakes' clock: virtual time, moved only by [`ManualClock::advance`](crate::ManualClock::advance)
    /// or by an executor waiting on it (`Executor::with_clock`). A fake's preload takes time
    /// by this clock, so a test never waits for real.
    pub fn clock(&self) -> crate::ManualClock {
        self.clock.clone()
    }

    /// The document at `url`, if any fake serves it.
    pub fn get(&self, url: &str) -> Option<Vec<u8>> {
        let provider = lock(&self.documents).get(url).cloned()?;
        provider()
    }
}

/// A resource held by a fake terminology server.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct FakeResource {
    /// The resource type.
    pub resource_type: String,
    /// The logical id.
    pub id: String,
    /// The canonical URL.
    pub url: String,
    /// The business version.
    pub version: String,
    /// The `date` (compared as text: ISO dates order correctly).
    pub date: String,
    /// `meta.security`.
    pub labels: LabelSet,
}

impl FakeResource {
    /// A resource.
    pub fn new(resource_type: &str, id: &str, url: &str, version: &str, date: &str) -> Self {
        Self {
            resource_type: resource_type.into(),
            id: id.into(),
            url: url.into(),
            version: version.into(),
            date: date.into(),
            labels: LabelSet::new(),
        }
    }

    /// A ValueSet.
    pub fn value_set(id: &str, url: &str, version: &str, date: &str) -> Self {
        Self::new("ValueSet", id, url, version, date)
    }

    /// A CodeSystem.
    pub fn code_system(id: &str, url: &str, version: &str, date: &str) -> Self {
        Self::new("CodeSystem", id, url, version, date)
    }

    /// Adds security labels.
    pub fn with_labels(mut self, labels: LabelSet) -> Self {
        self.labels = labels;
        self
    }

    fn to_json(&self) -> Value {
        let mut v = json!({
            "resourceType": self.resource_type,
            "id": self.id,
            "url": self.url,
            "version": self.version,
            "status": "active",
            "date": self.date,
        });
        if !self.labels.is_empty() {
            v["meta"] = json!({ "security": self.labels });
        }
        v
    }

    fn from_json(v: &Value) -> Option<Self> {
        let s = |k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        let labels = ResourceJson::parse(&v.to_string()).ok()?.labels().ok()?;
        Some(Self {
            resource_type: s("resourceType")?,
            id: s("id")?,
            url: s("url")?,
            version: s("version").unwrap_or_default(),
            date: s("date").unwrap_or_default(),
            labels,
        })
    }
}

/// Tokens an authorisation fake issued, with the authorities they carry; shared with the
/// terminology fakes that trust it.
#[derive(Debug, Default)]
struct Issued {
    tokens: HashMap<String, Vec<Authority>>,
}

fn bearer(req: &Request) -> Option<&str> {
    req.headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
}

fn query(req: &Request, key: &str) -> Option<String> {
    req.url
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}
