//! The fake terminology server.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fhir_security_labels::{Authority, Caller, Grant, ServerSecurity, decide_read};
use release_model::deployment::BaseUrl;
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{FakeAuthServer, FakeResource, Issued, Registry, bearer, lock, query};
use crate::{Clock, ManualClock};

mod preload;
mod search;

use preload::{Loading, Refused, begin_preload, catch_up, feed_xml};
use search::{Page, PageEntry, PageLink, PageResource, SUBSETTED, Subset};

/// What an instance's disk and database hold: one per instance, or one for every instance of
/// a scaled-shared topology.
#[derive(Debug, Default)]
struct Store {
    resources: Vec<FakeResource>,
    syndicated: BTreeSet<(String, String)>,
    /// The preload writing into this store, if one runs.
    loading: Option<Loading>,
    /// Preloads refused because another instance was preloading into this store.
    contention: usize,
}

#[derive(Debug)]
struct State {
    /// The instance's base URL, naming the preloads it runs.
    me: String,
    clock: ManualClock,
    store: Arc<Mutex<Store>>,
    trusted: Vec<Arc<Mutex<Issued>>>,
    read_only: bool,
    running: bool,
    /// `atom.preload.feedLocation` as configured.
    configured_feeds: Vec<String>,
    /// The feed locations read at the last start: what `redoPreload` reads.
    preload_feeds: Vec<String>,
    tokens: HashMap<String, Vec<Authority>>,
    anonymous_read: bool,
    /// Whether the feed document is readable without a token (`readOnly.synd`).
    anonymous_feed_read: bool,
    /// Each feed URL's copy, with when it was fetched.
    feed_cache: HashMap<String, (Instant, Vec<u8>)>,
    feed_cache_ttl: Duration,
    per_item: Duration,
    /// How long each answer takes to arrive (real time; for benchmarks only).
    response_delay: Duration,
    preloads: usize,
    /// Whether the start-up preload finished (or failed to start).
    startup_failed: bool,
}

impl State {
    /// Applies what a preload running into this instance's store has loaded by now.
    fn catch_up(&self) {
        catch_up(&mut lock(&self.store), self.clock.now());
    }

    /// Whether security is on: the server trusts an authorisation server or has tokens.
    fn secured(&self) -> bool {
        !self.trusted.is_empty() || !self.tokens.is_empty()
    }
}

/// A fake terminology server. See the [module docs](crate::testkit).
///
/// Where it matters to a release it behaves as Ontoserver does, or as the stricter of the
/// plausible behaviours where the documents do not say:
/// - a preload runs in the background: `redoPreload` answers 200 at once and the items of
///   its feeds appear one by one, one per [`set_preload_time_per_item`](Self::set_preload_time_per_item)
///   (1 s by default) of the [`Registry::clock`](super::Registry::clock); `/actuator/health`
///   reports it running (`components.preload.details.running`, the detail the container's
///   `healthcheck.sh -L` reads; the fake's JSON shape is its own, Ontoserver's is
///   unconfirmed). A second `redoPreload` while one runs is **refused** with 409, not
///   queued: Ontoserver documents neither and gives no job id, and refusing makes a
///   pipeline that triggers twice fail where a queue would hide it;
/// - instances made with [`start_sharing`](Self::start_sharing) serve one store (a
///   scaled-shared topology): what one loads, all serve; a preload started on one while
///   another preloads into the store fails with 500 and a `LockObtainFailedException`, as
///   Lucene's write lock does, and is counted ([`contention`](Self::contention));
/// - each instance caches each preload feed for [`set_feed_cache_ttl`](Self::set_feed_cache_ttl)
///   (5 s by default) after fetching it: a preload within that time of a feed change (a
///   repointed alias) reads the old feed, as Ontoserver's per-URL cache does;
/// - `atom.preload.feedLocation` ([`set_preload_feeds`](Self::set_preload_feeds)) takes
///   effect at the next start: `redoPreload` reads the feeds configured when the instance
///   last started;
/// - with security on, FHIR reads without a token are refused (401) unless anonymous read is
///   on, and the feed document needs `SYND_READ` unless anonymous feed read is on;
/// - with security on (it trusts an authorisation server or has granted tokens) every write
///   needs a token (401 without) holding its authority (403 without): `FHIR_WRITE` for FHIR
///   deletes and `$meta-add`/`$meta-delete`, `SYND_WRITE` for `redoPreload` and
///   `setSyndicationStatus` (which authority `redoPreload` needs is unconfirmed: the fake
///   takes the narrower), `API_WRITE` for `deleteCodeSystem`;
/// - a preload loads FHIR resources with the server's update rule (same URL and version
///   replaced only by a later `date`), and loads SNOMED CT packages and RF2 binary indexes as
///   versions of the one CodeSystem `http://snomed.info/sct` (the version URI, not the
///   edition's identifier, tells editions apart), LOINC as `http://loinc.org`;
/// - a FHIR delete of a resource it does not hold answers 404 with an OperationOutcome, as
///   FHIR servers answer a delete of what is already gone (never a 204 that hides it);
/// - `POST /api/deleteCodeSystem` removes such a version; for a version it does not hold it
///   answers 404 (unconfirmed: the API documents only success);
/// - a bearer token it cannot validate is refused with 401, never read as anonymous;
/// - a read-only instance refuses writes with 405, `deleteCodeSystem` included (whether
///   Ontoserver's read-only mode covers its administration API is unconfirmed; the fake takes
///   the stricter answer).
#[derive(Debug)]
pub struct FakeTerminologyServer {
    requests: Arc<std::sync::atomic::AtomicUsize>,
    server: MockServer,
    state: Arc<Mutex<State>>,
    registry: Registry,
}

struct Handler {
    requests: Arc<std::sync::atomic::AtomicUsize>,
    state: Arc<Mutex<State>>,
    registry: Registry,
    base: String,
}

impl FakeTerminologyServer {
    /// Starts a fake, running and writable, with anonymous FHIR read and no preload feed.
    pub async fn start(registry: &Registry) -> Self {
        Self::start_with_store(registry, Arc::new(Mutex::new(Store::default()))).await
    }

    /// Starts a fake that shares `other`'s disk and database, as the instances of a
    /// scaled-shared topology do.
    pub async fn start_sharing(registry: &Registry, other: &FakeTerminologyServer) -> Self {
        let store = Arc::clone(&lock(&other.state).store);
        Self::start_with_store(registry, store).await
    }

    async fn start_with_store(registry: &Registry, store: Arc<Mutex<Store>>) -> Self {
        let server = MockServer::start().await;
        let state = Arc::new(Mutex::new(State {
            me: server.uri(),
            clock: registry.clock(),
            store,
            trusted: Vec::new(),
            read_only: false,
            running: true,
            configured_feeds: Vec::new(),
            preload_feeds: Vec::new(),
            tokens: HashMap::new(),
            anonymous_read: true,
            anonymous_feed_read: true,
            feed_cache: HashMap::new(),
            feed_cache_ttl: Duration::from_secs(5),
            per_item: Duration::from_secs(1),
            response_delay: Duration::ZERO,
            preloads: 0,
            startup_failed: false,
        }));
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let handler = Handler {
            requests: Arc::clone(&requests),
            state: Arc::clone(&state),
            registry: registry.clone(),
            base: server.uri(),
        };
        Mock::given(any())
            .respond_with(handler)
            .mount(&server)
            .await;
        let fake = Self {
            requests,
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
            if st.running {
                st.catch_up();
                feed_xml(&lock(&st.store), &base, &registry)
            } else {
                None
            }
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
        let st = lock(&self.state);
        let mut store = lock(&st.store);
        store
            .resources
            .retain(|x| !(x.resource_type == r.resource_type && x.id == r.id));
        store.resources.push(r);
    }

    /// Sets a resource's syndication status, as an approver would.
    pub fn set_syndicated(&self, resource_type: &str, id: &str, syndicated: bool) {
        let key = (resource_type.to_owned(), id.to_owned());
        let st = lock(&self.state);
        let mut store = lock(&st.store);
        if syndicated {
            store.syndicated.insert(key);
        } else {
            store.syndicated.remove(&key);
        }
    }

    /// Makes the server read-only (as every scaled instance is).
    pub fn set_read_only(&self, read_only: bool) {
        lock(&self.state).read_only = read_only;
    }

    /// Sets `atom.preload.feedLocation`. It takes effect when the instance next starts
    /// ([`start_again`](Self::start_again)), as a configuration change does.
    pub fn set_preload_feeds(&self, urls: Vec<String>) {
        lock(&self.state).configured_feeds = urls;
    }

    /// The preload feeds in effect: those configured when the instance last started.
    pub fn preload_feeds(&self) -> Vec<String> {
        lock(&self.state).preload_feeds.clone()
    }

    /// How long a preload takes per item it loads, by the fakes' clock (1 s by default;
    /// zero loads everything at once, for tests whose clock nobody moves).
    pub fn set_preload_time_per_item(&self, per_item: Duration) {
        lock(&self.state).per_item = per_item;
    }

    /// Delays every answer by `delay` of real time, as a server elsewhere on the network
    /// answers after its round trip and its own work. For benchmarks that model a remote
    /// server; tests keep it at zero (the default) and never wait for real.
    pub fn set_response_delay(&self, delay: Duration) {
        lock(&self.state).response_delay = delay;
    }

    /// How long each fetched preload feed is cached (5 s by default; zero turns the cache
    /// off).
    pub fn set_feed_cache_ttl(&self, ttl: Duration) {
        lock(&self.state).feed_cache_ttl = ttl;
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

    /// Takes on `other`'s security configuration: the authorisation servers it trusts, the
    /// tokens it accepts, anonymous read and read-only mode, as a new instance deployed with
    /// the same configuration would.
    pub(super) fn adopt_configuration_of(&self, other: &FakeTerminologyServer) {
        let (trusted, tokens, anonymous_read, read_only, per_item, ttl) = {
            let o = lock(&other.state);
            (
                o.trusted.clone(),
                o.tokens.clone(),
                o.anonymous_read,
                o.read_only,
                o.per_item,
                o.feed_cache_ttl,
            )
        };
        let mut st = lock(&self.state);
        st.trusted = trusted;
        st.tokens = tokens;
        st.anonymous_read = anonymous_read;
        st.read_only = read_only;
        st.per_item = per_item;
        st.feed_cache_ttl = ttl;
    }

    /// Whether the syndication feed (`/synd/syndication.xml`) may be read without a token
    /// (`ontoserver.security.readOnly.synd`, on by default as in the demo deployment); off,
    /// a secured server answers 401 without a token and 403 without `SYND_READ`.
    pub fn set_anonymous_feed_read(&self, allowed: bool) {
        lock(&self.state).anonymous_feed_read = allowed;
    }

    /// Whether callers without a token have FHIR read (off, a secured server answers FHIR
    /// reads without a token with 401; with one, reads are filtered by labels).
    pub fn set_anonymous_read(&self, allowed: bool) {
        lock(&self.state).anonymous_read = allowed;
    }

    /// Stops the server: every request fails with 503 until [`start_again`](Self::start_again).
    /// A preload it was running stops where it is, and its feed cache is gone.
    pub fn stop(&self) {
        let mut st = lock(&self.state);
        st.catch_up();
        st.running = false;
        // The feed cache lives in the process: a restart starts without it.
        st.feed_cache.clear();
        let mut store = lock(&st.store);
        if store.loading.as_ref().is_some_and(|l| l.by == st.me) {
            store.loading = None;
        }
    }

    /// Clears its disk and database: every resource and syndication status is gone (for
    /// every instance sharing them).
    pub fn wipe(&self) {
        let st = lock(&self.state);
        let mut store = lock(&st.store);
        store.resources.clear();
        store.syndicated.clear();
        store.loading = None;
    }

    /// Starts it again with the preload feeds now configured, and runs the start-up preload
    /// (which fails, counted as contention, when another instance preloads into its store).
    pub fn start_again(&self) {
        let mut st = lock(&self.state);
        st.running = true;
        st.preload_feeds = st.configured_feeds.clone();
        st.catch_up();
        st.startup_failed = begin_preload(&mut st, &self.registry, true).is_err();
    }

    /// Every `(url, version)` the server holds, whatever the labels.
    pub fn content(&self) -> BTreeSet<(String, String)> {
        let st = lock(&self.state);
        st.catch_up();
        let store = lock(&st.store);
        store
            .resources
            .iter()
            .map(|r| (r.url.clone(), r.version.clone()))
            .collect()
    }

    /// The resource with this canonical and version, if held.
    pub fn resource(&self, url: &str, version: &str) -> Option<FakeResource> {
        let st = lock(&self.state);
        st.catch_up();
        let store = lock(&st.store);
        store
            .resources
            .iter()
            .find(|r| r.url == url && r.version == version)
            .cloned()
    }

    /// Whether it holds nothing: no resource and no syndication status (as after a wipe).
    pub fn is_empty(&self) -> bool {
        let st = lock(&self.state);
        st.catch_up();
        let store = lock(&st.store);
        store.resources.is_empty() && store.syndicated.is_empty()
    }

    /// How many HTTP requests it has answered.
    pub fn requests(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// How many preloads it has started.
    pub fn preloads(&self) -> usize {
        lock(&self.state).preloads
    }

    /// Whether a preload runs into its store (its own, or another sharing instance's).
    pub fn preload_running(&self) -> bool {
        let st = lock(&self.state);
        st.catch_up();
        lock(&st.store).loading.is_some()
    }

    /// How many preloads into its store were refused because another instance was
    /// preloading into it: a release on a scaled-shared topology must keep this at zero.
    pub fn contention(&self) -> usize {
        lock(&lock(&self.state).store).contention
    }
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
        decide_read(&r.labels, &self.caller(st, req), &read_security(st)).is_allowed()
    }
}

/// How the server decides reads: fine-grained, with or without anonymous read.
fn read_security(st: &State) -> ServerSecurity {
    if st.anonymous_read {
        ServerSecurity::fine_with_anonymous_read()
    } else {
        ServerSecurity::fine()
    }
}

/// The answer to a FHIR delete that removed `n` resources: 204, or 404 when there was nothing
/// to delete, as a FHIR server answers for a resource it does not hold (a second delete of
/// the same resource, once the answer to the first was lost, sees this).
fn deleted(n: usize) -> ResponseTemplate {
    if n == 0 {
        ResponseTemplate::new(404).set_body_json(json!({"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-found", "diagnostics": "no resource matches"}]}))
    } else {
        ResponseTemplate::new(204)
    }
}

/// The authority a write needs, by endpoint.
fn write_authority(path: &[&str]) -> Grant {
    match path {
        ["fhir", ..] => Grant::FhirWrite,
        ["api", ..] => Grant::Other("API_WRITE".into()),
        _ => Grant::Other("SYND_WRITE".into()),
    }
}

impl Respond for Handler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let delay = lock(&self.state).response_delay;
        let answer = self.answer(req);
        if delay.is_zero() {
            answer
        } else {
            answer.set_delay(delay)
        }
    }
}

impl Handler {
    fn answer(&self, req: &Request) -> ResponseTemplate {
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut st = lock(&self.state);
        if !st.running {
            return ResponseTemplate::new(503);
        }
        st.catch_up();
        let path: Vec<&str> = req.url.path().trim_matches('/').split('/').collect();
        let method = req.method.as_str();
        let write = matches!(method, "POST" | "PUT" | "DELETE");
        if let Some(token) = bearer(req) {
            let known = st.tokens.contains_key(token)
                || st
                    .trusted
                    .iter()
                    .any(|i| lock(i).tokens.contains_key(token));
            // A token the server cannot validate is refused, never read as anonymous.
            if !known {
                return ResponseTemplate::new(401).set_body_string("invalid or expired token");
            }
        }
        if !write && st.secured() {
            let feed = path.as_slice() == ["synd", "syndication.xml"];
            let fhir = path.first() == Some(&"fhir") && path.get(1) != Some(&"metadata");
            let anonymous_allowed = if feed {
                st.anonymous_feed_read
            } else {
                !fhir || st.anonymous_read
            };
            if bearer(req).is_none() && !anonymous_allowed {
                return ResponseTemplate::new(401).set_body_string("authentication required");
            }
            if feed && !st.anonymous_feed_read {
                let synd_read = Grant::Other("SYND_READ".into());
                if !self
                    .caller(&st, req)
                    .authorities()
                    .iter()
                    .any(|a| a.grant == synd_read && a.applies_to(None))
                {
                    return ResponseTemplate::new(403).set_body_string("SYND_READ required");
                }
            }
        }
        if write && st.secured() {
            let grant = write_authority(&path);
            if bearer(req).is_none() {
                return ResponseTemplate::new(401).set_body_string("authentication required");
            }
            let caller = self.caller(&st, req);
            if !caller
                .authorities()
                .iter()
                .any(|a| a.grant == grant && a.applies_to(None))
            {
                return ResponseTemplate::new(403).set_body_string(format!("{grant:?} required"));
            }
        }
        match (method, path.as_slice()) {
            ("GET", ["synd", "syndication.xml"]) => {
                match feed_xml(&lock(&st.store), &self.base, &self.registry) {
                    Some(xml) => ResponseTemplate::new(200).set_body_raw(xml, "application/atom+xml"),
                    None => ResponseTemplate::new(500).set_body_string("the feed cannot be written"),
                }
            }
            ("GET", ["actuator", "health"]) => {
                // `healthcheck.sh -L` fails while any preload runs, `-s` until the start-up
                // preload has completed successfully.
                let store = lock(&st.store);
                let running = store.loading.is_some();
                let starting = store.loading.as_ref().is_some_and(|l| l.startup && l.by == st.me);
                let startup_complete = !st.startup_failed && !starting;
                let status = if st.startup_failed { "DOWN" } else { "UP" };
                ResponseTemplate::new(200).set_body_json(json!({
                    "status": "UP",
                    "components": {"preload": {"status": status, "details": {"running": running, "startupComplete": startup_complete, "startupFailed": st.startup_failed}}}
                }))
            }
            ("POST", ["synd", "redoPreload"]) => match begin_preload(&mut st, &self.registry, false) {
                Ok(()) => ResponseTemplate::new(200),
                Err(Refused::Running) => ResponseTemplate::new(409).set_body_string("a preload is already running"),
                Err(Refused::Contention) => ResponseTemplate::new(500).set_body_string(
                    "org.apache.lucene.store.LockObtainFailedException: Lock held by another program: write.lock",
                ),
            },
            ("POST", ["synd", "setSyndicationStatus"]) => {
                let (Some(t), Some(id), Some(flag)) = (query(req, "resourceType"), query(req, "id"), query(req, "syndicate")) else {
                    return ResponseTemplate::new(400);
                };
                let mut store = lock(&st.store);
                if flag == "true" {
                    store.syndicated.insert((t, id));
                } else {
                    store.syndicated.remove(&(t, id));
                }
                ResponseTemplate::new(200)
            }
            ("GET", ["fhir", "metadata"]) => ResponseTemplate::new(200)
                .set_body_json(json!({"resourceType": "CapabilityStatement", "software": {"name": "fake", "version": "0.0.0"}})),
            _ if write && st.read_only => ResponseTemplate::new(405).set_body_string("read-only"),
            ("POST", ["api", "deleteCodeSystem"]) => {
                let (Some(cs), Some(version)) = (query(req, "codeSystemId"), query(req, "codeSystemVersion")) else {
                    return ResponseTemplate::new(400).set_body_string("codeSystemId and codeSystemVersion are required");
                };
                let mut store = lock(&st.store);
                let before = store.resources.len();
                store
                    .resources
                    .retain(|r| !(r.resource_type == "CodeSystem" && r.url == cs && r.version == version));
                // What Ontoserver answers for a version it does not hold is unconfirmed (its API
                // documents only "successful operation"); the fake takes the stricter answer.
                if store.resources.len() == before {
                    ResponseTemplate::new(404).set_body_string("no such code system version")
                } else {
                    ResponseTemplate::new(200)
                }
            }
            ("GET", ["fhir", t]) => {
                let (url, version) = (query(req, "url"), query(req, "version"));
                // Pages of `_count` (100 unless asked, at most 1000, as servers cap them),
                // linked by `next`; `_elements` answers only the elements asked for.
                let count = query(req, "_count").and_then(|c| c.parse::<usize>().ok()).unwrap_or(100).clamp(1, 1000);
                let offset = query(req, "_offset").and_then(|c| c.parse::<usize>().ok()).unwrap_or(0);
                let elements = query(req, "_elements");
                let store = lock(&st.store);
                let (caller, security) = (self.caller(&st, req), read_security(&st));
                let matching: Vec<&FakeResource> = store
                    .resources
                    .iter()
                    .filter(|r| r.resource_type == *t)
                    .filter(|r| url.as_deref().is_none_or(|u| r.url == u))
                    .filter(|r| version.as_deref().is_none_or(|v| r.version == v))
                    .filter(|r| decide_read(&r.labels, &caller, &security).is_allowed())
                    .collect();
                let want = |name: &str| elements.as_deref().is_none_or(|e| e.split(',').any(|x| x.trim() == name));
                let entry: Vec<PageEntry<'_>> = matching
                    .iter()
                    .skip(offset)
                    .take(count)
                    .map(|r| PageEntry {
                        resource: match &elements {
                            // Written straight from the resource: a page of a thousand costs
                            // the fake little, so a benchmark measures the client.
                            Some(_) => PageResource::Subset(Subset {
                                resource_type: &r.resource_type,
                                id: &r.id,
                                meta: SUBSETTED,
                                url: want("url").then_some(r.url.as_str()),
                                version: want("version").then_some(r.version.as_str()),
                                date: want("date").then_some(r.date.as_str()),
                            }),
                            None => PageResource::Full(r.to_json()),
                        },
                    })
                    .collect();
                let link = (offset + count < matching.len()).then(|| {
                    let mut next = req.url.clone();
                    let kept: Vec<(String, String)> = next.query_pairs().filter(|(k, _)| k != "_offset").map(|(k, v)| (k.into_owned(), v.into_owned())).collect();
                    next.query_pairs_mut().clear().extend_pairs(kept).append_pair("_offset", &(offset + count).to_string());
                    vec![PageLink { relation: "next", url: next.to_string() }]
                });
                let page = Page { resource_type: "Bundle", kind: "searchset", total: matching.len(), entry, link };
                match serde_json::to_vec(&page) {
                    Ok(body) => ResponseTemplate::new(200).set_body_raw(body, "application/fhir+json"),
                    Err(e) => ResponseTemplate::new(500).set_body_string(e.to_string()),
                }
            }
            ("GET", ["fhir", t, id]) => match lock(&st.store).resources.iter().find(|r| r.resource_type == *t && r.id == *id) {
                Some(r) if self.visible(&st, req, r) => ResponseTemplate::new(200).set_body_json(r.to_json()),
                _ => ResponseTemplate::new(404),
            },
            ("DELETE", ["fhir", t]) => {
                let (url, version) = (query(req, "url"), query(req, "version"));
                let mut store = lock(&st.store);
                let before = store.resources.len();
                store.resources.retain(|r| !(r.resource_type == *t && Some(&r.url) == url.as_ref() && Some(&r.version) == version.as_ref()));
                deleted(before - store.resources.len())
            }
            ("DELETE", ["fhir", t, id]) => {
                let mut store = lock(&st.store);
                let before = store.resources.len();
                store.resources.retain(|r| !(r.resource_type == *t && r.id == *id));
                deleted(before - store.resources.len())
            }
            ("POST", ["fhir", t, id, op @ ("$meta-add" | "$meta-delete")]) => {
                let Ok(labels) = fhir_security_labels::parse_meta_parameters(&String::from_utf8_lossy(&req.body)) else {
                    return ResponseTemplate::new(400);
                };
                let mut store = lock(&st.store);
                let Some(r) = store.resources.iter_mut().find(|r| r.resource_type == *t && r.id == *id) else {
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
