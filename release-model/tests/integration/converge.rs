//! The planner from observed state to a target: each instance's decision follows from what
//! it holds and which feed it preloads, and every instance is verified for the whole target.

use release_model::Error;
use release_model::delta::{Delta, DeltaItem};
use release_model::deployment::{
    Access, Deployment, InstanceName, ReleaseCandidate, ReleaseCandidateName, Storage,
};
use release_model::feed::ContentType;
use release_model::plan::{
    Action, Choice, ContentSearch, Expectation, Plan, Policy, Strategy, Target, plan_to_target,
};
use release_model::state::{DeploymentState, InstanceState};

use crate::planner::{Shape, deployment, item};

const OLD: &str = "https://synd.example.org/feed/release-candidate-20261123T0900/syndication.xml";
const NEW: &str = "https://synd.example.org/feed/release-candidate-20261203T0900/syndication.xml";
const ALIAS: &str = "https://synd.example.org/alias/production/syndication.xml";

fn vs(id: &str, v: &str) -> DeltaItem {
    item(
        &format!("http://example.org/ValueSet/{id}"),
        v,
        ContentType::FhirValueSet,
    )
}

fn search(i: &DeltaItem) -> ContentSearch {
    Expectation::from(i).search()
}

fn candidate() -> ReleaseCandidate {
    ReleaseCandidate::new(
        ReleaseCandidateName::parse("release-candidate-20261203T0900").expect("valid"),
        NEW,
    )
}

/// From the candidate in use to the target: `a` carried over, `b` added, `c` removed.
fn change() -> Delta {
    let mut d = Delta::default();
    d.unchanged.push(vs("a", "1"));
    d.added.push(vs("b", "1"));
    d.removed.push(vs("c", "1"));
    d
}

fn holding(items: &[DeltaItem], feed: &str) -> InstanceState {
    InstanceState::new(items.iter().map(search)).with_preload_feeds([feed.to_owned()])
}

fn state(d: &Deployment, each: impl Fn(usize) -> InstanceState) -> DeploymentState {
    d.topology
        .instances()
        .iter()
        .enumerate()
        .fold(DeploymentState::new(), |s, (n, i)| {
            s.with(i.name.clone(), each(n))
        })
}

fn choices(p: &Plan) -> Vec<(String, Choice)> {
    p.decisions
        .iter()
        .map(|d| (d.instance.to_string(), d.choice))
        .collect()
}

fn actions_on(p: &Plan, instance: &str) -> Vec<&'static str> {
    p.steps
        .iter()
        .filter(|s| s.instance.as_str() == instance)
        .map(|s| s.action.name())
        .collect()
}

/// Every instance ends verified for everything the target offers and the absence of what it
/// removes, whatever it was decided to get.
fn verifies_whole_target(p: &Plan, d: &Deployment, change: &Delta) {
    let present: Vec<Expectation> = change.target().map(Expectation::from).collect();
    for i in d.topology.instances() {
        let verify = p
            .steps
            .iter()
            .rev()
            .find(|s| s.instance == i.name && matches!(s.action, Action::Verify { .. }))
            .unwrap_or_else(|| panic!("{} is never verified", i.name));
        let Action::Verify {
            present: p,
            absent: a,
        } = &verify.action
        else {
            unreachable!()
        };
        assert_eq!(p, &present, "{}", i.name);
        assert_eq!(a.len(), change.removed.len() + change.retracted.len());
    }
}

// Drift between instances with their own storage: each gets what it lacks, and only that.
#[test]
fn each_instance_gets_what_its_own_content_and_feed_need() {
    let d = deployment(Shape::Separate(3), Storage::Persistent, Access::ReadOnly);
    let mut change = Delta::default();
    change.unchanged.push(vs("a", "1"));
    change.added.push(vs("b", "1"));
    let all = [vs("a", "1"), vs("b", "1")];
    let s = state(&d, |n| match n {
        0 => holding(&all, ALIAS),
        1 => holding(&all[..1], ALIAS),
        _ => holding(&all[..1], OLD),
    });
    let target = Target::new(candidate(), change.clone()).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert_eq!(
        choices(&p),
        [
            ("prod-0".into(), Choice::UpToDate),
            ("prod-1".into(), Choice::RedoPreload),
            ("prod-2".into(), Choice::Repoint),
        ]
    );
    assert_eq!(actions_on(&p, "prod-0"), ["verify"]);
    assert_eq!(
        actions_on(&p, "prod-1"),
        ["redo-preload", "wait-for-preload", "verify"]
    );
    assert_eq!(
        actions_on(&p, "prod-2"),
        [
            "set-preload-feed",
            "stop",
            "start",
            "wait-for-preload",
            "verify"
        ]
    );
    assert_eq!(p.strategy, Strategy::Additive);
    assert!(!p.downtime, "one instance restarts at a time");
    assert_eq!(p.preload_feed.as_deref(), Some(ALIAS));
    assert!(
        p.decisions[1].rationale.contains("§1.4.3"),
        "{:?}",
        p.decisions
    );
    assert!(
        p.decisions[2].rationale.contains("§1.6.3"),
        "{:?}",
        p.decisions
    );
    verifies_whole_target(&p, &d, &change);
}

// A new candidate URL is never reached by redoPreload: the instance is repointed, and the
// plan's record names the new URL for the next release.
#[test]
fn a_new_candidate_url_repoints_and_restarts() {
    let d = deployment(Shape::Single, Storage::Persistent, Access::ReadOnly);
    let s = state(&d, |_| holding(&[vs("a", "1")], OLD));
    let mut change = Delta::default();
    change.unchanged.push(vs("a", "1"));
    change.added.push(vs("b", "1"));
    let p = plan_to_target(
        &d,
        &s,
        &Target::new(candidate(), change),
        &Policy::default(),
    )
    .expect("planned");
    assert_eq!(
        actions_on(&p, "prod"),
        [
            "set-preload-feed",
            "stop",
            "start",
            "wait-for-preload",
            "verify"
        ]
    );
    assert!(matches!(&p.steps[0].action, Action::SetPreloadFeed { url } if url == NEW));
    assert!(p.downtime, "the only instance restarts");
    assert_eq!(p.preload_feed.as_deref(), Some(NEW));
    let zero = Policy::default().with_zero_downtime(true);
    let mut change = Delta::default();
    change.added.push(vs("b", "1"));
    assert!(matches!(
        plan_to_target(&d, &s, &Target::new(candidate(), change), &zero),
        Err(Error::PolicyRejected { .. })
    ));
}

// Read-only instances with their own storage that hold removed content are rebuilt one at
// a time, so the others serve; the one that holds none of it is left alone.
#[test]
fn removals_on_read_only_instances_rebuild_them_in_turn() {
    let d = deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly);
    let s = state(&d, |n| match n {
        0 => holding(&[vs("a", "1"), vs("c", "1")], ALIAS),
        _ => holding(&[vs("a", "1"), vs("b", "1")], ALIAS),
    });
    let change = change();
    let target = Target::new(candidate(), change.clone()).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert_eq!(
        choices(&p),
        [
            ("prod-0".into(), Choice::Rebuild),
            ("prod-1".into(), Choice::UpToDate),
        ]
    );
    assert_eq!(
        actions_on(&p, "prod-0"),
        [
            "stop",
            "set-preload-feed",
            "clear-disk",
            "drop-schema",
            "start",
            "wait-for-preload",
            "verify"
        ]
    );
    assert_eq!(p.strategy, Strategy::WipeAndRestart);
    assert!(!p.downtime, "prod-1 serves while prod-0 is rebuilt");
    assert!(p.decisions[0].rationale.contains("read-only"));
    verifies_whole_target(&p, &d, &change);
}

// A writable server deletes what it holds and the target removes: replaced content before
// the preload (so the preload loads it again), removed content after it.
#[test]
fn a_writable_server_deletes_replaced_before_and_removed_after_the_preload() {
    let d = deployment(Shape::Single, Storage::Persistent, Access::ReadWrite);
    let mut change = change();
    change.replaced.push(vs("r", "1"));
    let s = state(&d, |_| {
        holding(&[vs("a", "1"), vs("c", "1"), vs("r", "1")], ALIAS)
    });
    let target = Target::new(candidate(), change.clone()).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert_eq!(choices(&p), [("prod".into(), Choice::DeleteThenPreload)]);
    let urls: Vec<String> = p
        .steps
        .iter()
        .map(|s| match &s.action {
            Action::DeleteResource { url, .. } => format!("delete {url}"),
            a => a.name().to_owned(),
        })
        .collect();
    assert_eq!(
        urls,
        [
            "delete http://example.org/ValueSet/r",
            "redo-preload",
            "wait-for-preload",
            "delete http://example.org/ValueSet/c",
            "verify"
        ]
    );
    assert!(!p.downtime);
    verifies_whole_target(&p, &d, &change);
}

// On a shared store everything is written through one instance; a rebuild takes the whole
// store down once, and the others follow.
#[test]
fn a_shared_store_is_written_through_one_instance() {
    let d = deployment(Shape::Shared(3), Storage::Persistent, Access::ReadOnly);
    let additive = {
        let mut c = Delta::default();
        c.unchanged.push(vs("a", "1"));
        c.added.push(vs("b", "1"));
        c
    };
    let s = state(&d, |_| holding(&[vs("a", "1")], ALIAS));
    let target = Target::new(candidate(), additive).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert_eq!(
        choices(&p),
        [
            ("prod-0".into(), Choice::RedoPreload),
            ("prod-1".into(), Choice::Follows),
            ("prod-2".into(), Choice::Follows),
        ]
    );
    let preloads: Vec<&str> = p
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::RedoPreload))
        .map(|s| s.instance.as_str())
        .collect();
    assert_eq!(preloads, ["prod-0"]);

    let s = state(&d, |_| holding(&[vs("a", "1"), vs("c", "1")], ALIAS));
    let target = Target::new(candidate(), change()).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert!(p.decisions.iter().all(|d| d.choice == Choice::Rebuild));
    let drops = p
        .steps
        .iter()
        .filter(|s| matches!(s.action, Action::DropSchema))
        .count();
    assert_eq!(drops, 1, "the shared database is dropped once");
    assert!(p.downtime);
    // No downtime allowed: new instances instead.
    let zero = Policy::default().with_zero_downtime(true);
    let p = plan_to_target(&d, &s, &target, &zero).expect("planned");
    assert_eq!(p.strategy, Strategy::BlueGreen);
    assert!(p.decisions.iter().all(|d| d.choice == Choice::BlueGreen));
    assert!(!p.downtime);
    // Nothing acts on an instance once it is retired; the new ones end verified.
    for i in d.topology.instances() {
        let retired = p
            .steps
            .iter()
            .position(|s| s.instance == i.name && matches!(s.action, Action::RetireInstance))
            .expect("retired");
        assert!(
            !p.steps[retired + 1..].iter().any(|s| s.instance == i.name),
            "{} is acted on after it is retired",
            i.name
        );
        let green = format!("{}-green", i.name);
        assert!(
            p.steps
                .iter()
                .rev()
                .find(|s| s.instance.as_str() == green)
                .is_some_and(|s| matches!(s.action, Action::Verify { .. })),
            "{green} ends verified"
        );
    }
}

// Rollback is a release whose target is the last good candidate: additive when the bad
// release only removed, a rebuild of the instances holding what it added otherwise.
#[test]
fn rollback_is_a_release_to_the_last_good_candidate() {
    let d = deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly);
    // The bad release removed `b`: the last good one only adds it back.
    let mut undo = Delta::default();
    undo.unchanged.push(vs("a", "1"));
    undo.added.push(vs("b", "1"));
    let s = state(&d, |_| holding(&[vs("a", "1")], ALIAS));
    let target = Target::new(candidate(), undo)
        .through_alias(ALIAS)
        .as_rollback();
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert_eq!(p.strategy, Strategy::Rollback);
    assert!(p.decisions.iter().all(|d| d.choice == Choice::RedoPreload));
    assert!(
        !p.steps
            .iter()
            .any(|s| matches!(s.action, Action::ClearDisk))
    );
    assert!(p.rationale.contains("last known good"));
    // The bad release added `c`: it must go, so those holding it are rebuilt.
    let s = state(&d, |_| {
        holding(&[vs("a", "1"), vs("b", "1"), vs("c", "1")], ALIAS)
    });
    let target = Target::new(candidate(), change())
        .through_alias(ALIAS)
        .as_rollback();
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert!(p.decisions.iter().all(|d| d.choice == Choice::Rebuild));
}

// Content the feed never offered (the image's default preload, a hand load) is not the
// release's to remove: it is left alone and reported.
#[test]
fn content_not_from_the_feed_is_left_alone() {
    let d = deployment(Shape::Single, Storage::Persistent, Access::ReadOnly);
    let mut change = Delta::default();
    change.unchanged.push(vs("a", "1"));
    let s = state(&d, |_| holding(&[vs("a", "1"), vs("default", "9")], ALIAS));
    let target = Target::new(candidate(), change).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert_eq!(choices(&p), [("prod".into(), Choice::UpToDate)]);
    assert!(
        p.warnings.iter().any(|w| w.contains("1 item(s) neither")),
        "{:?}",
        p.warnings
    );
}

#[test]
fn an_instance_not_observed_is_refused() {
    let d = deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly);
    let s = DeploymentState::new().with(
        InstanceName::new("prod-0").expect("valid"),
        holding(&[], ALIAS),
    );
    let target = Target::new(candidate(), change()).through_alias(ALIAS);
    match plan_to_target(&d, &s, &target, &Policy::default()) {
        Err(Error::NotObserved(name)) => assert_eq!(name, "prod-1"),
        other => panic!("expected NotObserved, got {other:?}"),
    }
}

#[test]
fn golden_runbook_from_observed_state() {
    let d = deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly);
    let s = state(&d, |n| match n {
        0 => holding(&[vs("a", "1"), vs("c", "1")], ALIAS),
        _ => holding(&[vs("a", "1")], OLD),
    });
    let target = Target::new(candidate(), change()).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    crate::golden("runbook-converge-separate.md", &p.to_markdown(&d));
}

// A removal no instance showed the observer is reported: absence proves nothing when a denied
// read looks the same.
#[test]
fn removals_the_observer_never_saw_are_reported_as_unverifiable() {
    let d = deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly);
    let s = state(&d, |_| holding(&[vs("a", "1"), vs("b", "1")], ALIAS));
    let target = Target::new(candidate(), change()).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert!(
        p.warnings
            .iter()
            .any(|w| w.starts_with("1 item(s) the target removes") && w.contains("may not read")),
        "{:?}",
        p.warnings
    );
    let s = state(&d, |n| {
        if n == 0 {
            holding(&[vs("a", "1"), vs("c", "1")], ALIAS)
        } else {
            holding(&[vs("a", "1")], ALIAS)
        }
    });
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert!(
        !p.warnings.iter().any(|w| w.contains("may not read")),
        "{:?}",
        p.warnings
    );
}

// Nothing to load and the feed unchanged: a writable server only deletes.
#[test]
fn a_removal_alone_is_only_deleted() {
    let d = deployment(Shape::Single, Storage::Persistent, Access::ReadWrite);
    let mut change = Delta::default();
    change.unchanged.push(vs("a", "1"));
    change.removed.push(vs("c", "1"));
    let s = state(&d, |_| holding(&[vs("a", "1"), vs("c", "1")], ALIAS));
    let target = Target::new(candidate(), change).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert_eq!(actions_on(&p, "prod"), ["delete-resource", "verify"]);
}

// Planned from the observed state, one SNOMED CT version held as one code system version is
// deleted once, and only after the preload has loaded the version that replaces it.
#[test]
fn a_held_snomed_version_is_deleted_once_after_its_successor_loads() {
    use release_model::feed::BinaryIndexFamily;
    use release_model::resource::ResourceType;
    let edition = "http://snomed.info/sct/32506021000036107";
    let old = "http://snomed.info/sct/32506021000036107/version/20261031";
    let new = "http://snomed.info/sct/32506021000036107/version/20261130";
    let mut change = Delta::default();
    for ct in [
        ContentType::SctRf2Full,
        ContentType::SctRf2Snapshot,
        ContentType::BinaryIndex {
            family: BinaryIndexFamily::Rf2,
            format_version: "2.0.15".into(),
        },
    ] {
        change.removed.push(item(edition, old, ct.clone()));
        change.added.push(item(edition, new, ct));
    }
    let d = deployment(Shape::Single, Storage::Persistent, Access::ReadWrite);
    let held = ContentSearch::new(ResourceType::CodeSystem, "http://snomed.info/sct", old);
    let s = state(&d, |_| {
        InstanceState::new([held.clone()]).with_preload_feeds([ALIAS.to_owned()])
    });
    let target = Target::new(candidate(), change).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("planned");
    assert_eq!(
        actions_on(&p, "prod"),
        [
            "redo-preload",
            "wait-for-preload",
            "delete-code-system",
            "verify"
        ]
    );
}

// What `synd plan` saves and a pipeline may keep between jobs: the observed state, the target
// and the plan made from them load back equal.
#[test]
fn state_target_and_plan_round_trip_through_json() {
    fn back<T: serde::Serialize + serde::de::DeserializeOwned>(value: &T) -> T {
        let json = serde_json::to_string(value).expect("serializes");
        serde_json::from_str(&json).unwrap_or_else(|e| panic!("reads back: {e}\n{json}"))
    }
    let d = deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly);
    let s = state(&d, |n| {
        let mut held = holding(&[vs("a", "1"), vs("c", "1")], OLD);
        held.preload_running = Some(n == 1);
        held
    });
    let target = Target::new(candidate(), change()).through_alias(ALIAS);
    let p = plan_to_target(&d, &s, &target, &Policy::default()).expect("plans");
    assert_eq!(back(&s), s);
    assert_eq!(back(&target), target);
    assert_eq!(back(&p), p);
    assert!(!p.decisions.is_empty(), "the plan carries its decisions");
}
