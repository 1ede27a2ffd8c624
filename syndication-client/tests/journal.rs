//! The journal: saved before and after every step, validated against the plan, and resumed
//! by reconciling an interrupted step with what the instance holds, never by repeating it
//! blindly.
#![cfg(feature = "testkit")]

use std::sync::{Arc, Mutex};

use release_model::delta::Delta;
use release_model::deployment::{Deployment, InstanceName};
use release_model::plan::{Action, Plan, Policy, Step, plan};
use release_model::resource::ResourceType;
use serde_json::json;
use syndication_client::testkit::{FakeResource, Scenario};
use syndication_client::{
    Error, Event, Executor, Infrastructure, Journal, JournalFile, JournalStore, NoAuth, Outcome,
    async_trait,
};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const VS: &str = "http://example.org/ValueSet/old";

fn name(n: &str) -> InstanceName {
    InstanceName::new(n).expect("valid")
}

fn plan_of(deployment: &Deployment, steps: Vec<Step>) -> Plan {
    let mut p = plan(deployment, &Delta::default(), &Policy::default()).expect("plans");
    p.steps = steps;
    p
}

fn delete_old() -> Action {
    Action::DeleteResource {
        resource_type: ResourceType::ValueSet,
        url: VS.into(),
        version: "1.0.0".into(),
    }
}

/// A writable production server holding the value set the plans delete.
async fn scenario() -> Scenario {
    let s = Scenario::builder().build().await.expect("scenario");
    s.infra
        .server("prod")
        .expect("prod")
        .add(FakeResource::value_set("old", VS, "1.0.0", "2026-01-01"));
    s
}

fn holds_old(s: &Scenario) -> bool {
    s.infra
        .server("prod")
        .expect("prod")
        .content()
        .contains(&(VS.into(), "1.0.0".into()))
}

/// A store that keeps every journal saved, and can fail: `fail_after: Some(n)` accepts `n`
/// saves and refuses the rest, as a process that dies after its `n`-th save leaves things.
/// Saves come in pairs, a step's start then its outcome, so `2k - 1` saves is a run that
/// died after step `k` acted and before its outcome was saved.
#[derive(Clone, Default)]
struct Recording {
    saved: Arc<Mutex<Vec<Journal>>>,
    fail_after: Option<usize>,
}

impl Recording {
    fn failing_after(n: usize) -> Self {
        Self {
            fail_after: Some(n),
            ..Self::default()
        }
    }

    fn last(&self) -> Journal {
        self.saved
            .lock()
            .expect("lock")
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

#[async_trait]
impl JournalStore for Recording {
    async fn load(&mut self) -> Result<Journal, Error> {
        Ok(self.last())
    }

    async fn save(&mut self, journal: &Journal) -> Result<(), Error> {
        let mut saved = self.saved.lock().expect("lock");
        if self.fail_after.is_some_and(|n| saved.len() >= n) {
            return Err(Error::Io {
                path: "journal".into(),
                source: std::io::Error::other("the process died"),
            });
        }
        saved.push(journal.clone());
        Ok(())
    }
}

/// The fakes' infrastructure, counting wipes; `observes: false` hides whether storage was
/// wiped, as a platform that cannot tell.
struct Counting {
    inner: Arc<dyn Infrastructure>,
    wipes: Mutex<usize>,
    observes: bool,
}

#[async_trait]
impl Infrastructure for Counting {
    fn capabilities(&self) -> release_model::plan::Capabilities {
        self.inner.capabilities()
    }
    async fn stop(&self, i: &InstanceName) -> Result<(), Error> {
        self.inner.stop(i).await
    }
    async fn start(&self, i: &InstanceName) -> Result<(), Error> {
        self.inner.start(i).await
    }
    async fn clear_disk(&self, i: &InstanceName) -> Result<(), Error> {
        *self.wipes.lock().expect("lock") += 1;
        self.inner.clear_disk(i).await
    }
    async fn is_wiped(&self, i: &InstanceName, w: syndication_client::Wipe) -> Result<bool, Error> {
        if self.observes {
            self.inner.is_wiped(i, w).await
        } else {
            Err(Error::NotSupported {
                operation: "is-wiped",
                instance: i.to_string(),
            })
        }
    }
    async fn create_instance(
        &self,
        i: &InstanceName,
    ) -> Result<release_model::deployment::BaseUrl, Error> {
        self.inner.create_instance(i).await
    }
}

fn executor(s: &Scenario, infra: Arc<dyn Infrastructure>) -> Executor {
    Executor::new(
        &s.production,
        Arc::new(NoAuth),
        infra,
        syndication_client::ClientOptions::for_local_testing(),
        syndication_client::WaitPolicy::immediate(2),
    )
    .expect("executor")
}

fn counting(s: &Scenario, observes: bool) -> Arc<Counting> {
    Arc::new(Counting {
        inner: s.infra.clone(),
        wipes: Mutex::new(0),
        observes,
    })
}

// A journal that names no plan yet claims steps done would skip all of them.
#[tokio::test]
async fn a_journal_claiming_progress_without_a_plan_is_refused() {
    let s = scenario().await;
    let p = plan_of(&s.production, vec![Step::new(name("prod"), delete_old())]);
    let mut journal: Journal =
        serde_json::from_str(r#"{"plan": "", "completed": 99, "records": []}"#).expect("parses");
    let err = s
        .executor(&s.production)
        .expect("executor")
        .run(&p, &mut journal, |_| {})
        .await
        .expect_err("refused");
    assert!(matches!(err, Error::JournalInvalid { .. }), "{err:?}");
    assert!(holds_old(&s), "no step acted");
}

#[tokio::test]
async fn a_journal_that_does_not_fit_the_plan_is_refused() {
    let s = scenario().await;
    let p = plan_of(&s.production, vec![Step::new(name("prod"), delete_old())]);
    let mut store = Recording::default();
    let mut exec = s.executor(&s.production).expect("executor");
    exec.run(&p, &mut store, |_| {}).await.expect("runs");
    let good = store.last();
    assert!(good.is_finished(&p));

    let mut more = good.clone();
    more.completed = 5;
    let mut other_instance = good.clone();
    other_instance.records[0].instance = name("prod-9");
    let mut unrecorded = good.clone();
    unrecorded.records.clear();
    for (what, mut bad) in [
        ("more steps than the plan", more),
        ("another instance", other_instance),
        ("done without a record", unrecorded),
    ] {
        let err = exec.run(&p, &mut bad, |_| {}).await.expect_err(what);
        assert!(
            matches!(err, Error::JournalInvalid { .. }),
            "{what}: {err:?}"
        );
    }
}

#[tokio::test]
async fn each_step_is_saved_as_started_before_it_acts_and_as_done_after() {
    let s = scenario().await;
    let p = plan_of(
        &s.production,
        vec![
            Step::new(name("prod"), delete_old()),
            Step::new(name("prod"), Action::RedoPreload),
        ],
    );
    let store = Recording::default();
    s.executor(&s.production)
        .expect("executor")
        .run(&p, &mut store.clone(), |_| {})
        .await
        .expect("runs");
    let saved: Vec<(usize, Outcome)> = store
        .saved
        .lock()
        .expect("lock")
        .iter()
        .map(|j| {
            let r = j.records.last().expect("a record per save");
            (r.step, r.outcome.clone())
        })
        .collect();
    assert_eq!(
        saved,
        [
            (1, Outcome::Started),
            (1, Outcome::Done),
            (2, Outcome::Started),
            (2, Outcome::Done)
        ]
    );

    // A store that cannot save the start keeps the step from acting.
    let s = scenario().await;
    let err = s
        .executor(&s.production)
        .expect("executor")
        .run(&p, &mut Recording::failing_after(0), |_| {})
        .await
        .expect_err("the journal cannot be saved");
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(holds_old(&s), "the delete did not act");
}

fn reconciled(events: &[Event]) -> Vec<(usize, bool)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Reconciled { step, done } => Some((*step, *done)),
            _ => None,
        })
        .collect()
}

fn started(events: &[Event]) -> Vec<usize> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Started { step, .. } => Some(*step),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn an_interrupted_delete_is_reconciled_by_what_the_instance_holds() {
    for took_effect in [true, false] {
        let s = scenario().await;
        let p = plan_of(
            &s.production,
            vec![
                Step::new(name("prod"), delete_old()),
                Step::new(name("prod"), Action::RedoPreload),
            ],
        );
        // The delete acts, and the process dies before its outcome is saved.
        let mut store = Recording::failing_after(1);
        let mut exec = s.executor(&s.production).expect("executor");
        exec.run(&p, &mut store, |_| {}).await.expect_err("dies");
        assert!(!holds_old(&s));
        if !took_effect {
            // As if the server had never received the delete.
            s.infra
                .server("prod")
                .expect("prod")
                .add(FakeResource::value_set("old", VS, "1.0.0", "2026-01-01"));
        }
        store.fail_after = None;
        let mut events = Vec::new();
        exec.run(&p, &mut store, |e| events.push(e))
            .await
            .expect("resumes");
        assert_eq!(reconciled(&events), [(1, took_effect)], "{events:?}");
        let expected_started: &[usize] = if took_effect { &[2] } else { &[1, 2] };
        assert_eq!(started(&events), expected_started, "{events:?}");
        assert!(!holds_old(&s));
        assert!(store.last().is_finished(&p));
    }
}

fn wipe_plan(s: &Scenario) -> Plan {
    plan_of(
        &s.production,
        vec![
            Step::new(name("prod"), Action::Stop),
            Step::new(name("prod"), Action::ClearDisk),
            Step::new(name("prod"), Action::Start),
        ],
    )
}

#[tokio::test]
async fn an_interrupted_wipe_is_done_again_only_when_the_storage_was_not_wiped() {
    for wiped in [true, false] {
        let s = scenario().await;
        let p = wipe_plan(&s);
        let infra = counting(&s, true);
        let mut exec = executor(&s, infra.clone());
        // Stop (saves 1 and 2), the wipe's start (save 3), the wipe acts, the process dies.
        let mut store = Recording::failing_after(3);
        exec.run(&p, &mut store, |_| {}).await.expect_err("dies");
        assert_eq!(*infra.wipes.lock().expect("lock"), 1);
        if !wiped {
            s.infra
                .server("prod")
                .expect("prod")
                .add(FakeResource::value_set("old", VS, "1.0.0", "2026-01-01"));
        }
        store.fail_after = None;
        let mut events = Vec::new();
        exec.run(&p, &mut store, |e| events.push(e))
            .await
            .expect("resumes");
        assert_eq!(reconciled(&events), [(2, wiped)], "{events:?}");
        let wipes = if wiped { 1 } else { 2 };
        assert_eq!(*infra.wipes.lock().expect("lock"), wipes, "wiped: {wiped}");
        assert!(!holds_old(&s), "the instance was rebuilt from its feed");
    }
}

#[tokio::test]
async fn an_interrupted_wipe_that_cannot_be_observed_waits_for_the_operator() {
    let s = scenario().await;
    let p = wipe_plan(&s);
    let infra = counting(&s, false);
    let mut exec = executor(&s, infra.clone());
    let mut store = Recording::failing_after(3);
    exec.run(&p, &mut store, |_| {}).await.expect_err("dies");
    store.fail_after = None;
    let err = exec
        .run(&p, &mut store, |_| {})
        .await
        .expect_err("cannot tell whether the disk was cleared");
    let Error::Unreconciled { step, action, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!((*step, *action), (2, "clear-disk"));
    assert!(err.to_string().contains("mark the step done"), "{err}");
    assert_eq!(
        *infra.wipes.lock().expect("lock"),
        1,
        "not repeated blindly"
    );

    // The operator looked: the disk is clear.
    let mut journal = store.last();
    journal
        .mark_done(&p, 2)
        .expect("step 2 is the interrupted one");
    assert!(
        journal.clone().mark_done(&p, 3).is_err(),
        "only the step a run resumes at"
    );
    exec.run(&p, &mut journal, |_| {}).await.expect("resumes");
    assert_eq!(*infra.wipes.lock().expect("lock"), 1);
    assert!(journal.is_finished(&p));
}

// The answer to a delete can be lost after the server acted; the delete sent again finds
// nothing and is answered 404. That is done, not a failure that blocks the release forever.
#[tokio::test]
async fn a_delete_answered_404_is_done_only_when_the_item_is_gone() {
    let s = Scenario::builder().build().await.expect("scenario");
    let p = plan_of(&s.production, vec![Step::new(name("prod"), delete_old())]);
    s.executor(&s.production)
        .expect("executor")
        .run(&p, &mut Journal::new(), |_| {})
        .await
        .expect("already gone is done");

    // A 404 from a server that still lists the item (a wrong path, a proxy) is no success.
    let tx = MockServer::start().await;
    Mock::given(method("DELETE"))
        .and(path("/fhir/ValueSet"))
        .respond_with(ResponseTemplate::new(404))
        .mount(&tx)
        .await;
    Mock::given(method("GET"))
        .and(path("/fhir/ValueSet"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "resourceType": "Bundle", "type": "searchset",
            "entry": [{"resource": {"resourceType": "ValueSet", "url": VS, "version": "1.0.0"}}]
        })))
        .mount(&tx)
        .await;
    let mut d = s.production.clone();
    let base = release_model::deployment::BaseUrl::new(&tx.uri()).expect("valid");
    d = Deployment::new(
        d.model,
        release_model::deployment::Topology::single(release_model::deployment::Instance::new(
            name("prod"),
            base,
            release_model::deployment::Role::Production,
            release_model::deployment::Access::ReadWrite,
            release_model::deployment::Storage::Persistent,
        )),
    );
    let err = Executor::new(
        &d,
        Arc::new(NoAuth),
        s.infra.clone(),
        syndication_client::ClientOptions::for_local_testing(),
        syndication_client::WaitPolicy::immediate(1),
    )
    .expect("executor")
    .run(&p, &mut Journal::new(), |_| {})
    .await
    .expect_err("still listed");
    assert!(err.to_string().contains("404"), "{err}");
}

// An instance created in a run that stopped is reached at its URL when the run resumes in
// a new process (a new executor knows only the deployment's instances).
#[tokio::test]
async fn instances_created_by_an_earlier_run_are_reached_when_it_resumes() {
    let s = scenario().await;
    let p = plan_of(
        &s.production,
        vec![
            Step::new(name("green-0"), Action::CreateInstance),
            Step::new(name("green-0"), Action::Start),
            Step::new(name("green-0"), Action::RedoPreload),
        ],
    );
    // The creation is saved (saves 1 and 2); the start's save fails: the process dies.
    let mut store = Recording::failing_after(2);
    s.executor(&s.production)
        .expect("executor")
        .run(&p, &mut store, |_| {})
        .await
        .expect_err("dies");
    store.fail_after = None;
    s.executor(&s.production)
        .expect("a new process")
        .run(&p, &mut store, |_| {})
        .await
        .expect("the created instance is reached");
    assert!(store.last().is_finished(&p));
    let green = s.infra.server("green-0").expect("created");
    assert_eq!(
        store.last().records[1].created.as_deref(),
        Some(green.base_url().as_str()),
        "the journal says where it was created"
    );
}

// A file journal through a whole run: what a resumed process reads is what the run saved.
#[tokio::test]
async fn a_file_journal_is_saved_through_a_run() {
    let s = scenario().await;
    let p = wipe_plan(&s);
    let dir = std::env::temp_dir().join(format!("synd-journal-run-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let mut file = JournalFile::new(dir.join("release.json"));
    s.executor(&s.production)
        .expect("executor")
        .run(&p, &mut file, |_| {})
        .await
        .expect("runs");
    let journal = file.read().expect("reads");
    assert!(journal.is_finished(&p));
    assert_eq!(journal.records.len(), 6);
    let _ = std::fs::remove_dir_all(&dir);
}

// Verifications of several instances run together; when one fails, the journal counts done
// only the steps before it, and the resumed run checks the rest again.
#[tokio::test]
async fn verifications_run_together_and_resume_after_the_one_that_failed() {
    for failing in ["prod-0", "prod-1"] {
        let s = Scenario::builder()
            .production(syndication_client::testkit::Layout::ScaledSeparate(2))
            .build()
            .await
            .expect("scenario");
        let holds = |n: &str| {
            s.infra
                .server(n)
                .expect("instance")
                .add(FakeResource::value_set("old", VS, "1.0.0", "2026-01-01"))
        };
        let ok = if failing == "prod-0" {
            "prod-1"
        } else {
            "prod-0"
        };
        holds(ok);
        let verify = || Action::Verify {
            present: vec![release_model::plan::Expectation::from(
                &release_model::delta::DeltaItem::new(
                    VS.into(),
                    "1.0.0".into(),
                    release_model::feed::ContentType::FhirValueSet,
                    None,
                ),
            )],
            absent: Vec::new(),
        };
        let p = plan_of(
            &s.production,
            vec![
                Step::new(name("prod-0"), verify()),
                Step::new(name("prod-1"), verify()),
            ],
        );
        let mut journal = Journal::new();
        let mut exec = s.executor(&s.production).expect("executor");
        let err = exec
            .run(&p, &mut journal, |_| {})
            .await
            .expect_err("one lacks it");
        let Error::Step { instance, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!(instance.as_str(), failing);
        assert_eq!(journal.completed, usize::from(failing == "prod-1"));
        holds(failing);
        let mut events = Vec::new();
        exec.run(&p, &mut journal, |e| events.push(e))
            .await
            .expect("resumes");
        assert!(journal.is_finished(&p), "{failing}");
        let skipped = events
            .iter()
            .filter(|e| matches!(e, Event::Skipped { .. }))
            .count();
        assert_eq!(skipped, usize::from(failing == "prod-1"), "{failing}");
    }
}
