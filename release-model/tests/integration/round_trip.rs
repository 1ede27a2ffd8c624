//! Saved models load back: every feed, finding, plan, deployment and notice written as JSON
//! reads back equal.

use release_model::deployment::Deployment;
use release_model::feed::{Feed, Finding, Profile, ReadOptions, read_feed, validate_read};
use release_model::notice::{DowntimeWindow, Notice, ReleaseKind, WorkingDayCalendar};
use release_model::plan::{Plan, Policy, plan};

use crate::planner::{Shape, deployment, removal};

fn round_trip<T>(value: &T) -> T
where
    T: serde::Serialize + serde::de::DeserializeOwned,
{
    let json = serde_json::to_string_pretty(value).expect("serializes");
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("reads back: {e}\n{json}"))
}

// Every shared fixture and every in-repo feed, with their deviations (malformed hashes,
// dates without time, foreign markup) kept.
#[test]
fn feeds_round_trip_through_json() {
    let mut files = Vec::new();
    if let Some(dir) = crate::fixtures_dir() {
        files.extend(
            std::fs::read_dir(dir.join("feeds"))
                .expect("listing")
                .flatten(),
        );
    }
    let data = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    files.extend(std::fs::read_dir(data).expect("listing").flatten());
    let mut read = 0;
    for file in files {
        let path = file.path();
        if path.extension().is_none_or(|e| e != "xml") {
            continue;
        }
        let bytes = std::fs::read(&path).expect("readable");
        let Ok(outcome) = read_feed(&bytes, &ReadOptions::lenient()) else {
            continue;
        };
        let back: Feed = round_trip(&outcome.feed);
        assert_eq!(back, outcome.feed, "{}", path.display());
        let findings = validate_read(&outcome, Profile::Strict);
        assert_eq!(
            round_trip::<Vec<Finding>>(&findings),
            findings,
            "{}",
            path.display()
        );
        read += 1;
    }
    assert!(read >= 5, "only {read} feeds read");
}

#[test]
fn plans_deployments_and_notices_round_trip_through_json() {
    for shape in [Shape::Single, Shape::Separate(3), Shape::Shared(2)] {
        for storage in [
            release_model::deployment::Storage::Persistent,
            release_model::deployment::Storage::Transient,
        ] {
            let d = deployment(shape, storage, release_model::deployment::Access::ReadOnly);
            assert_eq!(round_trip::<Deployment>(&d), d);
            for policy in [
                Policy::default(),
                Policy::default().with_zero_downtime(true),
            ] {
                assert_eq!(round_trip::<Policy>(&policy), policy);
                let p = plan(&d, &removal(), &policy).expect("plans");
                assert_eq!(round_trip::<Plan>(&p), p, "{shape:?} {storage:?}");
                let at = |h: u32| {
                    chrono::NaiveDate::from_ymd_opt(2026, 12, 21)
                        .and_then(|d| d.and_hms_opt(h, 0, 0))
                        .expect("valid")
                };
                let window = DowntimeWindow::new(at(20), at(23)).expect("a window");
                if let Some(notice) = Notice::for_plan(
                    &p,
                    ReleaseKind::Content,
                    window,
                    vec!["Hospital A".into()],
                    &WorkingDayCalendar::default(),
                )
                .expect("fits")
                {
                    let notice =
                        notice.given(chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("valid"));
                    assert_eq!(round_trip::<Notice>(&notice), notice);
                    let with = p.clone().with_notice(notice);
                    assert_eq!(round_trip::<Plan>(&with), with);
                }
            }
        }
    }
    assert_eq!(round_trip(&removal()), removal());
}

// A topology read from a file is checked as the constructors check it.
#[test]
fn an_invalid_topology_is_refused_on_reading() {
    let d = deployment(
        Shape::Separate(2),
        release_model::deployment::Storage::Persistent,
        release_model::deployment::Access::ReadOnly,
    );
    let mut json = serde_json::to_value(&d).expect("serializes");
    let instances = json["topology"]["instances"]
        .as_array_mut()
        .expect("a list");
    instances.truncate(1);
    let err = serde_json::from_value::<Deployment>(json).expect_err("one instance is not scaled");
    assert!(err.to_string().contains("instance"), "{err}");
}
