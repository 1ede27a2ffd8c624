//! End-to-end releases against the fakes that meet a fault or a gate: an unreachable feed, an
//! instance down, a re-planned release, a lagging feed cache, a corrupt artefact, expiring
//! tokens, downtime without its notice, production before staging. Each stops the run safely
//! and, where it can, the run resumes from its journal to the whole target.
#![cfg(feature = "testkit")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use release_model::deployment::{
    Access, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage, Topology,
};
use release_model::plan::{Policy, Strategy, plan};
use syndication_client::testkit::{FakeInfrastructure, FakeTerminologyServer};
use syndication_client::{
    ClientOptions, Error, Executor, FeedName, Journal, NoAuth, StagingGate, WaitPolicy,
};

mod common;

use common::scenario::Scenario;
use common::{A, C, Shape, at, item, noticed};

#[tokio::test]
async fn a_rebuild_from_an_unreachable_feed_fails_verification() {
    let s = Scenario::new(Shape::Separate(2), Access::ReadOnly, Storage::Persistent).await;
    s.authoring.set_syndicated("CodeSystem", "b", false);
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    assert_eq!(p.strategy, Strategy::WipeAndRestart);
    s._synd.set_running(false);
    let err = s
        .executor()
        .run(&noticed(&p), &mut Journal::new(), |_| {})
        .await
        .expect_err("nothing to rebuild from");
    let Error::Step { source, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(
        matches!(source.as_ref(), Error::Verification { missing, .. } if missing == &vec![format!("{A}|1.0.0")]),
        "{err}"
    );
    assert!(s.content("prod-0").is_empty(), "the rebuild loaded nothing");
}

#[tokio::test]
async fn an_instance_down_stops_the_run_safely_and_it_resumes() {
    let s = Scenario::new(Shape::Separate(3), Access::ReadOnly, Storage::Persistent).await;
    s.publish_c();
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    s.infra.server("prod-1").expect("instance").stop();
    let mut journal = Journal::new();
    let mut exec = s.executor();
    let err = exec
        .run(&p, &mut journal, |_| {})
        .await
        .expect_err("prod-1 is down");
    let Error::Step {
        instance,
        action,
        step,
        ..
    } = &err
    else {
        panic!("{err:?}")
    };
    // Steps are numbered as the dry run and the runbook number them: the second step.
    assert_eq!(
        (instance.as_str(), *action, *step),
        ("prod-1", "redo-preload", 2)
    );
    let listed = &Executor::dry_run(&p, &journal)[*step - 1];
    assert!(listed.starts_with("  2. prod-1 redo-preload"), "{listed}");
    assert!(
        err.to_string()
            .starts_with("step 2 (redo-preload on prod-1)"),
        "{err}"
    );
    assert_eq!(journal.completed, 1, "prod-0's preload is recorded as done");
    assert_eq!(
        journal.records.iter().map(|r| r.step).collect::<Vec<_>>(),
        [1, 1, 2, 2],
        "the journal numbers steps as the error does"
    );
    // The journal survives a restart of the tool.
    let saved = serde_json::to_string(&journal).expect("serialises");
    let mut journal: Journal = serde_json::from_str(&saved).expect("reads back");
    s.infra.server("prod-1").expect("instance").start_again();
    let mut skipped = 0;
    exec.run(&p, &mut journal, |e| {
        if matches!(e, syndication_client::Event::Skipped { .. }) {
            skipped += 1;
        }
    })
    .await
    .expect("resumes to the end");
    assert_eq!(skipped, 1);
    for n in &s.names {
        assert!(s.content(n).contains(&item(C, "1.0.0")), "{n}");
    }
    // Dry-run shows the plan with the done steps marked.
    let lines = Executor::dry_run(&p, &journal);
    assert_eq!(lines.len(), p.steps.len());
    assert!(lines.iter().all(|l| l.ends_with("(done)")));
}

// A journal belongs to what a plan does, not to its prose: a plan made again with other
// rationale and warnings resumes it; a plan with other steps is refused with a way out.
#[tokio::test]
async fn a_re_planned_release_resumes_and_other_steps_are_refused_with_a_way_out() {
    let s = Scenario::new(Shape::Separate(3), Access::ReadOnly, Storage::Persistent).await;
    s.publish_c();
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    s.infra.server("prod-1").expect("instance").stop();
    let mut journal = Journal::new();
    let mut exec = s.executor();
    exec.run(&p, &mut journal, |_| {})
        .await
        .expect_err("prod-1 is down");
    s.infra.server("prod-1").expect("instance").start_again();
    let mut again = p.clone();
    again.rationale.push_str(" (planned again)");
    again.warnings.push("a warning added on re-planning".into());
    let mut events = Vec::new();
    exec.run(&again, &mut journal, |e| events.push(e.to_string()))
        .await
        .expect("the re-made plan resumes the journal");
    assert_eq!(
        events.first().map(String::as_str),
        Some("step 1: done in an earlier run")
    );
    assert!(
        events.contains(&"step 2: redo-preload on prod-1".to_owned()),
        "{events:?}"
    );
    let mut other = p.clone();
    other.steps.pop();
    let err = exec
        .run(&other, &mut journal, |_| {})
        .await
        .expect_err("other steps");
    assert!(matches!(err, Error::JournalMismatch { .. }), "{err:?}");
    assert!(err.to_string().contains("start a new journal"), "{err}");
}

#[tokio::test]
async fn a_lagging_feed_cache_is_caught_by_verification() {
    let s = Scenario::new(Shape::Separate(2), Access::ReadOnly, Storage::Persistent).await;
    s.publish_c();
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    // prod-1 keeps the alias's feed for ten minutes after fetching it (at its start, a
    // minute ago): its preload reads rc1, without C, until the copy expires.
    s.infra
        .server("prod-1")
        .expect("instance")
        .set_feed_cache_ttl(Duration::from_secs(600));
    let mut waits = 0;
    let mut journal = Journal::new();
    s.executor()
        .run(&p, &mut journal, |e| {
            if matches!(e, syndication_client::Event::Waiting { .. }) {
                waits += 1;
            }
        })
        .await
        .expect("verification waits out the cache");
    assert!(
        s.content("prod-1").contains(&item(C, "1.0.0")),
        "verification re-triggered the preload once the cached copy expired"
    );
    assert!(waits > 0, "it had to wait");
}

#[tokio::test]
async fn a_corrupt_artefact_fails_verification_naming_the_instance_and_resumes() {
    let s = Scenario::new(Shape::Single, Access::ReadOnly, Storage::Persistent).await;
    s.publish_c();
    let (rc, p) = s.candidate("20261101T0900", &Policy::default()).await;
    let feed = s
        .synd
        .feed_xml(&FeedName::from(&rc.name))
        .await
        .expect("candidate");
    let href = feed
        .entries
        .iter()
        .find(|e| e.identifier.as_ref().map(|i| i.as_str()) == Some(C))
        .expect("c")
        .links[0]
        .href
        .clone();
    let good = s.registry.get(&href).expect("artefact");
    s.registry
        .put(href.clone(), b"{\"corrupt\": true}".to_vec());
    let mut journal = Journal::new();
    let mut exec = s.executor();
    let err = exec
        .run(&p, &mut journal, |_| {})
        .await
        .expect_err("hash mismatch");
    let Error::Step {
        instance, source, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(instance.as_str(), "prod");
    assert!(
        matches!(source.as_ref(), Error::Verification { missing, .. } if missing == &vec![format!("{C}|1.0.0")]),
        "{source:?}"
    );
    assert!(
        !s.content("prod").contains(&item(C, "1.0.0")),
        "the corrupt artefact was not loaded"
    );
    s.registry.put(href, good);
    exec.run(&p, &mut journal, |_| {}).await.expect("resumes");
    assert!(s.content("prod").contains(&item(C, "1.0.0")));
}

#[tokio::test]
async fn expired_tokens_are_renewed_mid_release() {
    use syndication_client::testkit::FakeAuthServer;
    use syndication_client::{
        ClientCredentials, ClientCredentialsConfig, ClientSecret, TokenSource,
    };
    let s = Scenario::new(Shape::Separate(2), Access::ReadOnly, Storage::Persistent).await;
    let auth = FakeAuthServer::start(3600).await;
    auth.register(
        "pipeline",
        "secret",
        &["FHIR_READ", "FHIR_WRITE", "SYND_WRITE"],
    );
    for n in &s.names {
        s.infra.server(n).expect("instance").trust(&auth);
    }
    let mut config =
        ClientCredentialsConfig::new(auth.token_url(), "pipeline", ClientSecret::new("secret"));
    config.allow_insecure = true;
    let tokens = Arc::new(ClientCredentials::new(config).expect("config"));
    s.publish_c();
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    let mut exec = Executor::new(
        &s.deployment,
        tokens.clone(),
        s.infra.clone(),
        ClientOptions::for_local_testing(),
        WaitPolicy::virtual_time(),
    )
    .expect("executor")
    .with_clock(Arc::new(s.registry.clock()))
    .with_staging(StagingGate::skipped("a test of token renewal"));
    tokens.token().await.expect("first token");
    auth.expire_all();
    exec.run(&p, &mut Journal::new(), |_| {})
        .await
        .expect("renews and completes");
    assert_eq!(tokens.requests_sent(), 2, "one renewal after the 401");
    for n in &s.names {
        assert!(s.content(n).contains(&item(C, "1.0.0")), "{n}");
    }
}

#[tokio::test]
async fn downtime_waits_for_its_notice_and_window_unless_an_emergency_overrides() {
    let s = Scenario::new(Shape::Separate(2), Access::ReadOnly, Storage::Persistent).await;
    s.authoring.set_syndicated("CodeSystem", "b", false);
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    assert!(p.downtime);
    let running = |s: &Scenario| {
        s.names
            .iter()
            .all(|n| s.infra.server(n).expect("instance").content().len() == 2)
    };
    let refused = |e: &Error, text: &str| {
        assert!(
            matches!(e, Error::NoticeNotMet { reason } if reason.contains(text)),
            "{e}"
        );
    };
    // No notice at all.
    let e = s
        .executor()
        .run(&p, &mut Journal::new(), |_| {})
        .await
        .expect_err("no notice");
    refused(&e, "no notice");
    // Given late.
    let late = {
        let mut q = noticed(&p);
        if let Some(n) = q.notice.as_mut() {
            n.given_on = chrono::NaiveDate::from_ymd_opt(2026, 12, 7);
        }
        q
    };
    let e = s
        .executor()
        .run(&late, &mut Journal::new(), |_| {})
        .await
        .expect_err("late");
    refused(&e, "after the deadline");
    // In time, but the window is not open yet.
    let e = s
        .executor()
        .with_wall_clock(|| at(14, 19))
        .run(&noticed(&p), &mut Journal::new(), |_| {})
        .await
        .expect_err("too early");
    refused(&e, "opens at");
    // Open, but too little of it is left for the downtime the plan expects.
    let expected = p.downtime_estimate.expect("an estimate");
    let late_in_window = at(14, 23) - chrono::Duration::from_std(expected).expect("short")
        + chrono::Duration::minutes(1);
    let e = s
        .executor()
        .with_wall_clock(move || late_in_window)
        .run(&noticed(&p), &mut Journal::new(), |_| {})
        .await
        .expect_err("too late in the window");
    refused(&e, "of its window are left");
    // The plan expects longer than the notice announced.
    let understated = {
        let mut q = noticed(&p);
        if let Some(n) = q.notice.as_mut() {
            n.expected = expected / 2;
        }
        q
    };
    let e = s
        .executor()
        .run(&understated, &mut Journal::new(), |_| {})
        .await
        .expect_err("longer than announced");
    refused(&e, "more than the");
    assert!(running(&s), "nothing was taken down");

    // An emergency: taken down now, and the journal says why.
    let mut journal = Journal::new();
    s.executor()
        .with_emergency_override("the lab value set is clinically unsafe (INC-4711)")
        .run(&p, &mut journal, |_| {})
        .await
        .expect("overridden");
    let why = journal.emergency.as_deref().unwrap_or_default();
    assert!(
        why.contains("INC-4711") && why.contains("no notice"),
        "{why}"
    );
    for n in &s.names {
        assert_eq!(s.content(n), BTreeSet::from([item(A, "1.0.0")]), "{n}");
    }
}

// Production goes after staging: a production run is refused until staging has run the same
// release to the end, and the journal records the staging run it went after.
#[tokio::test]
async fn production_starts_only_after_staging_verified_the_same_release() {
    use release_model::deployment::BaseUrl;
    let s = Scenario::new(Shape::Separate(2), Access::ReadOnly, Storage::Persistent).await;
    s.publish_c();
    let (_, p) = s.candidate("20261101T0900", &Policy::default()).await;
    let delta = s.last_delta.lock().expect("lock").clone().expect("a delta");

    // Staging: one read-only instance preloading the same alias.
    let staging = Arc::new(FakeTerminologyServer::start(&s.registry).await);
    staging.set_preload_feeds(vec![s.synd.alias_url("production").expect("url")]);
    staging.start_again();
    let name = InstanceName::new("staging").expect("valid");
    let base: BaseUrl = staging.base_url();
    let staging_deployment = Deployment::new(
        DeploymentModel::Comprehensive,
        Topology::single(Instance::new(
            name,
            base,
            Role::Staging,
            Access::ReadOnly,
            Storage::Persistent,
        )),
    );
    let staging_plan = plan(&staging_deployment, &delta, &Policy::default()).expect("plans");
    let staging_infra = Arc::new(FakeInfrastructure::new(
        &s.registry,
        vec![("staging".into(), Arc::clone(&staging))],
    ));
    let staging_exec = || {
        Executor::new(
            &staging_deployment,
            Arc::new(NoAuth),
            staging_infra.clone(),
            ClientOptions::for_local_testing(),
            WaitPolicy::virtual_time(),
        )
        .expect("executor")
        .with_clock(Arc::new(s.registry.clock()))
    };
    let production = || {
        Executor::new(
            &s.deployment,
            Arc::new(NoAuth),
            s.infra.clone(),
            ClientOptions::for_local_testing(),
            WaitPolicy::virtual_time(),
        )
        .expect("executor")
        .with_clock(Arc::new(s.registry.clock()))
    };
    let untouched = |s: &Scenario| {
        s.names
            .iter()
            .all(|n| !s.content(n).contains(&item(C, "1.0.0")))
    };

    // No staging run given.
    let e = production()
        .run(&p, &mut Journal::new(), |_| {})
        .await
        .expect_err("staging first");
    assert!(matches!(&e, Error::StagingNotVerified { .. }), "{e}");
    // A staging run that stopped half-way is not a verified one.
    let mut half = Journal::new();
    let mut first_step_only = staging_plan.clone();
    first_step_only.steps.truncate(1);
    let e = production()
        .with_staging(StagingGate::verified(staging_plan.clone(), half.clone()))
        .run(&p, &mut Journal::new(), |_| {})
        .await
        .expect_err("not finished");
    assert!(e.to_string().contains("not finished"), "{e}");
    // Staging verified another release (only its first step: nothing verified).
    staging_exec()
        .run(&first_step_only, &mut half, |_| {})
        .await
        .expect("one step");
    let e = production()
        .with_staging(StagingGate::verified(first_step_only, half))
        .run(&p, &mut Journal::new(), |_| {})
        .await
        .expect_err("another release");
    assert!(e.to_string().contains("staging did not verify"), "{e}");
    assert!(untouched(&s), "nothing was done on production");

    // Staging runs the same release to the end; then production goes.
    let mut staged = Journal::new();
    staging_exec()
        .run(&staging_plan, &mut staged, |_| {})
        .await
        .expect("staging verified");
    assert!(staging.content().contains(&item(C, "1.0.0")));
    let mut journal = Journal::new();
    production()
        .with_staging(StagingGate::verified(staging_plan.clone(), staged))
        .run(&p, &mut journal, |_| {})
        .await
        .expect("production after staging");
    let fingerprint = syndication_client::plan_fingerprint(&staging_plan);
    assert_eq!(
        journal.staging.as_deref(),
        Some(format!("staging verified plan {fingerprint}").as_str())
    );
    for n in &s.names {
        assert!(s.content(n).contains(&item(C, "1.0.0")), "{n}");
    }
}

// A rollback points the instances at the last good candidate's feed; the next release is
// planned from that (the plan says what the deployment's record names next), so it repoints
// them at the new candidate instead of redoing a preload of the old one.
