//! Stateful fakes of the servers, for integration tests (feature `testkit`).
//!
//! A [`FakeTerminologyServer`] behaves like a terminology server, not like canned responses:
//! it holds resources, publishes a syndication feed generated from them (with correct hashes
//! and lengths), redoes its preload with the real update semantics (adds only; the same URL and
//! version is replaced only when the incoming `date` is later), rejects writes when read-only,
//! filters reads by security labels, and can be stopped, wiped and restarted. Fakes in one
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
//! production.set_preload_feeds(vec![authoring.feed_url()]);
//!
//! let client = TerminologyClient::new(&production.base_url(), Arc::new(NoAuth), ClientOptions::for_local_testing()).unwrap();
//! client.redo_preload().await.unwrap();
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
//! let mut exec = Executor::new(&deployment, Arc::new(NoAuth), infra, ClientOptions::for_local_testing(),
//!     WaitPolicy::immediate(3)).unwrap();
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
//! use release_model::delta::Delta;
//! use release_model::deployment::*;
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
//! let p = plan_rollback(&deployment, &last_good, &Delta::default(), &Policy::default()).unwrap();
//!
//! let infra = Arc::new(FakeInfrastructure::new(&registry, vec![("prod".into(), prod.clone())]));
//! Executor::new(&deployment, Arc::new(NoAuth), infra, ClientOptions::for_local_testing(), WaitPolicy::immediate(3))
//!     .unwrap().run(&p, &mut Journal::new(), |_| {}).await.unwrap();
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
//! let p = plan_label_release(&deployment, &[("ValueSet".into(), "vs".into(), vec!["*.read".into()])]).unwrap();
//!
//! let infra = Arc::new(FakeInfrastructure::new(&registry, vec![("tx".into(), tx.clone())]));
//! Executor::new(&deployment, Arc::new(NoAuth), infra, ClientOptions::for_local_testing(), WaitPolicy::immediate(1))
//!     .unwrap().with_grant(grant).run(&p, &mut Journal::new(), |_| {}).await.unwrap();
//! assert!(tx.resource("http://example.org/vs", "1.0.0").unwrap().labels.is_globally_readable());
//! # });
//! ```

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use fhir_security_labels::{
    Authority, Caller, LabelSet, ResourceJson, ServerSecurity, decide_read,
};
use release_model::deployment::BaseUrl;
use release_model::feed::{
    AtomDate, AtomId, Category, Checked, Entry, Feed, FhirVersion, Link, LinkRel, Sha256, Text, ns,
};
use serde_json::{Value, json};
use sha2::Digest;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A test that panicked while holding the lock must not hide the original failure.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

type Provider = Arc<dyn Fn() -> Option<Vec<u8>> + Send + Sync>;

/// Where the fakes of one scenario find each other's documents by URL.
#[derive(Clone, Default)]
pub struct Registry {
    documents: Arc<Mutex<HashMap<String, Provider>>>,
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

#[derive(Debug, Default)]
struct State {
    trusted: Vec<Arc<Mutex<Issued>>>,
    resources: Vec<FakeResource>,
    syndicated: BTreeSet<(String, String)>,
    read_only: bool,
    running: bool,
    preload_feeds: Vec<String>,
    tokens: HashMap<String, Vec<Authority>>,
    anonymous_read: bool,
    feed_lags: bool,
    preloads: usize,
}

/// A fake terminology server. See the [module docs](self).
#[derive(Debug)]
pub struct FakeTerminologyServer {
    server: MockServer,
    state: Arc<Mutex<State>>,
    registry: Registry,
}

struct Handler {
    state: Arc<Mutex<State>>,
    registry: Registry,
    base: String,
}

impl FakeTerminologyServer {
    /// Starts a fake, running and writable, with anonymous FHIR read.
    pub async fn start(registry: &Registry) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            running: true,
            anonymous_read: true,
            ..State::default()
        }));
        let handler = Handler {
            state: Arc::clone(&state),
            registry: registry.clone(),
            base: server.uri(),
        };
        Mock::given(any())
            .respond_with(handler)
            .mount(&server)
            .await;
        let fake = Self {
            server,
            state,
            registry: registry.clone(),
        };
        let (state, registry, base) = (
            Arc::clone(&fake.state),
            fake.registry.clone(),
            fake.server.uri(),
        );
        fake.registry.provide(fake.feed_url(), move || {
            let st = lock(&state);
            st.running.then(|| feed_xml(&st, &base, &registry))
        });
        fake
    }

    /// The base URL.
    pub fn base_url(&self) -> BaseUrl {
        // The mock server's URI is always a valid http URL.
        BaseUrl::new(&self.server.uri()).expect("mock server URIs are http URLs")
    }

    /// The URL of its syndication feed.
    pub fn feed_url(&self) -> String {
        format!("{}/synd/syndication.xml", self.server.uri())
    }

    /// Adds (or replaces, by type and id) a resource.
    pub fn add(&self, r: FakeResource) {
        let mut st = lock(&self.state);
        st.resources
            .retain(|x| !(x.resource_type == r.resource_type && x.id == r.id));
        st.resources.push(r);
    }

    /// Sets a resource's syndication status, as an approver would.
    pub fn set_syndicated(&self, resource_type: &str, id: &str, syndicated: bool) {
        let key = (resource_type.to_owned(), id.to_owned());
        let mut st = lock(&self.state);
        if syndicated {
            st.syndicated.insert(key);
        } else {
            st.syndicated.remove(&key);
        }
    }

    /// Makes the server read-only (as every scaled instance is).
    pub fn set_read_only(&self, read_only: bool) {
        lock(&self.state).read_only = read_only;
    }

    /// Sets `atom.preload.feedLocation`.
    pub fn set_preload_feeds(&self, urls: Vec<String>) {
        lock(&self.state).preload_feeds = urls;
    }

    /// Lets `token` act with these authorities (e.g. `FHIR_READ`, `PERM_RESTRICTED_READ`).
    pub fn grant_token(&self, token: &str, authorities: &[&str]) {
        let parsed = authorities
            .iter()
            .filter_map(|a| Authority::parse(a).ok())
            .collect();
        lock(&self.state).tokens.insert(token.to_owned(), parsed);
    }

    /// Accepts the tokens `auth` issues (with the authorities of the client they were issued
    /// to); tokens it has expired are refused with 401.
    pub fn trust(&self, auth: &FakeAuthServer) {
        lock(&self.state).trusted.push(Arc::clone(&auth.issued));
    }

    /// Whether callers without a token have FHIR read.
    pub fn set_anonymous_read(&self, allowed: bool) {
        lock(&self.state).anonymous_read = allowed;
    }

    /// Makes the next preload see a stale copy of its feeds (the per-URL feed cache lagging
    /// behind a repointed alias); the preload after that sees the current feed.
    pub fn lag_feed_cache_once(&self) {
        lock(&self.state).feed_lags = true;
    }

    /// Stops the server: every request fails with 503 until [`start_again`](Self::start_again).
    pub fn stop(&self) {
        lock(&self.state).running = false;
    }

    /// Clears its disk and database: every resource and syndication status is gone.
    pub fn wipe(&self) {
        let mut st = lock(&self.state);
        st.resources.clear();
        st.syndicated.clear();
    }

    /// Starts it again; a start runs the preload, as a server does at start-up.
    pub fn start_again(&self) {
        let mut st = lock(&self.state);
        st.running = true;
        preload(&mut st, &self.registry);
    }

    /// Every `(url, version)` the server holds, whatever the labels.
    pub fn content(&self) -> BTreeSet<(String, String)> {
        lock(&self.state)
            .resources
            .iter()
            .map(|r| (r.url.clone(), r.version.clone()))
            .collect()
    }

    /// The resource with this canonical and version, if held.
    pub fn resource(&self, url: &str, version: &str) -> Option<FakeResource> {
        lock(&self.state)
            .resources
            .iter()
            .find(|r| r.url == url && r.version == version)
            .cloned()
    }

    /// How many preloads have run.
    pub fn preloads(&self) -> usize {
        lock(&self.state).preloads
    }
}

fn feed_xml(st: &State, base: &str, registry: &Registry) -> Vec<u8> {
    let mut feed = Feed::default();
    feed.id = Some(AtomId::new(format!("urn:fake:{base}")));
    feed.title = Some(Text::plain("Fake terminology server"));
    feed.profile = Some(ns::PROFILE_ASF.to_owned());
    let mut latest = String::new();
    for r in st.resources.iter().filter(|r| {
        st.syndicated
            .contains(&(r.resource_type.clone(), r.id.clone()))
    }) {
        let body = r.to_json().to_string().into_bytes();
        let href = format!("{base}/fhir/{}/{}", r.resource_type, r.id);
        let digest: String = sha2::Sha256::digest(&body)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut link = Link::new(LinkRel::Alternate, href.clone());
        link.media_type = Some("application/fhir+json".into());
        link.length = Some(Checked::Valid(body.len() as u64));
        link.sha256 = Sha256::parse(&digest).ok().map(Checked::Valid);
        registry.put(href, body);
        let mut e = Entry::default();
        e.id = Some(AtomId::new(format!(
            "urn:fake:{}:{}:{}",
            r.resource_type, r.id, r.version
        )));
        e.title = Some(Text::plain(format!("{} {}", r.resource_type, r.id)));
        let updated = format!("{}T00:00:00Z", r.date.get(..10).unwrap_or("2000-01-01"));
        e.updated = AtomDate::parse(&updated).ok().map(Checked::Valid);
        e.categories = vec![Category::new(
            ns::SCHEME_ASF,
            format!("FHIR_{}", r.resource_type),
        )];
        e.links = vec![link];
        e.identifier = Some(r.url.as_str().into());
        e.version = Some(r.version.as_str().into());
        e.fhir_versions = vec![FhirVersion::new("4.0.1")];
        latest = latest.max(updated);
        feed.entries.push(e);
    }
    feed.updated = AtomDate::parse(if latest.is_empty() {
        "2000-01-01T00:00:00Z"
    } else {
        &latest
    })
    .ok()
    .map(Checked::Valid);
    feed.to_xml().into_bytes()
}

/// Loads every FHIR resource the preload feeds offer, with the server's update semantics.
fn preload(st: &mut State, registry: &Registry) {
    st.preloads += 1;
    if std::mem::take(&mut st.feed_lags) {
        return;
    }
    for url in st.preload_feeds.clone() {
        let Some(bytes) = registry.get(&url) else {
            continue;
        };
        let Ok(feed) = Feed::from_slice(&bytes) else {
            continue;
        };
        for e in feed.entries.iter().filter(|e| !e.is_retraction()) {
            let Some(link) = e.alternate_link() else {
                continue;
            };
            let Some(body) = registry.get(&link.href) else {
                continue;
            };
            if let Some(h) = link.sha256()
                && !h.matches(&sha2::Sha256::digest(&body))
            {
                continue;
            }
            let Ok(json) = serde_json::from_slice::<Value>(&body) else {
                continue;
            };
            let Some(incoming) = FakeResource::from_json(&json) else {
                continue;
            };
            match st
                .resources
                .iter_mut()
                .find(|r| r.url == incoming.url && r.version == incoming.version)
            {
                // Same canonical and version: replaced only when the incoming date is later.
                Some(existing) => {
                    if incoming.date > existing.date {
                        *existing = FakeResource {
                            id: existing.id.clone(),
                            ..incoming
                        };
                    }
                }
                None => {
                    let id_taken = st
                        .resources
                        .iter()
                        .any(|r| r.resource_type == incoming.resource_type && r.id == incoming.id);
                    let id = if id_taken {
                        format!("{}-{}", incoming.id, st.resources.len())
                    } else {
                        incoming.id.clone()
                    };
                    st.resources.push(FakeResource { id, ..incoming });
                }
            }
        }
    }
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

impl Handler {
    fn caller(&self, st: &State, req: &Request) -> Caller {
        let Some(token) = bearer(req) else {
            return Caller::anonymous();
        };
        if let Some(a) = st.tokens.get(token) {
            return Caller::with_authorities(a.iter().cloned());
        }
        for issuer in &st.trusted {
            if let Some(a) = lock(issuer).tokens.get(token) {
                return Caller::with_authorities(a.iter().cloned());
            }
        }
        Caller::anonymous()
    }

    fn visible(&self, st: &State, req: &Request, r: &FakeResource) -> bool {
        let server = if st.anonymous_read {
            ServerSecurity::fine_with_anonymous_read()
        } else {
            ServerSecurity::fine()
        };
        decide_read(&r.labels, &self.caller(st, req), &server).is_allowed()
    }
}

impl Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut st = lock(&self.state);
        if !st.running {
            return ResponseTemplate::new(503);
        }
        let path: Vec<&str> = req.url.path().trim_matches('/').split('/').collect();
        let method = req.method.as_str();
        let write = matches!(method, "POST" | "PUT" | "DELETE");
        if let Some(token) = bearer(req) {
            let known = st.tokens.contains_key(token)
                || st
                    .trusted
                    .iter()
                    .any(|i| lock(i).tokens.contains_key(token));
            if !known && !st.trusted.is_empty() {
                return ResponseTemplate::new(401).set_body_string("invalid or expired token");
            }
        }
        match (method, path.as_slice()) {
            ("GET", ["synd", "syndication.xml"]) => {
                ResponseTemplate::new(200).set_body_raw(feed_xml(&st, &self.base, &self.registry), "application/atom+xml")
            }
            ("POST", ["synd", "redoPreload"]) => {
                preload(&mut st, &self.registry);
                ResponseTemplate::new(200)
            }
            ("POST", ["synd", "setSyndicationStatus"]) => {
                let (Some(t), Some(id), Some(flag)) = (query(req, "resourceType"), query(req, "id"), query(req, "syndicate")) else {
                    return ResponseTemplate::new(400);
                };
                if flag == "true" {
                    st.syndicated.insert((t, id));
                } else {
                    st.syndicated.remove(&(t, id));
                }
                ResponseTemplate::new(200)
            }
            ("GET", ["fhir", "metadata"]) => ResponseTemplate::new(200)
                .set_body_json(json!({"resourceType": "CapabilityStatement", "software": {"name": "fake", "version": "0.0.0"}})),
            _ if write && st.read_only => ResponseTemplate::new(405).set_body_string("read-only"),
            ("GET", ["fhir", t]) => {
                let (url, version) = (query(req, "url"), query(req, "version"));
                let entries: Vec<Value> = st
                    .resources
                    .iter()
                    .filter(|r| r.resource_type == *t)
                    .filter(|r| url.as_deref().is_none_or(|u| r.url == u))
                    .filter(|r| version.as_deref().is_none_or(|v| r.version == v))
                    .filter(|r| self.visible(&st, req, r))
                    .map(|r| json!({"resource": r.to_json()}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(json!({"resourceType": "Bundle", "type": "searchset", "total": entries.len(), "entry": entries}))
            }
            ("GET", ["fhir", t, id]) => match st.resources.iter().find(|r| r.resource_type == *t && r.id == *id) {
                Some(r) if self.visible(&st, req, r) => ResponseTemplate::new(200).set_body_json(r.to_json()),
                _ => ResponseTemplate::new(404),
            },
            ("DELETE", ["fhir", t]) => {
                let (url, version) = (query(req, "url"), query(req, "version"));
                st.resources.retain(|r| !(r.resource_type == *t && Some(&r.url) == url.as_ref() && Some(&r.version) == version.as_ref()));
                ResponseTemplate::new(204)
            }
            ("DELETE", ["fhir", t, id]) => {
                st.resources.retain(|r| !(r.resource_type == *t && r.id == *id));
                ResponseTemplate::new(204)
            }
            ("POST", ["fhir", t, id, op @ ("$meta-add" | "$meta-delete")]) => {
                let Ok(labels) = fhir_security_labels::parse_meta_parameters(&String::from_utf8_lossy(&req.body)) else {
                    return ResponseTemplate::new(400);
                };
                let Some(r) = st.resources.iter_mut().find(|r| r.resource_type == *t && r.id == *id) else {
                    return ResponseTemplate::new(404);
                };
                if *op == "$meta-add" {
                    r.labels.merge(&labels);
                } else {
                    r.labels = r.labels.difference(&labels);
                }
                ResponseTemplate::new(200).set_body_json(json!({"resourceType": "Parameters", "parameter": [{"name": "return", "valueMeta": {"security": r.labels}}]}))
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The syndication server.

#[derive(Debug, Default)]
struct SyndState {
    feeds: Vec<(String, String, Vec<u8>)>,
    aliases: HashMap<String, String>,
    running: bool,
}

/// A fake syndication server: feeds, `$clone` of another fake's feed with its artefacts into
/// an immutable snapshot, aliases, and the feeds' Atom documents.
#[derive(Debug)]
pub struct FakeSyndicationServer {
    server: MockServer,
    state: Arc<Mutex<SyndState>>,
}

struct SyndHandler {
    state: Arc<Mutex<SyndState>>,
    registry: Registry,
    base: String,
}

impl FakeSyndicationServer {
    /// Starts a fake with no feeds.
    pub async fn start(registry: &Registry) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(SyndState {
            running: true,
            ..SyndState::default()
        }));
        let handler = SyndHandler {
            state: Arc::clone(&state),
            registry: registry.clone(),
            base: server.uri(),
        };
        Mock::given(any())
            .respond_with(handler)
            .mount(&server)
            .await;
        Self { server, state }
    }

    /// The base URL.
    pub fn base_url(&self) -> BaseUrl {
        BaseUrl::new(&self.server.uri()).expect("mock server URIs are http URLs")
    }

    /// The names of its feeds.
    pub fn feeds(&self) -> Vec<String> {
        lock(&self.state)
            .feeds
            .iter()
            .map(|(n, _, _)| n.clone())
            .collect()
    }

    /// The feed an alias points at.
    pub fn alias_target(&self, alias: &str) -> Option<String> {
        lock(&self.state).aliases.get(alias).cloned()
    }

    /// Stops (503 for everything) or restarts the server.
    pub fn set_running(&self, running: bool) {
        lock(&self.state).running = running;
    }
}

impl SyndHandler {
    fn publish_feed(&self, name: &str) {
        let state = Arc::clone(&self.state);
        let owned = name.to_owned();
        self.registry.provide(
            format!("{}/feed/{name}/syndication.xml", self.base),
            move || {
                let st = lock(&state);
                if !st.running {
                    return None;
                }
                st.feeds
                    .iter()
                    .find(|(n, _, _)| *n == owned)
                    .map(|(_, _, xml)| xml.clone())
            },
        );
    }

    fn publish_alias(&self, alias: &str) {
        let state = Arc::clone(&self.state);
        let owned = alias.to_owned();
        self.registry.provide(
            format!("{}/alias/{alias}/syndication.xml", self.base),
            move || {
                let st = lock(&state);
                if !st.running {
                    return None;
                }
                let target = st.aliases.get(&owned)?;
                st.feeds
                    .iter()
                    .find(|(n, _, _)| n == target)
                    .map(|(_, _, xml)| xml.clone())
            },
        );
    }

    /// Copies a feed and its artefacts; the copy's links point at this server.
    fn snapshot(&self, name: &str, source: &str) -> Option<Vec<u8>> {
        let mut feed = Feed::from_slice(&self.registry.get(source)?).ok()?;
        for (i, e) in feed.entries.iter_mut().enumerate() {
            for (j, l) in e.links.iter_mut().enumerate() {
                let bytes = self.registry.get(&l.href)?;
                let href = format!("{}/feed/{name}/artefact/{i}-{j}", self.base);
                self.registry.put(href.clone(), bytes);
                l.href = href;
            }
        }
        Some(feed.to_xml().into_bytes())
    }
}

impl Respond for SyndHandler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if !lock(&self.state).running {
            return ResponseTemplate::new(503);
        }
        let path: Vec<&str> = req.url.path().trim_matches('/').split('/').collect();
        let body = || serde_json::from_slice::<Value>(&req.body).ok();
        let field = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).map(str::to_owned);
        match (req.method.as_str(), path.as_slice()) {
            ("GET", ["feed"]) => {
                let st = lock(&self.state);
                let list: Vec<Value> = st
                    .feeds
                    .iter()
                    .map(|(n, t, _)| json!({"name": n, "title": t}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(list)
            }
            ("POST", ["feed"]) => {
                let Some((name, title)) = body().and_then(|v| {
                    Some((field(&v, "name")?, field(&v, "title").unwrap_or_default()))
                }) else {
                    return ResponseTemplate::new(400);
                };
                let mut st = lock(&self.state);
                if st.feeds.iter().any(|(n, _, _)| *n == name) {
                    return ResponseTemplate::new(409);
                }
                let empty = Feed::default().to_xml().into_bytes();
                st.feeds.push((name.clone(), title, empty));
                drop(st);
                self.publish_feed(&name);
                ResponseTemplate::new(201)
            }
            ("POST", ["feed", "$clone"]) => {
                let (Some(name), Some(source)) = (query(req, "name"), query(req, "url")) else {
                    return ResponseTemplate::new(400);
                };
                if lock(&self.state).feeds.iter().any(|(n, _, _)| *n == name) {
                    return ResponseTemplate::new(409);
                }
                let Some(xml) = self.snapshot(&name, &source) else {
                    return ResponseTemplate::new(502)
                        .set_body_string(format!("cannot fetch {source}"));
                };
                lock(&self.state)
                    .feeds
                    .push((name.clone(), name.clone(), xml));
                self.publish_feed(&name);
                ResponseTemplate::new(201)
            }
            ("GET", ["feed", name]) => {
                let st = lock(&self.state);
                let Some((n, t, xml)) = st.feeds.iter().find(|(n, _, _)| n == name) else {
                    return ResponseTemplate::new(404);
                };
                let entries: Vec<Value> = Feed::from_slice(xml)
                    .map(|f| f.entries)
                    .unwrap_or_default()
                    .iter()
                    .map(|e| {
                        json!({
                            "id": e.id.as_ref().map(|i| i.as_str()),
                            "title": e.title.as_ref().map(|t| t.as_str()),
                            "contentItemIdentifier": e.identifier.as_ref().map(|i| i.as_str()),
                            "contentItemVersion": e.version.as_ref().map(|v| v.as_str()),
                        })
                    })
                    .collect();
                ResponseTemplate::new(200)
                    .set_body_json(json!({"name": n, "title": t, "entries": entries}))
            }
            ("GET", ["feed", name, "syndication.xml"]) => {
                match lock(&self.state).feeds.iter().find(|(n, _, _)| n == name) {
                    Some((_, _, xml)) => {
                        ResponseTemplate::new(200).set_body_raw(xml.clone(), "application/atom+xml")
                    }
                    None => ResponseTemplate::new(404),
                }
            }
            ("GET", ["feed", _, "artefact", _]) => {
                match self
                    .registry
                    .get(&format!("{}{}", self.base, req.url.path()))
                {
                    Some(bytes) => {
                        ResponseTemplate::new(200).set_body_raw(bytes, "application/octet-stream")
                    }
                    None => ResponseTemplate::new(404),
                }
            }
            ("DELETE", ["feed", name]) => {
                lock(&self.state).feeds.retain(|(n, _, _)| n != name);
                ResponseTemplate::new(204)
            }
            ("GET", ["alias"]) => {
                let st = lock(&self.state);
                let list: Vec<Value> = st
                    .aliases
                    .iter()
                    .map(|(a, f)| json!({"aliasName": a, "feedName": f}))
                    .collect();
                ResponseTemplate::new(200).set_body_json(list)
            }
            ("POST", ["alias"]) | ("PUT", ["alias", _]) => {
                let Some((alias, feed)) =
                    body().and_then(|v| Some((field(&v, "aliasName")?, field(&v, "feedName")?)))
                else {
                    return ResponseTemplate::new(400);
                };
                let mut st = lock(&self.state);
                let creating = req.method.as_str() == "POST";
                if creating == st.aliases.contains_key(&alias) {
                    return ResponseTemplate::new(if creating { 409 } else { 404 });
                }
                if !st.feeds.iter().any(|(n, _, _)| *n == feed) {
                    return ResponseTemplate::new(404);
                }
                st.aliases.insert(alias.clone(), feed);
                drop(st);
                self.publish_alias(&alias);
                ResponseTemplate::new(200)
            }
            ("DELETE", ["alias", alias]) => {
                lock(&self.state).aliases.remove(*alias);
                ResponseTemplate::new(204)
            }
            ("GET", ["alias", alias, "syndication.xml"]) => {
                match self
                    .registry
                    .get(&format!("{}/alias/{alias}/syndication.xml", self.base))
                {
                    Some(xml) => {
                        ResponseTemplate::new(200).set_body_raw(xml, "application/atom+xml")
                    }
                    None => ResponseTemplate::new(404),
                }
            }
            ("GET", ["actuator", "health"]) => {
                ResponseTemplate::new(200).set_body_json(json!({"status": "UP"}))
            }
            _ => ResponseTemplate::new(404),
        }
    }
}

// ---------------------------------------------------------------------------------------
// The authorisation server.

/// A client registered with the authorisation fake.
#[derive(Debug)]
struct Registered {
    secret: String,
    authorities: Vec<Authority>,
}

/// A fake OAuth2 server issuing client-credentials tokens to registered clients; a wrong
/// secret is refused with `invalid_client`. Tokens live until [`expire_all`](Self::expire_all).
#[derive(Debug)]
pub struct FakeAuthServer {
    server: MockServer,
    issued: Arc<Mutex<Issued>>,
    clients: Arc<Mutex<HashMap<String, Registered>>>,
    requests: Arc<Mutex<usize>>,
}

struct AuthHandler {
    issued: Arc<Mutex<Issued>>,
    clients: Arc<Mutex<HashMap<String, Registered>>>,
    requests: Arc<Mutex<usize>>,
    lifetime: u64,
}

impl FakeAuthServer {
    /// Starts a fake whose tokens report `expires_in` seconds.
    pub async fn start(expires_in: u64) -> Self {
        let server = MockServer::start().await;
        let issued = Arc::new(Mutex::new(Issued::default()));
        let clients = Arc::new(Mutex::new(HashMap::new()));
        let requests = Arc::new(Mutex::new(0));
        let handler = AuthHandler {
            issued: Arc::clone(&issued),
            clients: Arc::clone(&clients),
            requests: Arc::clone(&requests),
            lifetime: expires_in,
        };
        Mock::given(any())
            .respond_with(handler)
            .mount(&server)
            .await;
        Self {
            server,
            issued,
            clients,
            requests,
        }
    }

    /// The token endpoint.
    pub fn token_url(&self) -> String {
        format!("{}/token", self.server.uri())
    }

    /// Registers a client with its secret and the authorities its tokens carry.
    pub fn register(&self, client_id: &str, secret: &str, authorities: &[&str]) {
        let parsed = authorities
            .iter()
            .filter_map(|a| Authority::parse(a).ok())
            .collect();
        lock(&self.clients).insert(
            client_id.to_owned(),
            Registered {
                secret: secret.to_owned(),
                authorities: parsed,
            },
        );
    }

    /// Expires every token issued so far: servers trusting this fake answer 401 to them.
    pub fn expire_all(&self) {
        lock(&self.issued).tokens.clear();
    }

    /// Token requests received.
    pub fn requests(&self) -> usize {
        *lock(&self.requests)
    }
}

fn form(body: &[u8]) -> HashMap<String, String> {
    url_decode_pairs(&String::from_utf8_lossy(body))
}

fn url_decode_pairs(s: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{s}"))
        .map(|u| {
            u.query_pairs()
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default()
}

fn basic_credentials(req: &Request) -> Option<(String, String)> {
    use base64_decode::decode;
    let v = req
        .headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = decode(v)?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |x: &str| {
        url_decode_pairs(&format!("v={x}"))
            .remove("v")
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// Just enough base64 for HTTP Basic credentials.
mod base64_decode {
    pub(super) fn decode(s: &str) -> Option<String> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut bits = 0u32;
        let mut n = 0;
        let mut out = Vec::new();
        for c in s.trim_end_matches('=').bytes() {
            let v = ALPHABET.iter().position(|&a| a == c)? as u32;
            bits = (bits << 6) | v;
            n += 6;
            if n >= 8 {
                n -= 8;
                out.push((bits >> n) as u8);
                bits &= (1 << n) - 1;
            }
        }
        String::from_utf8(out).ok()
    }
}

impl Respond for AuthHandler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if req.method.as_str() != "POST" || req.url.path() != "/token" {
            return ResponseTemplate::new(404);
        }
        *lock(&self.requests) += 1;
        let params = form(&req.body);
        if params.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return ResponseTemplate::new(400)
                .set_body_json(json!({"error": "unsupported_grant_type"}));
        }
        let (id, secret) = match basic_credentials(req) {
            Some(c) => c,
            None => (
                params.get("client_id").cloned().unwrap_or_default(),
                params.get("client_secret").cloned().unwrap_or_default(),
            ),
        };
        let clients = lock(&self.clients);
        let Some(Registered {
            secret: expected,
            authorities,
        }) = clients.get(&id)
        else {
            return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}));
        };
        if *expected != secret {
            return ResponseTemplate::new(401).set_body_json(json!({"error": "invalid_client"}));
        }
        let mut issued = lock(&self.issued);
        let token = format!("fake-token-{}-{}", id, *lock(&self.requests));
        issued.tokens.insert(token.clone(), authorities.clone());
        ResponseTemplate::new(200).set_body_json(
            json!({"access_token": token, "token_type": "bearer", "expires_in": self.lifetime}),
        )
    }
}

// ---------------------------------------------------------------------------------------
// Infrastructure over the fakes.

/// [`Infrastructure`](crate::Infrastructure) for fake terminology servers: stop, start (which
/// preloads), wipe, repoint the preload feed, create and retire instances, switch a recorded
/// load balancer.
#[derive(Debug)]
pub struct FakeInfrastructure {
    registry: Registry,
    servers: Mutex<HashMap<String, Arc<FakeTerminologyServer>>>,
    load_balancer: Mutex<Vec<String>>,
}

impl FakeInfrastructure {
    /// Infrastructure for these named servers.
    pub fn new(registry: &Registry, servers: Vec<(String, Arc<FakeTerminologyServer>)>) -> Self {
        let names = servers.iter().map(|(n, _)| n.clone()).collect();
        Self {
            registry: registry.clone(),
            servers: Mutex::new(servers.into_iter().collect()),
            load_balancer: Mutex::new(names),
        }
    }

    /// The server behind an instance name, created ones included.
    pub fn server(&self, name: &str) -> Option<Arc<FakeTerminologyServer>> {
        lock(&self.servers).get(name).cloned()
    }

    /// The instances the load balancer routes to.
    pub fn routed(&self) -> Vec<String> {
        lock(&self.load_balancer).clone()
    }

    fn with(
        &self,
        instance: &release_model::deployment::InstanceName,
        op: &'static str,
        f: impl FnOnce(&FakeTerminologyServer),
    ) -> Result<(), crate::Error> {
        let server =
            self.server(instance.as_str())
                .ok_or_else(|| crate::Error::Infrastructure {
                    instance: instance.to_string(),
                    operation: op,
                    message: "no such instance".into(),
                })?;
        f(&server);
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::Infrastructure for FakeInfrastructure {
    async fn stop(&self, i: &release_model::deployment::InstanceName) -> Result<(), crate::Error> {
        self.with(i, "stop", FakeTerminologyServer::stop)
    }

    async fn start(&self, i: &release_model::deployment::InstanceName) -> Result<(), crate::Error> {
        self.with(i, "start", FakeTerminologyServer::start_again)
    }

    async fn clear_disk(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<(), crate::Error> {
        self.with(i, "clear-disk", FakeTerminologyServer::wipe)
    }

    async fn drop_schema(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<(), crate::Error> {
        self.with(i, "drop-schema", FakeTerminologyServer::wipe)
    }

    async fn recreate_container(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<(), crate::Error> {
        self.with(i, "recreate-container", FakeTerminologyServer::wipe)
    }

    async fn set_preload_feed(
        &self,
        i: &release_model::deployment::InstanceName,
        url: &str,
    ) -> Result<(), crate::Error> {
        self.with(i, "set-preload-feed", |s| {
            s.set_preload_feeds(vec![url.to_owned()])
        })
    }

    async fn create_instance(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<BaseUrl, crate::Error> {
        let server = FakeTerminologyServer::start(&self.registry).await;
        // A new instance has nothing until it is started with its preload feed.
        server.stop();
        let url = server.base_url();
        lock(&self.servers).insert(i.to_string(), Arc::new(server));
        Ok(url)
    }

    async fn retire_instance(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<(), crate::Error> {
        lock(&self.load_balancer).retain(|n| n != i.as_str());
        self.with(i, "retire-instance", FakeTerminologyServer::stop)
    }

    async fn switch_load_balancer(
        &self,
        to: &[release_model::deployment::InstanceName],
    ) -> Result<(), crate::Error> {
        *lock(&self.load_balancer) = to.iter().map(ToString::to_string).collect();
        Ok(())
    }
}
