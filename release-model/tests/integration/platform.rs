//! What the planner is told about the platform, and how its runbooks ask for content.

use release_model::Error;
use release_model::delta::Delta;
use release_model::deployment::{Access, ReleaseCandidate, ReleaseCandidateName, Storage};
use release_model::feed::ContentType;
use release_model::plan::{Capabilities, Policy, Strategy, plan, plan_rollback};

use crate::planner::{Shape, additive, count, deployment, item, removal};

// The planner is told what the platform can do and never plans a step it cannot take.
#[test]
fn the_platform_s_capabilities_bound_the_strategy() {
    let d = deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly);
    let zero = Policy::default().with_zero_downtime(true);
    assert_eq!(
        plan(&d, &removal(), &zero).expect("plans").strategy,
        Strategy::BlueGreen
    );
    // No instance creation: never blue-green; with zero downtime nothing is left.
    let mut no_new = Capabilities::all();
    no_new.create_instances = false;
    let err = plan(&d, &removal(), &zero.clone().with_platform(no_new)).expect_err("impossible");
    assert!(
        matches!(&err, Error::PolicyRejected { reason } if reason.contains("platform cannot")),
        "{err}"
    );
    // Downtime allowed: the rebuild in place is still possible.
    let p = plan(&d, &removal(), &Policy::default().with_platform(no_new)).expect("plans");
    assert_eq!(p.strategy, Strategy::WipeAndRestart);
    // No way to clear storage: the rebuild is done on new instances instead.
    let mut no_clear = Capabilities::all();
    no_clear.drop_schema = false;
    let p = plan(&d, &removal(), &Policy::default().with_platform(no_clear)).expect("plans");
    assert_eq!(p.strategy, Strategy::BlueGreen);
    assert_eq!(count(&p, "drop-schema"), 0);
    // Only the servers' API: an additive release still plans; a removal does not.
    let api_only = Policy::default().with_platform(Capabilities::none());
    assert_eq!(
        plan(&d, &additive(), &api_only).expect("plans").strategy,
        Strategy::Additive
    );
    assert!(plan(&d, &removal(), &api_only).is_err());
    let good = ReleaseCandidate::new(
        ReleaseCandidateName::parse("release-candidate-20261101T0900").expect("valid"),
        "https://synd.example.org/feed/release-candidate-20261101T0900/syndication.xml",
    );
    let err = plan_rollback(&d, &good, &removal(), &api_only).expect_err("no rebuild");
    assert!(err.to_string().contains("platform cannot"), "{err}");
}

// The runbook's verification queries ask for SNOMED CT as the server stores it: a version of
// the code system `http://snomed.info/sct`, never the edition's identifier.
#[test]
fn runbook_verification_asks_for_snomed_as_a_code_system_version() {
    let mut delta = Delta::default();
    delta.added.push(item(
        "http://snomed.info/sct/32506021000036107",
        "http://snomed.info/sct/32506021000036107/version/20261130",
        ContentType::SctRf2Full,
    ));
    let d = deployment(Shape::Single, Storage::Persistent, Access::ReadOnly);
    let runbook = plan(&d, &delta, &Policy::default())
        .expect("plans")
        .to_markdown(&d);
    assert!(
        runbook.contains("/fhir/CodeSystem?url=http://snomed.info/sct&version=http://snomed.info/sct/32506021000036107/version/20261130"),
        "{runbook}"
    );
    assert!(
        !runbook.contains("url=http://snomed.info/sct/32506021000036107&"),
        "{runbook}"
    );
}
