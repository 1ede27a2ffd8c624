//! The syndication-server client against wiremock: every endpoint, and conflict and not-found
//! mapped to errors a caller can act on.

use std::sync::Arc;

use release_model::deployment::{BaseUrl, ReleaseCandidateName};
use syndication_client::{ClientOptions, FeedName, NoAuth, SyndicationClient};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn client(server: &MockServer) -> SyndicationClient {
    SyndicationClient::new(
        &BaseUrl::new(&server.uri()).expect("valid"),
        Arc::new(NoAuth),
        ClientOptions::for_local_testing(),
    )
    .expect("client")
}

fn name(n: &str) -> FeedName {
    FeedName::new(n).expect("valid feed name")
}

const ATOM: &str = r#"<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:rc</id><title>rc</title><updated>2026-11-23T09:00:00Z</updated><entry><id>urn:uuid:1</id></entry><entry><id>urn:uuid:2</id></entry></feed>"#;

#[test]
fn feed_names_have_no_dots() {
    assert!(FeedName::new("release-1.0").is_err());
    assert!(FeedName::new("").is_err());
    assert!(FeedName::new("release-candidate-20261123T0900").is_ok());
}

#[tokio::test]
async fn feeds_list_create_read_and_delete() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/feed"))
        .and(header("accept", "application/json"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!([{"name": "authoring", "title": "Authoring", "uuid": "u1"}]),
        ))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/feed"))
        .and(body_json(
            serde_json::json!({"name": "release-1-0", "title": "Release 1.0"}),
        ))
        .and(header("content-type", "application/json"))
        .respond_with(ResponseTemplate::new(201))
        .up_to_n_times(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/feed"))
        .respond_with(ResponseTemplate::new(409).set_body_string("feed exists"))
        .mount(&s)
        .await;
    Mock::given(method("GET")).and(path("/feed/release-1-0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"name": "release-1-0", "entries": [
            {"id": "e1", "contentItemIdentifier": "http://x/cs", "contentItemVersion": "1.0.0", "permissions": ["restricted.read"], "artefacts": []}]})))
        .mount(&s).await;
    Mock::given(method("GET"))
        .and(path("/feed/nope"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&s)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/feed/release-1-0"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&s)
        .await;
    let c = client(&s);
    let feeds = c.list_feeds().await.expect("listed");
    assert_eq!(feeds[0].name, "authoring");
    assert_eq!(feeds[0].other["uuid"], "u1");
    c.create_feed(&name("release-1-0"), "Release 1.0")
        .await
        .expect("created");
    assert!(
        c.create_feed(&name("release-1-0"), "Release 1.0")
            .await
            .expect_err("exists")
            .is_conflict()
    );
    let f = c.feed(&name("release-1-0")).await.expect("read");
    assert_eq!(f.entries[0].content_item_version.as_deref(), Some("1.0.0"));
    assert_eq!(f.entries[0].permissions, ["restricted.read"]);
    assert!(f.entries[0].other.contains_key("artefacts"));
    assert!(
        c.feed(&name("nope"))
            .await
            .expect_err("unknown")
            .is_not_found()
    );
    c.delete_feed(&name("release-1-0")).await.expect("deleted");
}

#[tokio::test]
async fn clone_into_a_release_candidate() {
    let s = MockServer::start().await;
    let source = "https://authoring.example.org/synd/syndication.xml";
    Mock::given(method("POST"))
        .and(path("/feed/$clone"))
        .and(query_param("name", "release-candidate-20261123T0900"))
        .and(query_param("url", source))
        .respond_with(ResponseTemplate::new(201))
        .up_to_n_times(1)
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/feed/$clone"))
        .respond_with(ResponseTemplate::new(409))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path(
            "/feed/release-candidate-20261123T0900/syndication.xml",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_string(ATOM))
        .mount(&s)
        .await;
    let c = client(&s);
    let rc_name = ReleaseCandidateName::parse("release-candidate-20261123T0900").expect("valid");
    let rc = c.clone_feed(&rc_name, source).await.expect("cloned");
    assert_eq!(
        rc.feed_url,
        format!(
            "{}/feed/release-candidate-20261123T0900/syndication.xml",
            s.uri()
        )
    );
    let err = c.clone_feed(&rc_name, source).await.expect_err("exists");
    assert!(err.is_conflict() && !err.is_retryable());
    let feed = c.feed_xml(&FeedName::from(&rc_name)).await.expect("atom");
    assert_eq!(feed.entries.len(), 2);
}

#[tokio::test]
async fn aliases_list_create_repoint_read_and_delete() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/alias"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!([{"aliasName": "production", "feedName": "release-1-0"}]),
        ))
        .mount(&s)
        .await;
    Mock::given(method("POST"))
        .and(path("/alias"))
        .and(body_json(
            serde_json::json!({"aliasName": "uat", "feedName": "release-1-1"}),
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path("/alias/production"))
        .and(body_json(
            serde_json::json!({"aliasName": "production", "feedName": "release-1-1"}),
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("PUT"))
        .and(path("/alias/missing"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/alias/production/syndication.xml"))
        .respond_with(ResponseTemplate::new(200).set_body_string(ATOM))
        .mount(&s)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/alias/uat"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&s)
        .await;
    Mock::given(method("GET"))
        .and(path("/actuator/health"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&s)
        .await;
    let c = client(&s);
    let aliases = c.list_aliases().await.expect("listed");
    assert_eq!(
        (
            aliases[0].alias_name.as_str(),
            aliases[0].feed_name.as_str()
        ),
        ("production", "release-1-0")
    );
    c.create_alias("uat", &name("release-1-1"))
        .await
        .expect("created");
    c.repoint_alias("production", &name("release-1-1"))
        .await
        .expect("repointed");
    assert!(
        c.repoint_alias("missing", &name("release-1-1"))
            .await
            .expect_err("unknown")
            .is_not_found()
    );
    assert_eq!(
        c.alias_feed("production")
            .await
            .expect("atom")
            .entries
            .len(),
        2
    );
    assert!(
        c.alias_url("production")
            .expect("url")
            .ends_with("/alias/production/syndication.xml")
    );
    c.delete_alias("uat").await.expect("deleted");
    c.health().await.expect("healthy");
}

#[tokio::test]
async fn unexpected_json_is_a_decode_error() {
    let s = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/alias"))
        .respond_with(ResponseTemplate::new(200).set_body_string("{\"not\": \"a list\"}"))
        .mount(&s)
        .await;
    let err = client(&s).list_aliases().await.expect_err("not a list");
    assert!(
        matches!(err, syndication_client::Error::Decode { .. }),
        "{err:?}"
    );
}
