//! The stateful fakes behave like the servers: preload update semantics, read-only writes,
//! label filtering, stop/wipe/restart, feed-cache lag.
#![cfg(feature = "testkit")]

use release_model::status::SyndicationStatus;
use std::sync::Arc;
use std::time::Duration;

use fhir_security_labels::{LabelSet, Permission};
use release_model::feed::ContentType;
use syndication_client::testkit::{FakeResource, FakeTerminologyServer, Registry};
use syndication_client::{
    AccessToken, ClientOptions, NoAuth, StaticToken, TerminologyClient, TokenSource,
};

fn client(fake: &FakeTerminologyServer, tokens: Arc<dyn TokenSource>) -> TerminologyClient {
    TerminologyClient::new(&fake.base_url(), tokens, ClientOptions::for_local_testing())
        .expect("client")
}

const VS: &str = "http://example.org/ValueSet/body-sites";

async fn authoring_and_production() -> (Registry, FakeTerminologyServer, FakeTerminologyServer) {
    let registry = Registry::new();
    let authoring = FakeTerminologyServer::start(&registry).await;
    let production = FakeTerminologyServer::start(&registry).await;
    production.set_preload_feeds(vec![authoring.feed_url()]);
    // These tests are about what a preload loads, not when: it loads at once, uncached.
    production.set_preload_time_per_item(Duration::ZERO);
    production.set_feed_cache_ttl(Duration::ZERO);
    production.start_again();
    (registry, authoring, production)
}

#[tokio::test]
async fn the_feed_offers_only_syndicated_content_with_correct_hashes() {
    let (_r, authoring, _p) = authoring_and_production().await;
    authoring.add(FakeResource::value_set("vs", VS, "1.0.0", "2026-11-01"));
    authoring.add(FakeResource::code_system(
        "draft",
        "http://example.org/CodeSystem/draft",
        "0.1",
        "2026-11-01",
    ));
    let c = client(&authoring, Arc::new(NoAuth));
    assert!(
        c.syndication_feed()
            .await
            .expect("feed")
            .feed()
            .entries
            .is_empty(),
        "nothing approved yet"
    );
    c.set_syndication_status("ValueSet", "vs", SyndicationStatus::Syndicated)
        .await
        .expect("approved");
    let feed = c.syndication_feed().await.expect("feed").feed().clone();
    assert_eq!(feed.entries.len(), 1);
    let e = &feed.entries[0];
    assert_eq!(e.content_type(), Some(ContentType::FhirValueSet));
    assert_eq!(e.version.as_ref().map(|v| v.as_str()), Some("1.0.0"));
    // The link verifies: download it.
    let dir = std::env::temp_dir().join(format!("synd-fake-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let d =
        syndication_client::Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing())
            .expect("downloader");
    let got = d
        .download(&e.links[0], &dir.join("vs.json"), |_, _| {})
        .await
        .expect("hash and length match");
    assert_eq!(
        got.verified,
        [
            syndication_client::IntegrityCheck::Length,
            syndication_client::IntegrityCheck::Sha256
        ]
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn preload_adds_only_and_replaces_a_version_only_for_a_later_date() {
    let (_r, authoring, production) = authoring_and_production().await;
    authoring.add(FakeResource::value_set("vs", VS, "1.0.0", "2026-11-01"));
    authoring.set_syndicated("ValueSet", "vs", true);
    let p = client(&production, Arc::new(NoAuth));
    p.redo_preload().await.expect("preload");
    assert!(
        p.has_canonical("ValueSet", VS, "1.0.0")
            .await
            .expect("search")
    );

    // Republished under the same version with an older date: ignored.
    let mut older = FakeResource::value_set("vs", VS, "1.0.0", "2026-10-01");
    older.labels = [Permission::write("EDITED").expect("valid").label()]
        .into_iter()
        .collect();
    authoring.add(older);
    p.redo_preload().await.expect("preload");
    assert!(
        production
            .resource(VS, "1.0.0")
            .expect("held")
            .labels
            .is_empty(),
        "the older date did not replace it"
    );
    // With a later date: replaced.
    let mut later = FakeResource::value_set("vs", VS, "1.0.0", "2026-12-01");
    later.labels = [Permission::write("EDITED").expect("valid").label()]
        .into_iter()
        .collect();
    authoring.add(later);
    p.redo_preload().await.expect("preload");
    assert_eq!(
        production.resource(VS, "1.0.0").expect("held").date,
        "2026-12-01"
    );

    // Withdrawn upstream: a preload never removes it.
    authoring.set_syndicated("ValueSet", "vs", false);
    p.redo_preload().await.expect("preload");
    assert!(
        production
            .content()
            .contains(&(VS.to_owned(), "1.0.0".to_owned()))
    );
    assert_eq!(
        production.preloads(),
        5,
        "the start-up preload and four more"
    );
}

#[tokio::test]
async fn read_only_servers_refuse_writes() {
    let (_r, _a, production) = authoring_and_production().await;
    production.add(FakeResource::value_set("vs", VS, "1.0.0", "2026-11-01"));
    production.set_read_only(true);
    let p = client(&production, Arc::new(NoAuth));
    let err = p
        .delete_canonical("ValueSet", VS, "1.0.0")
        .await
        .expect_err("read-only");
    assert_eq!(err.status(), Some(405));
    production.set_read_only(false);
    p.delete_canonical("ValueSet", VS, "1.0.0")
        .await
        .expect("deleted");
    assert!(production.content().is_empty());
}

#[tokio::test]
async fn reads_are_filtered_by_labels_not_refused() {
    let (_r, _a, production) = authoring_and_production().await;
    let restricted: LabelSet = [Permission::read("restricted").expect("valid").label()]
        .into_iter()
        .collect();
    production
        .add(FakeResource::value_set("vs", VS, "1.0.0", "2026-11-01").with_labels(restricted));
    production.grant_token("member", &["FHIR_READ", "PERM_RESTRICTED_READ"]);
    let anonymous = client(&production, Arc::new(NoAuth));
    assert!(
        !anonymous
            .has_canonical("ValueSet", VS, "1.0.0")
            .await
            .expect("an empty search, not 403")
    );
    assert!(
        anonymous
            .read("ValueSet", "vs")
            .await
            .expect_err("hidden")
            .is_not_found()
    );
    let member = client(
        &production,
        Arc::new(StaticToken::new(AccessToken::new("member"))),
    );
    assert!(
        member
            .has_canonical("ValueSet", VS, "1.0.0")
            .await
            .expect("visible")
    );
}

#[tokio::test]
async fn stop_wipe_and_restart_rebuild_from_the_preload_feed() {
    let (_r, authoring, production) = authoring_and_production().await;
    authoring.add(FakeResource::value_set("vs", VS, "2.0.0", "2026-11-01"));
    authoring.set_syndicated("ValueSet", "vs", true);
    production.add(FakeResource::value_set("old", VS, "1.0.0", "2026-01-01"));
    production.stop();
    let p = client(&production, Arc::new(NoAuth));
    assert_eq!(p.health().await.expect_err("stopped").status(), Some(503));
    production.wipe();
    production.start_again();
    assert_eq!(
        production.content().into_iter().collect::<Vec<_>>(),
        [(VS.to_owned(), "2.0.0".to_owned())]
    );
}

#[tokio::test]
async fn labels_through_the_fake() {
    let (_r, _a, production) = authoring_and_production().await;
    production.add(FakeResource::value_set("vs", VS, "1.0.0", "2026-11-01"));
    let p = client(&production, Arc::new(NoAuth));
    let write: LabelSet = [Permission::write("NATIONAL").expect("valid").label()]
        .into_iter()
        .collect();
    let after = p.meta_add("ValueSet", "vs", &write).await.expect("added");
    assert_eq!(after, write);
    assert!(
        p.meta_delete("ValueSet", "vs", &write)
            .await
            .expect("deleted")
            .is_empty()
    );
}

mod syndication_and_auth {
    use std::sync::Arc;

    use release_model::deployment::ReleaseCandidateName;
    use syndication_client::testkit::{
        FakeAuthServer, FakeResource, FakeSyndicationServer, FakeTerminologyServer, Registry,
    };
    use syndication_client::{
        ClientCredentials, ClientCredentialsConfig, ClientOptions, ClientSecret, Error, FeedName,
        NoAuth, SyndicationClient, TerminologyClient, TokenSource,
    };

    const VS: &str = "http://example.org/ValueSet/body-sites";

    #[tokio::test]
    async fn a_release_candidate_is_an_immutable_snapshot_with_its_artefacts() {
        let registry = Registry::new();
        let authoring = FakeTerminologyServer::start(&registry).await;
        let production = FakeTerminologyServer::start(&registry).await;
        let synd = FakeSyndicationServer::start(&registry).await;
        authoring.add(FakeResource::value_set("vs", VS, "1.0.0", "2026-11-01"));
        authoring.set_syndicated("ValueSet", "vs", true);

        let s = SyndicationClient::new(
            &synd.base_url(),
            Arc::new(NoAuth),
            ClientOptions::for_local_testing(),
        )
        .expect("client");
        let rc = ReleaseCandidateName::parse("release-candidate-20261123T0900").expect("valid");
        let candidate = s
            .clone_feed(&rc, &authoring.feed_url())
            .await
            .expect("cloned");
        // A second cut within the same minute has the same name: a typed error says so.
        let again = s
            .clone_feed(&rc, &authoring.feed_url())
            .await
            .expect_err("exists");
        assert!(
            matches!(&again, Error::CandidateExists { name } if name == &rc),
            "{again:?}"
        );
        assert!(
            again.is_conflict() && again.to_string().contains("minute"),
            "{again}"
        );
        // Later authoring changes do not reach the snapshot.
        authoring.add(FakeResource::value_set(
            "vs2",
            "http://example.org/ValueSet/other",
            "1.0.0",
            "2026-11-02",
        ));
        authoring.set_syndicated("ValueSet", "vs2", true);
        let snapshot = s.feed_xml(&FeedName::from(&rc)).await.expect("atom");
        assert_eq!(snapshot.entries.len(), 1);
        assert!(
            snapshot.entries[0].links[0]
                .href
                .starts_with(&synd.base_url().to_string())
        );
        // Production preloads the candidate.
        // The preload feed takes effect at a restart; the preload takes virtual time.
        production.set_preload_feeds(vec![candidate.feed_url.clone()]);
        production.start_again();
        registry.clock().advance(std::time::Duration::from_secs(60));
        let p = TerminologyClient::new(
            &production.base_url(),
            Arc::new(NoAuth),
            ClientOptions::for_local_testing(),
        )
        .expect("client");
        assert!(
            p.has_canonical("ValueSet", VS, "1.0.0")
                .await
                .expect("search")
        );
        assert!(
            !p.has_canonical("ValueSet", "http://example.org/ValueSet/other", "1.0.0")
                .await
                .expect("search")
        );
        // Unknown sources fail the clone.
        let other = ReleaseCandidateName::parse("release-candidate-20261123T1000").expect("valid");
        assert_eq!(
            s.clone_feed(&other, "http://nowhere.invalid/feed.xml")
                .await
                .expect_err("unreachable")
                .status(),
            Some(502)
        );
    }

    #[tokio::test]
    async fn repointing_an_alias_is_not_a_content_rollback() {
        let registry = Registry::new();
        let authoring = FakeTerminologyServer::start(&registry).await;
        let production = FakeTerminologyServer::start(&registry).await;
        let synd = FakeSyndicationServer::start(&registry).await;
        let s = SyndicationClient::new(
            &synd.base_url(),
            Arc::new(NoAuth),
            ClientOptions::for_local_testing(),
        )
        .expect("client");
        authoring.add(FakeResource::value_set("vs", VS, "1.0.0", "2026-11-01"));
        authoring.set_syndicated("ValueSet", "vs", true);
        let rc1 = ReleaseCandidateName::parse("release-candidate-20261101T0900").expect("valid");
        s.clone_feed(&rc1, &authoring.feed_url())
            .await
            .expect("cloned");
        authoring.add(FakeResource::value_set("vs-2", VS, "2.0.0", "2026-11-20"));
        authoring.set_syndicated("ValueSet", "vs-2", true);
        let rc2 = ReleaseCandidateName::parse("release-candidate-20261120T0900").expect("valid");
        s.clone_feed(&rc2, &authoring.feed_url())
            .await
            .expect("cloned");
        s.create_alias("production", &FeedName::from(&rc2))
            .await
            .expect("alias");
        production.set_preload_feeds(vec![s.alias_url("production").expect("url")]);
        production.start_again();
        registry.clock().advance(std::time::Duration::from_secs(60));
        let p = TerminologyClient::new(
            &production.base_url(),
            Arc::new(NoAuth),
            ClientOptions::for_local_testing(),
        )
        .expect("client");
        assert!(
            p.has_canonical("ValueSet", VS, "2.0.0")
                .await
                .expect("search")
        );
        // "Roll back" by repointing: 2.0.0 stays, because a preload never removes.
        s.repoint_alias("production", &FeedName::from(&rc1))
            .await
            .expect("repointed");
        assert_eq!(
            synd.alias_target("production").as_deref(),
            Some(rc1.as_str())
        );
        p.redo_preload().await.expect("preload");
        registry.clock().advance(std::time::Duration::from_secs(60));
        assert!(
            p.has_canonical("ValueSet", VS, "2.0.0")
                .await
                .expect("still there")
        );
    }

    fn config(auth: &FakeAuthServer, secret: &str) -> ClientCredentialsConfig {
        let mut c =
            ClientCredentialsConfig::new(auth.token_url(), "pipeline", ClientSecret::new(secret));
        c.allow_insecure = true;
        c
    }

    #[tokio::test]
    async fn tokens_from_the_fake_auth_server_are_checked_and_renewed() {
        let registry = Registry::new();
        let auth = FakeAuthServer::start(3600).await;
        auth.register(
            "pipeline",
            "right",
            &["FHIR_READ", "FHIR_WRITE", "SYND_WRITE"],
        );
        let tx = FakeTerminologyServer::start(&registry).await;
        tx.trust(&auth);
        let wrong = ClientCredentials::new(config(&auth, "wrong")).expect("config");
        assert!(matches!(wrong.token().await, Err(Error::Token { .. })));
        let tokens = Arc::new(ClientCredentials::new(config(&auth, "right")).expect("config"));
        let c = TerminologyClient::new(
            &tx.base_url(),
            tokens.clone(),
            ClientOptions::for_local_testing(),
        )
        .expect("client");
        c.redo_preload().await.expect("authorised");
        auth.expire_all();
        c.redo_preload().await.expect("renewed after a 401");
        assert_eq!(tokens.requests_sent(), 2);
        assert_eq!(auth.requests(), 3);
    }
}

// A whole deployment in a few lines: auth, authoring, syndication, staging, production.
#[cfg(feature = "testkit")]
#[tokio::test]
async fn a_scenario_builds_every_server_and_releases_staging_then_production() {
    use release_model::delta::{Delta, DeltaItem};
    use release_model::feed::ContentType;
    use release_model::plan::{Policy, plan};
    use syndication_client::Journal;
    use syndication_client::testkit::{FakeResource, Layout, Scenario};

    let s = Scenario::builder()
        .with_auth()
        .staging(Layout::Single)
        .production(Layout::ScaledShared(2))
        .build()
        .await
        .expect("scenario");
    s.authoring.add(FakeResource::value_set(
        "vs",
        "http://example.org/vs",
        "1.0.0",
        "2026-11-01",
    ));
    s.authoring.set_syndicated("ValueSet", "vs", true);
    let mut delta = Delta::default();
    delta.added.push(DeltaItem::new(
        "http://example.org/vs".into(),
        "1.0.0".into(),
        ContentType::FhirValueSet,
        None,
    ));
    let staging = s.staging.as_ref().expect("staging");
    for env in [staging, &s.production] {
        let p = plan(env, &delta, &Policy::default()).expect("plans");
        s.executor(env)
            .expect("executor")
            .run(&p, &mut Journal::new(), |_| {})
            .await
            .expect("released");
    }
    for n in ["staging", "prod-0", "prod-1"] {
        let server = s.infra.server(n).expect("instance");
        assert!(
            server
                .content()
                .contains(&("http://example.org/vs".into(), "1.0.0".into())),
            "{n}"
        );
    }
    let auth = s.auth.as_ref().expect("auth");
    assert!(auth.requests() >= 1, "the executor authenticated");
}
