//! A client for a syndication server (Atomio-compatible): feeds, `$clone` into a release
//! candidate, feed documents, and aliases.

use std::fmt;
use std::sync::Arc;

use release_model::deployment::{BaseUrl, ReleaseCandidate, ReleaseCandidateName};
use release_model::feed::{Feed, ReadOptions, read_feed};
use reqwest::header::HeaderValue;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::auth::TokenSource;
use crate::error::{Error, ShownUrl};
use crate::http::{Body, ClientOptions, Endpoint, Idempotent, Verb, body_bytes};

/// A feed name on a syndication server: letters, digits, `-` and `_` (no dots).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct FeedName(String);

impl FeedName {
    /// Parses a feed name.
    ///
    /// # Errors
    /// [`Error::Config`] unless it matches `^[A-Za-z0-9_-]+$`.
    pub fn new(name: &str) -> Result<Self, Error> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(Error::Config {
                message: format!("feed name '{name}' may hold only letters, digits, '-' and '_'"),
            });
        }
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for FeedName {
    type Error = Error;
    fn try_from(s: String) -> Result<Self, Error> {
        Self::new(&s)
    }
}

impl From<FeedName> for String {
    fn from(n: FeedName) -> String {
        n.0
    }
}

impl From<&ReleaseCandidateName> for FeedName {
    fn from(n: &ReleaseCandidateName) -> Self {
        // Candidate names are letters, digits and '-' by construction.
        Self(n.as_str().to_owned())
    }
}

impl fmt::Display for FeedName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A feed as the server lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeedSummary {
    /// Its name.
    pub name: String,
    /// Its title.
    #[serde(default)]
    pub title: Option<String>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// An entry of a feed in the server's JSON model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct FeedEntry {
    /// The entry id.
    #[serde(default)]
    pub id: Option<String>,
    /// The title.
    #[serde(default)]
    pub title: Option<String>,
    /// The content item identifier.
    #[serde(default)]
    pub content_item_identifier: Option<String>,
    /// The content item version.
    #[serde(default)]
    pub content_item_version: Option<String>,
    /// Permission codes gating the artefacts.
    #[serde(default)]
    pub permissions: Vec<String>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// A feed in the server's JSON model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct FeedDetails {
    /// Its name.
    pub name: String,
    /// Its title.
    #[serde(default)]
    pub title: Option<String>,
    /// Its entries.
    #[serde(default)]
    pub entries: Vec<FeedEntry>,
    /// Other fields, kept as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, Value>,
}

/// An alias and the feed it points at.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AliasTarget {
    /// The alias (`uat`, `production`).
    pub alias_name: String,
    /// The feed it points at.
    pub feed_name: String,
}

/// A syndication server.
#[derive(Debug)]
pub struct SyndicationClient {
    endpoint: Endpoint,
}

impl SyndicationClient {
    /// A client for the server at `base_url`.
    ///
    /// # Errors
    /// [`Error::Insecure`] for plain HTTP unless allowed; [`Error::Config`] otherwise.
    pub fn new(
        base_url: &BaseUrl,
        tokens: Arc<dyn TokenSource>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        Ok(Self {
            endpoint: Endpoint::new(base_url, tokens, options)?,
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url, Error> {
        self.endpoint.url(path, query)
    }

    /// The URL of a feed's Atom document, which terminology servers preload.
    ///
    /// # Errors
    /// [`Error::Config`] when the URL cannot be formed.
    pub fn feed_url(&self, name: &FeedName) -> Result<String, Error> {
        Ok(self
            .url(&format!("feed/{name}/syndication.xml"), &[])?
            .to_string())
    }

    /// The URL of an alias's Atom document.
    ///
    /// # Errors
    /// [`Error::Config`] when the URL cannot be formed.
    pub fn alias_url(&self, alias: &str) -> Result<String, Error> {
        Ok(self
            .url(&format!("alias/{alias}/syndication.xml"), &[])?
            .to_string())
    }

    fn decode<T: serde::de::DeserializeOwned>(
        url: &reqwest::Url,
        method: &'static str,
        v: Value,
    ) -> Result<T, Error> {
        serde_json::from_value(v).map_err(|e| Error::Decode {
            method,
            url: ShownUrl(url).to_string(),
            message: e.to_string(),
        })
    }

    /// `GET /feed`: every feed.
    ///
    /// # Errors
    /// Transport and status errors; [`Error::Decode`] for an unexpected shape.
    pub async fn list_feeds(&self) -> Result<Vec<FeedSummary>, Error> {
        let url = self.url("feed", &[])?;
        let v = self
            .endpoint
            .http
            .json(Verb::Get, &url, None, Idempotent::Yes, "application/json")
            .await?;
        Self::decode(&url, "GET", v)
    }

    /// `POST /feed`: creates an empty feed.
    ///
    /// # Errors
    /// [`Error::is_conflict`] when it exists; other transport and status errors.
    pub async fn create_feed(&self, name: &FeedName, title: &str) -> Result<(), Error> {
        let url = self.url("feed", &[])?;
        let body = Body::PlainJson(serde_json::json!({"name": name.as_str(), "title": title}));
        self.endpoint
            .http
            .send(Verb::Post, &url, Some(&body), &[], Idempotent::No)
            .await
            .map(drop)
    }

    /// `POST /feed/$clone`: snapshots the feed at `source_url`, artefacts included, into a
    /// new release candidate. Never retried blindly: a repeat would meet the snapshot it made.
    ///
    /// # Errors
    /// [`Error::CandidateExists`] when a candidate of that name exists (the server answers
    /// 409); other transport and status errors.
    pub async fn clone_feed(
        &self,
        name: &ReleaseCandidateName,
        source_url: &str,
    ) -> Result<ReleaseCandidate, Error> {
        let url = self.url(
            "feed/$clone",
            &[("name", name.as_str()), ("url", source_url)],
        )?;
        let json = (
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        match self
            .endpoint
            .http
            .send(Verb::Post, &url, None, &[json], Idempotent::No)
            .await
        {
            Err(e) if e.status() == Some(409) => {
                return Err(Error::CandidateExists { name: name.clone() });
            }
            Err(e) => return Err(e),
            Ok(_) => {}
        }
        Ok(ReleaseCandidate::new(
            name.clone(),
            self.feed_url(&FeedName::from(name))?,
        ))
    }

    /// `GET /feed/{name}`: the feed in the server's JSON model.
    ///
    /// # Errors
    /// [`Error::is_not_found`] for an unknown feed; other transport, status and decode errors.
    pub async fn feed(&self, name: &FeedName) -> Result<FeedDetails, Error> {
        let url = self.url(&format!("feed/{name}"), &[])?;
        let v = self
            .endpoint
            .http
            .json(Verb::Get, &url, None, Idempotent::Yes, "application/json")
            .await?;
        Self::decode(&url, "GET", v)
    }

    /// `GET /feed/{name}/syndication.xml`, read.
    ///
    /// # Errors
    /// Transport and status errors; [`Error::Feed`] when the document does not read.
    pub async fn feed_xml(&self, name: &FeedName) -> Result<Feed, Error> {
        let url = self.url(&format!("feed/{name}/syndication.xml"), &[])?;
        self.atom(&url).await
    }

    /// `GET /alias/{alias}/syndication.xml`, read.
    ///
    /// # Errors
    /// As [`feed_xml`](Self::feed_xml).
    pub async fn alias_feed(&self, alias: &str) -> Result<Feed, Error> {
        let url = self.url(&format!("alias/{alias}/syndication.xml"), &[])?;
        self.atom(&url).await
    }

    async fn atom(&self, url: &reqwest::Url) -> Result<Feed, Error> {
        let accept = (
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/atom+xml, application/xml"),
        );
        let resp = self
            .endpoint
            .http
            .send(Verb::Get, url, None, &[accept], Idempotent::Yes)
            .await?;
        let shown = ShownUrl(url).to_string();
        let bytes = body_bytes(resp, url).await?;
        read_feed(&bytes, &ReadOptions::lenient())
            .map(|o| o.feed)
            .map_err(|source| Error::Feed { url: shown, source })
    }

    /// `DELETE /feed/{name}`.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn delete_feed(&self, name: &FeedName) -> Result<(), Error> {
        let url = self.url(&format!("feed/{name}"), &[])?;
        self.endpoint
            .call(Verb::Delete, &url, Idempotent::Yes)
            .await
    }

    /// `GET /alias`: every alias.
    ///
    /// # Errors
    /// Transport, status and decode errors.
    pub async fn list_aliases(&self) -> Result<Vec<AliasTarget>, Error> {
        let url = self.url("alias", &[])?;
        let v = self
            .endpoint
            .http
            .json(Verb::Get, &url, None, Idempotent::Yes, "application/json")
            .await?;
        Self::decode(&url, "GET", v)
    }

    /// `POST /alias`: creates an alias.
    ///
    /// # Errors
    /// [`Error::is_conflict`] when it exists; other transport and status errors.
    pub async fn create_alias(&self, alias: &str, feed: &FeedName) -> Result<(), Error> {
        let url = self.url("alias", &[])?;
        let body =
            Body::PlainJson(serde_json::json!({"aliasName": alias, "feedName": feed.as_str()}));
        self.endpoint
            .http
            .send(Verb::Post, &url, Some(&body), &[], Idempotent::No)
            .await
            .map(drop)
    }

    /// `PUT /alias/{alias}`: points an alias at another feed. This changes only what the
    /// next preload adds; it does not roll content back.
    ///
    /// # Errors
    /// [`Error::is_not_found`] for an unknown alias; other transport and status errors.
    pub async fn repoint_alias(&self, alias: &str, feed: &FeedName) -> Result<(), Error> {
        let url = self.url(&format!("alias/{alias}"), &[])?;
        let body =
            Body::PlainJson(serde_json::json!({"aliasName": alias, "feedName": feed.as_str()}));
        self.endpoint
            .http
            .send(Verb::Put, &url, Some(&body), &[], Idempotent::Yes)
            .await
            .map(drop)
    }

    /// `DELETE /alias/{alias}`.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn delete_alias(&self, alias: &str) -> Result<(), Error> {
        let url = self.url(&format!("alias/{alias}"), &[])?;
        self.endpoint
            .call(Verb::Delete, &url, Idempotent::Yes)
            .await
    }

    /// `GET /actuator/health`.
    ///
    /// # Errors
    /// The error of the failed check.
    pub async fn health(&self) -> Result<(), Error> {
        let url = self.url("actuator/health", &[])?;
        self.endpoint.call(Verb::Get, &url, Idempotent::Yes).await
    }
}
