//! Diffs of fixture pairs and generated feeds, golden reports, properties, and drift.

use std::collections::BTreeSet;

use feed_diff::{Change, Hazard, Reference, VersionOrder, diff, drift};
use proptest::prelude::*;
use release_model::delta::DeltaKind;
use release_model::feed::{ContentType, Entry, Feed};

fn data(name: &str) -> Feed {
    Feed::from_slice(&test_support::data(env!("CARGO_MANIFEST_DIR"), name))
        .expect("test data parses")
}

fn shared(name: &str) -> Option<Feed> {
    let path = test_support::fixture_feed(env!("CARGO_MANIFEST_DIR"), name)?;
    Some(Feed::from_slice(&std::fs::read(&path).expect("reads")).expect("parses"))
}

fn golden(name: &str, actual: &str) {
    test_support::golden(env!("CARGO_MANIFEST_DIR"), name, actual);
}

fn ids<'a>(refs: impl IntoIterator<Item = &'a feed_diff::EntryRef>) -> BTreeSet<String> {
    refs.into_iter()
        .filter_map(|r| r.entry_id.as_ref().map(|i| i.to_string()))
        .collect()
}

#[test]
fn additive_release() {
    let d = diff(&data("deployed.xml"), &data("candidate-additive.xml"));
    assert!(d.is_additive());
    assert_eq!(
        ids(&d.added),
        BTreeSet::from(["urn:uuid:full-1130".to_owned()])
    );
    assert_eq!(d.updated.len(), 1);
    assert_eq!(
        d.updated[0].changes,
        vec![Change::Metadata],
        "a new title is metadata only"
    );
    assert_eq!(d.unchanged.len(), 4);
    assert!(d.hazards.is_empty(), "{:?}", d.hazards);
    assert_eq!(d.version_changes.len(), 1);
    assert_eq!(d.version_changes[0].order, VersionOrder::Newer);
    let delta = d.to_delta();
    assert_eq!(delta.kind(), DeltaKind::Additive);
    assert_eq!(delta.added[0].content_type, ContentType::SctRf2Full);
}

#[test]
fn non_additive_release() {
    let d = diff(&data("deployed.xml"), &data("candidate-nonadditive.xml"));
    assert!(!d.is_additive());
    assert_eq!(
        ids(&d.removed),
        BTreeSet::from(["urn:uuid:cs-lab".to_owned()])
    );
    assert_eq!(
        d.moved.len(),
        1,
        "the snapshot under a new entry id is moved, not removed and added"
    );
    assert_eq!(
        d.moved[0].from_entry_id.as_ref().map(|i| i.as_str()),
        Some("urn:uuid:snap-1031")
    );
    assert_eq!(d.retracted.len(), 1);
    assert_eq!(
        ids(&d.retracted[0].targets),
        BTreeSet::from(["urn:uuid:bin-1031".to_owned()])
    );
    assert_eq!(
        d.noop_retractions.len(),
        1,
        "retracting what was never offered is a no-op"
    );
    let kinds: Vec<&str> = d
        .hazards
        .iter()
        .map(|h| match h {
            Hazard::SameVersionChanged { .. } => "same-version-changed",
            Hazard::Vanished { .. } => "vanished",
            Hazard::MissingDependency { .. } => "missing-dependency",
            Hazard::DuplicateKey { .. } => "duplicate-key",
            _ => "other",
        })
        .collect();
    assert_eq!(
        kinds,
        ["same-version-changed", "vanished", "missing-dependency"]
    );
    let delta = d.to_delta();
    assert_eq!(delta.kind(), DeltaKind::NonAdditive);
    assert_eq!(delta.replaced.len(), 1);
    assert_eq!(delta.removed.len(), 1);
    assert_eq!(delta.retracted.len(), 1);
    assert!(delta.retracted[0].is_binary_index());
}

#[test]
fn golden_reports() {
    let d = diff(&data("deployed.xml"), &data("candidate-nonadditive.xml"));
    golden("nonadditive.txt", &d.to_string());
    golden("nonadditive.md", &d.to_markdown());
    golden(
        "nonadditive.json",
        &(serde_json::to_string_pretty(&d).expect("serialises") + "\n"),
    );
    let d = diff(&data("deployed.xml"), &data("candidate-additive.xml"));
    golden("additive.md", &d.to_markdown());
}

#[test]
fn json_items_carry_identifier_version_term_and_entry_id() {
    let d = diff(&data("deployed.xml"), &data("candidate-nonadditive.xml"));
    let v: serde_json::Value = serde_json::to_value(&d).expect("serialises");
    assert_eq!(v["additive"], false);
    for list in ["added", "removed", "updated", "retracted", "moved"] {
        let items = v[list].as_array().expect("an array");
        assert!(!items.is_empty(), "{list}");
        for item in items {
            for field in ["identifier", "version", "term", "entry_id"] {
                assert!(
                    item.get(field).is_some(),
                    "{list} item lacks {field}: {item}"
                );
            }
        }
    }
    assert_eq!(v["hazards"][0]["kind"], "same-version-changed");
}

#[test]
fn duplicate_ids_are_a_hazard() {
    let mut f = data("deployed.xml");
    let mut twin = f.entries[0].clone();
    twin.version = Some("other".into());
    f.entries.push(twin);
    let d = diff(&data("deployed.xml"), &f);
    assert!(
        d.hazards
            .iter()
            .any(|h| matches!(h, Hazard::DuplicateKey { .. }))
    );
}

// Found by the diff fuzz target: entries sharing an id, each another artefact, were matched
// to the first of them, so the second was reported "moved" in a diff of a feed with itself.
#[test]
fn a_feed_with_duplicate_ids_does_not_differ_from_itself() {
    let mut f = data("deployed.xml");
    let mut twin = f.entries[0].clone();
    twin.version = Some("other".into());
    f.entries.push(twin);
    let d = diff(&f, &f);
    assert!(d.is_empty(), "{d:?}");
    assert_eq!(d.unchanged.len(), f.entries.len());
    assert!(
        d.hazards
            .iter()
            .any(|h| matches!(h, Hazard::DuplicateKey { .. })),
        "the duplicate is still a hazard"
    );
}

// A syndication server's snapshot serves every artefact from itself: a diff between two
// candidates sees every href changed. With the same SHA-256 and length, that is a relocation,
// not an update; without a hash to go by it stays an update.
#[test]
fn rewritten_hrefs_with_the_same_bytes_are_relocations() {
    let deployed = data("deployed.xml");
    let mut candidate = deployed.clone();
    for e in &mut candidate.entries {
        for l in &mut e.links {
            l.href = format!(
                "https://synd.example.org/feed/rc2/artefact/{}",
                l.href.len()
            );
        }
    }
    let d = diff(&deployed, &candidate);
    let hashed = deployed
        .entries
        .iter()
        .filter(|e| e.alternate_link().is_some_and(|l| l.sha256().is_some()))
        .count();
    assert!(hashed > 0, "the fixture has hashed links");
    assert_eq!(d.relocated.len(), hashed, "{d}");
    assert!(d.updated.iter().all(|u| {
        candidate.entries[u.entry.index]
            .alternate_link()
            .is_none_or(|l| l.sha256().is_none())
    }));
    assert!(d.is_additive());
    let delta = d.to_delta();
    assert!(delta.updated.len() <= d.updated.len());
    assert_eq!(
        delta.target().count(),
        d.relocated.len() + d.updated.len() + d.unchanged.len(),
        "relocated artefacts are carried over"
    );
    assert!(d.counts().ends_with(&format!("{} relocated", hashed)));
    let back: feed_diff::FeedDiff =
        serde_json::from_str(&serde_json::to_string(&d).expect("json")).expect("reads back");
    assert_eq!(back, d);
}

#[test]
fn the_same_artefact_under_two_ids_is_a_hazard() {
    let mut f = data("deployed.xml");
    let mut twin = f.entries[3].clone();
    twin.id = Some("urn:uuid:twin".into());
    f.entries.push(twin);
    let d = diff(&data("deployed.xml"), &f);
    let dup = d.hazards.iter().find_map(|h| match h {
        Hazard::DuplicateKey {
            side: feed_diff::Side::Candidate,
            key,
            entries,
        } => Some((key, entries.len())),
        _ => None,
    });
    let (key, n) = dup.expect("a duplicate artefact key is reported");
    assert!(key.contains("body-sites 1.0.0"), "{key}");
    assert_eq!(n, 2);
}

#[test]
fn snomed_example_feeds_across_commits() {
    // The Dec-2022 example and the current one: the same entries re-described, one added.
    let (Some(old), Some(new)) = (
        shared("IHTSDO-termserver-syndication__feed-example@4c22bc4.xml"),
        shared("IHTSDO-termserver-syndication__feed-example.xml"),
    ) else {
        return;
    };
    let d = diff(&old, &new);
    assert_eq!(
        d.added.len() + d.moved.len() + d.updated.len() + d.unchanged.len(),
        new.entries.len()
    );
    assert_eq!(
        d.removed.len()
            + d.moved.len()
            + d.updated.len()
            + d.unchanged.len()
            + d.retracted.iter().map(|r| r.targets.len()).sum::<usize>(),
        old.entries.len()
    );
    let d2 = diff(&new, &new);
    assert!(d2.is_empty() && d2.is_additive());
}

#[test]
fn ncts_full_snapshot_all_with_one_version_are_distinct_artefacts() {
    let Some(f) = shared("ncts-syndication-client__syndication.xml") else {
        return;
    };
    // Renumber every entry id: each must be found again by its artefact key, not merged.
    let mut renumbered = f.clone();
    for (i, e) in renumbered.entries.iter_mut().enumerate() {
        e.id = Some(format!("urn:uuid:renumbered-{i}").into());
    }
    let d = diff(&f, &renumbered);
    assert_eq!(d.moved.len(), f.entries.len());
    assert!(d.added.is_empty() && d.removed.is_empty());
    assert!(d.is_additive());
}

#[test]
fn drift_against_the_majority_and_an_expected_feed() {
    let (old, new) = (data("deployed.xml"), data("candidate-additive.xml"));
    let r = drift(&[("a", &new), ("b", &new), ("c", &old)], None).expect("instances");
    assert_eq!(r.reference, Reference::Majority);
    let c = &r.instances[2];
    assert_eq!(c.missing.len(), 1);
    assert!(c.extra.is_empty() && c.differing.is_empty());
    assert!(r.instances[0].is_consistent());
    let mut changed = new.clone();
    changed.entries[0].links[0].length = Some(release_model::feed::Checked::Valid(7));
    let r = drift(&[("a", &new), ("b", &changed)], Some(&new)).expect("instances");
    assert_eq!(r.reference, Reference::Expected);
    assert_eq!(r.instances[1].differing.len(), 1);
    assert!(drift(&[], None).is_err());
    assert!(drift(&[("a", &new), ("a", &old)], None).is_err());
}

/// A pool of distinct entries (ids and artefact keys unique) to draw feeds from.
fn pool() -> Vec<Entry> {
    let xml = include_str!("data/deployed.xml");
    let base = Feed::from_slice(xml.as_bytes()).expect("parses");
    (0..24)
        .map(|i| {
            let mut e = base.entries[i % base.entries.len()].clone();
            e.id = Some(format!("urn:uuid:pool-{i}").into());
            e.version = Some(format!("{}", 20260000 + i).into());
            e
        })
        .collect()
}

fn feed_of(pool: &[Entry], picks: &[bool]) -> Feed {
    let mut f = Feed::default();
    f.entries = pool
        .iter()
        .zip(picks)
        .filter(|(_, p)| **p)
        .map(|(e, _)| e.clone())
        .collect();
    f
}

proptest! {
    #[test]
    fn a_feed_does_not_differ_from_itself(picks in proptest::collection::vec(any::<bool>(), 24)) {
        let a = feed_of(&pool(), &picks);
        let d = diff(&a, &a);
        prop_assert!(d.is_empty());
        prop_assert!(d.hazards.is_empty());
        prop_assert_eq!(d.unchanged.len(), a.entries.len());
    }

    #[test]
    fn what_one_direction_adds_the_other_removes(
        a in proptest::collection::vec(any::<bool>(), 24),
        b in proptest::collection::vec(any::<bool>(), 24),
        seed in any::<u64>(),
    ) {
        let pool = pool();
        let (fa, mut fb) = (feed_of(&pool, &a), feed_of(&pool, &b));
        // Order carries no meaning.
        if !fb.entries.is_empty() {
            let k = (seed as usize) % fb.entries.len();
            fb.entries.rotate_left(k);
        }
        let ab = diff(&fa, &fb);
        let ba = diff(&fb, &fa);
        prop_assert_eq!(ids(&ab.added), ids(&ba.removed));
        prop_assert_eq!(ids(&ab.removed), ids(&ba.added));
        let expected_added: BTreeSet<String> = (0..24).filter(|&i| b[i] && !a[i]).map(|i| format!("urn:uuid:pool-{i}")).collect();
        prop_assert_eq!(ids(&ab.added), expected_added);
    }

    #[test]
    fn applying_an_additive_diff_gives_the_candidate(
        a in proptest::collection::vec(any::<bool>(), 24),
        extra in proptest::collection::vec(any::<bool>(), 24),
    ) {
        let pool = pool();
        let b: Vec<bool> = a.iter().zip(&extra).map(|(x, y)| *x || *y).collect();
        let (fa, fb) = (feed_of(&pool, &a), feed_of(&pool, &b));
        let d = diff(&fa, &fb);
        prop_assert!(d.is_additive());
        let mut applied = fa.entries.clone();
        applied.extend(d.added.iter().map(|r| fb.entries[r.index].clone()));
        let key = |e: &Entry| e.id.as_ref().map(|i| i.to_string());
        let got: BTreeSet<_> = applied.iter().map(key).collect();
        let want: BTreeSet<_> = fb.entries.iter().map(key).collect();
        prop_assert_eq!(got, want);
    }
}

// A diff saved as JSON loads back equal, and its JSON says whether it is additive.
#[test]
fn a_diff_round_trips_through_json() {
    for candidate in ["candidate-additive.xml", "candidate-nonadditive.xml"] {
        let d = diff(&data("deployed.xml"), &data(candidate));
        let json = serde_json::to_string(&d).expect("serializes");
        let value: serde_json::Value = serde_json::from_str(&json).expect("JSON");
        assert_eq!(value["additive"], serde_json::Value::Bool(d.is_additive()));
        let back: feed_diff::FeedDiff = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, d, "{candidate}");
    }
}

// Every hazard of the diff reaches the plan and its runbook: the missing package dependency
// above (an extension needing an edition the candidate does not offer) among them.
#[test]
fn the_plan_carries_and_renders_every_hazard() {
    use release_model::delta::HazardKind;
    use release_model::deployment::{
        Access, BaseUrl, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage,
        Topology,
    };
    use release_model::plan::{Policy, plan};

    let d = diff(&data("deployed.xml"), &data("candidate-nonadditive.xml"));
    let delta = d.to_delta();
    assert_eq!(delta.hazards.len(), d.hazards.len());
    let prod = Instance::new(
        InstanceName::new("prod").expect("valid"),
        BaseUrl::new("https://prod.tx.example.org").expect("valid"),
        Role::Production,
        Access::ReadOnly,
        Storage::Persistent,
    );
    let deployment = Deployment::new(
        DeploymentModel::AuthoringToProduction,
        Topology::single(prod),
    );
    let p = plan(&deployment, &delta, &Policy::default()).expect("plans");
    assert_eq!(p.hazards, delta.hazards);
    let missing = p
        .hazards
        .iter()
        .find(|h| h.kind == HazardKind::MissingDependency)
        .expect("the missing dependency is in the plan");
    let runbook = p.to_markdown(&deployment);
    assert!(runbook.contains("**Hazards**"), "{runbook}");
    for h in &p.hazards {
        assert!(runbook.contains(&h.description), "{runbook}");
    }
    assert!(
        missing
            .description
            .contains("http://snomed.info/sct/900000000000207008/version/20261001")
    );
}
