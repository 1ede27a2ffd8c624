//! A release whose process is killed (SIGKILL) during a destructive step resumes from its
//! journal file in a new process, and no step that took effect is done again.
//!
//! The test runs itself as the child: the fakes and a control server for the platform live
//! in this (parent) process, so they survive the child's death; the child runs the plan with
//! a [`JournalFile`] and reaches the platform through the control server. The control server
//! wipes the disk when asked and then never answers, and the parent kills the child while it
//! waits: the wipe took effect and the child never learnt it.
#![cfg(all(feature = "testkit", unix))]

use std::collections::HashMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use release_model::delta::{Delta, DeltaItem};
use release_model::deployment::{Deployment, InstanceName};
use release_model::feed::ContentType;
use release_model::plan::{Action, Expectation, Plan, Policy, Step, plan};
use release_model::resource::ResourceType;
use serde::{Deserialize, Serialize};
use syndication_client::testkit::{FakeResource, FakeTerminologyServer, Layout, Scenario};
use syndication_client::{
    ClientOptions, Error, Event, Executor, Infrastructure, JournalFile, NoAuth, WaitPolicy,
    async_trait,
};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

const OLD: &str = "http://example.org/ValueSet/old";
const NEW: &str = "http://example.org/ValueSet/new";
const CHILD: &str = "SYND_KILL_TEST_CHILD";

/// What the parent tells the child.
#[derive(Serialize, Deserialize)]
struct Orders {
    deployment: Deployment,
    plan: Plan,
    journal: String,
    control: String,
    events: String,
}

/// The platform, seen from the child: every operation is a request to the parent.
struct Remote {
    control: String,
    http: reqwest::Client,
}

impl Remote {
    async fn call(&self, op: &'static str, i: &InstanceName) -> Result<String, Error> {
        let fail = |message: String| Error::Infrastructure {
            instance: i.to_string(),
            operation: op,
            message,
        };
        let resp = self
            .http
            .post(format!("{}/{op}/{i}", self.control))
            .send()
            .await
            .map_err(|e| fail(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(fail(resp.status().to_string()));
        }
        resp.text().await.map_err(|e| fail(e.to_string()))
    }
}

#[async_trait]
impl Infrastructure for Remote {
    async fn stop(&self, i: &InstanceName) -> Result<(), Error> {
        self.call("stop", i).await.map(drop)
    }
    async fn start(&self, i: &InstanceName) -> Result<(), Error> {
        self.call("start", i).await.map(drop)
    }
    async fn clear_disk(&self, i: &InstanceName) -> Result<(), Error> {
        self.call("clear-disk", i).await.map(drop)
    }
    async fn drop_schema(&self, i: &InstanceName) -> Result<(), Error> {
        self.call("drop-schema", i).await.map(drop)
    }
    async fn is_wiped(&self, i: &InstanceName, _: syndication_client::Wipe) -> Result<bool, Error> {
        Ok(self.call("is-wiped", i).await? == "true")
    }
}

/// The parent's side of the platform: acts on the fakes, counts every operation, and holds
/// back its answer to the first `clear-disk` (after clearing the disk), telling the test.
struct Control {
    servers: HashMap<String, Arc<FakeTerminologyServer>>,
    calls: Arc<Mutex<Vec<String>>>,
    hang_on: String,
    hung: tokio::sync::mpsc::UnboundedSender<()>,
}

impl Respond for Control {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let parts: Vec<&str> = req.url.path().trim_matches('/').split('/').collect();
        let [op, instance] = parts.as_slice() else {
            return ResponseTemplate::new(400);
        };
        let Some(server) = self.servers.get(*instance) else {
            return ResponseTemplate::new(404);
        };
        let call = format!("{op} {instance}");
        let first = {
            let mut calls = self.calls.lock().expect("lock");
            calls.push(call.clone());
            calls.iter().filter(|c| **c == call).count() == 1
        };
        match *op {
            "stop" => server.stop(),
            "start" => server.start_again(),
            "clear-disk" | "drop-schema" => server.wipe(),
            "is-wiped" => {
                return ResponseTemplate::new(200).set_body_string(server.is_empty().to_string());
            }
            _ => return ResponseTemplate::new(404),
        }
        if first && call == self.hang_on {
            let _ = self.hung.send(());
            // Never answered in the child's lifetime: it is killed while it waits.
            return ResponseTemplate::new(200).set_delay(Duration::from_secs(3600));
        }
        ResponseTemplate::new(200)
    }
}

fn name(n: &str) -> InstanceName {
    InstanceName::new(n).expect("valid")
}

fn expect(url: &str) -> Expectation {
    Expectation::from(&DeltaItem::new(
        url.into(),
        "1.0.0".into(),
        ContentType::FhirValueSet,
        None,
    ))
}

/// prod-0 (writable) deletes the old value set and preloads; prod-1 (read-only) is rebuilt
/// from the feed, which no longer has it; both are verified.
fn release_plan(deployment: &Deployment) -> Plan {
    let mut p = plan(deployment, &Delta::default(), &Policy::default()).expect("plans");
    let verify = Action::Verify {
        present: vec![expect(NEW)],
        absent: vec![expect(OLD)],
    };
    p.steps = vec![
        Step::new(
            name("prod-0"),
            Action::DeleteResource {
                resource_type: ResourceType::ValueSet,
                url: OLD.into(),
                version: "1.0.0".into(),
            },
        ),
        Step::new(name("prod-0"), Action::RedoPreload),
        Step::new(name("prod-1"), Action::Stop),
        Step::new(name("prod-1"), Action::ClearDisk),
        Step::new(name("prod-1"), Action::DropSchema),
        Step::new(name("prod-1"), Action::Start),
        Step::new(name("prod-0"), verify.clone()),
        Step::new(name("prod-1"), verify),
    ];
    p
}

fn spawn_child(orders: &Orders) -> std::process::Child {
    Command::new(std::env::current_exe().expect("the test binary"))
        .args(["child_runs_the_plan", "--exact", "--ignored", "--nocapture"])
        .env(CHILD, serde_json::to_string(orders).expect("serialises"))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the child starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_release_killed_during_a_wipe_resumes_without_repeating_it() {
    let s = Scenario::builder()
        .production(Layout::ScaledSeparate(2))
        .build()
        .await
        .expect("scenario");
    s.authoring
        .add(FakeResource::value_set("new", NEW, "1.0.0", "2026-11-01"));
    s.authoring.set_syndicated("ValueSet", "new", true);
    let mut servers = HashMap::new();
    for n in ["prod-0", "prod-1"] {
        let server = s.infra.server(n).expect("instance");
        server.add(FakeResource::value_set("old", OLD, "1.0.0", "2026-01-01"));
        // The child cannot move this process's virtual clock: preloads load at once and
        // feeds are not cached.
        server.set_preload_time_per_item(Duration::ZERO);
        server.set_feed_cache_ttl(Duration::ZERO);
        servers.insert(n.to_owned(), server);
    }
    servers["prod-0"].set_read_only(false);

    let control = MockServer::start().await;
    let calls = Arc::new(Mutex::new(Vec::new()));
    let (hung, mut hung_rx) = tokio::sync::mpsc::unbounded_channel();
    Mock::given(wiremock::matchers::any())
        .respond_with(Control {
            servers: servers.clone(),
            calls: Arc::clone(&calls),
            hang_on: "clear-disk prod-1".into(),
            hung,
        })
        .mount(&control)
        .await;

    let dir = std::env::temp_dir().join(format!("synd-kill-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let journal = dir.join("release.json");
    let p = release_plan(&s.production);
    let orders = |run: &str| Orders {
        deployment: s.production.clone(),
        plan: p.clone(),
        journal: journal.display().to_string(),
        control: control.uri(),
        events: dir.join(format!("{run}.events")).display().to_string(),
    };

    // First run: killed while the wipe it asked for has been done but not answered.
    let mut child = spawn_child(&orders("first"));
    tokio::time::timeout(Duration::from_secs(120), hung_rx.recv())
        .await
        .expect("the child reaches the wipe")
        .expect("the control server reports it");
    child.kill().expect("SIGKILL");
    let status = child.wait().expect("reaped");
    assert!(!status.success(), "killed, not finished: {status}");
    let saved = JournalFile::new(&journal)
        .read()
        .expect("the journal file is whole");
    assert_eq!(
        saved.completed, 3,
        "delete, preload and stop are recorded done"
    );
    assert_eq!(
        saved.records.last().map(|r| (r.step, r.outcome.clone())),
        Some((4, syndication_client::Outcome::Started)),
        "the wipe is recorded as started, with no outcome"
    );
    assert!(
        !servers["prod-0"]
            .content()
            .contains(&(OLD.into(), "1.0.0".into())),
        "prod-0's delete took effect"
    );

    // Second run, a new process: it reconciles the wipe and goes on.
    let second = orders("second");
    let mut child = spawn_child(&second);
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("joined")
        .expect("reaped");
    assert!(status.success(), "the resumed run finishes: {status}");
    let events = std::fs::read_to_string(&second.events).expect("events");
    assert!(
        events.contains("step 4: interrupted in an earlier run; it had taken effect, not repeated"),
        "{events}"
    );
    for n in 1..=3 {
        assert!(
            events.contains(&format!("step {n}: done in an earlier run")),
            "{events}"
        );
    }

    let calls = calls.lock().expect("lock").clone();
    let count = |c: &str| calls.iter().filter(|x| *x == c).count();
    assert_eq!(
        count("clear-disk prod-1"),
        1,
        "the wipe is not repeated: {calls:?}"
    );
    assert_eq!(count("drop-schema prod-1"), 1, "{calls:?}");
    assert_eq!(count("stop prod-1"), 1, "{calls:?}");
    assert_eq!(count("is-wiped prod-1"), 1, "{calls:?}");
    let journal = JournalFile::new(&journal).read().expect("reads");
    assert!(journal.is_finished(&p));
    for (n, server) in &servers {
        let held = server.content();
        assert!(
            held.contains(&(NEW.into(), "1.0.0".into())),
            "{n}: {held:?}"
        );
        assert!(
            !held.contains(&(OLD.into(), "1.0.0".into())),
            "{n}: {held:?}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child: runs the plan it is given with a journal file. Not a test of its own; the test
/// above runs it in a process it kills.
#[test]
#[ignore = "run as a child process by a_release_killed_during_a_wipe_resumes_without_repeating_it"]
fn child_runs_the_plan() {
    let Ok(orders) = std::env::var(CHILD) else {
        panic!("run only by a_release_killed_during_a_wipe_resumes_without_repeating_it");
    };
    let orders: Orders = serde_json::from_str(&orders).expect("orders");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let infra = Arc::new(Remote {
            control: orders.control.clone(),
            http: reqwest::Client::new(),
        });
        let mut exec = Executor::new(
            &orders.deployment,
            Arc::new(NoAuth),
            infra,
            ClientOptions::for_local_testing(),
            WaitPolicy::immediate(3),
        )
        .expect("executor");
        let mut lines = Vec::new();
        let result = exec
            .run(
                &orders.plan,
                &mut JournalFile::new(&orders.journal),
                |e: Event| lines.push(e.to_string()),
            )
            .await;
        std::fs::write(&orders.events, lines.join("\n")).expect("events written");
        result.expect("the run finishes");
    });
}
