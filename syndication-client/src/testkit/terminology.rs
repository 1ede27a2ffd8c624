//! The fake terminology server.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use fhir_security_labels::{Authority, Caller, ServerSecurity, decide_read};
use release_model::deployment::BaseUrl;
use release_model::feed::{
    AtomDate, AtomId, Category, Checked, Entry, Feed, FhirVersion, Link, LinkRel, Sha256, Text, ns,
};
use serde_json::{Value, json};
use sha2::Digest;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{FakeAuthServer, FakeResource, Issued, Registry, bearer, lock, query};

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

/// A fake terminology server. See the [module docs](crate::testkit).
///
/// Where it matters to a release it behaves as Ontoserver does, or as the stricter of the
/// plausible behaviours where the documents do not say:
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
            if st.running {
                feed_xml(&st, &base, &registry)
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

    /// Takes on `other`'s security configuration: the authorisation servers it trusts, the
    /// tokens it accepts, anonymous read and read-only mode, as a new instance deployed with
    /// the same configuration would.
    pub(super) fn adopt_configuration_of(&self, other: &FakeTerminologyServer) {
        let (trusted, tokens, anonymous_read, read_only) = {
            let o = lock(&other.state);
            (
                o.trusted.clone(),
                o.tokens.clone(),
                o.anonymous_read,
                o.read_only,
            )
        };
        let mut st = lock(&self.state);
        st.trusted = trusted;
        st.tokens = tokens;
        st.anonymous_read = anonymous_read;
        st.read_only = read_only;
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

    /// Whether it holds nothing: no resource and no syndication status (as after a wipe).
    pub fn is_empty(&self) -> bool {
        let st = lock(&self.state);
        st.resources.is_empty() && st.syndicated.is_empty()
    }

    /// How many preloads have run.
    pub fn preloads(&self) -> usize {
        lock(&self.state).preloads
    }
}

/// The server's feed; `None` when its resources hold what XML cannot (the feed endpoint then
/// answers 500, as a server that fails to write it would).
fn feed_xml(st: &State, base: &str, registry: &Registry) -> Option<Vec<u8>> {
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
        let digest = Sha256::from_digest(sha2::Sha256::digest(&body).into());
        let mut link = Link::new(LinkRel::Alternate, href.clone());
        link.media_type = Some("application/fhir+json".into());
        link.length = Some(Checked::Valid(body.len() as u64));
        link.sha256 = Some(Checked::Valid(digest));
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
    feed.to_xml().ok().map(String::into_bytes)
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
            // SNOMED CT packages, LOINC and binary indexes load as a version of one code
            // system, as Ontoserver stores them: `http://snomed.info/sct` with the version
            // URI (not the edition's identifier), or `http://loinc.org`.
            if let (Some(cs), Some(version)) = (
                e.content_type().and_then(|t| t.code_system()),
                e.version.as_ref(),
            ) {
                let version = version.trimmed().to_owned();
                if !st
                    .resources
                    .iter()
                    .any(|r| r.resource_type == "CodeSystem" && r.url == cs && r.version == version)
                {
                    let id = format!("code-system-{}", st.resources.len());
                    let date = e
                        .updated
                        .as_ref()
                        .and_then(Checked::valid)
                        .map(AtomDate::to_string)
                        .unwrap_or_default();
                    st.resources
                        .push(FakeResource::code_system(&id, cs, &version, &date));
                }
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
            // A token the server cannot validate is refused, never read as anonymous.
            if !known {
                return ResponseTemplate::new(401).set_body_string("invalid or expired token");
            }
        }
        match (method, path.as_slice()) {
            ("GET", ["synd", "syndication.xml"]) => {
                match feed_xml(&st, &self.base, &self.registry) {
                    Some(xml) => ResponseTemplate::new(200).set_body_raw(xml, "application/atom+xml"),
                    None => ResponseTemplate::new(500).set_body_string("the feed cannot be written"),
                }
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
            ("POST", ["api", "deleteCodeSystem"]) => {
                let (Some(cs), Some(version)) = (query(req, "codeSystemId"), query(req, "codeSystemVersion")) else {
                    return ResponseTemplate::new(400).set_body_string("codeSystemId and codeSystemVersion are required");
                };
                let before = st.resources.len();
                st.resources
                    .retain(|r| !(r.resource_type == "CodeSystem" && r.url == cs && r.version == version));
                // What Ontoserver answers for a version it does not hold is unconfirmed (its API
                // documents only "successful operation"); the fake takes the stricter answer.
                if st.resources.len() == before {
                    ResponseTemplate::new(404).set_body_string("no such code system version")
                } else {
                    ResponseTemplate::new(200)
                }
            }
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
                let before = st.resources.len();
                st.resources.retain(|r| !(r.resource_type == *t && Some(&r.url) == url.as_ref() && Some(&r.version) == version.as_ref()));
                deleted(before - st.resources.len())
            }
            ("DELETE", ["fhir", t, id]) => {
                let before = st.resources.len();
                st.resources.retain(|r| !(r.resource_type == *t && r.id == *id));
                deleted(before - st.resources.len())
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
