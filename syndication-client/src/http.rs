//! The request machinery every client shares: bearer tokens with one retry after a 401,
//! timeouts, and retries with exponential backoff and jitter for idempotent requests.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use tracing::Instrument;

use crate::auth::TokenSource;
use crate::error::{Error, ShownUrl, excerpt};

/// When to repeat a failed idempotent request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The delay before the first retry; it doubles for each further one.
    pub base_delay: Duration,
    /// The longest delay, `Retry-After` included.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 4,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
        }
    }
}

impl RetryPolicy {
    /// No retries.
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// Retries without waiting (for tests against local fakes).
    pub fn immediate(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            base_delay: Duration::ZERO,
            max_delay: Duration::ZERO,
        }
    }

    /// The delay before retry number `retry` (1 for the first): the server's `Retry-After`
    /// when given, else exponential backoff with jitter in its upper half; both capped.
    pub fn delay(&self, retry: u32, retry_after: Option<Duration>, jitter: f64) -> Duration {
        if let Some(after) = retry_after {
            return after.min(self.max_delay);
        }
        let exp = self
            .base_delay
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16));
        let capped = exp.min(self.max_delay);
        capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
    }
}

/// Settings shared by the clients.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientOptions {
    /// Timeout for one API request as a whole; for downloads, for connecting and for each
    /// read of the body (a multi-gigabyte artefact has no deadline while bytes keep coming).
    pub timeout: Duration,
    /// When to retry.
    pub retry: RetryPolicy,
    /// Allow plain-HTTP URLs (loopback tests only).
    pub allow_insecure: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(60),
            retry: RetryPolicy::default(),
            allow_insecure: false,
        }
    }
}

impl ClientOptions {
    /// Options for tests against local fakes: plain HTTP allowed, immediate retries.
    pub fn for_local_testing() -> Self {
        Self {
            timeout: Duration::from_secs(10),
            retry: RetryPolicy::immediate(3),
            allow_insecure: true,
        }
    }

    /// Sets the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verb {
    Get,
    Post,
    Put,
    Delete,
}

impl Verb {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verb::Get => "GET",
            Verb::Post => "POST",
            Verb::Put => "PUT",
            Verb::Delete => "DELETE",
        }
    }

    fn method(self) -> reqwest::Method {
        match self {
            Verb::Get => reqwest::Method::GET,
            Verb::Post => reqwest::Method::POST,
            Verb::Put => reqwest::Method::PUT,
            Verb::Delete => reqwest::Method::DELETE,
        }
    }
}

/// A request body.
#[derive(Clone, Debug)]
pub(crate) enum Body {
    /// FHIR JSON (`application/fhir+json`).
    Json(serde_json::Value),
    /// Plain JSON (`application/json`), for the syndication server.
    PlainJson(serde_json::Value),
}

/// Whether a request may be repeated blindly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Idempotent {
    Yes,
    No,
}

#[derive(Clone, Debug)]
pub(crate) struct Http {
    client: reqwest::Client,
    tokens: Arc<dyn TokenSource>,
    pub(crate) options: ClientOptions,
    /// Whether a whole request must finish within the timeout (API calls), or only each
    /// read (artefact downloads, which can be gigabytes).
    deadline: bool,
}

pub(crate) fn jitter() -> f64 {
    // RandomState is seeded per instance from the OS; enough randomness to spread retries.
    let bits = std::collections::hash_map::RandomState::new()
        .build_hasher()
        .finish();
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

impl Http {
    /// A client for API calls: each request finishes within the timeout, and redirects are
    /// never followed (one could send the bearer token elsewhere, or downgrade to HTTP).
    pub(crate) fn new(tokens: Arc<dyn TokenSource>, options: ClientOptions) -> Result<Self, Error> {
        Self::build(tokens, options, reqwest::redirect::Policy::none(), true)
    }

    /// A client for artefact downloads: the timeout bounds connecting and each read of the
    /// body, never the whole body; redirects are followed (artefact stores redirect to
    /// presigned URLs) only to the same scheme, so https never becomes http.
    pub(crate) fn for_downloads(
        tokens: Arc<dyn TokenSource>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let same_scheme = reqwest::redirect::Policy::custom(|attempt| {
            let scheme = attempt.previous().last().map(|u| u.scheme().to_owned());
            if attempt.previous().len() >= 10 {
                attempt.error("too many redirects")
            } else if scheme.as_deref() == Some(attempt.url().scheme()) {
                attempt.follow()
            } else {
                attempt.error("a redirect to another scheme")
            }
        });
        Self::build(tokens, options, same_scheme, false)
    }

    fn build(
        tokens: Arc<dyn TokenSource>,
        options: ClientOptions,
        redirects: reqwest::redirect::Policy,
        deadline: bool,
    ) -> Result<Self, Error> {
        let client = reqwest::Client::builder()
            .connect_timeout(options.timeout)
            .read_timeout(options.timeout)
            .redirect(redirects)
            .build()
            .map_err(|e| Error::Config {
                message: format!("HTTP client: {e}"),
            })?;
        Ok(Self {
            client,
            tokens,
            options,
            deadline,
        })
    }

    pub(crate) fn check_url(&self, url: &reqwest::Url) -> Result<(), Error> {
        if url.scheme() == "https" || (url.scheme() == "http" && self.options.allow_insecure) {
            return Ok(());
        }
        if url.scheme() == "http" {
            return Err(Error::Insecure {
                url: ShownUrl(url).to_string(),
            });
        }
        Err(Error::Config {
            message: format!("unsupported URL scheme in {}", ShownUrl(url)),
        })
    }

    /// Sends a request and returns the successful response; error statuses become
    /// [`Error::Status`].
    pub(crate) async fn send(
        &self,
        verb: Verb,
        url: &reqwest::Url,
        body: Option<&Body>,
        headers: &[(HeaderName, HeaderValue)],
        idempotent: Idempotent,
    ) -> Result<reqwest::Response, Error> {
        self.check_url(url)?;
        let shown = ShownUrl(url).to_string();
        let span = tracing::info_span!("request", method = verb.as_str(), url = %shown);
        self.send_in_span(verb, url, &shown, body, headers, idempotent)
            .instrument(span)
            .await
    }

    async fn send_in_span(
        &self,
        verb: Verb,
        url: &reqwest::Url,
        shown: &str,
        body: Option<&Body>,
        headers: &[(HeaderName, HeaderValue)],
        idempotent: Idempotent,
    ) -> Result<reqwest::Response, Error> {
        let shown = shown.to_owned();
        let mut attempt = 0u32;
        let mut refreshed = false;
        loop {
            attempt += 1;
            let token = self.tokens.token().await?;
            let mut req = self.client.request(verb.method(), url.clone());
            if self.deadline {
                req = req.timeout(self.options.timeout);
            }
            let mut map = HeaderMap::new();
            for (k, v) in headers {
                map.insert(k.clone(), v.clone());
            }
            req = req.headers(map);
            if let Some(t) = &token {
                req = req.bearer_auth(t.secret());
            }
            match body {
                Some(Body::Json(v)) => {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/fhir+json")
                        .body(v.to_string());
                }
                Some(Body::PlainJson(v)) => {
                    req = req
                        .header(reqwest::header::CONTENT_TYPE, "application/json")
                        .body(v.to_string());
                }
                None => {}
            }
            let err = match req.send().await {
                Err(e) => Error::Transport {
                    method: verb.as_str(),
                    url: shown.clone(),
                    message: transport_message(&e),
                    timeout: e.is_timeout(),
                },
                Ok(resp)
                    if resp.status().is_success()
                        || resp.status() == reqwest::StatusCode::NOT_MODIFIED =>
                {
                    return Ok(resp);
                }
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let retry_after = resp
                        .headers()
                        .get(reqwest::header::RETRY_AFTER)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.trim().parse::<u64>().ok());
                    let mut text = resp.text().await.unwrap_or_default();
                    // A server may echo the request back; the token it carried never reaches
                    // an error.
                    if let Some(t) = &token
                        && !t.secret().is_empty()
                    {
                        text = text.replace(t.secret(), "REDACTED");
                    }
                    Error::Status {
                        method: verb.as_str(),
                        url: shown.clone(),
                        status,
                        body: excerpt(&text),
                        retry_after,
                    }
                }
            };
            // A refused token is renewed once, whatever the method: the server did not act.
            if err.status() == Some(401)
                && !refreshed
                && let Some(t) = &token
            {
                refreshed = true;
                self.tokens.invalidate(t).await;
                attempt -= 1;
                tracing::debug!("token refused; retrying once with a new one");
                continue;
            }
            if idempotent == Idempotent::Yes
                && err.is_retryable()
                && attempt < self.options.retry.max_attempts
            {
                let after = match &err {
                    Error::Status {
                        retry_after: Some(s),
                        ..
                    } => Some(Duration::from_secs(*s)),
                    _ => None,
                };
                let delay = self.options.retry.delay(attempt, after, jitter());
                tracing::warn!(attempt, ?delay, error = %err, "retrying");
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                continue;
            }
            return Err(err);
        }
    }

    /// Sends a GET and parses its JSON answer straight into `T` (no `Value` in between).
    pub(crate) async fn get_json_as<T: serde::de::DeserializeOwned>(
        &self,
        url: &reqwest::Url,
        accept: &'static str,
    ) -> Result<T, Error> {
        let accept = (reqwest::header::ACCEPT, HeaderValue::from_static(accept));
        let resp = self
            .send(Verb::Get, url, None, &[accept], Idempotent::Yes)
            .await?;
        let bytes = body_bytes(resp, url).await?;
        serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            method: "GET",
            url: ShownUrl(url).to_string(),
            message: format!("{e}: {}", excerpt(&String::from_utf8_lossy(&bytes))),
        })
    }

    /// Sends a request and parses a JSON answer (`accept` is the media type asked for).
    pub(crate) async fn json(
        &self,
        verb: Verb,
        url: &reqwest::Url,
        body: Option<&Body>,
        idempotent: Idempotent,
        accept: &'static str,
    ) -> Result<serde_json::Value, Error> {
        let accept = (reqwest::header::ACCEPT, HeaderValue::from_static(accept));
        let resp = self.send(verb, url, body, &[accept], idempotent).await?;
        let text = resp.text().await.map_err(|e| Error::Transport {
            method: verb.as_str(),
            url: ShownUrl(url).to_string(),
            message: transport_message(&e),
            timeout: e.is_timeout(),
        })?;
        if text.trim().is_empty() {
            return Ok(serde_json::Value::Null);
        }
        serde_json::from_str(&text).map_err(|e| Error::Decode {
            method: verb.as_str(),
            url: ShownUrl(url).to_string(),
            message: format!("{e}: {}", excerpt(&text)),
        })
    }
}

/// A transport error's message with its causes, without the URL (shown separately).
pub(crate) fn transport_message(e: &reqwest::Error) -> String {
    let mut msg = e.without_url_ref();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

trait WithoutUrl {
    fn without_url_ref(&self) -> String;
}

impl WithoutUrl for reqwest::Error {
    fn without_url_ref(&self) -> String {
        if self.is_timeout() {
            "timed out".into()
        } else if self.is_connect() {
            "could not connect".into()
        } else if self.is_body() || self.is_decode() {
            "the response body failed".into()
        } else {
            "request failed".into()
        }
    }
}

/// A server's base URL with the client that talks to it: what every service client shares.
#[derive(Debug)]
pub(crate) struct Endpoint {
    base: reqwest::Url,
    pub(crate) http: Http,
}

impl Endpoint {
    pub(crate) fn new(
        base_url: &release_model::deployment::BaseUrl,
        tokens: Arc<dyn TokenSource>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let base =
            reqwest::Url::parse(&format!("{}/", base_url.as_str())).map_err(|e| Error::Config {
                message: format!("base URL {base_url}: {e}"),
            })?;
        let http = Http::new(tokens, options)?;
        http.check_url(&base)?;
        Ok(Self { base, http })
    }

    /// A URL below the base, with query parameters percent-encoded.
    pub(crate) fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url, Error> {
        let mut url = self
            .base
            .join(path.trim_start_matches('/'))
            .map_err(|e| Error::Config {
                message: format!("path {path}: {e}"),
            })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        Ok(url)
    }

    /// Sends a request without a body or extra headers, for its status only.
    pub(crate) async fn call(
        &self,
        verb: Verb,
        url: &reqwest::Url,
        idempotent: Idempotent,
    ) -> Result<(), Error> {
        self.http
            .send(verb, url, None, &[], idempotent)
            .await
            .map(drop)
    }

    /// GETs FHIR JSON and checks its `resourceType`.
    pub(crate) async fn get_resource(
        &self,
        url: &reqwest::Url,
        resource_type: &str,
    ) -> Result<serde_json::Value, Error> {
        let v = self
            .http
            .json(
                Verb::Get,
                url,
                None,
                Idempotent::Yes,
                "application/fhir+json",
            )
            .await?;
        if v.get("resourceType").and_then(serde_json::Value::as_str) != Some(resource_type) {
            return Err(Error::Decode {
                method: "GET",
                url: ShownUrl(url).to_string(),
                message: format!("not a {resource_type}"),
            });
        }
        Ok(v)
    }
}

/// Reads a response body whole, mapping a failure to a transport error.
pub(crate) async fn body_bytes(
    resp: reqwest::Response,
    url: &reqwest::Url,
) -> Result<bytes::Bytes, Error> {
    resp.bytes().await.map_err(|e| Error::Transport {
        method: "GET",
        url: ShownUrl(url).to_string(),
        message: transport_message(&e),
        timeout: e.is_timeout(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_honours_retry_after() {
        let p = RetryPolicy {
            max_attempts: 5,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(10),
        };
        assert_eq!(p.delay(1, None, 1.0), Duration::from_secs(1));
        assert_eq!(p.delay(2, None, 1.0), Duration::from_secs(2));
        assert_eq!(
            p.delay(3, None, 0.0),
            Duration::from_secs(2),
            "jitter keeps the upper half"
        );
        assert_eq!(p.delay(10, None, 1.0), Duration::from_secs(10), "capped");
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(7)), 0.3),
            Duration::from_secs(7)
        );
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(70)), 0.3),
            Duration::from_secs(10)
        );
        let j = jitter();
        assert!((0.0..1.0).contains(&j));
    }
}
