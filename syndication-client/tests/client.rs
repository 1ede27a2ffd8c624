//! The clients against wiremock servers: token flow, retries, every terminology-server
//! endpoint and its error mapping, fan-out. Verified downloads are in `downloads.rs`.

use std::sync::Arc;
use std::time::Duration;

use fhir_security_labels::{Approval, ContentRef, LabelSet, Permission, ReadGrant};
use release_model::deployment::{BaseUrl, InstanceName};
use release_model::status::SyndicationStatus;
use syndication_client::{
    AccessToken, ClientAuth, ClientCredentials, ClientCredentialsConfig, ClientOptions,
    ClientSecret, Error, FeedFetch, ManualClock, NoAuth, RetryPolicy, StaticToken,
    TerminologyClient, TokenSource, fan_out,
};
use wiremock::matchers::{
    body_partial_json, body_string_contains, header, method, path, query_param,
};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "s3cr3t-do-not-print";

fn token_body(token: &str, expires_in: u64) -> serde_json::Value {
    serde_json::json!({"access_token": token, "token_type": "bearer", "expires_in": expires_in})
}

async fn token_server(token: &str, expires_in: u64) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("grant_type=client_credentials"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body(token, expires_in)))
        .mount(&server)
        .await;
    server
}

fn credentials(server: &MockServer, clock: Option<ManualClock>) -> ClientCredentials {
    let mut config = ClientCredentialsConfig::new(
        format!("{}/token", server.uri()),
        "pipeline",
        ClientSecret::new(SECRET),
    );
    config.allow_insecure = true;
    config.scopes = vec!["onto/synd.write".into()];
    match clock {
        Some(c) => ClientCredentials::with_clock(config, Arc::new(c)).expect("valid config"),
        None => ClientCredentials::new(config).expect("valid config"),
    }
}

fn client(server: &MockServer, tokens: Arc<dyn TokenSource>) -> TerminologyClient {
    TerminologyClient::new(
        &BaseUrl::new(&server.uri()).expect("valid"),
        tokens,
        ClientOptions::for_local_testing(),
    )
    .expect("client")
}

// ---- tokens -------------------------------------------------------------------------------

#[tokio::test]
async fn tokens_are_cached_and_renewed_before_expiry() {
    let auth = token_server("t1", 3600).await;
    let clock = ManualClock::new();
    let tokens = credentials(&auth, Some(clock.clone()));
    let first = tokens.token().await.expect("token").expect("some");
    assert_eq!(first.secret(), "t1");
    tokens.token().await.expect("cached");
    assert_eq!(tokens.requests_sent(), 1);
    clock.advance(Duration::from_secs(3600 - 120));
    tokens.token().await.expect("still cached");
    assert_eq!(tokens.requests_sent(), 1);
    clock.advance(Duration::from_secs(90)); // within the last minute: renew
    tokens.token().await.expect("renewed");
    assert_eq!(tokens.requests_sent(), 2);
}

#[tokio::test]
async fn concurrent_callers_share_one_token_request() {
    let auth = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(token_body("shared", 3600))
                .set_delay(Duration::from_millis(50)),
        )
        .expect(1)
        .mount(&auth)
        .await;
    let tokens = Arc::new(credentials(&auth, None));
    let calls = (0..16).map(|_| {
        let t = Arc::clone(&tokens);
        tokio::spawn(async move { t.token().await })
    });
    for c in calls {
        assert_eq!(
            c.await
                .expect("task")
                .expect("token")
                .expect("some")
                .secret(),
            "shared"
        );
    }
    assert_eq!(tokens.requests_sent(), 1);
}

#[tokio::test]
async fn a_refused_token_is_renewed_once_and_the_call_retried() {
    let auth = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("old", 3600)))
        .up_to_n_times(1)
        .mount(&auth)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("new", 3600)))
        .mount(&auth)
        .await;
    let tx = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/synd/redoPreload"))
        .and(header("authorization", "Bearer old"))
        .respond_with(ResponseTemplate::new(401))
        .expect(1)
        .mount(&tx)
        .await;
    Mock::given(method("POST"))
        .and(path("/synd/redoPreload"))
        .and(header("authorization", "Bearer new"))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&tx)
        .await;
    let tokens = Arc::new(credentials(&auth, None));
    client(&tx, tokens.clone())
        .redo_preload()
        .await
        .expect("retried with a fresh token");
    assert_eq!(tokens.requests_sent(), 2);
}

#[tokio::test]
async fn a_second_401_is_reported_not_looped() {
    let auth = token_server("t", 3600).await;
    let tx = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fhir/metadata"))
        .respond_with(ResponseTemplate::new(401))
        .expect(2)
        .mount(&tx)
        .await;
    let err = client(&tx, Arc::new(credentials(&auth, None)))
        .health()
        .await
        .expect_err("refused");
    assert_eq!(err.status(), Some(401));
}

#[tokio::test]
async fn client_authentication_in_the_body_or_by_basic() {
    let auth = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(body_string_contains("client_secret=s3cr3t"))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("body", 60)))
        .mount(&auth)
        .await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .and(header(
            "authorization",
            "Basic cGlwZWxpbmU6czNjcjN0LWRvLW5vdC1wcmludA==",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(token_body("basic", 60)))
        .mount(&auth)
        .await;
    let mut config = ClientCredentialsConfig::new(
        format!("{}/token", auth.uri()),
        "pipeline",
        ClientSecret::new(SECRET),
    );
    config.allow_insecure = true;
    let basic = ClientCredentials::new(config.clone()).expect("valid");
    assert_eq!(
        basic.token().await.expect("ok").expect("some").secret(),
        "basic"
    );
    config.auth = ClientAuth::RequestBody;
    config.audience = Some("https://tx.example.org/fhir".into());
    let body = ClientCredentials::new(config).expect("valid");
    assert_eq!(
        body.token().await.expect("ok").expect("some").secret(),
        "body"
    );
}

#[tokio::test]
async fn secrets_never_appear_in_errors_or_debug_output() {
    let auth = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(401).set_body_json(
            serde_json::json!({"error": "invalid_client", "error_description": "bad secret"}),
        ))
        .mount(&auth)
        .await;
    let tokens = credentials(&auth, None);
    let err = tokens.token().await.expect_err("refused");
    assert!(matches!(err, Error::Token { .. }), "{err:?}");
    for shown in [
        format!("{err}"),
        format!("{err:?}"),
        format!("{tokens:?}"),
        format!("{:?}", ClientSecret::new(SECRET)),
        format!("{:?}", AccessToken::new(SECRET)),
    ] {
        assert!(!shown.contains(SECRET), "secret leaked: {shown}");
    }
    assert!(err.to_string().contains("invalid_client"), "{err}");
}

#[tokio::test]
async fn plain_http_is_refused_unless_allowed() {
    let config = ClientCredentialsConfig::new(
        "http://auth.example.org/token",
        "c",
        ClientSecret::new(SECRET),
    );
    assert!(matches!(
        ClientCredentials::new(config),
        Err(Error::Insecure { .. })
    ));
    let err = TerminologyClient::new(
        &BaseUrl::new("http://tx.example.org").expect("valid"),
        Arc::new(NoAuth),
        ClientOptions::default(),
    )
    .expect_err("insecure");
    assert!(matches!(err, Error::Insecure { .. }));
}

// ---- retries -----------------------------------------------------------------------------

#[tokio::test]
async fn idempotent_requests_are_retried_on_503_and_429() {
    let tx = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fhir/metadata"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&tx)
        .await;
    Mock::given(method("GET"))
        .and(path("/fhir/metadata"))
        .respond_with(ResponseTemplate::new(429).insert_header("retry-after", "0"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&tx)
        .await;
    Mock::given(method("GET")).and(path("/fhir/metadata"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"resourceType": "CapabilityStatement", "software": {"version": "6.25.4"}})))
        .expect(1).mount(&tx).await;
    let v = client(&tx, Arc::new(NoAuth))
        .software_version()
        .await
        .expect("third attempt succeeds");
    assert_eq!(v.as_deref(), Some("6.25.4"));
}

#[tokio::test]
async fn retries_stop_after_the_policy_limit_with_the_last_error() {
    let tx = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fhir/metadata"))
        .respond_with(ResponseTemplate::new(502))
        .expect(3)
        .mount(&tx)
        .await;
    let err = client(&tx, Arc::new(NoAuth))
        .health()
        .await
        .expect_err("gives up");
    assert_eq!(err.status(), Some(502));
    assert!(err.is_retryable());
}

#[tokio::test]
async fn non_idempotent_requests_are_never_retried_blindly() {
    let tx = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/synd/redoPreload"))
        .respond_with(ResponseTemplate::new(503))
        .expect(1)
        .mount(&tx)
        .await;
    let err = client(&tx, Arc::new(NoAuth))
        .redo_preload()
        .await
        .expect_err("503");
    assert_eq!(err.status(), Some(503));
}

#[tokio::test]
async fn connection_failures_are_transport_errors() {
    // A port nothing listens on: bound, then released.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("binds");
    let base = BaseUrl::new(&format!(
        "http://{}",
        listener.local_addr().expect("address")
    ))
    .expect("valid");
    drop(listener);
    let c = TerminologyClient::new(
        &base,
        Arc::new(NoAuth),
        ClientOptions::for_local_testing().with_retry(RetryPolicy::none()),
    )
    .expect("client");
    let err = c.health().await.expect_err("nothing listens");
    assert!(
        matches!(err, Error::Transport { .. }) && err.is_retryable(),
        "{err:?}"
    );
}

// ---- endpoints ---------------------------------------------------------------------------

const FEED: &str = r#"<feed xmlns="http://www.w3.org/2005/Atom"><id>urn:uuid:f</id><title>t</title><updated>2026-11-01T00:00:00Z</updated><entry><id>urn:uuid:e</id></entry></feed>"#;

#[tokio::test]
async fn the_feed_is_fetched_conditionally() {
    let tx = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/synd/syndication.xml"))
        .and(header("if-none-match", "\"v1\""))
        .respond_with(ResponseTemplate::new(304))
        .expect(1)
        .mount(&tx)
        .await;
    Mock::given(method("GET"))
        .and(path("/synd/syndication.xml"))
        .respond_with(
            ResponseTemplate::new(200)
                .insert_header("etag", "\"v1\"")
                .set_body_string(FEED),
        )
        .expect(1)
        .mount(&tx)
        .await;
    let c = client(&tx, Arc::new(StaticToken::new(AccessToken::new("t"))));
    let first = c.syndication_feed().await.expect("feed");
    assert!(matches!(first, FeedFetch::Modified(_)));
    let second = c.syndication_feed().await.expect("feed");
    assert!(matches!(second, FeedFetch::NotModified(_)));
    assert_eq!(second.feed().entries.len(), 1);
}

#[tokio::test]
async fn a_malformed_feed_is_a_located_feed_error() {
    let tx = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/synd/syndication.xml"))
        .respond_with(
            ResponseTemplate::new(200).set_body_string(
                "<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<id>x</idd></feed>",
            ),
        )
        .mount(&tx)
        .await;
    let err = client(&tx, Arc::new(NoAuth))
        .syndication_feed()
        .await
        .expect_err("malformed");
    assert!(
        matches!(err, Error::Feed { .. }) && err.to_string().contains("line 2"),
        "{err}"
    );
}

#[tokio::test]
async fn syndication_status_calls() {
    let tx = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/synd/setSyndicationStatus"))
        .and(query_param("resourceType", "ValueSet"))
        .and(query_param("id", "vs"))
        .and(query_param("syndicate", "true"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&tx)
        .await;
    Mock::given(method("GET"))
        .and(path("/synd/getSyndicationStatus"))
        .and(query_param("id", "vs"))
        .respond_with(ResponseTemplate::new(200).set_body_string("true"))
        .expect(1)
        .mount(&tx)
        .await;
    Mock::given(method("POST"))
        .and(path("/synd/setSyndicationStatus"))
        .and(query_param("id", "nope"))
        .respond_with(ResponseTemplate::new(403).set_body_string("needs SYND_WRITE"))
        .mount(&tx)
        .await;
    let c = client(&tx, Arc::new(NoAuth));
    c.set_syndication_status("ValueSet", "vs", SyndicationStatus::Syndicated)
        .await
        .expect("set");
    assert_eq!(
        c.syndication_status("ValueSet", "vs").await.expect("read"),
        SyndicationStatus::Syndicated
    );
    let err = c
        .set_syndication_status("ValueSet", "nope", SyndicationStatus::Syndicated)
        .await
        .expect_err("forbidden");
    assert_eq!(err.status(), Some(403));
    assert!(err.to_string().contains("needs SYND_WRITE"), "{err}");
}

#[tokio::test]
async fn search_read_and_delete() {
    let tx = MockServer::start().await;
    Mock::given(method("GET")).and(path("/fhir/ValueSet")).and(query_param("url", "http://x/vs")).and(query_param("version", "1.0.0"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "ValueSet", "id": "vs"}}]})))
        .mount(&tx).await;
    Mock::given(method("GET"))
        .and(path("/fhir/ValueSet"))
        .and(query_param("version", "9"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(serde_json::json!({"resourceType": "Bundle", "total": 0})),
        )
        .mount(&tx)
        .await;
    Mock::given(method("GET"))
        .and(path("/fhir/ValueSet/missing"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&tx)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/fhir/ValueSet/vs"))
        .respond_with(ResponseTemplate::new(204))
        .expect(1)
        .mount(&tx)
        .await;
    Mock::given(method("DELETE"))
        .and(path("/fhir/CodeSystem"))
        .and(query_param("url", "http://x/cs"))
        .and(query_param("version", "2"))
        .respond_with(ResponseTemplate::new(405).set_body_string("read-only"))
        .mount(&tx)
        .await;
    let c = client(&tx, Arc::new(NoAuth));
    assert!(
        c.has_canonical("ValueSet", "http://x/vs", "1.0.0")
            .await
            .expect("search")
    );
    assert!(
        !c.has_canonical("ValueSet", "http://x/vs", "9")
            .await
            .expect("search")
    );
    assert!(
        c.read("ValueSet", "missing")
            .await
            .expect_err("404")
            .is_not_found()
    );
    c.delete("ValueSet", "vs").await.expect("deleted");
    let err = c
        .delete_canonical("CodeSystem", "http://x/cs", "2")
        .await
        .expect_err("read-only server");
    assert_eq!(err.status(), Some(405));
    assert!(!err.is_retryable());
}

#[tokio::test]
async fn labels_through_meta_operations() {
    let tx = MockServer::start().await;
    let answer = serde_json::json!({"resourceType": "Parameters", "parameter": [{"name": "return", "valueMeta": {"security": [
        {"system": "http://ontoserver.csiro.au/CodeSystem/ontoserver-permissions", "code": "PATHOLOGY.read"}]}}]});
    Mock::given(method("POST"))
        .and(path("/fhir/ValueSet/vs/$meta-add"))
        .and(body_partial_json(
            serde_json::json!({"resourceType": "Parameters"}),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(answer.clone()))
        .expect(1)
        .mount(&tx)
        .await;
    Mock::given(method("POST")).and(path("/fhir/ValueSet/vs/$meta-delete"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({"resourceType": "Parameters", "parameter": [{"name": "return", "valueMeta": {}}]})))
        .expect(1).mount(&tx).await;
    let c = client(&tx, Arc::new(NoAuth));
    let now = chrono::Utc::now();
    let approval =
        Approval::new("approver", now, ContentRef::new("ValueSet", "vs")).expect("valid");
    let grant = ReadGrant::cohort("PATHOLOGY", approval, now).expect("valid");
    let labels = c.grant_read(&grant).await.expect("granted");
    assert!(!labels.is_globally_readable() && labels.len() == 1);
    // Read labels without an approval are refused before anything is sent.
    let read: LabelSet = [Permission::read("PATHOLOGY").expect("valid").label()]
        .into_iter()
        .collect();
    assert!(matches!(
        c.meta_add("ValueSet", "vs", &read).await,
        Err(Error::Config { .. })
    ));
    assert!(
        c.meta_delete("ValueSet", "vs", &read)
            .await
            .expect("deleted")
            .is_empty()
    );
}

#[tokio::test]
async fn binary_index_removal() {
    let tx = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/deleteCodeSystem"))
        .and(query_param("codeSystemId", "http://snomed.info/sct"))
        .and(query_param(
            "codeSystemVersion",
            "http://snomed.info/sct/32506021000036107/version/20261031",
        ))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&tx)
        .await;
    client(&tx, Arc::new(NoAuth))
        .delete_code_system(
            "http://snomed.info/sct",
            "http://snomed.info/sct/32506021000036107/version/20261031",
        )
        .await
        .expect("removed");
}

// ---- fan-out -----------------------------------------------------------------------------

#[tokio::test]
async fn fan_out_keeps_every_instances_result() {
    let mut servers = Vec::new();
    for status in [200, 500, 200] {
        let s = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/synd/redoPreload"))
            .respond_with(ResponseTemplate::new(status))
            .mount(&s)
            .await;
        servers.push(s);
    }
    let names: Vec<InstanceName> = (0..3)
        .map(|i| InstanceName::new(&format!("prod-{i}")).expect("valid"))
        .collect();
    let clients: Vec<TerminologyClient> = servers
        .iter()
        .map(|s| client(s, Arc::new(NoAuth)))
        .collect();
    let results = fan_out(&names, 2, |name| {
        let i: usize = name.as_str()[5..].parse().expect("index");
        let c = &clients[i];
        async move { c.redo_preload().await }
    })
    .await;
    assert_eq!(results.len(), 3);
    assert!(results[&names[0]].is_ok() && results[&names[2]].is_ok());
    let failed = results[&names[1]].as_ref().expect_err("prod-1 failed");
    assert_eq!(failed.status(), Some(500));
}
