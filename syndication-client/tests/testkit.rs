//! The stateful fakes behave like the servers: preload update semantics, read-only writes,
//! label filtering, stop/wipe/restart, feed-cache lag.
#![cfg(feature = "testkit")]

use std::sync::Arc;

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
    c.set_syndication_status("ValueSet", "vs", true)
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
    assert_eq!(got.verified, ["length", "sha256"]);
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
    assert_eq!(production.preloads(), 4);
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
async fn a_lagging_feed_cache_needs_a_second_preload() {
    let (_r, authoring, production) = authoring_and_production().await;
    authoring.add(FakeResource::value_set("vs", VS, "1.0.0", "2026-11-01"));
    authoring.set_syndicated("ValueSet", "vs", true);
    production.lag_feed_cache_once();
    let p = client(&production, Arc::new(NoAuth));
    p.redo_preload().await.expect("preload");
    assert!(
        !p.has_canonical("ValueSet", VS, "1.0.0")
            .await
            .expect("search")
    );
    p.redo_preload().await.expect("preload again");
    assert!(
        p.has_canonical("ValueSet", VS, "1.0.0")
            .await
            .expect("search")
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
