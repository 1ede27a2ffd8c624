//! The fake syndication server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fhir_security_labels::{Authority, Caller, Grant, ResourceJson, ServerSecurity, decide_read};
use release_model::deployment::BaseUrl;
use release_model::feed::Feed;
use serde_json::{Value, json};
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{FakeAuthServer, Issued, Registry, bearer, lock, query};

#[derive(Debug, Default)]
struct SyndState {
    feeds: Vec<(String, String, Vec<u8>)>,
    aliases: HashMap<String, String>,
    running: bool,
    /// Authorisation servers whose tokens it accepts; security is on when there is one.
    trusted: Vec<Arc<Mutex<Issued>>>,
    /// Whether feed documents may be read without a token (`anonymousFeedRead`).
    anonymous_feed_read: bool,
    /// What its own client (`atomio.security.client[x]`) may read when it clones.
    clone_authorities: Vec<Authority>,
}

/// A fake syndication server: feeds, `$clone` of another fake's feed with its artefacts into
/// an immutable snapshot, aliases, and the feeds' Atom documents.
///
/// Where it matters to a release it behaves as Atomio does, or as the stricter of the
/// plausible behaviours:
/// - a snapshot's artefact links point at this server (`/feed/{name}/artefact/…`); their
///   lengths and hashes stay those of the source;
/// - `$clone` reads the source with the server's own client credentials
///   ([`set_clone_authorities`](Self::set_clone_authorities), `FHIR_READ` only by default):
///   an entry whose resource those credentials may not read (its security labels) is missing
///   from the snapshot, as when Atomio's client lacks `PERM_READ`;
/// - with security on ([`trust`](Self::trust)) every write (feeds, `$clone`, aliases) needs a
///   token (401) holding `SYND_WRITE` (403), and feed documents need a token holding
///   `SYND_READ` unless [`set_anonymous_feed_read`](Self::set_anonymous_feed_read).
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
            clone_authorities: vec![Authority::new(Grant::FhirRead)],
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

    /// Accepts the tokens `auth` issues, and turns security on.
    pub fn trust(&self, auth: &FakeAuthServer) {
        lock(&self.state).trusted.push(Arc::clone(&auth.issued));
    }

    /// Lets feed documents be read without a token (`atomio.security.anonymousFeedRead`).
    pub fn set_anonymous_feed_read(&self, allowed: bool) {
        lock(&self.state).anonymous_feed_read = allowed;
    }

    /// What the server's own client may read when it clones (`FHIR_READ`, `PERM_READ` …).
    pub fn set_clone_authorities(&self, authorities: &[&str]) {
        lock(&self.state).clone_authorities = authorities
            .iter()
            .filter_map(|a| Authority::parse(a).ok())
            .collect();
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

    /// Copies a feed and the artefacts its clone credentials may read; the copy's links point
    /// at this server.
    fn snapshot(&self, name: &str, source: &str) -> Option<Vec<u8>> {
        let mut feed = Feed::from_slice(&self.registry.get(source)?).ok()?;
        let cloner = Caller::with_authorities(lock(&self.state).clone_authorities.clone());
        let readable = |href: &str| {
            let Some(bytes) = self.registry.get(href) else {
                return true;
            };
            // Only FHIR resources carry labels; other artefacts are read as they are.
            match ResourceJson::parse(&String::from_utf8_lossy(&bytes)).and_then(|r| r.labels()) {
                Ok(labels) => decide_read(&labels, &cloner, &ServerSecurity::fine()).is_allowed(),
                Err(_) => true,
            }
        };
        feed.entries
            .retain(|e| e.links.iter().all(|l| readable(&l.href)));
        for (i, e) in feed.entries.iter_mut().enumerate() {
            for (j, l) in e.links.iter_mut().enumerate() {
                let bytes = self.registry.get(&l.href)?;
                let href = format!("{}/feed/{name}/artefact/{i}-{j}", self.base);
                self.registry.put(href.clone(), bytes);
                l.href = href;
            }
        }
        feed.to_xml().ok().map(String::into_bytes)
    }
}

impl SyndHandler {
    /// The answer to a request security refuses: 401 without a token it can validate, 403
    /// without the authority (`SYND_WRITE` to write, `SYND_READ` to read a feed document).
    fn refuse(&self, req: &Request, path: &[&str]) -> Option<ResponseTemplate> {
        let st = lock(&self.state);
        if st.trusted.is_empty() {
            return None;
        }
        let write = matches!(req.method.as_str(), "POST" | "PUT" | "DELETE");
        let document = path.last() == Some(&"syndication.xml");
        let health = path.first() == Some(&"actuator");
        if health || (!write && document && st.anonymous_feed_read) {
            return None;
        }
        let Some(token) = bearer(req) else {
            return Some(ResponseTemplate::new(401).set_body_string("authentication required"));
        };
        let Some(authorities) = st
            .trusted
            .iter()
            .find_map(|i| lock(i).tokens.get(token).cloned())
        else {
            return Some(ResponseTemplate::new(401).set_body_string("invalid or expired token"));
        };
        let need = if write { "SYND_WRITE" } else { "SYND_READ" };
        let holds = authorities
            .iter()
            .any(|a| a.grant == Grant::Other(need.into()) && a.applies_to(None));
        (!holds).then(|| ResponseTemplate::new(403).set_body_string(format!("{need} required")))
    }
}

impl Respond for SyndHandler {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if !lock(&self.state).running {
            return ResponseTemplate::new(503);
        }
        let path: Vec<&str> = req.url.path().trim_matches('/').split('/').collect();
        if let Some(refused) = self.refuse(req, &path) {
            return refused;
        }
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
                // An empty feed always writes.
                let empty = Feed::default().to_xml().unwrap_or_default().into_bytes();
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
