//! A production environment of fakes (authoring, a syndication server, the instances of one
//! shape) with rc1 deployed from an alias, and the steps every release test takes: cut a
//! candidate, plan, run the plan to the end and check the journal.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use release_model::deployment::{
    Access, Deployment, DeploymentModel, Instance, InstanceName, ReleaseCandidate,
    ReleaseCandidateName, Role, Storage, Topology,
};
use release_model::plan::{Plan, Policy, plan};
use syndication_client::testkit::{
    FakeInfrastructure, FakeResource, FakeSyndicationServer, FakeTerminologyServer, Registry,
};
use syndication_client::{
    ClientOptions, Executor, FeedName, Journal, NoAuth, Outcome, StagingGate, SyndicationClient,
    WaitPolicy,
};

use super::{A, B, C, Shape, at, item, noticed};

pub(crate) struct Scenario {
    pub(crate) registry: Registry,
    pub(crate) authoring: FakeTerminologyServer,
    pub(crate) _synd: FakeSyndicationServer,
    pub(crate) synd: SyndicationClient,
    pub(crate) infra: Arc<FakeInfrastructure>,
    pub(crate) deployment: Deployment,
    pub(crate) names: Vec<String>,
    pub(crate) deployed: ReleaseCandidate,
    /// The delta of the last candidate planned.
    pub(crate) last_delta: std::sync::Mutex<Option<release_model::delta::Delta>>,
}

/// What rolling back to rc1 changes after C was released: C goes.
pub(crate) fn without_c() -> release_model::delta::Delta {
    let mut undo = release_model::delta::Delta::default();
    undo.removed.push(release_model::delta::DeltaItem::new(
        C.into(),
        "1.0.0".into(),
        release_model::feed::ContentType::FhirValueSet,
        None,
    ));
    undo
}

impl Scenario {
    pub(crate) async fn new(shape: Shape, access: Access, storage: Storage) -> Self {
        let registry = Registry::new();
        let (authoring, synd_fake, synd) = super::authoring_and_syndication(&registry).await;
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
    pub(crate) fn publish_c(&self) {
        self.authoring
            .add(FakeResource::value_set("c", C, "1.0.0", "2026-11-01"));
        self.authoring.set_syndicated("ValueSet", "c", true);
    }

    pub(crate) fn content(&self, name: &str) -> BTreeSet<(String, String)> {
        self.infra.server(name).expect("instance").content()
    }

    /// Cuts a candidate from authoring, points the alias at it, and plans the release.
    pub(crate) async fn candidate(&self, stamp: &str, policy: &Policy) -> (ReleaseCandidate, Plan) {
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

    pub(crate) fn executor(&self) -> Executor {
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
    pub(crate) fn contention(&self) -> usize {
        self.names
            .iter()
            .map(|n| self.infra.server(n).expect("instance").contention())
            .max()
            .unwrap_or(0)
    }

    pub(crate) async fn execute(&self, p: &Plan) -> Journal {
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
