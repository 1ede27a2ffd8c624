//! A client for a terminology server (Ontoserver-compatible): its syndication feed, the
//! preload, syndication status, FHIR reads, searches and deletes, security labels, binary
//! indexes, and health.

use std::sync::Arc;

use fhir_security_labels::{LabelSet, ReadGrant};
use release_model::deployment::BaseUrl;
use release_model::feed::{Feed, ReadOptions, read_feed};
use release_model::resource::ResourceType;
use release_model::status::SyndicationStatus;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::auth::TokenSource;
use crate::error::{Error, ShownUrl};
use crate::http::{Body, ClientOptions, Endpoint, Idempotent, Verb, body_bytes};

/// The result of fetching a feed conditionally.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FeedFetch {
    /// The feed changed (or was fetched for the first time).
    Modified(Feed),
    /// The server answered 304: the copy from the last fetch is current.
    NotModified(Feed),
}

impl FeedFetch {
    /// The feed, whichever way it came.
    pub fn feed(&self) -> &Feed {
        match self {
            FeedFetch::Modified(f) | FeedFetch::NotModified(f) => f,
        }
    }
}

#[derive(Debug, Default)]
struct FeedCache {
    etag: Option<String>,
    last_modified: Option<String>,
    feed: Option<Feed>,
}

/// A terminology server.
#[derive(Debug)]
pub struct TerminologyClient {
    endpoint: Endpoint,
    feed_cache: tokio::sync::Mutex<FeedCache>,
}

impl TerminologyClient {
    /// A client for the server at `base_url` (the FHIR API is at `{base}/fhir`).
    ///
    /// # Errors
    /// [`Error::Insecure`] for plain HTTP unless allowed; [`Error::Config`] otherwise.
    pub fn new(
        base_url: &BaseUrl,
        tokens: Arc<dyn TokenSource>,
        options: ClientOptions,
    ) -> Result<Self, Error> {
        let endpoint = Endpoint::new(base_url, tokens, options)?;
        Ok(Self {
            endpoint,
            feed_cache: tokio::sync::Mutex::new(FeedCache::default()),
        })
    }

    fn url(&self, path: &str, query: &[(&str, &str)]) -> Result<reqwest::Url, Error> {
        self.endpoint.url(path, query)
    }

    /// Fetches `/synd/syndication.xml`, conditionally on the last fetch's `ETag` and
    /// `Last-Modified`.
    ///
    /// # Errors
    /// Transport and status errors; [`Error::Feed`] when the feed does not read.
    pub async fn syndication_feed(&self) -> Result<FeedFetch, Error> {
        let url = self.url("synd/syndication.xml", &[])?;
        let mut cache = self.feed_cache.lock().await;
        let mut headers = vec![(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/atom+xml"),
        )];
        if cache.feed.is_some() {
            if let Some(v) = cache
                .etag
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                headers.push((reqwest::header::IF_NONE_MATCH, v));
            }
            if let Some(v) = cache
                .last_modified
                .as_deref()
                .and_then(|e| HeaderValue::from_str(e).ok())
            {
                headers.push((reqwest::header::IF_MODIFIED_SINCE, v));
            }
        }
        let resp = self
            .endpoint
            .http
            .send(Verb::Get, &url, None, &headers, Idempotent::Yes)
            .await?;
        if resp.status() == reqwest::StatusCode::NOT_MODIFIED
            && let Some(f) = &cache.feed
        {
            return Ok(FeedFetch::NotModified(f.clone()));
        }
        let header = |name: HeaderName| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let etag = header(reqwest::header::ETAG);
        let last_modified = header(reqwest::header::LAST_MODIFIED);
        let shown = ShownUrl(&url).to_string();
        let bytes = body_bytes(resp, &url).await?;
        let feed = read_feed(&bytes, &ReadOptions::lenient())
            .map_err(|source| Error::Feed { url: shown, source })?
            .feed;
        *cache = FeedCache {
            etag,
            last_modified,
            feed: Some(feed.clone()),
        };
        Ok(FeedFetch::Modified(feed))
    }

    /// `POST /synd/redoPreload`: re-runs the preload, which adds what the preload feed offers
    /// and the server lacks. Returns before the load finishes; verify by content. Not retried:
    /// a repeat would start a second load.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn redo_preload(&self) -> Result<(), Error> {
        let url = self.url("synd/redoPreload", &[])?;
        self.endpoint.call(Verb::Post, &url, Idempotent::No).await
    }

    /// `POST /synd/setSyndicationStatus`: publish (or withdraw) a resource in the server's
    /// feed. Needs `SYND_WRITE`. Setting a status is idempotent, so it is retried.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn set_syndication_status(
        &self,
        resource_type: impl Into<ResourceType>,
        id: &str,
        status: SyndicationStatus,
    ) -> Result<(), Error> {
        let resource_type = resource_type.into();
        let url = self.url(
            "synd/setSyndicationStatus",
            &[
                ("resourceType", resource_type.as_str()),
                ("id", id),
                ("syndicate", status.as_param()),
            ],
        )?;
        self.endpoint.call(Verb::Post, &url, Idempotent::Yes).await
    }

    /// `GET /synd/getSyndicationStatus`. The answer's shape is not documented; the forms
    /// [`SyndicationStatus::from_answer`] reads are accepted.
    ///
    /// # Errors
    /// Transport and status errors; [`Error::Decode`] with the body when it is none of those
    /// forms.
    pub async fn syndication_status(
        &self,
        resource_type: impl Into<ResourceType>,
        id: &str,
    ) -> Result<SyndicationStatus, Error> {
        let resource_type = resource_type.into();
        let url = self.url(
            "synd/getSyndicationStatus",
            &[("resourceType", resource_type.as_str()), ("id", id)],
        )?;
        let resp = self
            .endpoint
            .http
            .send(Verb::Get, &url, None, &[], Idempotent::Yes)
            .await?;
        let decode = |message: String| Error::Decode {
            method: "GET",
            url: ShownUrl(&url).to_string(),
            message,
        };
        let body = resp.text().await.map_err(|e| decode(e.to_string()))?;
        SyndicationStatus::from_answer(&body).ok_or_else(|| {
            let shown: String = body.chars().take(200).collect();
            decode(format!("not a syndication status: {shown:?}"))
        })
    }

    /// Searches for a canonical `url|version`; returns the matching resources. An empty
    /// answer can also mean the caller may not read them: denied reads are filtered, not
    /// refused.
    ///
    /// # Errors
    /// Transport and status errors; [`Error::Decode`] when the answer is not a Bundle.
    pub async fn search_canonical(
        &self,
        resource_type: impl Into<ResourceType>,
        canonical: &str,
        version: &str,
    ) -> Result<Vec<Value>, Error> {
        let resource_type = resource_type.into();
        let url = self.url(
            &format!("fhir/{resource_type}"),
            &[("url", canonical), ("version", version)],
        )?;
        let bundle = self.endpoint.get_resource(&url, "Bundle").await?;
        Ok(bundle
            .get("entry")
            .and_then(Value::as_array)
            .map(|entries| {
                entries
                    .iter()
                    .filter_map(|e| e.get("resource").cloned())
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Whether a canonical `url|version` answers (see [`search_canonical`](Self::search_canonical)).
    ///
    /// # Errors
    /// As [`search_canonical`](Self::search_canonical).
    pub async fn has_canonical(
        &self,
        resource_type: impl Into<ResourceType>,
        canonical: &str,
        version: &str,
    ) -> Result<bool, Error> {
        let resource_type = resource_type.into();
        Ok(!self
            .search_canonical(&resource_type, canonical, version)
            .await?
            .is_empty())
    }

    /// Reads a resource by type and id.
    ///
    /// # Errors
    /// Transport and status errors ([`Error::is_not_found`] for 404).
    pub async fn read(
        &self,
        resource_type: impl Into<ResourceType>,
        id: &str,
    ) -> Result<Value, Error> {
        let resource_type = resource_type.into();
        let url = self.url(&format!("fhir/{resource_type}/{id}"), &[])?;
        self.endpoint
            .http
            .json(
                Verb::Get,
                &url,
                None,
                Idempotent::Yes,
                "application/fhir+json",
            )
            .await
    }

    /// Deletes a resource by type and id (writable servers only). A repeated delete of a
    /// deleted resource is harmless, so it is retried.
    ///
    /// # Errors
    /// Transport and status errors (read-only servers answer 4xx).
    pub async fn delete(
        &self,
        resource_type: impl Into<ResourceType>,
        id: &str,
    ) -> Result<(), Error> {
        let resource_type = resource_type.into();
        let url = self.url(&format!("fhir/{resource_type}/{id}"), &[])?;
        self.endpoint
            .call(Verb::Delete, &url, Idempotent::Yes)
            .await
    }

    /// Deletes the resource with a canonical `url|version` (a conditional delete), as release
    /// plans do.
    ///
    /// # Errors
    /// As [`delete`](Self::delete).
    pub async fn delete_canonical(
        &self,
        resource_type: impl Into<ResourceType>,
        canonical: &str,
        version: &str,
    ) -> Result<(), Error> {
        let resource_type = resource_type.into();
        let url = self.url(
            &format!("fhir/{resource_type}"),
            &[("url", canonical), ("version", version)],
        )?;
        self.endpoint
            .call(Verb::Delete, &url, Idempotent::Yes)
            .await
    }

    /// `$meta-add` of labels that grant no read (write labels, confidentiality).
    ///
    /// # Errors
    /// [`Error::Config`] when a label grants read (use [`grant_read`](Self::grant_read));
    /// transport and status errors.
    pub async fn meta_add(
        &self,
        resource_type: impl Into<ResourceType>,
        id: &str,
        labels: &LabelSet,
    ) -> Result<LabelSet, Error> {
        let resource_type = resource_type.into();
        let body = fhir_security_labels::meta_add_body(labels).map_err(|e| Error::Config {
            message: e.to_string(),
        })?;
        self.meta_call(resource_type.as_str(), id, "$meta-add", body)
            .await
    }

    /// `$meta-add` of the read labels of an approved grant, on the approved content.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn grant_read(&self, grant: &ReadGrant) -> Result<LabelSet, Error> {
        let c = grant.approval().content();
        self.meta_call(&c.resource_type, &c.id, "$meta-add", grant.meta_add_body())
            .await
    }

    /// `$meta-delete` of labels.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn meta_delete(
        &self,
        resource_type: impl Into<ResourceType>,
        id: &str,
        labels: &LabelSet,
    ) -> Result<LabelSet, Error> {
        let resource_type = resource_type.into();
        self.meta_call(
            resource_type.as_str(),
            id,
            "$meta-delete",
            fhir_security_labels::meta_delete_body(labels),
        )
        .await
    }

    async fn meta_call(
        &self,
        resource_type: &str,
        id: &str,
        op: &str,
        body: Value,
    ) -> Result<LabelSet, Error> {
        let url = self.url(&format!("fhir/{resource_type}/{id}/{op}"), &[])?;
        // The operations are declared not idempotent.
        let answer = self
            .endpoint
            .http
            .json(
                Verb::Post,
                &url,
                Some(&Body::Json(body)),
                Idempotent::No,
                "application/fhir+json",
            )
            .await?;
        fhir_security_labels::parse_meta_parameters(&answer.to_string()).map_err(|e| {
            Error::Decode {
                method: "POST",
                url: ShownUrl(&url).to_string(),
                message: e.to_string(),
            }
        })
    }

    /// `POST /api/deleteCodeSystem`: removes a SNOMED CT or LOINC code system version (a
    /// binary index). Needs `API_WRITE`.
    ///
    /// # Errors
    /// Transport and status errors.
    pub async fn delete_code_system(&self, code_system: &str, version: &str) -> Result<(), Error> {
        let url = self.url(
            "api/deleteCodeSystem",
            &[
                ("codeSystemId", code_system),
                ("codeSystemVersion", version),
            ],
        )?;
        self.endpoint.call(Verb::Post, &url, Idempotent::Yes).await
    }

    /// The server's software version, from its CapabilityStatement (`software.version`).
    ///
    /// # Errors
    /// Transport and status errors; [`Error::Decode`] when it is not a CapabilityStatement.
    pub async fn software_version(&self) -> Result<Option<String>, Error> {
        let url = self.url("fhir/metadata", &[])?;
        let cs = self
            .endpoint
            .get_resource(&url, "CapabilityStatement")
            .await?;
        Ok(cs
            .pointer("/software/version")
            .and_then(Value::as_str)
            .map(str::to_owned))
    }

    /// Whether the FHIR API answers (`GET /fhir/metadata` succeeds).
    ///
    /// # Errors
    /// The error of the failed check.
    pub async fn health(&self) -> Result<(), Error> {
        self.software_version().await.map(drop)
    }

    /// Whether a preload (the start-up one, `redoPreload` or a scheduled one) is running, from
    /// the health endpoint (`GET /actuator/health`, the Spring Boot actuator the container's
    /// `/healthcheck.sh -L` reads): `Some(true)` while one runs; `None` when the server does
    /// not say (no such endpoint at this base URL, or no preload detail in its answer). The
    /// detail's shape (`components.preload.details.running`) is what the testkit serves;
    /// Ontoserver's own is unconfirmed, so treat `None` as "unknown", not as "finished".
    ///
    /// # Errors
    /// Transport errors, and status errors other than 404.
    pub async fn preload_running(&self) -> Result<Option<bool>, Error> {
        let url = self.url("actuator/health", &[])?;
        let health = match self
            .endpoint
            .http
            .json(Verb::Get, &url, None, Idempotent::Yes, "application/json")
            .await
        {
            Ok(v) => v,
            Err(e) if e.is_not_found() => return Ok(None),
            Err(e) => return Err(e),
        };
        Ok(health
            .pointer("/components/preload/details/running")
            .and_then(Value::as_bool))
    }

    /// What the instance holds of these resource types: every `(type, url, version)` its
    /// searches answer, a page of up to [`HOLDINGS_PAGE`] at a time with only `url` and
    /// `version` asked for (`_elements`), following each Bundle's `next` link. A few requests
    /// per type, however many items: use it to verify a whole release target rather than
    /// one search per item.
    ///
    /// Like every search, it shows only what the caller may read: verify with a token that
    /// reads every label in use, or an item that is hidden looks absent.
    ///
    /// # Errors
    /// Transport and status errors; [`Error::Decode`] when an answer is not a Bundle or a
    /// `next` link leaves the server.
    pub async fn holdings(&self, types: &[ResourceType]) -> Result<Holdings, Error> {
        let mut out = Holdings::default();
        let count = HOLDINGS_PAGE.to_string();
        for t in types {
            let mut url = self.url(
                &format!("fhir/{t}"),
                &[("_elements", "url,version"), ("_count", &count)],
            )?;
            let origin = url.origin();
            // A bound on pages, against a server whose `next` links never end.
            for _ in 0..100_000 {
                let page: Page = self
                    .endpoint
                    .http
                    .get_json_as(&url, "application/fhir+json")
                    .await?;
                out.requests += 1;
                if page.resource_type != "Bundle" {
                    return Err(Error::Decode {
                        method: "GET",
                        url: crate::error::ShownUrl(&url).to_string(),
                        message: "not a Bundle".into(),
                    });
                }
                for r in page.entry.into_iter().filter_map(|e| e.resource) {
                    if let Some(u) = r.url {
                        out.insert(t, u, r.version.unwrap_or_default());
                    }
                }
                let Some(next) = page.link.into_iter().find(|l| l.relation == "next") else {
                    break;
                };
                url = reqwest::Url::parse(&next.url)
                    .ok()
                    .filter(|n| n.origin() == origin)
                    .ok_or_else(|| Error::Decode {
                        method: "GET",
                        url: crate::error::ShownUrl(&url).to_string(),
                        message: "a next link that is not on this server".into(),
                    })?;
            }
        }
        Ok(out)
    }
}

/// A searchset page, as far as [`TerminologyClient::holdings`] reads it.
#[derive(serde::Deserialize)]
struct Page {
    #[serde(rename = "resourceType")]
    resource_type: String,
    #[serde(default)]
    entry: Vec<PageEntry>,
    #[serde(default)]
    link: Vec<PageLink>,
}

#[derive(serde::Deserialize)]
struct PageEntry {
    resource: Option<PageResource>,
}

#[derive(serde::Deserialize)]
struct PageResource {
    url: Option<String>,
    version: Option<String>,
}

#[derive(serde::Deserialize)]
struct PageLink {
    relation: String,
    url: String,
}

/// The page size [`TerminologyClient::holdings`] asks for.
pub const HOLDINGS_PAGE: usize = 1000;

/// What an instance holds, as [`TerminologyClient::holdings`] read it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Holdings {
    /// By type, then canonical url: the versions held.
    index: std::collections::BTreeMap<
        ResourceType,
        std::collections::HashMap<String, std::collections::BTreeSet<String>>,
    >,
    /// How many requests reading it took.
    pub requests: usize,
}

impl Holdings {
    fn insert(&mut self, resource_type: &ResourceType, url: String, version: String) {
        self.index
            .entry(resource_type.clone())
            .or_default()
            .entry(url)
            .or_default()
            .insert(version);
    }

    /// Whether the instance holds this canonical `url|version` of this type.
    pub fn contains(&self, resource_type: &ResourceType, url: &str, version: &str) -> bool {
        self.index
            .get(resource_type)
            .and_then(|by_url| by_url.get(url))
            .is_some_and(|versions| versions.contains(version))
    }

    /// How many `(type, url, version)` it holds.
    pub fn len(&self) -> usize {
        self.index
            .values()
            .flat_map(|by_url| by_url.values())
            .map(std::collections::BTreeSet::len)
            .sum()
    }

    /// Whether it holds nothing.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every `(type, url, version)` held, in type order.
    pub fn iter(&self) -> impl Iterator<Item = (&ResourceType, &str, &str)> {
        self.index.iter().flat_map(|(t, by_url)| {
            by_url
                .iter()
                .flat_map(move |(u, vs)| vs.iter().map(move |v| (t, u.as_str(), v.as_str())))
        })
    }
}
