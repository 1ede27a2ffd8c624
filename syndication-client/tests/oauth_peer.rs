//! `ClientCredentials` against an OAuth2 server nobody here wrote: `oauth2-mock-server` from
//! npm (`.ci/services.sh` starts it, with client authentication checked, at a Keycloak-shaped
//! token URL, and sets `SYND_TEST_OAUTH`). Basic and body client authentication, expiry and
//! renewal, and a refused secret.
//!
//! Without `SYND_TEST_OAUTH` these tests say so and pass, unless `SYND_REQUIRE_SERVICES=1`.

use std::sync::Arc;
use std::time::Duration;

use syndication_client::{
    ClientAuth, ClientCredentials, ClientCredentialsConfig, ClientSecret, Error, ManualClock,
    TokenSource,
};

fn token_url() -> Option<String> {
    let Ok(base) = std::env::var("SYND_TEST_OAUTH") else {
        assert!(
            std::env::var("SYND_REQUIRE_SERVICES").as_deref() != Ok("1"),
            "SYND_TEST_OAUTH is not set, and SYND_REQUIRE_SERVICES=1 says the OAuth2 peer must be there"
        );
        eprintln!("skipped: no OAuth2 peer (set SYND_TEST_OAUTH; .ci/run does)");
        return None;
    };
    Some(format!("{base}/realms/tx/protocol/openid-connect/token"))
}

fn config(url: &str, id: &str, secret: &str, auth: ClientAuth) -> ClientCredentialsConfig {
    let mut c = ClientCredentialsConfig::new(url, id, ClientSecret::new(secret));
    c.auth = auth;
    c.allow_insecure = true;
    c.scopes = vec!["onto/synd.write".into(), "system/*.read".into()];
    c
}

/// The claims of a JWT, decoded (base64url, no padding) without checking the signature.
fn claims(jwt: &str) -> serde_json::Value {
    let payload = jwt.split('.').nth(1).expect("a JWT has three parts");
    let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut n = 0;
    let mut bytes = Vec::new();
    for c in payload.bytes() {
        let v = alphabet.iter().position(|a| *a == c).expect("base64url") as u32;
        bits = (bits << 6) | v;
        n += 6;
        if n >= 8 {
            n -= 8;
            bytes.push((bits >> n) as u8);
            bits &= (1 << n) - 1;
        }
    }
    serde_json::from_slice(&bytes).expect("JSON claims")
}

async fn token(source: &ClientCredentials) -> String {
    source
        .token()
        .await
        .expect("a token")
        .expect("not anonymous")
        .secret()
        .to_owned()
}

#[tokio::test]
async fn basic_and_body_client_authentication_both_get_tokens() {
    let Some(url) = token_url() else { return };
    for (auth, method) in [
        (ClientAuth::Basic, "basic"),
        (ClientAuth::RequestBody, "body"),
    ] {
        let source =
            ClientCredentials::new(config(&url, "release-pipeline", "pipeline-secret", auth))
                .expect("valid");
        let c = claims(&token(&source).await);
        assert_eq!(c["auth_method"], method, "{c}");
        assert_eq!(c["client_id"], "release-pipeline");
        assert_eq!(
            c["scope"], "onto/synd.write system/*.read",
            "the scopes asked for"
        );
        assert_eq!(source.requests_sent(), 1);
    }
}

#[tokio::test]
async fn a_token_is_reused_until_it_nears_expiry_then_renewed() {
    let Some(url) = token_url() else { return };
    let clock = ManualClock::new();
    let mut c = config(&url, "short-lived", "short-secret", ClientAuth::Basic);
    c.renew_before = Duration::from_secs(10);
    let source = ClientCredentials::with_clock(c, Arc::new(clock.clone())).expect("valid");
    let first = token(&source).await;
    assert_eq!(token(&source).await, first, "cached");
    assert_eq!(source.requests_sent(), 1);
    // The peer says it expires in 60 s: renewed 10 s before.
    clock.advance(Duration::from_secs(45));
    assert_eq!(token(&source).await, first, "still fresh at 45 s");
    clock.advance(Duration::from_secs(6));
    // (The peer signs with one-second timestamps, so within the same real second the new
    // token may equal the old: the request count is what shows the renewal.)
    let second = token(&source).await;
    assert_eq!(source.requests_sent(), 2, "renewed at 51 s");
    assert_eq!(token(&source).await, second);
    assert_eq!(
        source.requests_sent(),
        2,
        "the renewed token is cached in turn"
    );
    // A token the server refused is dropped at once.
    source
        .invalidate(&syndication_client::AccessToken::new(second.clone()))
        .await;
    token(&source).await;
    assert_eq!(source.requests_sent(), 3);
}

#[tokio::test]
async fn a_refused_secret_is_a_token_error_that_never_shows_the_secret() {
    let Some(url) = token_url() else { return };
    for auth in [ClientAuth::Basic, ClientAuth::RequestBody] {
        let source =
            ClientCredentials::new(config(&url, "release-pipeline", "hunter2-wrong", auth))
                .expect("valid");
        let err = source.token().await.expect_err("refused");
        let text = err.to_string();
        assert!(
            matches!(
                err,
                Error::Token {
                    status: Some(401),
                    ..
                }
            ),
            "{text}"
        );
        assert!(text.contains("invalid_client"), "{text}");
        assert!(!text.contains("hunter2-wrong"), "{text}");
    }
}
