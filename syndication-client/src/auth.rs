//! Access tokens: none, a fixed one, or OAuth2 client credentials cached and renewed before
//! they expire.

use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use oauth2::basic::BasicClient;
use oauth2::{AuthType, ClientId, Scope, TokenResponse, TokenUrl};
use tracing::Instrument;

use crate::error::Error;
use crate::secret::{AccessToken, ClientSecret};

/// Where requests get their bearer token.
///
/// Object-safe, so a client holds an `Arc<dyn TokenSource>`; implement it to plug in another
/// identity provider.
#[async_trait]
pub trait TokenSource: Send + Sync + fmt::Debug {
    /// A token to send, or `None` for anonymous requests.
    ///
    /// # Errors
    /// When a token cannot be obtained.
    async fn token(&self) -> Result<Option<AccessToken>, Error>;

    /// Tells the source that `token` was refused (HTTP 401), so the next call fetches a new
    /// one.
    async fn invalidate(&self, token: &AccessToken);
}

/// Anonymous requests.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAuth;

#[async_trait]
impl TokenSource for NoAuth {
    async fn token(&self) -> Result<Option<AccessToken>, Error> {
        Ok(None)
    }

    async fn invalidate(&self, _token: &AccessToken) {}
}

/// A fixed token (a service token, or one obtained elsewhere).
#[derive(Clone, Debug)]
pub struct StaticToken(AccessToken);

impl StaticToken {
    /// A fixed token.
    pub fn new(token: AccessToken) -> Self {
        Self(token)
    }
}

#[async_trait]
impl TokenSource for StaticToken {
    async fn token(&self) -> Result<Option<AccessToken>, Error> {
        Ok(Some(self.0.clone()))
    }

    async fn invalidate(&self, _token: &AccessToken) {}
}

/// A source of the current time, so token expiry and waits can be tested without waiting.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Now.
    fn now(&self) -> Instant;

    /// Waits `d` by this clock: tokio's timer for the system clock; a [`ManualClock`] moves
    /// itself forward at once, so an executor waiting for a fake's preload waits in virtual
    /// time.
    fn sleep(&self, d: Duration) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        Box::pin(tokio::time::sleep(d))
    }
}

/// The system's monotonic clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A clock that moves only when told to, for tests.
#[derive(Clone, Debug)]
pub struct ManualClock(Arc<Mutex<Instant>>);

impl ManualClock {
    /// A clock standing at the current instant.
    pub fn new() -> Self {
        Self(Arc::new(Mutex::new(Instant::now())))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut t = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *t += by;
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        *self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn sleep(&self, d: Duration) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send + '_>> {
        // Each wait moves the clock by its length: waits of several tasks at once (the
        // executor verifies instances together) add up, so virtual time runs ahead of what a
        // real clock would show. Waits are bounded by attempts, not by time, so this changes
        // how much virtual time a run takes, never whether it ends.
        self.advance(d);
        // Lets other tasks run, as a real wait would.
        Box::pin(tokio::task::yield_now())
    }
}

/// How the client authenticates to the token endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// HTTP Basic (`client_id:client_secret`).
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    RequestBody,
}

/// Settings for [`ClientCredentials`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ClientCredentialsConfig {
    /// The token endpoint.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret.
    pub client_secret: ClientSecret,
    /// Scopes to request (`onto/synd.write`, `system/*.read` …).
    pub scopes: Vec<String>,
    /// An `audience` parameter, for servers that want one.
    pub audience: Option<String>,
    /// How the client authenticates.
    pub auth: ClientAuth,
    /// Allow a plain-HTTP token endpoint (loopback tests only).
    pub allow_insecure: bool,
    /// Renew this long before the token expires.
    pub renew_before: Duration,
}

impl ClientCredentialsConfig {
    /// Settings with HTTP Basic client authentication, no scopes, and renewal a minute early.
    pub fn new(
        token_url: impl Into<String>,
        client_id: impl Into<String>,
        client_secret: ClientSecret,
    ) -> Self {
        Self {
            token_url: token_url.into(),
            client_id: client_id.into(),
            client_secret,
            scopes: Vec::new(),
            audience: None,
            auth: ClientAuth::Basic,
            allow_insecure: false,
            renew_before: Duration::from_secs(60),
        }
    }
}

#[derive(Debug)]
struct Cached {
    token: AccessToken,
    renew_at: Instant,
}

/// OAuth2 client-credentials tokens, cached until shortly before they expire.
///
/// Concurrent callers share one token request: the cache is behind an async lock held while
/// a token is fetched, so callers that arrive meanwhile wait and then take the new token.
/// The token request follows no redirects (a redirect could send the secret elsewhere).
pub struct ClientCredentials {
    config: ClientCredentialsConfig,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    cache: tokio::sync::Mutex<Option<Cached>>,
    requests: std::sync::atomic::AtomicUsize,
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("token_url", &crate::error::shown(&self.config.token_url))
            .field("client_id", &self.config.client_id)
            .field("client_secret", &self.config.client_secret)
            .field("scopes", &self.config.scopes)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// A token source.
    ///
    /// # Errors
    /// [`Error::Insecure`] for a plain-HTTP token URL unless allowed; [`Error::Config`] for a
    /// URL that does not parse.
    pub fn new(config: ClientCredentialsConfig) -> Result<Self, Error> {
        Self::with_clock(config, Arc::new(SystemClock))
    }

    /// A token source on a given clock (tests use [`ManualClock`]).
    ///
    /// # Errors
    /// As [`ClientCredentials::new`].
    pub fn with_clock(
        config: ClientCredentialsConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, Error> {
        let url = reqwest::Url::parse(&config.token_url).map_err(|e| Error::Config {
            message: format!("token URL '{}': {e}", config.token_url),
        })?;
        if url.scheme() != "https" && !config.allow_insecure {
            return Err(Error::Insecure {
                url: config.token_url.clone(),
            });
        }
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .map_err(|e| Error::Config {
                message: format!("HTTP client: {e}"),
            })?;
        Ok(Self {
            config,
            http,
            clock,
            cache: tokio::sync::Mutex::new(None),
            requests: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// How many token requests were sent (to confirm caching and single-flight).
    pub fn requests_sent(&self) -> usize {
        self.requests.load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn fetch(&self) -> Result<Cached, Error> {
        let c = &self.config;
        let token_url = TokenUrl::new(c.token_url.clone()).map_err(|e| Error::Config {
            message: format!("token URL: {e}"),
        })?;
        let client = BasicClient::new(ClientId::new(c.client_id.clone()))
            .set_client_secret(oauth2::ClientSecret::new(
                c.client_secret.secret().to_owned(),
            ))
            .set_auth_type(match c.auth {
                ClientAuth::Basic => AuthType::BasicAuth,
                ClientAuth::RequestBody => AuthType::RequestBody,
            })
            .set_token_uri(token_url);
        let mut request = client.exchange_client_credentials();
        for s in &c.scopes {
            request = request.add_scope(Scope::new(s.clone()));
        }
        if let Some(a) = &c.audience {
            request = request.add_extra_param("audience", a.clone());
        }
        self.requests
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let shown = crate::error::shown(&c.token_url);
        let span = tracing::info_span!("token", url = %shown, client_id = %c.client_id);
        let started = self.clock.now();
        // The HTTP status of the answer, so that an error can say it (an identity provider's
        // 503 is worth retrying, a refused secret is not).
        let status = Arc::new(std::sync::atomic::AtomicU16::new(0));
        let observed = {
            let (status, http) = (Arc::clone(&status), self.http.clone());
            move |req: oauth2::HttpRequest| {
                let (status, http) = (Arc::clone(&status), http.clone());
                async move {
                    let resp = oauth2::AsyncHttpClient::call(&http, req).await?;
                    status.store(resp.status().as_u16(), std::sync::atomic::Ordering::Relaxed);
                    Ok::<_, oauth2::HttpClientError<reqwest::Error>>(resp)
                }
            }
        };
        let response = request
            .request_async(&observed)
            .instrument(span)
            .await
            .map_err(|e| {
                let code = status.load(std::sync::atomic::Ordering::Relaxed);
                token_error(&shown, (code != 0).then_some(code), e)
            })?;
        // A lifetime past any real token's (some servers send absurd ones) is capped, so the
        // renewal time is always a representable instant.
        let lifetime = response
            .expires_in()
            .unwrap_or(Duration::from_secs(300))
            .min(MAX_TOKEN_LIFETIME);
        // Renew early, but never sooner than half-way through a short-lived token.
        let early = c.renew_before.min(lifetime / 2);
        Ok(Cached {
            token: AccessToken::new(response.access_token().secret().clone()),
            renew_at: started.checked_add(lifetime - early).unwrap_or(started),
        })
    }
}

/// Tokens are renewed at least this often, whatever lifetime the server claims.
const MAX_TOKEN_LIFETIME: Duration = Duration::from_secs(24 * 60 * 60);

fn token_error<RE: std::error::Error + 'static>(
    shown_url: &str,
    status: Option<u16>,
    e: oauth2::RequestTokenError<
        RE,
        oauth2::StandardErrorResponse<oauth2::basic::BasicErrorResponseType>,
    >,
) -> Error {
    use oauth2::RequestTokenError as R;
    let message = match e {
        R::ServerResponse(r) => format!(
            "{}{}",
            r.error(),
            r.error_description()
                .map(|d| format!(": {}", crate::error::excerpt(d)))
                .unwrap_or_default()
        ),
        R::Request(inner) => crate::error::excerpt(&inner.to_string()),
        // An answer that is not a token response is usually an HTTP error page; its start is
        // shown with anything that looks like a credential removed (a malformed token
        // response still carries the token).
        R::Parse(err, body) => format!(
            "unparseable response ({err}): {}",
            crate::error::excerpt(&String::from_utf8_lossy(&body))
        ),
        R::Other(m) => crate::error::excerpt(&m),
    };
    Error::Token {
        url: shown_url.to_owned(),
        status,
        message,
    }
}

#[async_trait]
impl TokenSource for ClientCredentials {
    async fn token(&self) -> Result<Option<AccessToken>, Error> {
        let mut cache = self.cache.lock().await;
        if let Some(c) = cache.as_ref()
            && self.clock.now() < c.renew_at
        {
            return Ok(Some(c.token.clone()));
        }
        let fresh = self.fetch().await?;
        let token = fresh.token.clone();
        *cache = Some(fresh);
        Ok(Some(token))
    }

    async fn invalidate(&self, token: &AccessToken) {
        let mut cache = self.cache.lock().await;
        // Only drop the token that was refused; another caller may have renewed it already.
        if cache.as_ref().is_some_and(|c| &c.token == token) {
            *cache = None;
        }
    }
}
