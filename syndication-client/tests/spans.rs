//! A step's tracing span is entered only while the step runs: the executor instruments each
//! step's future rather than holding an entered span across its awaits, so what other tasks on
//! the same thread log while a step waits is never attributed to the step.
#![cfg(feature = "testkit")]

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use release_model::delta::{Delta, DeltaItem};
use release_model::feed::ContentType;
use release_model::plan::{Policy, plan};
use syndication_client::Journal;
use syndication_client::testkit::{FakeResource, Layout, Scenario};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

thread_local! {
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Records, for every event, the names of the spans entered when it happened.
#[derive(Default)]
struct Recorder {
    next: AtomicU64,
    names: Mutex<HashMap<u64, &'static str>>,
    events: Mutex<Vec<(String, Vec<&'static str>)>>,
}

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl Subscriber for &'static Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        if let Ok(mut names) = self.names.lock() {
            names.insert(id, span.metadata().name());
        }
        Id::from_u64(id)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        let names = self.names.lock().map(|n| n.clone()).unwrap_or_default();
        let entered = ENTERED.with(|e| {
            e.borrow()
                .iter()
                .filter_map(|id| names.get(id).copied())
                .collect()
        });
        if let Ok(mut events) = self.events.lock() {
            events.push((message.0, entered));
        }
    }
    fn enter(&self, span: &Id) {
        ENTERED.with(|e| e.borrow_mut().push(span.into_u64()));
    }
    fn exit(&self, span: &Id) {
        ENTERED.with(|e| {
            let mut e = e.borrow_mut();
            if let Some(at) = e.iter().rposition(|id| *id == span.into_u64()) {
                e.remove(at);
            }
        });
    }
}

#[test]
fn what_others_log_while_a_step_waits_is_not_in_the_step_s_span() {
    let recorder: &'static Recorder = Box::leak(Box::default());
    let _default = tracing::subscriber::set_default(recorder);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let s = Scenario::builder()
            .production(Layout::ScaledSeparate(2))
            .build()
            .await
            .expect("scenario");
        s.authoring.add(FakeResource::value_set(
            "vs",
            "http://example.org/vs",
            "1.0.0",
            "2026-11-01",
        ));
        s.authoring.set_syndicated("ValueSet", "vs", true);
        let mut delta = Delta::default();
        delta.added.push(DeltaItem::new(
            "http://example.org/vs".into(),
            "1.0.0".into(),
            ContentType::FhirValueSet,
            None,
        ));
        let p = plan(&s.production, &delta, &Policy::default()).expect("plans");
        let mut exec = s.executor(&s.production).expect("executor");
        let mut journal = Journal::new();
        let release = exec.run(&p, &mut journal, |_| {});
        let neighbour = async {
            for _ in 0..200 {
                tracing::info!("neighbour");
                tokio::task::yield_now().await;
            }
        };
        let (released, ()) = tokio::join!(release, neighbour);
        released.expect("released");
    });
    let events = recorder.events.lock().expect("events");
    let neighbours: Vec<_> = events.iter().filter(|(m, _)| m == "neighbour").collect();
    assert_eq!(neighbours.len(), 200);
    assert!(
        neighbours.iter().all(|(_, spans)| !spans.contains(&"step")),
        "a neighbour's event was attributed to a step"
    );
}
