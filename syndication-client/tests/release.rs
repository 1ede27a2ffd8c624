//! End-to-end releases against the fakes: each strategy on each topology, asserting the final
//! content of every instance; faults stop the run safely and it resumes from the journal.
#![cfg(feature = "testkit")]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use release_model::deployment::{
    Access, Deployment, DeploymentModel, Instance, InstanceName, ReleaseCandidate,
    ReleaseCandidateName, Role, Storage, Topology,
};
use release_model::plan::{Plan, Policy, Strategy, plan, plan_rollback};
use syndication_client::testkit::{
    FakeInfrastructure, FakeResource, FakeSyndicationServer, FakeTerminologyServer, Registry,
};
use syndication_client::{
    ClientOptions, Error, Executor, FeedName, Journal, NoAuth, Outcome, StagingGate,
    SyndicationClient, WaitPolicy,
};

const A: &str = "http://example.org/ValueSet/a";
const B: &str = "http://example.org/CodeSystem/b";
const C: &str = "http://example.org/ValueSet/c";

#[derive(Clone, Copy, Debug)]
enum Shape {
    Single,
    Separate(usize),
    Shared(usize),
}

struct Scenario {
    registry: Registry,
    authoring: FakeTerminologyServer,
    _synd: FakeSyndicationServer,
    synd: SyndicationClient,
    infra: Arc<FakeInfrastructure>,
    deployment: Deployment,
    names: Vec<String>,
    deployed: ReleaseCandidate,
    /// The delta of the last candidate planned.
    last_delta: std::sync::Mutex<Option<release_model::delta::Delta>>,
}

/// 2026-12-`day` at `hour`:00.
fn at(day: u32, hour: u32) -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 12, day)
        .and_then(|d| d.and_hms_opt(hour, 0, 0))
        .expect("valid")
}

/// The plan with the notice its downtime needs, given in time for a window on 14 December
/// from 20:00 to 23:00 (a plan without downtime is returned as it is).
fn noticed(p: &Plan) -> Plan {
    use release_model::notice::{DowntimeWindow, Notice, ReleaseKind, WorkingDayCalendar};
    let window = DowntimeWindow::new(at(14, 20), at(14, 23)).expect("a window");
    match Notice::for_plan(
        p,
        ReleaseKind::Content,
        window,
        vec!["Hospital A".into()],
        &WorkingDayCalendar::new(),
    )
    .expect("fits the window")
    {
        Some(n) => p
            .clone()
            .with_notice(n.given(chrono::NaiveDate::from_ymd_opt(2026, 11, 27).expect("valid"))),
        None => p.clone(),
    }
}

/// What rolling back to rc1 changes after C was released: C goes.
fn without_c() -> release_model::delta::Delta {
    let mut undo = release_model::delta::Delta::default();
    undo.removed.push(release_model::delta::DeltaItem::new(
        C.into(),
        "1.0.0".into(),
        release_model::feed::ContentType::FhirValueSet,
        None,
    ));
    undo
}

fn item(url: &str, version: &str) -> (String, String) {
    (url.to_owned(), version.to_owned())
}

impl Scenario {
    async fn new(shape: Shape, access: Access, storage: Storage) -> Self {
        let registry = Registry::new();
        let authoring = FakeTerminologyServer::start(&registry).await;
        authoring.add(FakeResource::value_set("a", A, "1.0.0", "2026-10-01"));
        authoring.add(FakeResource::code_system("b", B, "1.0.0", "2026-10-01"));
        authoring.set_syndicated("ValueSet", "a", true);
        authoring.set_syndicated("CodeSystem", "b", true);
        let synd_fake = FakeSyndicationServer::start(&registry).await;
        let synd = SyndicationClient::new(
            &synd_fake.base_url(),
            Arc::new(NoAuth),
            ClientOptions::for_local_testing(),
        )
        .expect("client");
        let rc1 = ReleaseCandidateName::parse("release-candidate-20261001T0900").expect("valid");
        let deployed = synd
            .clone_feed(&rc1, &authoring.feed_url())
            .await
            .expect("cloned");
        synd.create_alias("production", &FeedName::from(&rc1))
            .await
            .expect("alias");
        let alias = synd.alias_url("production").expect("url");

        let names: Vec<String> = match shape {
            Shape::Single => vec!["prod".into()],
            Shape::Separate(n) | Shape::Shared(n) => (0..n).map(|i| format!("prod-{i}")).collect(),
        };
        let mut servers = Vec::new();
        let mut instances = Vec::new();
        let mut first: Option<Arc<FakeTerminologyServer>> = None;
        for n in &names {
            let s = match (&first, shape) {
                (Some(f), Shape::Shared(_)) => {
                    FakeTerminologyServer::start_sharing(&registry, f).await
                }
                _ => FakeTerminologyServer::start(&registry).await,
            };
            // On shared storage only the instance writes go through preloads: the others
            // serve what it loads (the same preload on all of them would contend).
            if first.is_none() || !matches!(shape, Shape::Shared(_)) {
                s.set_preload_feeds(vec![alias.clone()]);
            }
            s.start_again();
            s.set_read_only(access == Access::ReadOnly);
            let name = InstanceName::new(n).expect("valid");
            instances.push(Instance::new(
                name,
                s.base_url(),
                Role::Production,
                access,
                storage,
            ));
            let s = Arc::new(s);
            first.get_or_insert_with(|| Arc::clone(&s));
            servers.push((n.clone(), s));
        }
        // The start-up preloads run in the fakes' virtual time: let them finish.
        registry.clock().advance(Duration::from_secs(60));
        let topology = match shape {
            Shape::Single => Topology::single(instances.remove(0)),
            Shape::Separate(_) => Topology::scaled_separate(instances).expect("valid"),
            Shape::Shared(_) => {
                Topology::scaled_shared(instances, InstanceName::new("prod-0").expect("valid"))
                    .expect("valid")
            }
        };
        let deployment =
            Deployment::new(DeploymentModel::Comprehensive, topology).with_preload_feed(alias);
        let infra = Arc::new(FakeInfrastructure::new(&registry, servers));
        let s = Self {
            registry,
            authoring,
            _synd: synd_fake,
            synd,
            infra,
            deployment,
            names,
            deployed,
            last_delta: std::sync::Mutex::new(None),
        };
        for n in &s.names {
            assert_eq!(
                s.content(n),
                BTreeSet::from([item(A, "1.0.0"), item(B, "1.0.0")]),
                "{n} starts with rc1"
            );
        }
        s
    }

    /// Authors ValueSet C and approves it for syndication.
    fn publish_c(&self) {
        self.authoring
            .add(FakeResource::value_set("c", C, "1.0.0", "2026-11-01"));
        self.authoring.set_syndicated("ValueSet", "c", true);
    }

    fn content(&self, name: &str) -> BTreeSet<(String, String)> {
        self.infra.server(name).expect("instance").content()
    }

    /// Cuts a candidate from authoring, points the alias at it, and plans the release.
    async fn candidate(&self, stamp: &str, policy: &Policy) -> (ReleaseCandidate, Plan) {
        let name =
            ReleaseCandidateName::parse(&format!("release-candidate-{stamp}")).expect("valid");
        let rc = self
            .synd
            .clone_feed(&name, &self.authoring.feed_url())
            .await
            .expect("cloned");
        let old = self
            .synd
            .feed_xml(&FeedName::from(&self.deployed.name))
            .await
            .expect("deployed feed");
        let new = self
            .synd
            .feed_xml(&FeedName::from(&name))
            .await
            .expect("candidate feed");
        let delta = feed_diff::diff(&old, &new).to_delta();
        self.synd
            .repoint_alias("production", &FeedName::from(&name))
            .await
            .expect("repointed");
        let p = plan(&self.deployment, &delta, policy).expect("plans");
        *self.last_delta.lock().expect("lock") = Some(delta);
        (rc, p)
    }

    fn executor(&self) -> Executor {
        Executor::new(
            &self.deployment,
            Arc::new(NoAuth),
            self.infra.clone(),
            ClientOptions::for_local_testing(),
            WaitPolicy::virtual_time(),
        )
        .expect("executor")
        .with_clock(Arc::new(self.registry.clock()))
        // Half an hour into the window every notice here announces.
        .with_wall_clock(|| at(14, 20) + chrono::Duration::minutes(30))
        .with_staging(StagingGate::skipped(
            "these tests release one production environment; the staging gate has its own test",
        ))
    }

    /// The most preloads refused on any store because another instance preloaded into it.
    fn contention(&self) -> usize {
        self.names
            .iter()
            .map(|n| self.infra.server(n).expect("instance").contention())
            .max()
            .unwrap_or(0)
    }

    async fn execute(&self, p: &Plan) -> Journal {
        let p = &noticed(p);
        let mut journal = Journal::new();
        self.executor()
            .run(p, &mut journal, |_| {})
            .await
            .expect("the release runs to the end");
        assert!(journal.is_finished(p));
        // On a scaled-shared topology every instance serves one store: a preload started
        // while another runs into it is refused and counted.
        assert_eq!(
            self.contention(),
            0,
            "no two preloads overlapped on one store"
        );
        // The journal saved between runs loads back as it was, records and all.
        let saved = serde_json::to_string(&journal).expect("serializes");
        let loaded: Journal = serde_json::from_str(&saved).expect("loads");
        assert_eq!(loaded, journal);
        // Each step's start is recorded before it acts, and its end after (verifications of
        // several instances run together, so their records interleave).
        for n in 1..=p.steps.len() {
            let of_step: Vec<_> = loaded
                .records
                .iter()
                .filter(|r| r.step == n)
                .map(|r| r.outcome.clone())
                .collect();
            assert_eq!(of_step, [Outcome::Started, Outcome::Done], "step {n}");
        }
        assert!(loaded.is_finished(p));
        journal
    }
}

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
