//! Releases to a new candidate: a SNOMED CT version replaced by its successor, a single
//! read/write server, a rollback to a superset, a candidate at a new URL.

use super::*;

// One SNOMED CT edition version is one code system version on the server, however many
// packages carry it (RF2 full, snapshot, binary index): it is deleted once, and only after
// the preload has loaded the edition that replaces it.
#[test]
fn a_snomed_version_is_deleted_once_and_after_its_successor_loads() {
    let edition = "http://snomed.info/sct/32506021000036107";
    let old = "http://snomed.info/sct/32506021000036107/version/20261031";
    let new = "http://snomed.info/sct/32506021000036107/version/20261130";
    let mut d = Delta::default();
    for ct in [
        ContentType::SctRf2Full,
        ContentType::SctRf2Snapshot,
        ContentType::BinaryIndex {
            family: release_model::feed::BinaryIndexFamily::Rf2,
            format_version: "2.0.15".into(),
        },
    ] {
        d.removed.push(item(edition, old, ct.clone()));
        d.added.push(item(edition, new, ct));
    }
    let p = plan(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadWrite),
        &d,
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(p.strategy, Strategy::DeleteThenPreload, "{}", p.rationale);
    let names: Vec<&str> = p.steps.iter().map(|s| s.action.name()).collect();
    assert_eq!(count(&p, "delete-code-system"), 1, "{names:?}");
    let at = |n: &str| names.iter().position(|x| *x == n).expect(n);
    assert!(
        at("redo-preload") < at("wait-for-preload")
            && at("wait-for-preload") < at("delete-code-system"),
        "the new version loads before the old is deleted: {names:?}"
    );
}

// A single read/write server has no preload feed: an addition is released with labels, a
// removal is a FHIR delete, and no plan for it ever redoes a preload.
#[test]
fn a_single_read_write_server_is_never_given_a_preload() {
    let mut d = deployment(Shape::Single, Storage::Persistent, Access::ReadWrite);
    d.model = DeploymentModel::SingleReadWrite;
    let err = plan(&d, &additive(), &Policy::default()).expect_err("released by labels");
    assert!(
        matches!(&err, Error::PolicyRejected { reason } if reason.contains("plan_label_release")),
        "{err}"
    );
    let p = plan(&d, &removal(), &Policy::default()).expect("plans the deletes");
    assert_eq!(p.strategy, Strategy::Delete);
    assert_eq!(count(&p, "redo-preload"), 0);
    assert_eq!(count(&p, "delete-resource"), 1);
    assert_eq!(count(&p, "verify"), 1);
    assert!(!p.downtime);
}

// A rollback to a candidate that only adds to what is deployed needs no rebuild: each instance
// is repointed and restarted in turn, and a scaled topology stays up meanwhile.
#[test]
fn a_rollback_to_a_superset_is_additive() {
    let good = last_good();
    let p = plan_rollback(
        &deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly),
        &good,
        &additive(),
        &Policy::default(),
    )
    .expect("plans");
    assert_eq!(p.strategy, Strategy::Rollback);
    for wipe in [
        "clear-disk",
        "drop-schema",
        "recreate-container",
        "create-instance",
    ] {
        assert_eq!(count(&p, wipe), 0, "{wipe}: {}", p.rationale);
    }
    assert_eq!(count(&p, "set-preload-feed"), 2);
    assert_eq!(count(&p, "stop"), 2);
    assert!(!p.downtime, "one instance restarts while the other serves");
    let names: Vec<(&str, &str)> = p
        .steps
        .iter()
        .map(|s| (s.instance.as_str(), s.action.name()))
        .collect();
    let first_start = names
        .iter()
        .position(|n| *n == ("prod-0", "wait-for-preload"));
    let second_stop = names.iter().position(|n| *n == ("prod-1", "stop"));
    assert!(first_start < second_stop, "in turn: {names:?}");
    let single = plan_rollback(
        &deployment(Shape::Single, Storage::Persistent, Access::ReadOnly),
        &good,
        &additive(),
        &Policy::default(),
    )
    .expect("plans");
    assert!(single.downtime, "a single server is down while it restarts");
}

// A release to a candidate the instances do not preload yet is not a bare redoPreload (which
// reads the old feed): each instance is pointed at the candidate and restarted in turn.
#[test]
fn a_release_to_a_new_candidate_url_repoints_the_instances() {
    let d = deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly);
    let same = ReleaseCandidate::new(
        ReleaseCandidateName::parse("release-candidate-20261123T0900").expect("valid"),
        d.preload_feed
            .clone()
            .expect("the test deployment names its feed"),
    );
    let p = release_model::plan::plan_release(&d, &additive(), &same, &Policy::default())
        .expect("plans");
    assert_eq!(
        count(&p, "redo-preload"),
        2,
        "the same feed: a redo reads it"
    );
    assert_eq!(count(&p, "set-preload-feed"), 0);

    let newer = ReleaseCandidate::new(
        ReleaseCandidateName::parse("release-candidate-20261201T0900").expect("valid"),
        "https://synd.example.org/feed/release-candidate-20261201T0900/syndication.xml",
    );
    let p = release_model::plan::plan_release(&d, &additive(), &newer, &Policy::default())
        .expect("plans");
    assert_eq!(p.strategy, Strategy::Additive);
    assert_eq!(
        count(&p, "redo-preload"),
        0,
        "a redo would read the old feed"
    );
    assert_eq!(count(&p, "set-preload-feed"), 2);
    assert_eq!(count(&p, "stop"), 2);
    assert_eq!(count(&p, "verify"), 2);
    assert!(
        !p.downtime,
        "in turn: one instance serves while the other restarts"
    );
    assert_eq!(p.preload_feed.as_deref(), Some(newer.feed_url.as_str()));
    assert!(p.rationale.contains("restarted"), "{}", p.rationale);

    // A rebuild to the new candidate already repoints.
    let p = release_model::plan::plan_release(&d, &removal(), &newer, &Policy::default())
        .expect("plans");
    assert!(
        p.steps
            .iter()
            .any(|s| matches!(&s.action, Action::SetPreloadFeed { url } if url == &newer.feed_url))
    );
}
