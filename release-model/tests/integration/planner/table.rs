//! The decision table over topology × storage × access × delta kind × policy, and the golden
//! runbooks.

use super::*;

/// Every cell: topology × storage × access × delta kind × policy → the expected strategy.
#[test]
fn decision_table() {
    #[derive(Clone, Copy, Debug)]
    enum Kind {
        Add,
        Remove,
        Replace,
    }
    #[derive(Clone, Copy, Debug)]
    enum Pol {
        Default,
        NoDeletes,
        ZeroDowntime,
    }
    let mut cells = 0;
    for shape in [Shape::Single, Shape::Separate(3), Shape::Shared(3)] {
        for storage in [Storage::Persistent, Storage::Transient] {
            for access in [Access::ReadWrite, Access::ReadOnly] {
                if shape != Shape::Single && access == Access::ReadWrite {
                    continue; // scaled instances are read-only by construction
                }
                for kind in [Kind::Add, Kind::Remove, Kind::Replace] {
                    for pol in [Pol::Default, Pol::NoDeletes, Pol::ZeroDowntime] {
                        let delta = match kind {
                            Kind::Add => additive(),
                            Kind::Remove => removal(),
                            Kind::Replace => replaced(),
                        };
                        let policy = match pol {
                            Pol::Default => Policy::default(),
                            Pol::NoDeletes => Policy::default().with_fhir_deletes(false),
                            Pol::ZeroDowntime => Policy::default().with_zero_downtime(true),
                        };
                        let writable = access == Access::ReadWrite;
                        let expected = match (kind, writable, pol) {
                            (Kind::Add, _, _) => Strategy::Additive,
                            (_, true, Pol::Default | Pol::ZeroDowntime) => {
                                Strategy::DeleteThenPreload
                            }
                            (_, _, Pol::ZeroDowntime) => Strategy::BlueGreen,
                            _ => Strategy::WipeAndRestart,
                        };
                        let p = plan(&deployment(shape, storage, access), &delta, &policy)
                            .expect("plans");
                        assert_eq!(
                            p.strategy, expected,
                            "{shape:?} {storage:?} {access:?} {kind:?} {pol:?}"
                        );
                        assert_eq!(
                            p.downtime,
                            expected == Strategy::WipeAndRestart,
                            "{shape:?} {storage:?} {access:?} {kind:?} {pol:?}"
                        );
                        if expected == Strategy::WipeAndRestart {
                            let rebuild = if storage == Storage::Persistent {
                                "clear-disk"
                            } else {
                                "recreate-container"
                            };
                            assert!(count(&p, rebuild) > 0, "{shape:?} {storage:?}");
                        }
                        cells += 1;
                    }
                }
            }
        }
    }
    assert_eq!(
        cells,
        2 * 2 * 9 + 2 * 2 * 9,
        "single: 2 storages × 2 accesses; scaled: 2 shapes × 2 storages"
    );
}

#[test]
fn golden_runbooks() {
    let p = plan(
        &deployment(Shape::Separate(2), Storage::Persistent, Access::ReadOnly),
        &removal(),
        &Policy::default(),
    )
    .expect("plans");
    crate::golden(
        "runbook-wipe-separate.md",
        &p.to_markdown(&deployment(
            Shape::Separate(2),
            Storage::Persistent,
            Access::ReadOnly,
        )),
    );
    let d = deployment(Shape::Single, Storage::Persistent, Access::ReadWrite);
    let p = plan(&d, &replaced(), &Policy::default()).expect("plans");
    crate::golden("runbook-delete-single.md", &p.to_markdown(&d));
    crate::golden("plan-delete-single.mmd", &p.to_mermaid());
    let d = deployment(Shape::Shared(3), Storage::Persistent, Access::ReadOnly);
    let p = plan(&d, &additive(), &Policy::default()).expect("plans");
    crate::golden("runbook-additive-shared.md", &p.to_markdown(&d));
}

proptest! {
    #[test]
    fn every_plan_for_scaled_separate_touches_every_instance(
        n in 2usize..6,
        kind in 0u8..3,
        zero in any::<bool>(),
        deletes in any::<bool>(),
        transient in any::<bool>(),
    ) {
        let storage = if transient { Storage::Transient } else { Storage::Persistent };
        let d = deployment(Shape::Separate(n), storage, Access::ReadOnly);
        let delta = match kind { 0 => additive(), 1 => removal(), _ => replaced() };
        let policy = Policy::default().with_zero_downtime(zero).with_fhir_deletes(deletes);
        let p = plan(&d, &delta, &policy).expect("plans");
        for i in d.topology.instances() {
            prop_assert!(p.steps.iter().any(|s| s.instance == i.name), "{} untouched by {}", i.name, p.strategy);
        }
    }
}
