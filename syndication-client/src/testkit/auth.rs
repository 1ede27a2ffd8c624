//! The fake OAuth2 authorisation server.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use fhir_security_labels::Authority;
use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::{Issued, lock};

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
    pub(super) issued: Arc<Mutex<Issued>>,
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
