//! End-to-end releases against the fakes: each strategy on each topology, asserting the final
//! content of every instance.
#![cfg(feature = "testkit")]

use std::collections::BTreeSet;
use std::sync::Arc;

use release_model::deployment::{
    Access, Deployment, DeploymentModel, Instance, InstanceName, ReleaseCandidateName, Role,
    Storage, Topology,
};
use release_model::plan::{Policy, Strategy, plan_rollback};
use syndication_client::testkit::{
    FakeInfrastructure, FakeResource, FakeTerminologyServer, Registry,
};
use syndication_client::{
    ClientOptions, Executor, FeedName, Journal, NoAuth, StagingGate, WaitPolicy,
};

mod common;

use common::scenario::{Scenario, without_c};
use common::{A, B, C, Shape, item};

#[tokio::test]
async fn additive_release_on_scaled_separate_instances() {
    let s = Scenario::new(Shape::Separate(3), Access::ReadOnly, Storage::Persistent).await;
    s.publish_c();
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    assert_eq!(p.strategy, Strategy::Additive);
    s.execute(&p).await;
    for n in &s.names {
        assert_eq!(
            s.content(n),
            BTreeSet::from([item(A, "1.0.0"), item(B, "1.0.0"), item(C, "1.0.0")]),
            "{n}"
        );
    }
}

#[tokio::test]
async fn removal_on_read_only_instances_rebuilds_them() {
    for (shape, storage) in [
        (Shape::Separate(2), Storage::Persistent),
        (Shape::Shared(3), Storage::Persistent),
        (Shape::Single, Storage::Transient),
    ] {
        let s = Scenario::new(shape, Access::ReadOnly, storage).await;
        s.authoring.set_syndicated("CodeSystem", "b", false);
        let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
        assert_eq!(p.strategy, Strategy::WipeAndRestart, "{shape:?}");
        s.execute(&p).await;
        for n in &s.names {
            assert_eq!(
                s.content(n),
                BTreeSet::from([item(A, "1.0.0")]),
                "{shape:?} {n}"
            );
        }
    }
}

// A rebuild is verified against the whole target, not only the changes: with the syndication
// server down, the rebuilt instances hold nothing, and that is a failure, not "verified".
#[tokio::test]
async fn removal_on_a_writable_server_deletes_then_preloads() {
    let s = Scenario::new(Shape::Single, Access::ReadWrite, Storage::Persistent).await;
    s.authoring.set_syndicated("CodeSystem", "b", false);
    s.publish_c();
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    assert_eq!(p.strategy, Strategy::DeleteThenPreload);
    s.execute(&p).await;
    assert_eq!(
        s.content("prod"),
        BTreeSet::from([item(A, "1.0.0"), item(C, "1.0.0")])
    );
}

#[tokio::test]
async fn same_version_republished_reaches_every_instance() {
    let s = Scenario::new(Shape::Shared(2), Access::ReadOnly, Storage::Persistent).await;
    s.authoring
        .add(FakeResource::value_set("a", A, "1.0.0", "2026-11-15"));
    let (_, p) = s.candidate("20261115T0900", &Policy::default()).await;
    assert_eq!(p.strategy, Strategy::WipeAndRestart);
    s.execute(&p).await;
    for n in &s.names {
        let a = s
            .infra
            .server(n)
            .expect("instance")
            .resource(A, "1.0.0")
            .expect("held");
        assert_eq!(a.date, "2026-11-15", "{n} holds the republished content");
    }
}

#[tokio::test]
async fn zero_downtime_release_switches_to_verified_new_instances() {
    let s = Scenario::new(Shape::Separate(2), Access::ReadOnly, Storage::Transient).await;
    s.authoring.set_syndicated("CodeSystem", "b", false);
    let (_, p) = s
        .candidate("20261101T0900", &Policy::default().with_zero_downtime(true))
        .await;
    assert_eq!(p.strategy, Strategy::BlueGreen);
    s.execute(&p).await;
    assert_eq!(s.infra.routed(), ["prod-0-green", "prod-1-green"]);
    for n in ["prod-0-green", "prod-1-green"] {
        assert_eq!(s.content(n), BTreeSet::from([item(A, "1.0.0")]), "{n}");
    }
}

#[tokio::test]
async fn rollback_rebuilds_from_the_last_good_candidate() {
    let s = Scenario::new(Shape::Separate(2), Access::ReadOnly, Storage::Persistent).await;
    s.publish_c();
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    s.execute(&p).await;
    assert!(s.content("prod-0").contains(&item(C, "1.0.0")));
    let undo = without_c();
    let back = plan_rollback(&s.deployment, &s.deployed, &undo, &Policy::default()).expect("plans");
    assert_eq!(back.strategy, Strategy::Rollback);
    s.execute(&back).await;
    for n in &s.names {
        assert_eq!(
            s.content(n),
            BTreeSet::from([item(A, "1.0.0"), item(B, "1.0.0")]),
            "{n} is back to rc1"
        );
    }
}

#[tokio::test]
async fn additive_release_on_single_and_shared_topologies() {
    for shape in [Shape::Single, Shape::Shared(3)] {
        let s = Scenario::new(shape, Access::ReadOnly, Storage::Transient).await;
        s.publish_c();
        let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
        assert_eq!(p.strategy, Strategy::Additive);
        s.execute(&p).await;
        for n in &s.names {
            assert_eq!(
                s.content(n),
                BTreeSet::from([item(A, "1.0.0"), item(B, "1.0.0"), item(C, "1.0.0")]),
                "{shape:?} {n}"
            );
        }
    }
}

#[tokio::test]
async fn label_release_grants_read_only_with_an_approval() {
    use chrono::TimeZone;
    use fhir_security_labels::{Approval, ContentRef, LabelSet, Permission, ReadGrant};
    let registry = Registry::new();
    let server = Arc::new(FakeTerminologyServer::start(&registry).await);
    server.set_anonymous_read(false);
    server.grant_token("pathologist", &["FHIR_READ", "PERM_PATHOLOGY_READ"]);
    let hidden: LabelSet = [
        Permission::write("PATHOLOGY").expect("valid").label(),
        Permission::read("DRAFT").expect("valid").label(),
    ]
    .into_iter()
    .collect();
    server.add(FakeResource::value_set("path", A, "1.0.0", "2026-11-01").with_labels(hidden));
    let instance = Instance::new(
        InstanceName::new("tx").expect("valid"),
        server.base_url(),
        Role::Production,
        Access::ReadWrite,
        Storage::Persistent,
    );
    let deployment = Deployment::new(DeploymentModel::SingleReadWrite, Topology::single(instance));
    let infra = Arc::new(FakeInfrastructure::new(
        &registry,
        vec![("tx".into(), Arc::clone(&server))],
    ));
    let now = chrono::Utc
        .with_ymd_and_hms(2026, 11, 23, 9, 0, 0)
        .single()
        .expect("valid");
    let approval =
        Approval::new("approver", now, ContentRef::new("ValueSet", "path")).expect("valid");
    let grant = ReadGrant::cohort("PATHOLOGY", approval, now).expect("valid");
    let p = release_model::plan::plan_label_release(&deployment, std::slice::from_ref(&grant))
        .expect("plans");
    // The pipeline's token may write (security is on: the server has granted tokens).
    server.grant_token("pipeline", &["FHIR_READ", "FHIR_WRITE"]);
    let exec = || {
        Executor::new(
            &deployment,
            Arc::new(syndication_client::StaticToken::new(
                syndication_client::AccessToken::new("pipeline"),
            )),
            infra.clone(),
            ClientOptions::for_local_testing(),
            WaitPolicy::immediate(1),
        )
        .expect("executor")
    };
    // An executor not given the approved grant refuses to grant read.
    let err = exec()
        .run(&p, &mut Journal::new(), |_| {})
        .await
        .expect_err("no approval");
    assert!(err.to_string().contains("no approved grant"), "{err}");
    exec()
        .with_grant(grant)
        .run(&p, &mut Journal::new(), |_| {})
        .await
        .expect("granted");
    let pathologist = syndication_client::TerminologyClient::new(
        &server.base_url(),
        Arc::new(syndication_client::StaticToken::new(
            syndication_client::AccessToken::new("pathologist"),
        )),
        ClientOptions::for_local_testing(),
    )
    .expect("client");
    assert!(
        pathologist
            .has_canonical("ValueSet", A, "1.0.0")
            .await
            .expect("search"),
        "the cohort can read it now"
    );
}

#[tokio::test]
async fn blue_green_and_rollback_on_every_topology() {
    for shape in [Shape::Single, Shape::Separate(2), Shape::Shared(2)] {
        let s = Scenario::new(shape, Access::ReadOnly, Storage::Transient).await;
        s.publish_c();
        s.authoring.set_syndicated("CodeSystem", "b", false);
        let (_, p) = s
            .candidate("20261101T0900", &Policy::default().with_zero_downtime(true))
            .await;
        assert_eq!(p.strategy, Strategy::BlueGreen, "{shape:?}");
        s.execute(&p).await;
        let greens: Vec<String> = s.names.iter().map(|n| format!("{n}-green")).collect();
        assert_eq!(s.infra.routed(), greens, "{shape:?}");
        for g in &greens {
            assert_eq!(
                s.content(g),
                BTreeSet::from([item(A, "1.0.0"), item(C, "1.0.0")]),
                "{shape:?} {g}"
            );
        }
        // Roll the original instances back to the first candidate.
        let back = plan_rollback(
            &s.deployment,
            &s.deployed,
            &release_model::delta::Delta::default(),
            &Policy::default(),
        )
        .expect("plans");
        s.execute(&back).await;
        for n in &s.names {
            assert_eq!(
                s.content(n),
                BTreeSet::from([item(A, "1.0.0"), item(B, "1.0.0")]),
                "{shape:?} {n} rolled back"
            );
        }
    }
}

// A release with downtime starts only with its notice given in time and inside its window;
// otherwise nothing is taken down, unless an emergency override is given, which the journal
// records.
#[tokio::test]
async fn a_rollback_then_a_further_additive_release_both_hold() {
    let s = Scenario::new(Shape::Separate(2), Access::ReadOnly, Storage::Persistent).await;
    s.publish_c();
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    s.execute(&p).await;
    let undo = without_c();
    let back = plan_rollback(&s.deployment, &s.deployed, &undo, &Policy::default()).expect("plans");
    s.execute(&back).await;
    let after_rollback = s.deployment.clone().with_preload_feed(
        back.preload_feed
            .clone()
            .expect("the rollback names its feed"),
    );
    assert_eq!(
        after_rollback.preload_feed.as_deref(),
        Some(s.deployed.feed_url.as_str())
    );

    // The next candidate adds D.
    const D: &str = "http://example.org/ValueSet/d";
    s.authoring
        .add(FakeResource::value_set("d", D, "1.0.0", "2026-11-30"));
    s.authoring.set_syndicated("ValueSet", "d", true);
    let name = ReleaseCandidateName::parse("release-candidate-20261201T0900").expect("valid");
    let rc3 = s
        .synd
        .clone_feed(&name, &s.authoring.feed_url())
        .await
        .expect("cloned");
    let old = s
        .synd
        .feed_xml(&FeedName::from(&s.deployed.name))
        .await
        .expect("rc1");
    let new = s.synd.feed_xml(&FeedName::from(&name)).await.expect("rc3");
    let delta = feed_diff::diff(&old, &new).to_delta();
    assert!(delta.is_additive());
    let next = release_model::plan::plan_release(&after_rollback, &delta, &rc3, &Policy::default())
        .expect("plans");
    assert!(
        next.steps
            .iter()
            .all(|st| !matches!(st.action, release_model::plan::Action::RedoPreload)),
        "a redo would read the rolled-back feed"
    );
    assert_eq!(next.preload_feed.as_deref(), Some(rc3.feed_url.as_str()));
    let mut journal = Journal::new();
    Executor::new(
        &after_rollback,
        Arc::new(NoAuth),
        s.infra.clone(),
        ClientOptions::for_local_testing(),
        WaitPolicy::virtual_time(),
    )
    .expect("executor")
    .with_clock(Arc::new(s.registry.clock()))
    .with_staging(StagingGate::skipped("a test of planning after a rollback"))
    .run(&next, &mut journal, |_| {})
    .await
    .expect("the further release verifies");
    for n in &s.names {
        assert_eq!(
            s.content(n),
            BTreeSet::from([
                item(A, "1.0.0"),
                item(B, "1.0.0"),
                item(C, "1.0.0"),
                item(D, "1.0.0")
            ]),
            "{n}"
        );
    }
}
