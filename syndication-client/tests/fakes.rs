//! The terminology fake behaves as the release documents say the real server does where a
//! release depends on it: preloads take time and run one at a time, shared storage is shared
//! and contended, feeds are cached, the preload feed location is read at start-up, and writes
//! need their authority.
#![cfg(feature = "testkit")]

use std::sync::Arc;
use std::time::Duration;

use syndication_client::FeedName;
use syndication_client::testkit::{FakeResource, FakeTerminologyServer, Registry};
use syndication_client::{
    AccessToken, ClientOptions, NoAuth, StaticToken, TerminologyClient, TokenSource,
};

const A: &str = "http://example.org/ValueSet/a";
const B: &str = "http://example.org/ValueSet/b";
const C: &str = "http://example.org/ValueSet/c";

fn client(fake: &FakeTerminologyServer, tokens: Arc<dyn TokenSource>) -> TerminologyClient {
    TerminologyClient::new(&fake.base_url(), tokens, ClientOptions::for_local_testing())
        .expect("client")
}

fn anonymous(fake: &FakeTerminologyServer) -> TerminologyClient {
    client(fake, Arc::new(NoAuth))
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// An authoring server offering value sets `a` and `b`, and a production server deployed
/// (configured and started) with its feed, whose start-up preload has finished.
async fn deployed() -> (Registry, FakeTerminologyServer, FakeTerminologyServer) {
    let registry = Registry::new();
    let authoring = FakeTerminologyServer::start(&registry).await;
    for (id, url) in [("a", A), ("b", B)] {
        authoring.add(FakeResource::value_set(id, url, "1.0.0", "2026-11-01"));
        authoring.set_syndicated("ValueSet", id, true);
    }
    let production = FakeTerminologyServer::start(&registry).await;
    production.set_preload_feeds(vec![authoring.feed_url()]);
    production.start_again();
    registry.clock().advance(secs(60));
    assert_eq!(production.content().len(), 2);
    (registry, authoring, production)
}

async fn startup_complete(fake: &FakeTerminologyServer) -> bool {
    let health: serde_json::Value =
        reqwest::get(format!("{}/actuator/health", fake.base_url().as_str()))
            .await
            .expect("health")
            .json()
            .await
            .expect("json");
    health["components"]["preload"]["details"]["startupComplete"] == true
}

fn publish_c(authoring: &FakeTerminologyServer) {
    authoring.add(FakeResource::value_set("c", C, "1.0.0", "2026-11-02"));
    authoring.set_syndicated("ValueSet", "c", true);
}

// redoPreload answers at once; the items arrive one per second of the fakes' clock; the
// health endpoint says a preload runs; a second one meanwhile is refused.
#[tokio::test]
async fn a_preload_runs_in_the_background_item_by_item_and_one_at_a_time() {
    let registry = Registry::new();
    let authoring = FakeTerminologyServer::start(&registry).await;
    for (id, url) in [("a", A), ("b", B), ("c", C)] {
        authoring.add(FakeResource::value_set(id, url, "1.0.0", "2026-11-01"));
        authoring.set_syndicated("ValueSet", id, true);
    }
    let production = FakeTerminologyServer::start(&registry).await;
    production.set_preload_feeds(vec![authoring.feed_url()]);
    production.start_again();
    let p = anonymous(&production);
    assert_eq!(p.preload_running().await.expect("health"), Some(true));
    assert_eq!(
        production.content().len(),
        0,
        "answered before anything loaded"
    );
    // What `healthcheck.sh -s` reads: the start-up preload has not completed.
    assert!(!startup_complete(&production).await);
    let refused = p.redo_preload().await.expect_err("one runs");
    assert_eq!(refused.status(), Some(409), "{refused}");
    registry.clock().advance(secs(1));
    assert_eq!(production.content().len(), 1, "one item a second");
    registry.clock().advance(secs(1));
    assert_eq!(production.content().len(), 2);
    registry.clock().advance(secs(1));
    assert_eq!(production.content().len(), 3);
    assert_eq!(p.preload_running().await.expect("health"), Some(false));
    assert!(startup_complete(&production).await);
    p.redo_preload().await.expect("none runs now");
    assert_eq!(production.preloads(), 2);
}

// Instances that share a store serve what one loads; a preload started on one while another
// preloads into the store fails as Lucene's write lock does, and is counted.
#[tokio::test]
async fn instances_sharing_a_store_serve_one_content_and_contend_for_it() {
    let (registry, authoring, first) = deployed().await;
    let second = FakeTerminologyServer::start_sharing(&registry, &first).await;
    second.set_preload_feeds(vec![authoring.feed_url()]);
    second.start_again();
    assert_eq!(second.content(), first.content(), "one store");
    registry.clock().advance(secs(60));
    assert_eq!(second.contention(), 0);

    publish_c(&authoring);
    anonymous(&first)
        .redo_preload()
        .await
        .expect("through the first");
    let err = anonymous(&second)
        .redo_preload()
        .await
        .expect_err("the store is being written");
    assert_eq!(err.status(), Some(500));
    assert!(
        err.to_string().contains("LockObtainFailedException"),
        "{err}"
    );
    assert_eq!((first.contention(), second.contention()), (1, 1));
    registry.clock().advance(secs(60));
    assert!(second.content().contains(&(C.into(), "1.0.0".into())));
}

// Each instance keeps a fetched preload feed for a while: a preload soon after a change of
// the feed reads the old copy; one after the copy expires reads the new feed. A restart
// starts without the cache.
#[tokio::test]
async fn a_preload_feed_is_cached_for_a_time_after_it_is_fetched() {
    let (registry, authoring, production) = deployed().await;
    production.set_feed_cache_ttl(secs(30));
    let p = anonymous(&production);
    p.redo_preload().await.expect("fetches and caches the feed");
    registry.clock().advance(secs(5));
    publish_c(&authoring);
    p.redo_preload().await.expect("within the cache time");
    registry.clock().advance(secs(5));
    assert!(
        !production.content().contains(&(C.into(), "1.0.0".into())),
        "read the cached feed"
    );
    registry.clock().advance(secs(30));
    p.redo_preload().await.expect("after it");
    registry.clock().advance(secs(5));
    assert!(production.content().contains(&(C.into(), "1.0.0".into())));

    // A restart forgets the cache.
    authoring.add(FakeResource::value_set(
        "d",
        "http://example.org/d",
        "1.0.0",
        "2026-11-03",
    ));
    authoring.set_syndicated("ValueSet", "d", true);
    p.redo_preload().await.expect("caches the feed with d");
    registry.clock().advance(secs(5));
    production.stop();
    production.start_again();
    registry.clock().advance(secs(10));
    assert!(
        production
            .content()
            .contains(&("http://example.org/d".into(), "1.0.0".into()))
    );
}

// A changed `atom.preload.feedLocation` is read when the instance starts, not by redoPreload.
#[tokio::test]
async fn a_changed_preload_feed_location_takes_effect_at_restart() {
    let (registry, authoring, production) = deployed().await;
    let other = FakeTerminologyServer::start(&registry).await;
    other.add(FakeResource::value_set("c", C, "1.0.0", "2026-11-02"));
    other.set_syndicated("ValueSet", "c", true);
    production.set_preload_feeds(vec![other.feed_url()]);
    assert_eq!(production.preload_feeds(), [authoring.feed_url()]);
    anonymous(&production).redo_preload().await.expect("redo");
    registry.clock().advance(secs(60));
    assert!(
        !production.content().contains(&(C.into(), "1.0.0".into())),
        "redoPreload read the feed in effect"
    );
    production.stop();
    production.start_again();
    assert_eq!(production.preload_feeds(), [other.feed_url()]);
    registry.clock().advance(secs(60));
    assert!(production.content().contains(&(C.into(), "1.0.0".into())));
}

// With security on, each write needs a token (401) holding its authority (403).
#[tokio::test]
async fn writes_need_a_token_with_their_authority() {
    let (_registry, _authoring, production) = deployed().await;
    production.grant_token("reader", &["FHIR_READ"]);
    production.grant_token("fhir-writer", &["FHIR_READ", "FHIR_WRITE"]);
    production.grant_token("synd-writer", &["SYND_WRITE"]);
    production.grant_token("api-writer", &["API_WRITE"]);
    let with = |t: &str| client(&production, Arc::new(StaticToken::new(AccessToken::new(t))));

    let anon = anonymous(&production)
        .redo_preload()
        .await
        .expect_err("no token");
    assert_eq!(anon.status(), Some(401));
    let reader = with("reader")
        .redo_preload()
        .await
        .expect_err("no authority");
    assert_eq!(reader.status(), Some(403));
    let fhir = with("fhir-writer")
        .redo_preload()
        .await
        .expect_err("FHIR_WRITE is not SYND_WRITE");
    assert_eq!(fhir.status(), Some(403));
    with("synd-writer")
        .redo_preload()
        .await
        .expect("SYND_WRITE");

    let del = with("reader")
        .delete_canonical("ValueSet", A, "1.0.0")
        .await
        .expect_err("no FHIR_WRITE");
    assert_eq!(del.status(), Some(403));
    with("fhir-writer")
        .delete_canonical("ValueSet", A, "1.0.0")
        .await
        .expect("FHIR_WRITE");

    let cs = with("fhir-writer")
        .delete_code_system("http://snomed.info/sct", "x")
        .await
        .expect_err("no API_WRITE");
    assert_eq!(cs.status(), Some(403));
    let missing = with("api-writer")
        .delete_code_system("http://snomed.info/sct", "x")
        .await
        .expect_err("allowed, but nothing to delete");
    assert_eq!(missing.status(), Some(404));
}

// A stopped server abandons its preload where it is.
#[tokio::test]
async fn a_stop_abandons_a_running_preload() {
    let (registry, _authoring, production) = deployed().await;
    production.wipe();
    anonymous(&production).redo_preload().await.expect("starts");
    registry.clock().advance(secs(1));
    production.stop();
    registry.clock().advance(secs(60));
    assert_eq!(
        production.content().len(),
        1,
        "only what loaded before the stop"
    );
    assert!(!production.preload_running());
}

mod syndication_server {
    use super::*;
    use fhir_security_labels::{LabelSet, Permission};
    use release_model::deployment::ReleaseCandidateName;
    use syndication_client::testkit::{FakeAuthServer, FakeSyndicationServer};
    use syndication_client::{
        ClientCredentials, ClientCredentialsConfig, ClientSecret, SyndicationClient,
    };

    fn synd_client(
        fake: &FakeSyndicationServer,
        tokens: Arc<dyn TokenSource>,
    ) -> SyndicationClient {
        SyndicationClient::new(&fake.base_url(), tokens, ClientOptions::for_local_testing())
            .expect("client")
    }

    fn credentials(auth: &FakeAuthServer, id: &str) -> Arc<dyn TokenSource> {
        let mut config = ClientCredentialsConfig::new(auth.token_url(), id, ClientSecret::new("s"));
        config.allow_insecure = true;
        Arc::new(ClientCredentials::new(config).expect("config"))
    }

    // The snapshot holds what the server's own client may read: a labelled resource is
    // missing unless that client holds PERM_READ. Its links point at the syndication server
    // with the source's lengths and hashes.
    #[tokio::test]
    async fn a_clone_holds_only_what_the_clone_credentials_may_read() {
        let registry = Registry::new();
        let authoring = FakeTerminologyServer::start(&registry).await;
        authoring.add(FakeResource::value_set("a", A, "1.0.0", "2026-11-01"));
        let restricted: LabelSet = [Permission::read("restricted").expect("valid").label()]
            .into_iter()
            .collect();
        authoring
            .add(FakeResource::value_set("b", B, "1.0.0", "2026-11-01").with_labels(restricted));
        authoring.set_syndicated("ValueSet", "a", true);
        authoring.set_syndicated("ValueSet", "b", true);
        let synd = FakeSyndicationServer::start(&registry).await;
        let s = synd_client(&synd, Arc::new(NoAuth));
        let source = release_model::feed::Feed::from_slice(
            &registry.get(&authoring.feed_url()).expect("feed"),
        )
        .expect("reads");

        let rc1 = ReleaseCandidateName::parse("release-candidate-20261101T0900").expect("valid");
        s.clone_feed(&rc1, &authoring.feed_url())
            .await
            .expect("cloned");
        let snapshot = s.feed_xml(&FeedName::from(&rc1)).await.expect("atom");
        let ids: Vec<_> = snapshot
            .entries
            .iter()
            .filter_map(|e| e.identifier.as_ref().map(|i| i.as_str().to_owned()))
            .collect();
        assert_eq!(
            ids,
            [A],
            "the restricted value set is not readable with FHIR_READ"
        );

        synd.set_clone_authorities(&["FHIR_READ", "PERM_READ"]);
        let rc2 = ReleaseCandidateName::parse("release-candidate-20261101T1000").expect("valid");
        s.clone_feed(&rc2, &authoring.feed_url())
            .await
            .expect("cloned");
        let snapshot = s.feed_xml(&FeedName::from(&rc2)).await.expect("atom");
        assert_eq!(snapshot.entries.len(), 2, "PERM_READ reads every label");
        for (copy, original) in snapshot.entries.iter().zip(&source.entries) {
            let (c, o) = (&copy.links[0], &original.links[0]);
            assert!(c.href.starts_with(synd.base_url().as_str()), "{}", c.href);
            assert_ne!(c.href, o.href);
            assert_eq!(
                (c.length_bytes(), c.sha256()),
                (o.length_bytes(), o.sha256())
            );
        }
    }

    // With security on, writes need SYND_WRITE and feed documents SYND_READ, unless anonymous
    // feed read is on.
    #[tokio::test]
    async fn the_syndication_server_checks_tokens_on_every_write_and_read() {
        let registry = Registry::new();
        let authoring = FakeTerminologyServer::start(&registry).await;
        let synd = FakeSyndicationServer::start(&registry).await;
        let auth = FakeAuthServer::start(3600).await;
        auth.register("reader", "s", &["SYND_READ"]);
        auth.register("writer", "s", &["SYND_READ", "SYND_WRITE"]);
        synd.trust(&auth);
        let rc = ReleaseCandidateName::parse("release-candidate-20261101T0900").expect("valid");

        let anonymous = synd_client(&synd, Arc::new(NoAuth));
        let e = anonymous
            .clone_feed(&rc, &authoring.feed_url())
            .await
            .expect_err("no token");
        assert_eq!(e.status(), Some(401));
        let reader = synd_client(&synd, credentials(&auth, "reader"));
        let e = reader
            .clone_feed(&rc, &authoring.feed_url())
            .await
            .expect_err("read only");
        assert_eq!(e.status(), Some(403));
        let writer = synd_client(&synd, credentials(&auth, "writer"));
        writer
            .clone_feed(&rc, &authoring.feed_url())
            .await
            .expect("SYND_WRITE");
        let e = writer
            .create_alias("production", &FeedName::new("nothing").expect("valid"))
            .await
            .expect_err("no such feed");
        assert_eq!(e.status(), Some(404), "past the security check");

        let e = anonymous
            .feed_xml(&FeedName::from(&rc))
            .await
            .expect_err("no token");
        assert_eq!(e.status(), Some(401));
        reader
            .feed_xml(&FeedName::from(&rc))
            .await
            .expect("SYND_READ");
        synd.set_anonymous_feed_read(true);
        anonymous
            .feed_xml(&FeedName::from(&rc))
            .await
            .expect("anonymous feed read");
    }
}

// With security on, reads need a token too, where the server's settings say so.
#[tokio::test]
async fn reads_need_a_token_unless_anonymous_read_is_on() {
    let (_registry, _authoring, production) = deployed().await;
    production.grant_token("reader", &["FHIR_READ"]);
    production.grant_token("syndication", &["SYND_READ"]);
    let with = |t: &str| client(&production, Arc::new(StaticToken::new(AccessToken::new(t))));
    let anon = anonymous(&production);
    assert!(
        anon.has_canonical("ValueSet", A, "1.0.0")
            .await
            .expect("anonymous read is on")
    );
    anon.syndication_feed()
        .await
        .expect("anonymous feed read is on");

    production.set_anonymous_read(false);
    production.set_anonymous_feed_read(false);
    let e = anon
        .has_canonical("ValueSet", A, "1.0.0")
        .await
        .expect_err("no token");
    assert_eq!(e.status(), Some(401));
    assert!(
        with("reader")
            .has_canonical("ValueSet", A, "1.0.0")
            .await
            .expect("FHIR_READ")
    );
    let e = anon.syndication_feed().await.expect_err("no token");
    assert_eq!(e.status(), Some(401));
    let e = with("reader")
        .syndication_feed()
        .await
        .expect_err("no SYND_READ");
    assert_eq!(e.status(), Some(403));
    with("syndication")
        .syndication_feed()
        .await
        .expect("SYND_READ");
    anon.health().await.expect("metadata stays open");
}

// Observing a deployment reads every instance at once, a few requests each, and reports an
// instance that cannot be read by name while keeping the others' results.
#[tokio::test]
async fn observing_a_deployment_reads_every_instance_and_names_the_one_that_fails() {
    use release_model::deployment::{
        Access, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage, Topology,
    };
    use release_model::resource::ResourceType;
    let registry = Registry::new();
    let mut servers = Vec::new();
    for _ in 0..3 {
        let s = FakeTerminologyServer::start(&registry).await;
        for i in 0..250 {
            s.add(FakeResource::value_set(
                &format!("v{i}"),
                &format!("http://example.org/vs/{i}"),
                "1.0.0",
                "2026-11-01",
            ));
        }
        servers.push(s);
    }
    servers[2].stop();
    let instances = servers
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Instance::new(
                InstanceName::new(&format!("prod-{i}")).expect("valid"),
                s.base_url(),
                Role::Production,
                Access::ReadOnly,
                Storage::Persistent,
            )
        })
        .collect();
    let d = Deployment::new(
        DeploymentModel::Comprehensive,
        Topology::scaled_separate(instances).expect("valid"),
    );
    let seen = syndication_client::observe(
        &d,
        &[ResourceType::ValueSet, ResourceType::CodeSystem],
        Arc::new(NoAuth),
        &ClientOptions::for_local_testing().with_retry(syndication_client::RetryPolicy::none()),
    )
    .await;
    assert_eq!(seen.len(), 3);
    for i in 0..2 {
        let o = seen[&InstanceName::new(&format!("prod-{i}")).expect("valid")]
            .as_ref()
            .expect("read");
        assert_eq!(o.holdings.len(), 250);
        assert_eq!(o.holdings.requests, 2, "one page per type");
        assert_eq!(o.preload_running, Some(false));
    }
    let down = seen[&InstanceName::new("prod-2").expect("valid")]
        .as_ref()
        .expect_err("stopped");
    assert_eq!(down.status(), Some(503), "{down}");
}
