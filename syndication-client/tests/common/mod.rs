//! What the end-to-end release tests share: the content they release, the shapes of
//! deployment, the notice a plan's downtime needs, and (`scenario`) a production environment
//! of fakes with a candidate cut from authoring.
// Each test file uses its own part of this module.
#![allow(dead_code)]

pub(crate) mod scenario;

use std::sync::Arc;

use release_model::plan::Plan;
use syndication_client::testkit::{
    FakeResource, FakeSyndicationServer, FakeTerminologyServer, Registry,
};
use syndication_client::{ClientOptions, NoAuth, SyndicationClient};

pub(crate) const A: &str = "http://example.org/ValueSet/a";
pub(crate) const B: &str = "http://example.org/CodeSystem/b";
pub(crate) const C: &str = "http://example.org/ValueSet/c";

/// How the production instances are deployed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shape {
    Single,
    Separate(usize),
    Shared(usize),
}

/// 2026-12-`day` at `hour`:00.
pub(crate) fn at(day: u32, hour: u32) -> chrono::NaiveDateTime {
    chrono::NaiveDate::from_ymd_opt(2026, 12, day)
        .and_then(|d| d.and_hms_opt(hour, 0, 0))
        .expect("valid")
}

/// The plan with the notice its downtime needs, given in time for a window on 14 December
/// from 20:00 to 23:00 (a plan without downtime is returned as it is).
pub(crate) fn noticed(p: &Plan) -> Plan {
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

/// A content item as the fakes report it: URL and version.
pub(crate) fn item(url: &str, version: &str) -> (String, String) {
    (url.to_owned(), version.to_owned())
}

/// Authoring holding ValueSet A and CodeSystem B, both approved for syndication; a syndication
/// server; and an anonymous client of it.
pub(crate) async fn authoring_and_syndication(
    registry: &Registry,
) -> (
    FakeTerminologyServer,
    FakeSyndicationServer,
    SyndicationClient,
) {
    let authoring = FakeTerminologyServer::start(registry).await;
    authoring.add(FakeResource::value_set("a", A, "1.0.0", "2026-10-01"));
    authoring.add(FakeResource::code_system("b", B, "1.0.0", "2026-10-01"));
    authoring.set_syndicated("ValueSet", "a", true);
    authoring.set_syndicated("CodeSystem", "b", true);
    let fake = FakeSyndicationServer::start(registry).await;
    let client = SyndicationClient::new(
        &fake.base_url(),
        Arc::new(NoAuth),
        ClientOptions::for_local_testing(),
    )
    .expect("client");
    (authoring, fake, client)
}
