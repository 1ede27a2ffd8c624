//! Nothing secret leaks and nothing hostile panics: tokens, secrets and credentialed URLs
//! never reach an error, `Debug` output or a span, whatever the failure; an absurd token
//! lifetime is capped; an identity provider's 503 is a retryable error; redirects are never
//! followed by API calls and never change scheme for downloads.

use std::sync::Arc;

use release_model::deployment::BaseUrl;
use release_model::feed::{Link, LinkRel};
use syndication_client::{
    AccessToken, ClientCredentials, ClientCredentialsConfig, ClientOptions, ClientSecret,
    Downloader, Error, NoAuth, RetryPolicy, StaticToken, TerminologyClient, TokenSource,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const SECRET: &str = "s3cr3t-client-secret";
const TOKEN: &str = "eyJ-the-access-token-itself";

fn credentials(token_url: String) -> ClientCredentials {
    let mut config = ClientCredentialsConfig::new(token_url, "pipeline", ClientSecret::new(SECRET));
    config.allow_insecure = true;
    ClientCredentials::new(config).expect("valid config")
}

async fn answering(status: u16, body: &str, content_type: &str) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(status).set_body_raw(body.to_owned(), content_type))
        .mount(&server)
        .await;
    server
}

fn assert_clean(text: &str) {
    for secret in [
        SECRET,
        TOKEN,
        "sig-value",
        "amz-signature-value",
        "qs-secret",
    ] {
        assert!(!text.contains(secret), "{secret} leaked into: {text}");
    }
}

#[tokio::test]
async fn a_token_response_that_fails_to_parse_never_shows_the_token() {
    // No token_type: the response does not parse, but it carries the token.
    let server = answering(
        200,
        &format!(r#"{{"access_token": "{TOKEN}", "expires_in": 300}}"#),
        "application/json",
    )
    .await;
    let tokens = credentials(format!("{}/token?client_secret=qs-secret", server.uri()));
    let err = tokens.token().await.expect_err("unparseable");
    assert!(matches!(err, Error::Token { .. }), "{err:?}");
    assert_clean(&err.to_string());
    assert_clean(&format!("{err:?}"));
    assert_clean(&format!("{tokens:?}"));
    assert!(err.to_string().contains("REDACTED"), "{err}");
}

#[tokio::test]
async fn an_identity_provider_s_503_carries_its_status_and_is_retryable() {
    let server = answering(503, "<html>Service Unavailable</html>", "text/html").await;
    let err = credentials(format!("{}/token", server.uri()))
        .token()
        .await
        .expect_err("unavailable");
    assert_eq!(err.status(), Some(503), "{err}");
    assert!(err.is_retryable(), "{err}");
    let refused = answering(
        401,
        r#"{"error": "invalid_client", "error_description": "bad secret"}"#,
        "application/json",
    )
    .await;
    let err = credentials(format!("{}/token", refused.uri()))
        .token()
        .await
        .expect_err("refused");
    assert_eq!(err.status(), Some(401), "{err}");
    assert!(!err.is_retryable(), "{err}");
}

#[tokio::test]
async fn an_absurd_token_lifetime_does_not_panic() {
    let server = answering(
        200,
        &format!(
            r#"{{"access_token": "{TOKEN}", "token_type": "bearer", "expires_in": 18446744073709551615}}"#
        ),
        "application/json",
    )
    .await;
    let tokens = credentials(format!("{}/token", server.uri()));
    let token = tokens.token().await.expect("a token");
    assert_eq!(token.map(|t| t.secret().to_owned()).as_deref(), Some(TOKEN));
    // Cached, not fetched again.
    tokens.token().await.expect("a token");
    assert_eq!(tokens.requests_sent(), 1);
}

#[tokio::test]
async fn a_body_echoing_the_authorization_header_is_redacted_in_errors() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(400).set_body_string(format!(
            "bad request; you sent Authorization: Bearer {TOKEN}\nand token {TOKEN} again"
        )))
        .mount(&server)
        .await;
    let client = TerminologyClient::new(
        &BaseUrl::new(&server.uri()).expect("valid"),
        Arc::new(StaticToken::new(AccessToken::new(TOKEN))),
        ClientOptions::for_local_testing().with_retry(RetryPolicy::none()),
    )
    .expect("client");
    let err = client
        .read("ValueSet", "vs")
        .await
        .expect_err("bad request");
    assert_eq!(err.status(), Some(400));
    assert_clean(&err.to_string());
    assert_clean(&format!("{err:?}"));
}

#[tokio::test]
async fn api_calls_never_follow_redirects() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/fhir/ValueSet/vs"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "http://127.0.0.1:9/stolen"),
        )
        .mount(&server)
        .await;
    let client = TerminologyClient::new(
        &BaseUrl::new(&server.uri()).expect("valid"),
        Arc::new(NoAuth),
        ClientOptions::for_local_testing().with_retry(RetryPolicy::none()),
    )
    .expect("client");
    let err = client.read("ValueSet", "vs").await.expect_err("a redirect");
    assert_eq!(err.status(), Some(302), "{err}");
}

#[tokio::test]
async fn downloads_follow_redirects_only_to_the_same_scheme() {
    let server = MockServer::start().await;
    let body = b"artefact bytes".to_vec();
    Mock::given(method("GET"))
        .and(path("/moved"))
        .respond_with(ResponseTemplate::new(302).insert_header("location", "/artefact"))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/artefact"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/elsewhere"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("location", "https://127.0.0.1:9/artefact"),
        )
        .mount(&server)
        .await;
    let dir = std::env::temp_dir().join(format!("synd-redirects-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let d = Downloader::new(
        Arc::new(NoAuth),
        ClientOptions::for_local_testing().with_retry(RetryPolicy::none()),
    )
    .expect("downloader");
    let mut link = Link::new(LinkRel::Alternate, format!("{}/moved", server.uri()));
    link.length = Some(release_model::feed::Checked::Valid(body.len() as u64));
    let got = d
        .download(&link, &dir.join("a"), |_, _| {})
        .await
        .expect("followed within http");
    assert_eq!(got.bytes, body.len() as u64);
    link.href = format!("{}/elsewhere", server.uri());
    let err = d
        .download(&link, &dir.join("b"), |_, _| {})
        .await
        .expect_err("a change of scheme");
    assert!(err.to_string().contains("scheme"), "{err}");
    assert!(!dir.join("b").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
