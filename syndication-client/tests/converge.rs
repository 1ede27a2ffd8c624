//! Releases planned from what each instance holds (`prepare`, `plan_to_target`), run on the
//! faithful fakes, staging first: every test asserts every instance's final content.
#![cfg(feature = "testkit")]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use release_model::deployment::{
    Access, Deployment, DeploymentModel, Instance, InstanceName, ReleaseCandidateName, Role,
    Storage, Topology,
};
use release_model::plan::{Action, Choice, Plan, Policy, Strategy};
use syndication_client::testkit::{
    FakeInfrastructure, FakeResource, FakeSyndicationServer, FakeTerminologyServer, Registry,
};
use syndication_client::{
    ClientOptions, DeploymentRecord, Error, Executor, FeedName, Journal, NoAuth, Prepared,
    StagingGate, SyndicationClient, WaitPolicy, prepare,
};

mod common;

use common::{A, B, C, Shape, at, noticed};

const D: &str = "http://example.org/ValueSet/d";

/// How the instances are deployed: preloading an alias, or a fixed candidate URL.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Preload {
    Alias,
    Fixed,
}

struct Env {
    deployment: Mutex<Deployment>,
    names: Vec<String>,
    record: Mutex<DeploymentRecord>,
}

struct World {
    registry: Registry,
    authoring: FakeTerminologyServer,
    synd_fake: FakeSyndicationServer,
    synd: SyndicationClient,
    infra: Arc<FakeInfrastructure>,
    staging: Env,
    production: Env,
}

fn item(url: &str) -> (String, String) {
    (url.to_owned(), "1.0.0".to_owned())
}

fn set(urls: &[&str]) -> BTreeSet<(String, String)> {
    urls.iter().map(|u| item(u)).collect()
}

fn name(stamp: &str) -> FeedName {
    FeedName::from(
        &ReleaseCandidateName::parse(&format!("release-candidate-{stamp}")).expect("valid"),
    )
}

impl World {
    /// rc1 (A and B) is deployed on staging and production, each `shape`, `access`, storage
    /// `storage`, each preloading `preload`.
    async fn new(shape: Shape, access: Access, storage: Storage, preload: Preload) -> Self {
        let registry = Registry::new();
        let (authoring, synd_fake, synd) = common::authoring_and_syndication(&registry).await;
        let rc1 = name("20261001T0900");
        let rc1_name = ReleaseCandidateName::parse(rc1.as_str()).expect("valid");
        synd.clone_feed(&rc1_name, &authoring.feed_url())
            .await
            .expect("cloned");
        let mut servers = Vec::new();
        let mut envs = Vec::new();
        for (prefix, alias, role, model) in [
            (
                "staging",
                "uat",
                Role::Staging,
                DeploymentModel::Comprehensive,
            ),
            (
                "prod",
                "production",
                Role::Production,
                DeploymentModel::Comprehensive,
            ),
        ] {
            synd.create_alias(alias, &rc1).await.expect("alias");
            let feed = match preload {
                Preload::Alias => synd.alias_url(alias).expect("url"),
                Preload::Fixed => synd.feed_url(&rc1).expect("url"),
            };
            let names: Vec<String> = match shape {
                Shape::Single => vec![prefix.into()],
                Shape::Separate(n) | Shape::Shared(n) => {
                    (0..n).map(|i| format!("{prefix}-{i}")).collect()
                }
            };
            let mut instances = Vec::new();
            let mut first: Option<Arc<FakeTerminologyServer>> = None;
            for n in &names {
                let s = match (&first, shape) {
                    (Some(f), Shape::Shared(_)) => {
                        FakeTerminologyServer::start_sharing(&registry, f).await
                    }
                    _ => FakeTerminologyServer::start(&registry).await,
                };
                s.set_preload_feeds(vec![feed.clone()]);
                s.start_again();
                s.set_read_only(access == Access::ReadOnly);
                instances.push(Instance::new(
                    InstanceName::new(n).expect("valid"),
                    s.base_url(),
                    role,
                    access,
                    storage,
                ));
                let s = Arc::new(s);
                first.get_or_insert_with(|| Arc::clone(&s));
                servers.push((n.clone(), s));
                // Instances sharing a store start one after another, as a rollout does.
                registry.clock().advance(Duration::from_secs(60));
            }
            let first = InstanceName::new(&names[0]).expect("valid");
            let topology = match shape {
                Shape::Single => Topology::single(instances.remove(0)),
                Shape::Separate(_) => Topology::scaled_separate(instances).expect("valid"),
                Shape::Shared(_) => Topology::scaled_shared(instances, first).expect("valid"),
            };
            let mut record = DeploymentRecord::default();
            record.alias = (preload == Preload::Alias).then(|| alias.to_owned());
            record.in_use = Some(rc1.clone());
            envs.push(Env {
                deployment: Mutex::new(Deployment::new(model, topology).with_preload_feed(feed)),
                names,
                record: Mutex::new(record),
            });
        }
        let production = envs.pop().expect("production");
        let staging = envs.pop().expect("staging");
        let w = Self {
            infra: Arc::new(FakeInfrastructure::new(&registry, servers)),
            registry,
            authoring,
            synd_fake,
            synd,
            staging,
            production,
        };
        for n in w.staging.names.iter().chain(&w.production.names) {
            assert_eq!(w.content(n), set(&[A, B]), "{n} starts with rc1");
        }
        w
    }

    fn content(&self, name: &str) -> BTreeSet<(String, String)> {
        self.infra.server(name).expect("instance").content()
    }

    fn publish(&self, id: &str, url: &str) {
        self.authoring
            .add(FakeResource::value_set(id, url, "1.0.0", "2026-11-01"));
        self.authoring.set_syndicated("ValueSet", id, true);
    }

    async fn cut(&self, stamp: &str) -> FeedName {
        let n = name(stamp);
        let rc = ReleaseCandidateName::parse(n.as_str()).expect("valid");
        self.synd
            .clone_feed(&rc, &self.authoring.feed_url())
            .await
            .expect("cloned");
        n
    }

    async fn prepare(&self, env: &Env, candidate: &FeedName, policy: &Policy) -> Prepared {
        let deployment = env.deployment.lock().expect("lock").clone();
        let record = env.record.lock().expect("lock").clone();
        prepare(
            &deployment,
            &record,
            candidate,
            policy,
            &self.synd,
            Arc::new(NoAuth),
            &ClientOptions::for_local_testing(),
        )
        .await
        .expect("planned from the observed state")
    }

    fn executor(&self, env: &Env) -> Executor {
        Executor::new(
            &env.deployment.lock().expect("lock"),
            Arc::new(NoAuth),
            self.infra.clone(),
            ClientOptions::for_local_testing(),
            WaitPolicy::virtual_time(),
        )
        .expect("executor")
        .with_clock(Arc::new(self.registry.clock()))
        .with_wall_clock(|| at(14, 20) + chrono::Duration::minutes(30))
    }

    /// Points the environment's alias at the candidate (what `synd apply` does first), runs
    /// the plan, and records the release as the deployment's record would.
    async fn run(
        &self,
        env: &Env,
        candidate: &FeedName,
        plan: &Plan,
        gate: StagingGate,
    ) -> Result<Journal, Error> {
        let alias = env.record.lock().expect("lock").alias.clone();
        if let Some(alias) = alias {
            self.synd.repoint_alias(&alias, candidate).await?;
        }
        let plan = noticed(plan);
        let mut journal = Journal::new();
        self.executor(env)
            .with_staging(gate)
            .run(&plan, &mut journal, |_| {})
            .await?;
        let mut record = env.record.lock().expect("lock");
        record.in_use = Some(candidate.clone());
        record.preload_feeds = BTreeMap::new();
        let mut d = env.deployment.lock().expect("lock");
        if let Some(feed) = &plan.preload_feed {
            *d = d.clone().with_preload_feed(feed.clone());
        }
        for n in &env.names {
            assert_eq!(
                self.infra.server(n).expect("instance").contention(),
                0,
                "{n}: no two preloads overlapped on one store"
            );
        }
        Ok(journal)
    }

    /// The whole release, staging first with the same process, then production gated on
    /// staging's verification.
    async fn release(&self, candidate: &FeedName, policy: &Policy) -> (Prepared, Prepared) {
        let staging = self.prepare(&self.staging, candidate, policy).await;
        let journal = self
            .run(
                &self.staging,
                candidate,
                &staging.plan,
                StagingGate::skipped("this is staging"),
            )
            .await
            .expect("staging verifies");
        let production = self.prepare(&self.production, candidate, policy).await;
        self.run(
            &self.production,
            candidate,
            &production.plan,
            StagingGate::verified(noticed(&staging.plan), journal),
        )
        .await
        .expect("production verifies");
        (staging, production)
    }

    fn every(&self) -> impl Iterator<Item = &String> {
        self.staging.names.iter().chain(&self.production.names)
    }
}

fn choices(p: &Prepared) -> Vec<Choice> {
    p.plan.decisions.iter().map(|d| d.choice).collect()
}

// An additive release through an alias: the alias is repointed and each instance redoes its
// preload; staging goes first, and production runs only on staging's verification.
#[tokio::test]
async fn an_additive_release_by_alias_reaches_staging_then_production() {
    let w = World::new(
        Shape::Separate(2),
        Access::ReadOnly,
        Storage::Persistent,
        Preload::Alias,
    )
    .await;
    w.publish("c", C);
    let rc2 = w.cut("20261101T0900").await;
    let (staging, production) = w.release(&rc2, &Policy::default()).await;
    for p in [&staging, &production] {
        assert_eq!(p.plan.strategy, Strategy::Additive);
        assert_eq!(choices(p), [Choice::RedoPreload, Choice::RedoPreload]);
        // Observed with a paged read per type, not a request per item.
        assert!(p.requests <= 2 * 3 * 2, "{} requests", p.requests);
    }
    for n in w.every() {
        assert_eq!(w.content(n), set(&[A, B, C]), "{n}");
    }
}

// Production never runs before staging verified the release.
#[tokio::test]
async fn production_waits_for_staging() {
    let w = World::new(
        Shape::Single,
        Access::ReadOnly,
        Storage::Persistent,
        Preload::Alias,
    )
    .await;
    w.publish("c", C);
    let rc2 = w.cut("20261101T0900").await;
    let staging = w.prepare(&w.staging, &rc2, &Policy::default()).await;
    let production = w.prepare(&w.production, &rc2, &Policy::default()).await;
    let unfinished = Journal::new();
    let err = w
        .run(
            &w.production,
            &rc2,
            &production.plan,
            StagingGate::verified(noticed(&staging.plan), unfinished),
        )
        .await
        .expect_err("staging has not run");
    assert!(matches!(err, Error::StagingNotVerified { .. }), "{err}");
    assert_eq!(w.content("prod"), set(&[A, B]), "production untouched");
}

// Instances that preload a fixed candidate URL are pointed at the new one and restarted in
// turn (a redoPreload would read the old feed); the record names the new URL afterwards.
#[tokio::test]
async fn a_new_candidate_url_repoints_and_restarts_each_instance() {
    let w = World::new(
        Shape::Separate(3),
        Access::ReadOnly,
        Storage::Persistent,
        Preload::Fixed,
    )
    .await;
    w.publish("c", C);
    let rc2 = w.cut("20261101T0900").await;
    let (_, production) = w.release(&rc2, &Policy::default()).await;
    assert_eq!(choices(&production), [Choice::Repoint; 3]);
    assert!(!production.plan.downtime, "one instance at a time");
    assert!(
        !production
            .plan
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::RedoPreload))
    );
    let url = w.synd.feed_url(&rc2).expect("url");
    assert_eq!(production.plan.preload_feed.as_deref(), Some(url.as_str()));
    for n in w.every() {
        assert_eq!(w.content(n), set(&[A, B, C]), "{n}");
        assert_eq!(
            w.infra.server(n).expect("instance").preload_feeds(),
            std::slice::from_ref(&url)
        );
    }
}

// Removed content: read-only instances with their own storage are rebuilt one at a time; a
// shared store is rebuilt once through its first instance; a writable server deletes.
#[tokio::test]
async fn removals_rebuild_read_only_instances_and_delete_on_writable_ones() {
    for (shape, access, expect) in [
        (Shape::Separate(2), Access::ReadOnly, Choice::Rebuild),
        (Shape::Shared(3), Access::ReadOnly, Choice::Rebuild),
        (Shape::Single, Access::ReadWrite, Choice::DeleteThenPreload),
    ] {
        let w = World::new(shape, access, Storage::Persistent, Preload::Alias).await;
        w.authoring.set_syndicated("CodeSystem", "b", false);
        w.publish("c", C);
        let rc2 = w.cut("20261101T0900").await;
        let (_, production) = w.release(&rc2, &Policy::default()).await;
        assert!(
            choices(&production).iter().all(|c| *c == expect),
            "{shape:?}: {:?}",
            choices(&production)
        );
        assert_eq!(
            production.plan.downtime,
            shape == Shape::Shared(3),
            "{shape:?}"
        );
        for n in w.every() {
            assert_eq!(w.content(n), set(&[A, C]), "{shape:?} {n}");
        }
    }
}

// On a shared store every preload goes through one instance: the others never preload, so
// preloads never overlap (the fakes count a second preload into a busy store).
#[tokio::test]
async fn a_shared_store_is_never_preloaded_from_a_second_instance() {
    let w = World::new(
        Shape::Shared(3),
        Access::ReadOnly,
        Storage::Persistent,
        Preload::Alias,
    )
    .await;
    w.publish("c", C);
    let rc2 = w.cut("20261101T0900").await;
    let before: Vec<usize> = w
        .production
        .names
        .iter()
        .map(|n| w.infra.server(n).expect("instance").preloads())
        .collect();
    let (_, production) = w.release(&rc2, &Policy::default()).await;
    assert_eq!(
        choices(&production),
        [Choice::RedoPreload, Choice::Follows, Choice::Follows]
    );
    let after: Vec<usize> = w
        .production
        .names
        .iter()
        .map(|n| w.infra.server(n).expect("instance").preloads())
        .collect();
    assert!(after[0] > before[0], "prod-0 preloaded");
    assert_eq!(after[1..], before[1..], "the others never preloaded");
    for n in w.every() {
        assert_eq!(w.content(n), set(&[A, B, C]), "{n}");
    }
}

// A rebuild is verified for the whole target: from an unreachable or truncated feed the
// rebuilt instance holds nothing, and the release fails instead of reporting success.
#[tokio::test]
async fn a_rebuild_from_an_unreachable_or_truncated_feed_fails_verification() {
    for truncated in [false, true] {
        let w = World::new(
            Shape::Single,
            Access::ReadOnly,
            Storage::Persistent,
            Preload::Alias,
        )
        .await;
        w.authoring.set_syndicated("CodeSystem", "b", false);
        let rc2 = w.cut("20261101T0900").await;
        let p = w.prepare(&w.production, &rc2, &Policy::default()).await;
        assert_eq!(choices(&p), [Choice::Rebuild]);
        w.synd
            .repoint_alias("production", &rc2)
            .await
            .expect("repointed");
        // The alias already points at rc2: the run must not need the syndication server
        // for anything but the feed the rebuild loads.
        w.production.record.lock().expect("lock").alias = None;
        let alias = w.synd.alias_url("production").expect("url");
        if truncated {
            let xml = w.registry.get(&alias).expect("the alias feed");
            w.registry.put(alias.clone(), xml[..xml.len() / 2].to_vec());
        } else {
            w.synd_fake.set_running(false);
        }
        let err = w
            .run(
                &w.production,
                &rc2,
                &p.plan,
                StagingGate::skipped("a test of verification"),
            )
            .await
            .expect_err("nothing was loaded");
        assert!(err.to_string().contains("verification failed"), "{err}");
        assert!(
            w.content("prod").is_empty(),
            "truncated={truncated}: the rebuild loaded nothing"
        );
    }
}

// Rollback is a release to the last good candidate, through the alias the deployment names:
// the instances that hold what the bad release added are rebuilt, and the next additive
// release is again a redoPreload through the alias.
#[tokio::test]
async fn a_rollback_then_a_further_additive_release_both_hold() {
    let w = World::new(
        Shape::Separate(2),
        Access::ReadOnly,
        Storage::Persistent,
        Preload::Alias,
    )
    .await;
    w.publish("c", C);
    let rc2 = w.cut("20261101T0900").await;
    w.release(&rc2, &Policy::default()).await;
    for n in w.every() {
        assert_eq!(w.content(n), set(&[A, B, C]), "{n}");
    }
    let rc1 = name("20261001T0900");
    let (_, back) = w.release(&rc1, &Policy::default()).await;
    assert_eq!(back.plan.strategy, Strategy::Rollback);
    assert_eq!(choices(&back), [Choice::Rebuild, Choice::Rebuild]);
    let alias = w.synd.alias_url("production").expect("url");
    assert_eq!(
        back.plan.preload_feed.as_deref(),
        Some(alias.as_str()),
        "still the alias"
    );
    for n in w.every() {
        assert_eq!(w.content(n), set(&[A, B]), "{n} is back to rc1");
    }

    w.publish("d", D);
    let rc3 = w.cut("20261201T0900").await;
    let (_, next) = w.release(&rc3, &Policy::default()).await;
    assert_eq!(next.plan.strategy, Strategy::Additive);
    assert_eq!(choices(&next), [Choice::RedoPreload, Choice::RedoPreload]);
    for n in w.every() {
        assert_eq!(w.content(n), set(&[A, B, C, D]), "{n}");
    }
}

// A rollback whose target only adds to what is deployed (the bad release removed content)
// is no rebuild: the preload puts it back.
#[tokio::test]
async fn a_rollback_that_only_adds_back_is_no_rebuild() {
    let w = World::new(
        Shape::Separate(2),
        Access::ReadOnly,
        Storage::Persistent,
        Preload::Alias,
    )
    .await;
    w.authoring.set_syndicated("CodeSystem", "b", false);
    let rc2 = w.cut("20261101T0900").await;
    w.release(&rc2, &Policy::default()).await;
    for n in w.every() {
        assert_eq!(w.content(n), set(&[A]), "{n}");
    }
    let (_, back) = w.release(&name("20261001T0900"), &Policy::default()).await;
    assert_eq!(back.plan.strategy, Strategy::Rollback);
    assert_eq!(choices(&back), [Choice::RedoPreload, Choice::RedoPreload]);
    assert!(
        !back
            .plan
            .steps
            .iter()
            .any(|s| matches!(s.action, Action::ClearDisk))
    );
    for n in w.every() {
        assert_eq!(w.content(n), set(&[A, B]), "{n}");
    }
}

// With no downtime allowed, a shared store that must lose content is replaced by new
// instances built from the target, verified before and after the switch.
#[tokio::test]
async fn no_downtime_replaces_a_shared_store_with_verified_new_instances() {
    let w = World::new(
        Shape::Shared(2),
        Access::ReadOnly,
        Storage::Transient,
        Preload::Alias,
    )
    .await;
    w.authoring.set_syndicated("CodeSystem", "b", false);
    let rc2 = w.cut("20261101T0900").await;
    let (_, production) = w
        .release(&rc2, &Policy::default().with_zero_downtime(true))
        .await;
    assert_eq!(production.plan.strategy, Strategy::BlueGreen);
    assert!(!production.plan.downtime);
    assert_eq!(w.infra.routed(), ["prod-0-green", "prod-1-green"]);
    for g in ["prod-0-green", "prod-1-green"] {
        assert_eq!(w.content(g), set(&[A]), "{g}");
    }
}
