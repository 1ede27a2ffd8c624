//! The planner's rules, each tested by name; a decision table over topology × storage ×
//! access × delta kind × policy and golden runbooks (`table`); releases to a new candidate
//! (`candidates`).

mod candidates;
mod table;

use std::time::Duration;

use fhir_security_labels::{Approval, ContentRef, ReadGrant};
use proptest::prelude::*;
use release_model::Error;
use release_model::delta::{Delta, DeltaItem};
use release_model::deployment::{
    Access, BaseUrl, Deployment, DeploymentModel, Instance, InstanceName, ReleaseCandidate,
    ReleaseCandidateName, Role, Storage, Topology,
};
use release_model::feed::ContentType;
use release_model::notice::{DowntimeWindow, Notice, ReleaseKind, WorkingDayCalendar};
use release_model::plan::{
    Action, HttpMethod, Plan, Policy, PreloadSchedule, Strategy, plan, plan_label_release,
    plan_rollback,
};
use release_model::resource::ResourceType;

pub(crate) fn inst(name: &str, access: Access, storage: Storage) -> Instance {
    Instance::new(
        InstanceName::new(name).expect("valid name"),
        BaseUrl::new(&format!("https://{name}.tx.example.org")).expect("valid URL"),
        Role::Production,
        access,
        storage,
    )
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Shape {
    Single,
    Separate(usize),
    Shared(usize),
}

pub(crate) fn deployment(shape: Shape, storage: Storage, access: Access) -> Deployment {
    let names = |n: usize| {
        (0..n)
            .map(|i| inst(&format!("prod-{i}"), Access::ReadOnly, storage))
            .collect::<Vec<_>>()
    };
    let topology = match shape {
        Shape::Single => Topology::single(inst("prod", access, storage)),
        Shape::Separate(n) => Topology::scaled_separate(names(n)).expect("valid"),
        Shape::Shared(n) => {
            Topology::scaled_shared(names(n), InstanceName::new("prod-0").expect("valid"))
                .expect("valid")
        }
    };
    Deployment::new(DeploymentModel::Comprehensive, topology).with_preload_feed(
        "https://synd.example.org/feed/release-candidate-20261123T0900/syndication.xml",
    )
}

pub(crate) fn item(id: &str, v: &str, ct: ContentType) -> DeltaItem {
    DeltaItem::new(id.into(), v.into(), ct, None)
}

/// The last good release candidate the rollback tests return to.
pub(crate) fn last_good() -> ReleaseCandidate {
    ReleaseCandidate::new(
        ReleaseCandidateName::parse("release-candidate-20261101T0900").expect("valid"),
        "https://synd.example.org/feed/release-candidate-20261101T0900/syndication.xml",
    )
}

pub(crate) fn additive() -> Delta {
    let mut d = Delta::default();
    d.added.push(item(
        "http://example.org/ValueSet/body-sites",
        "1.1.0",
        ContentType::FhirValueSet,
    ));
    d
}

pub(crate) fn removal() -> Delta {
    let mut d = additive();
    d.removed.push(item(
        "http://example.org/CodeSystem/lab",
        "20261001",
        ContentType::FhirCodeSystem,
    ));
    d
}

pub(crate) fn replaced() -> Delta {
    let mut d = Delta::default();
    d.replaced.push(item(
        "http://example.org/ValueSet/body-sites",
        "1.0.0",
        ContentType::FhirValueSet,
    ));
    d
}

pub(crate) fn count(p: &Plan, name: &str) -> usize {
    p.steps.iter().filter(|s| s.action.name() == name).count()
}

pub(crate) fn names(p: &Plan, action: &str) -> Vec<String> {
    p.steps
        .iter()
        .filter(|s| s.action.name() == action)
        .map(|s| s.instance.to_string())
        .collect()
}

#[test]
fn scaled_separate_emits_every_network_step_once_per_instance() {
    let p = plan(
        &deployment(Shape::Separate(3), Storage::Persistent, Access::ReadOnly),
        &additive(),
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(names(&p, "redo-preload"), ["prod-0", "prod-1", "prod-2"]);
}

#[test]
fn scaled_shared_emits_network_steps_once_through_the_named_instance() {
    let p = plan(
        &deployment(Shape::Shared(3), Storage::Persistent, Access::ReadOnly),
        &additive(),
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(names(&p, "redo-preload"), ["prod-0"]);
    assert_eq!(
        count(&p, "verify"),
        3,
        "each instance keeps its own index, so each is verified"
    );
}

#[test]
fn shared_deployment_rejects_a_preload_scheduled_on_every_instance() {
    let policy = Policy::default().with_preload_schedule(PreloadSchedule::CronOnEveryInstance {
        expression: "0 0 15 * * *".into(),
    });
    let err = plan(
        &deployment(Shape::Shared(3), Storage::Persistent, Access::ReadOnly),
        &additive(),
        &policy,
    )
    .expect_err("unsafe schedule");
    let Error::PolicyRejected { reason } = err else {
        panic!("wrong error")
    };
    assert!(
        reason.contains("share one database") && reason.contains("prod-0"),
        "{reason}"
    );
    // The same schedule on separate storage is fine.
    assert!(
        plan(
            &deployment(Shape::Separate(3), Storage::Persistent, Access::ReadOnly),
            &additive(),
            &policy
        )
        .is_ok()
    );
}

#[test]
fn read_only_instances_cannot_take_fhir_deletes() {
    for shape in [Shape::Single, Shape::Separate(2), Shape::Shared(2)] {
        let p = plan(
            &deployment(shape, Storage::Persistent, Access::ReadOnly),
            &removal(),
            &Policy::default(),
        )
        .expect("plans");
        assert_eq!(count(&p, "delete-resource"), 0, "{shape:?}");
        assert!(
            matches!(p.strategy, Strategy::WipeAndRestart | Strategy::BlueGreen),
            "{shape:?}: {}",
            p.strategy
        );
    }
}

#[test]
fn additive_deltas_never_wipe() {
    for shape in [Shape::Single, Shape::Separate(3), Shape::Shared(3)] {
        for storage in [Storage::Persistent, Storage::Transient] {
            let p = plan(
                &deployment(shape, storage, Access::ReadOnly),
                &additive(),
                &Policy::default(),
            )
            .expect("plans");
            assert_eq!(p.strategy, Strategy::Additive);
            for wipe in ["clear-disk", "drop-schema", "recreate-container", "stop"] {
                assert_eq!(count(&p, wipe), 0);
            }
            assert!(!p.downtime);
        }
    }
}

#[test]
fn non_additive_deltas_never_end_in_a_bare_redo_preload() {
    for shape in [Shape::Single, Shape::Separate(3), Shape::Shared(3)] {
        for access in [Access::ReadWrite, Access::ReadOnly] {
            let p = plan(
                &deployment(shape, Storage::Persistent, access),
                &removal(),
                &Policy::default(),
            )
            .expect("plans");
            assert_ne!(p.strategy, Strategy::Additive);
            let removes = count(&p, "delete-resource")
                + count(&p, "delete-code-system")
                + count(&p, "clear-disk")
                + count(&p, "create-instance");
            assert!(removes > 0, "{shape:?} {access:?}: nothing removes content");
        }
    }
}

#[test]
fn same_version_changed_hazard_is_never_left_to_a_preload() {
    let writable = plan(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadWrite),
        &replaced(),
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(writable.strategy, Strategy::DeleteThenPreload);
    let delete = writable
        .steps
        .iter()
        .position(|s| s.action.name() == "delete-resource")
        .expect("deletes first");
    let preload = writable
        .steps
        .iter()
        .position(|s| s.action.name() == "redo-preload")
        .expect("then preloads");
    assert!(delete < preload);
    assert!(writable.warnings.iter().any(|w| w.contains("same version")));
    let read_only = plan(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadOnly),
        &replaced(),
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(read_only.strategy, Strategy::WipeAndRestart, "a rebuild");
}

#[test]
fn shared_storage_drops_the_schema_once_and_one_instance_preloads_first() {
    let p = plan(
        &deployment(Shape::Shared(3), Storage::Persistent, Access::ReadOnly),
        &removal(),
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(p.strategy, Strategy::WipeAndRestart);
    assert_eq!(names(&p, "drop-schema"), ["prod-0"]);
    assert_eq!(count(&p, "clear-disk"), 3);
    let pos = |name: &str, inst: &str| {
        p.steps
            .iter()
            .position(|s| s.action.name() == name && s.instance.as_str() == inst)
            .expect("step present")
    };
    assert!(pos("wait-for-preload", "prod-0") < pos("start", "prod-1"));
    assert!(pos("wait-for-preload", "prod-0") < pos("start", "prod-2"));
    // Separate storage drops every schema.
    let p = plan(
        &deployment(Shape::Separate(3), Storage::Persistent, Access::ReadOnly),
        &removal(),
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(count(&p, "drop-schema"), 3);
}

#[test]
fn every_plan_ends_by_verifying_each_affected_instance() {
    for delta in [additive(), removal(), replaced()] {
        for shape in [Shape::Single, Shape::Separate(3), Shape::Shared(3)] {
            let p = plan(
                &deployment(shape, Storage::Persistent, Access::ReadOnly),
                &delta,
                &Policy::default(),
            )
            .expect("plans");
            let tail: Vec<_> = p
                .steps
                .iter()
                .rev()
                .take_while(|s| s.action.name() == "verify")
                .collect();
            let serving = match shape {
                Shape::Single => 1,
                Shape::Separate(n) | Shape::Shared(n) => n,
            };
            assert_eq!(tail.len(), serving, "{shape:?}");
            let Action::Verify { present, absent } = &tail[0].action else {
                unreachable!("filtered on verify")
            };
            assert_eq!(present.len(), delta.to_load().count());
            assert_eq!(absent.len(), delta.removed.len() + delta.retracted.len());
        }
    }
}

#[test]
fn delete_or_wipe_follows_policy_and_counts_with_a_rationale() {
    let d = deployment(Shape::Single, Storage::Persistent, Access::ReadWrite);
    let few = plan(&d, &removal(), &Policy::default()).expect("plans");
    assert_eq!(few.strategy, Strategy::DeleteThenPreload);
    assert!(
        few.rationale.contains("within the policy's limit"),
        "{}",
        few.rationale
    );
    let mut many = Delta::default();
    for i in 0..30 {
        many.removed.push(item(
            &format!("http://example.org/ValueSet/{i}"),
            "1",
            ContentType::FhirValueSet,
        ));
    }
    let p = plan(&d, &many, &Policy::default()).expect("plans");
    assert_eq!(p.strategy, Strategy::WipeAndRestart);
    assert!(p.rationale.contains("exceed"), "{}", p.rationale);
    let no_deletes = Policy::default().with_fhir_deletes(false);
    let p = plan(&d, &removal(), &no_deletes).expect("plans");
    assert_eq!(p.strategy, Strategy::WipeAndRestart);
    assert!(
        p.rationale.contains("does not allow FHIR deletes"),
        "{}",
        p.rationale
    );
}

#[test]
fn zero_downtime_turns_a_rebuild_into_blue_green() {
    let policy = Policy::default().with_zero_downtime(true);
    let p = plan(
        &deployment(Shape::Separate(2), Storage::Transient, Access::ReadOnly),
        &removal(),
        &policy,
    )
    .expect("plans");
    assert_eq!(p.strategy, Strategy::BlueGreen);
    assert!(!p.downtime);
    let switch = p
        .steps
        .iter()
        .position(|s| s.action.name() == "switch-load-balancer")
        .expect("switches");
    let first_retire = p
        .steps
        .iter()
        .position(|s| s.action.name() == "retire-instance")
        .expect("retires");
    let verified_green = p.steps[..switch]
        .iter()
        .filter(|s| s.action.name() == "verify")
        .count();
    assert_eq!(
        verified_green, 2,
        "new instances are verified before the switch"
    );
    assert!(switch < first_retire);
    // A rebuild longer than the allowed downtime does the same.
    let short = Policy::default().with_max_downtime(Duration::from_secs(15 * 60));
    let p = plan(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadOnly),
        &removal(),
        &short,
    )
    .expect("plans");
    assert_eq!(p.strategy, Strategy::BlueGreen);
}

#[test]
fn content_only_a_rebuild_removes_forces_a_rebuild_even_on_writable_servers() {
    let mut d = Delta::default();
    d.removed.push(item(
        "http://amt.info/csv",
        "http://amt.info/csv/900062011000036108/version/20261031",
        ContentType::AmtCsv,
    ));
    let p = plan(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadWrite),
        &d,
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(p.strategy, Strategy::WipeAndRestart);
    assert!(p.rationale.contains("only a rebuild"), "{}", p.rationale);
}

#[test]
fn binary_indexes_are_deleted_through_the_admin_api() {
    let mut d = Delta::default();
    d.retracted.push(item(
        "http://snomed.info/sct",
        "http://snomed.info/sct/32506021000036107/version/20261031",
        ContentType::BinaryIndex {
            family: release_model::feed::BinaryIndexFamily::Rf2,
            format_version: "2.0.15".into(),
        },
    ));
    let p = plan(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadWrite),
        &d,
        &Policy::default(),
    )
    .expect("plans");
    let step = p
        .steps
        .iter()
        .find(|s| s.action.name() == "delete-code-system")
        .expect("deletes the index");
    let http = step.action.http().expect("network step");
    assert_eq!(http.method, HttpMethod::Post);
    assert_eq!(
        http.path,
        "/api/deleteCodeSystem?codeSystemId=http://snomed.info/sct&codeSystemVersion=http://snomed.info/sct/32506021000036107/version/20261031"
    );
}

#[test]
fn rollback_is_always_a_rebuild_from_the_last_good_candidate() {
    let good = last_good();
    let p = plan_rollback(
        &deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly),
        &good,
        &removal(),
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(p.strategy, Strategy::Rollback);
    assert_eq!(
        count(&p, "redo-preload"),
        0,
        "a preload cannot undo what was added"
    );
    assert!(p.steps.iter().any(
        |s| matches!(&s.action, Action::SetPreloadFeed { url } if url.contains("20261101T0900"))
    ));
    assert!(p.downtime);
    let zero = Policy::default().with_zero_downtime(true);
    let p = plan_rollback(
        &deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly),
        &good,
        &removal(),
        &zero,
    )
    .expect("plans");
    assert_eq!(count(&p, "create-instance"), 2);
}

#[test]
fn label_release_needs_a_single_writable_server() {
    let mut d = deployment(Shape::Single, Storage::Persistent, Access::ReadWrite);
    d.model = DeploymentModel::SingleReadWrite;
    let now = chrono::Utc::now();
    let approval =
        Approval::new("approver", now, ContentRef::new("ValueSet", "vs")).expect("approved");
    let grant = ReadGrant::cohort("PATHOLOGY", approval, now).expect("a read grant");
    let p = plan_label_release(&d, &[grant]).expect("plans");
    assert_eq!(p.strategy, Strategy::LabelRelease);
    assert!(matches!(
        &p.steps[0].action,
        Action::AddLabels { resource_type: ResourceType::ValueSet, labels, .. } if labels == &["PATHOLOGY.read"]
    ));
    assert_eq!(
        p.steps[0].action.http().map(|h| h.path),
        Some("/fhir/ValueSet/vs/$meta-add".into())
    );
    assert!(
        plan_label_release(
            &deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly),
            &[]
        )
        .is_err()
    );
}

#[test]
fn a_plan_with_downtime_needs_notice() {
    let p = plan(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadOnly),
        &removal(),
        &Policy::default(),
    )
    .expect("plans");
    let at = |h: u32| {
        chrono::NaiveDate::from_ymd_opt(2026, 12, 14)
            .and_then(|d| d.and_hms_opt(h, 0, 0))
            .expect("valid")
    };
    let window = DowntimeWindow::new(at(20), at(23)).expect("a window");
    let audience = || vec!["Hospital A".to_owned(), "Pathology B".to_owned()];
    let cal = WorkingDayCalendar::new();
    let n = Notice::for_plan(&p, ReleaseKind::Content, window.clone(), audience(), &cal)
        .expect("a notice")
        .expect("downtime needs notice");
    assert_eq!(n.deadline.to_string(), "2026-11-30");
    // The window and the downtime expected within it are two things: the estimate is the
    // policy's rebuild time, not a fixed hour.
    assert_eq!(n.window.length(), Duration::from_secs(3 * 3600));
    assert_eq!(Some(n.expected), p.downtime_estimate);
    assert!(!n.is_in_time(), "not given yet");
    let late = n
        .clone()
        .given(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("valid"));
    assert!(!late.is_in_time());
    assert!(late.to_string().contains("LATE"), "{late}");
    // A window shorter than the expected downtime, or nobody to tell, is refused.
    let short = DowntimeWindow::new(at(20), at(21)).expect("a window");
    let slow = plan(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadOnly),
        &removal(),
        &Policy::default().with_rebuild_time(Duration::from_secs(2 * 3600)),
    )
    .expect("plans");
    assert!(Notice::for_plan(&slow, ReleaseKind::Content, short, audience(), &cal).is_err());
    assert!(Notice::for_plan(&p, ReleaseKind::Content, window.clone(), Vec::new(), &cal).is_err());
    assert!(DowntimeWindow::new(at(20), at(19)).is_err());
    let add = plan(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadOnly),
        &additive(),
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(
        Notice::for_plan(&add, ReleaseKind::Content, window, audience(), &cal).expect("ok"),
        None,
        "a content release without downtime carries no notice"
    );
}
