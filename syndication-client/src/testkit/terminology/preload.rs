//! The fake's preloads: reading its feeds, applying what they offer with the real update
//! semantics, one item per tick of the fakes' clock, and the feed it publishes itself.

use std::time::{Duration, Instant};

use release_model::feed::{
    AtomDate, AtomId, Category, Checked, Entry, Feed, FhirVersion, Link, LinkRel, Sha256, Text, ns,
};
use serde_json::Value;
use sha2::Digest;

use super::super::{FakeResource, Registry, lock};
use super::{State, Store};
use crate::Clock;

/// A preload under way: what it read from its feeds when it started, applied one item per
/// `per_item` of the fakes' clock.
#[derive(Debug)]
pub(super) struct Loading {
    /// The instance running it (its base URL).
    pub(super) by: String,
    pub(super) started: Instant,
    pub(super) per_item: Duration,
    pub(super) items: Vec<Item>,
    pub(super) applied: usize,
    /// Whether it is the instance's start-up preload.
    pub(super) startup: bool,
}

/// One thing a preload loads.
#[derive(Debug, Clone)]
pub(super) enum Item {
    /// A FHIR resource, loaded with the update semantics.
    Resource(FakeResource),
    /// A version of a SNOMED CT or LOINC code system (a package or binary index).
    CodeSystemVersion {
        code_system: String,
        version: String,
        date: String,
    },
}

pub(super) fn catch_up(store: &mut Store, now: Instant) {
    let Some(loading) = store.loading.take() else {
        return;
    };
    let due = if loading.per_item.is_zero() {
        loading.items.len()
    } else {
        let elapsed = now.saturating_duration_since(loading.started);
        let n = elapsed.as_nanos() / loading.per_item.as_nanos();
        usize::try_from(n)
            .unwrap_or(usize::MAX)
            .min(loading.items.len())
    };
    for item in &loading.items[loading.applied..due] {
        apply(store, item);
    }
    if due < loading.items.len() {
        store.loading = Some(Loading {
            applied: due,
            ..loading
        });
    }
}

/// The server's feed; `None` when its resources hold what XML cannot (the feed endpoint then
/// answers 500, as a server that fails to write it would).
pub(super) fn feed_xml(st: &Store, base: &str, registry: &Registry) -> Option<Vec<u8>> {
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

/// Why a preload did not start.
pub(super) enum Refused {
    /// This instance is preloading already.
    Running,
    /// Another instance preloads into the same store.
    Contention,
}

/// Starts a preload of the feeds in effect: reads them (through the feed cache) and their
/// artefacts now, and applies one item per `per_item` from now on.
pub(super) fn begin_preload(
    st: &mut State,
    registry: &Registry,
    startup: bool,
) -> Result<(), Refused> {
    let now = st.clock.now();
    if st.preload_feeds.is_empty() {
        // No preload feed: nothing to load, nothing written.
        return Ok(());
    }
    {
        let mut store = lock(&st.store);
        catch_up(&mut store, now);
        match &store.loading {
            Some(l) if l.by == st.me => return Err(Refused::Running),
            Some(_) => {
                store.contention += 1;
                return Err(Refused::Contention);
            }
            None => {}
        }
    }
    st.preloads += 1;
    let mut items = Vec::new();
    for url in st.preload_feeds.clone() {
        let cached = st
            .feed_cache
            .get(&url)
            .filter(|(at, _)| now.saturating_duration_since(*at) < st.feed_cache_ttl)
            .map(|(_, bytes)| bytes.clone());
        let bytes = match cached {
            Some(b) => b,
            None => {
                let Some(b) = registry.get(&url) else {
                    continue;
                };
                st.feed_cache.insert(url.clone(), (now, b.clone()));
                b
            }
        };
        let Ok(feed) = Feed::from_slice(&bytes) else {
            continue;
        };
        items.extend(feed_items(&feed, registry));
    }
    let mut store = lock(&st.store);
    store.loading = Some(Loading {
        by: st.me.clone(),
        started: now,
        per_item: st.per_item,
        items,
        applied: 0,
        startup,
    });
    catch_up(&mut store, now);
    Ok(())
}

/// What a feed's entries load: their verified artefacts, as resources or code system
/// versions.
pub(super) fn feed_items(feed: &Feed, registry: &Registry) -> Vec<Item> {
    let mut items = Vec::new();
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
            items.push(Item::CodeSystemVersion {
                code_system: cs.to_owned(),
                version: version.trimmed().to_owned(),
                date: e
                    .updated
                    .as_ref()
                    .and_then(Checked::valid)
                    .map(AtomDate::to_string)
                    .unwrap_or_default(),
            });
            continue;
        }
        let Ok(json) = serde_json::from_slice::<Value>(&body) else {
            continue;
        };
        if let Some(r) = FakeResource::from_json(&json) {
            items.push(Item::Resource(r));
        }
    }
    items
}

/// Loads one item with the server's update semantics.
pub(super) fn apply(store: &mut Store, item: &Item) {
    match item {
        Item::CodeSystemVersion {
            code_system,
            version,
            date,
        } => {
            if !store.resources.iter().any(|r| {
                r.resource_type == "CodeSystem" && r.url == *code_system && r.version == *version
            }) {
                let id = format!("code-system-{}", store.resources.len());
                store
                    .resources
                    .push(FakeResource::code_system(&id, code_system, version, date));
            }
        }
        Item::Resource(incoming) => {
            let incoming = incoming.clone();
            match store
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
                    let id_taken = store
                        .resources
                        .iter()
                        .any(|r| r.resource_type == incoming.resource_type && r.id == incoming.id);
                    let id = if id_taken {
                        format!("{}-{}", incoming.id, store.resources.len())
                    } else {
                        incoming.id.clone()
                    };
                    store.resources.push(FakeResource { id, ..incoming });
                }
            }
        }
    }
}
