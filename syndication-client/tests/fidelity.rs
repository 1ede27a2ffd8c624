//! The fakes and the client where they meet the real servers' behaviour: SNOMED CT content
//! is a version of the code system `http://snomed.info/sct`, unknown tokens are refused, and
//! instances created during a release are configured like those they replace.
#![cfg(feature = "testkit")]

use std::sync::Arc;

use release_model::delta::{Delta, DeltaItem};
use release_model::deployment::{
    Access, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage, Topology,
};
use release_model::feed::ContentType;
use release_model::plan::{Action, Expectation, Plan, Policy, Step, Strategy, plan};
use syndication_client::testkit::{
    FakeAuthServer, FakeInfrastructure, FakeResource, FakeTerminologyServer, Registry,
};
use syndication_client::{
    AccessToken, ClientCredentials, ClientCredentialsConfig, ClientOptions, ClientSecret, Executor,
    Journal, NoAuth, StaticToken, TerminologyClient, WaitPolicy,
};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

const EDITION: &str = "http://snomed.info/sct/32506021000036107";
const VERSION: &str = "http://snomed.info/sct/32506021000036107/version/20261031";

fn snomed(content_type: ContentType) -> Expectation {
    Expectation::from(&DeltaItem::new(
        EDITION.into(),
        VERSION.into(),
        content_type,
        None,
    ))
}

fn single(name: &str, server: &FakeTerminologyServer) -> Deployment {
    let instance = Instance::new(
        InstanceName::new(name).expect("valid"),
        server.base_url(),
        Role::Production,
        Access::ReadOnly,
        Storage::Persistent,
    );
    Deployment::new(DeploymentModel::Comprehensive, Topology::single(instance))
}

fn verify_plan(instance: &str, present: Vec<Expectation>, absent: Vec<Expectation>) -> Plan {
    let mut p = plan(
        &Deployment::new(
            DeploymentModel::Comprehensive,
            Topology::single(Instance::new(
                InstanceName::new(instance).expect("valid"),
                release_model::deployment::BaseUrl::new("http://127.0.0.1").expect("valid"),
                Role::Production,
                Access::ReadOnly,
                Storage::Persistent,
            )),
        ),
        &Delta::default(),
        &Policy::default(),
    )
    .expect("plans");
    p.steps = vec![Step::new(
        InstanceName::new(instance).expect("valid"),
        Action::Verify { present, absent },
    )];
    p
}

// Ontoserver stores a SNOMED CT edition as a version of `http://snomed.info/sct`: the
// verification must search that, with the version URI, never the edition's identifier.
#[tokio::test]
async fn snomed_content_is_verified_as_a_version_of_the_snomed_code_system() {
    let tx = MockServer::start().await;
    let found = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/ontoserver-codesystem-search-snomed.json"
    ))
    .expect("fixture");
    // Verification lists the code systems a page at a time, asking only for url and version;
    // the server answers with what it holds, the SNOMED CT edition among them.
    Mock::given(method("GET"))
        .and(path("/fhir/CodeSystem"))
        .and(query_param("_elements", "url,version"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(found, "application/fhir+json"))
        .mount(&tx)
        .await;
    Mock::given(method("GET"))
        .and(path("/fhir/CodeSystem"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            serde_json::json!({"resourceType": "Bundle", "type": "searchset", "total": 0}),
        ))
        .mount(&tx)
        .await;
    let base = release_model::deployment::BaseUrl::new(&tx.uri()).expect("valid");
    let deployment = Deployment::new(
        DeploymentModel::Comprehensive,
        Topology::single(Instance::new(
            InstanceName::new("tx").expect("valid"),
            base,
            Role::Production,
            Access::ReadOnly,
            Storage::Persistent,
        )),
    );
    let registry = Registry::new();
    let infra = Arc::new(FakeInfrastructure::new(&registry, Vec::new()));
    let exec = || {
        Executor::new(
            &deployment,
            Arc::new(NoAuth),
            infra.clone(),
            ClientOptions::for_local_testing(),
            WaitPolicy::immediate(1),
        )
        .expect("executor")
        .with_staging(syndication_client::StagingGate::skipped(
            "a test of verification",
        ))
    };
    for ct in [
        ContentType::SctRf2Full,
        ContentType::BinaryIndex {
            family: release_model::feed::BinaryIndexFamily::Rf2,
            format_version: "2.0.15".into(),
        },
    ] {
        let present = verify_plan("tx", vec![snomed(ct.clone())], Vec::new());
        exec()
            .run(&present, &mut Journal::new(), |_| {})
            .await
            .unwrap_or_else(|e| panic!("{ct}: the loaded edition is found: {e}"));
        // The same edition must be gone: the server still has it, so verification fails.
        let absent = verify_plan("tx", Vec::new(), vec![snomed(ct.clone())]);
        let err = exec()
            .run(&absent, &mut Journal::new(), |_| {})
            .await
            .expect_err("still present");
        assert!(err.to_string().contains("still present"), "{ct}: {err}");
    }
    let s = snomed(ContentType::SctRf2Snapshot).search();
    assert_eq!(
        (s.url.as_str(), s.version.as_str()),
        ("http://snomed.info/sct", VERSION)
    );
}

/// A feed offering one SNOMED CT edition three ways (FULL, SNAPSHOT, binary index).
fn snomed_feed(registry: &Registry, base: &str) -> String {
    let mut entries = String::new();
    for (term, scheme) in [
        ("SCT_RF2_FULL", release_model::feed::ns::SCHEME_ASF),
        ("SCT_RF2_SNAPSHOT", release_model::feed::ns::SCHEME_ASF),
        (
            "BINARY",
            "http://ontoserver.csiro.au/syndication/rf2/2.0.15",
        ),
    ] {
        let href = format!("{base}/artefacts/{term}.zip");
        registry.put(href.clone(), term.as_bytes().to_vec());
        entries.push_str(&format!(
            r#"<entry><id>urn:uuid:{term}</id><title>SNOMED CT-AU</title><updated>2026-11-01T00:25:01Z</updated>
  <category term="{term}" scheme="{scheme}"/>
  <link rel="alternate" type="application/zip" href="{href}" length="{}"/>
  <ncts:contentItemIdentifier>{EDITION}</ncts:contentItemIdentifier>
  <ncts:contentItemVersion>{VERSION}</ncts:contentItemVersion></entry>"#,
            term.len()
        ));
    }
    let url = format!("{base}/feeds/snomed.xml");
    let xml = format!(
        r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:ncts="{}"><id>urn:uuid:f</id><title>SNOMED</title><updated>2026-11-01T00:25:01Z</updated>{entries}</feed>"#,
        release_model::feed::ns::NCTS
    );
    registry.put(url.clone(), xml.into_bytes());
    url
}

#[tokio::test]
async fn the_fake_loads_an_edition_as_one_version_of_the_snomed_code_system() {
    let registry = Registry::new();
    let tx = FakeTerminologyServer::start(&registry).await;
    tx.set_anonymous_read(true);
    tx.set_preload_feeds(vec![snomed_feed(&registry, "https://content.example.org")]);
    let c = TerminologyClient::new(
        &tx.base_url(),
        Arc::new(NoAuth),
        ClientOptions::for_local_testing(),
    )
    .expect("client");
    // The feed location takes effect at a start; the start-up preload takes a second per
    // entry by the fakes' clock.
    tx.start_again();
    assert_eq!(c.preload_running().await.expect("health"), Some(true));
    assert!(
        !c.has_canonical("CodeSystem", "http://snomed.info/sct", VERSION)
            .await
            .expect("search"),
        "nothing is loaded before the preload has had time"
    );
    registry.clock().advance(std::time::Duration::from_secs(3));
    assert_eq!(c.preload_running().await.expect("health"), Some(false));
    let found = c
        .search_canonical("CodeSystem", "http://snomed.info/sct", VERSION)
        .await
        .expect("search");
    assert_eq!(
        found.len(),
        1,
        "FULL, SNAPSHOT and the index are one code system version"
    );
    assert_eq!(found[0]["url"], "http://snomed.info/sct");
    assert!(
        !c.has_canonical("CodeSystem", EDITION, VERSION)
            .await
            .expect("search"),
        "the edition's identifier is not a CodeSystem url"
    );
    c.delete_code_system("http://snomed.info/sct", VERSION)
        .await
        .expect("deleted");
    assert!(
        !c.has_canonical("CodeSystem", "http://snomed.info/sct", VERSION)
            .await
            .expect("search")
    );
    let again = c
        .delete_code_system("http://snomed.info/sct", VERSION)
        .await
        .expect_err("nothing left to delete");
    assert_eq!(again.status(), Some(404), "{again}");
    // A read-only instance refuses it, as it refuses every write.
    c.redo_preload().await.expect("preloads again");
    registry.clock().advance(std::time::Duration::from_secs(3));
    tx.set_read_only(true);
    let refused = c
        .delete_code_system("http://snomed.info/sct", VERSION)
        .await
        .expect_err("read-only");
    assert_eq!(refused.status(), Some(405), "{refused}");
    assert!(
        c.has_canonical("CodeSystem", "http://snomed.info/sct", VERSION)
            .await
            .expect("search")
    );
}

#[tokio::test]
async fn an_unknown_token_is_refused_not_read_as_anonymous() {
    let registry = Registry::new();
    let tx = FakeTerminologyServer::start(&registry).await;
    tx.set_anonymous_read(true);
    tx.add(FakeResource::value_set(
        "vs",
        "http://example.org/vs",
        "1.0.0",
        "2026-11-01",
    ));
    let stranger = TerminologyClient::new(
        &tx.base_url(),
        Arc::new(StaticToken::new(AccessToken::new("made-up"))),
        ClientOptions::for_local_testing(),
    )
    .expect("client");
    let err = stranger
        .search_canonical("ValueSet", "http://example.org/vs", "1.0.0")
        .await
        .expect_err("an unknown token");
    assert_eq!(err.status(), Some(401), "{err}");
    let anonymous = TerminologyClient::new(
        &tx.base_url(),
        Arc::new(NoAuth),
        ClientOptions::for_local_testing(),
    )
    .expect("client");
    assert!(
        anonymous
            .has_canonical("ValueSet", "http://example.org/vs", "1.0.0")
            .await
            .expect("anonymous read is allowed here")
    );
}

// A blue-green release creates instances; they must trust the authorisation server the old
// ones trust, or the release's own verification is refused.
#[tokio::test]
async fn instances_created_for_blue_green_trust_the_same_authorisation_server() {
    let registry = Registry::new();
    let auth = FakeAuthServer::start(3600).await;
    auth.register("pipeline", "secret", &["FHIR_READ", "SYND_WRITE"]);
    let authoring = FakeTerminologyServer::start(&registry).await;
    authoring.add(FakeResource::value_set(
        "a",
        "http://example.org/a",
        "1.0.0",
        "2026-11-01",
    ));
    authoring.set_syndicated("ValueSet", "a", true);
    let prod = Arc::new(FakeTerminologyServer::start(&registry).await);
    prod.trust(&auth);
    prod.set_read_only(true);
    prod.add(FakeResource::value_set(
        "old",
        "http://example.org/old",
        "1.0.0",
        "2026-10-01",
    ));
    let deployment = single("prod", &prod).with_preload_feed(authoring.feed_url());
    let mut delta = Delta::default();
    delta.added.push(DeltaItem::new(
        "http://example.org/a".into(),
        "1.0.0".into(),
        ContentType::FhirValueSet,
        None,
    ));
    delta.removed.push(DeltaItem::new(
        "http://example.org/old".into(),
        "1.0.0".into(),
        ContentType::FhirValueSet,
        None,
    ));
    let p = plan(
        &deployment,
        &delta,
        &Policy::default().with_zero_downtime(true),
    )
    .expect("plans");
    assert_eq!(p.strategy, Strategy::BlueGreen);
    let mut config =
        ClientCredentialsConfig::new(auth.token_url(), "pipeline", ClientSecret::new("secret"));
    config.allow_insecure = true;
    let tokens = Arc::new(ClientCredentials::new(config).expect("config"));
    let infra = Arc::new(FakeInfrastructure::new(
        &registry,
        vec![("prod".into(), Arc::clone(&prod))],
    ));
    let mut exec = Executor::new(
        &deployment,
        tokens,
        infra.clone(),
        ClientOptions::for_local_testing(),
        WaitPolicy::virtual_time(),
    )
    .expect("executor")
    .with_clock(Arc::new(registry.clock()))
    .with_staging(syndication_client::StagingGate::skipped(
        "a test of new instances' configuration",
    ));
    exec.run(&p, &mut Journal::new(), |_| {})
        .await
        .expect("the new instance accepts the pipeline's token");
    let green = infra.server("prod-green").expect("created");
    assert!(
        green
            .content()
            .contains(&("http://example.org/a".into(), "1.0.0".into()))
    );
    // Configured like the instance it replaces: read-only, even to a caller who may write.
    green.grant_token("writer", &["FHIR_READ", "FHIR_WRITE"]);
    let writer = TerminologyClient::new(
        &green.base_url(),
        Arc::new(StaticToken::new(AccessToken::new("writer"))),
        ClientOptions::for_local_testing(),
    )
    .expect("client");
    let refused = writer
        .delete_canonical("ValueSet", "http://example.org/a", "1.0.0")
        .await
        .expect_err("a read-only instance");
    assert_eq!(refused.status(), Some(405), "{refused}");
}

// A FHIR server answers a delete of what it does not hold with 404; a fake answering 204
// would hide an executor that counts such a delete as a failure forever.
#[tokio::test]
async fn a_fhir_delete_of_a_missing_resource_is_answered_404() {
    let registry = Registry::new();
    let server = FakeTerminologyServer::start(&registry).await;
    server.add(FakeResource::value_set(
        "vs",
        "http://example.org/vs",
        "1.0.0",
        "2026-01-01",
    ));
    let client = TerminologyClient::new(
        &server.base_url(),
        Arc::new(NoAuth),
        ClientOptions::for_local_testing(),
    )
    .expect("client");
    client
        .delete_canonical("ValueSet", "http://example.org/vs", "1.0.0")
        .await
        .expect("deleted");
    let again = client
        .delete_canonical("ValueSet", "http://example.org/vs", "1.0.0")
        .await
        .expect_err("already gone");
    assert!(again.is_not_found(), "{again:?}");
    let by_id = client.delete("ValueSet", "vs").await.expect_err("gone");
    assert!(by_id.is_not_found(), "{by_id:?}");
}

// LOINC is loaded as a version of `http://loinc.org`, whether from its release artefact or
// its binary index, and removed with deleteCodeSystem like SNOMED CT.
#[tokio::test]
async fn the_fake_loads_loinc_as_a_version_of_the_loinc_code_system() {
    let registry = Registry::new();
    let base = "https://content.example.org";
    let mut entries = String::new();
    for (term, scheme) in [
        ("LOINC", release_model::feed::ns::SCHEME_ASF),
        (
            "BINARY",
            "http://ontoserver.csiro.au/syndication/loinc/1.0.0",
        ),
    ] {
        let href = format!("{base}/artefacts/loinc-{term}.zip");
        registry.put(href.clone(), term.as_bytes().to_vec());
        entries.push_str(&format!(
            r#"<entry><id>urn:uuid:loinc-{term}</id><title>LOINC</title><updated>2026-11-01T00:00:00Z</updated>
  <category term="{term}" scheme="{scheme}"/>
  <link rel="alternate" type="application/zip" href="{href}" length="{}"/>
  <ncts:contentItemIdentifier>http://loinc.org</ncts:contentItemIdentifier>
  <ncts:contentItemVersion>2.80</ncts:contentItemVersion></entry>"#,
            term.len()
        ));
    }
    let url = format!("{base}/feeds/loinc.xml");
    registry.put(
        url.clone(),
        format!(
            r#"<feed xmlns="http://www.w3.org/2005/Atom" xmlns:ncts="{}"><id>urn:uuid:l</id><title>LOINC</title><updated>2026-11-01T00:00:00Z</updated>{entries}</feed>"#,
            release_model::feed::ns::NCTS
        )
        .into_bytes(),
    );
    let tx = FakeTerminologyServer::start(&registry).await;
    tx.set_preload_feeds(vec![url]);
    tx.start_again();
    registry.clock().advance(std::time::Duration::from_secs(5));
    let c = TerminologyClient::new(
        &tx.base_url(),
        Arc::new(NoAuth),
        ClientOptions::for_local_testing(),
    )
    .expect("client");
    let found = c
        .search_canonical("CodeSystem", "http://loinc.org", "2.80")
        .await
        .expect("search");
    assert_eq!(found.len(), 1, "the artefact and its index are one version");
    c.delete_code_system("http://loinc.org", "2.80")
        .await
        .expect("deleted");
    assert!(
        !c.has_canonical("CodeSystem", "http://loinc.org", "2.80")
            .await
            .expect("search")
    );
    let again = c
        .delete_code_system("http://loinc.org", "2.80")
        .await
        .expect_err("gone");
    assert_eq!(again.status(), Some(404));
}
