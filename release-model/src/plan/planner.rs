//! The planner: from a deployment, what a release changes and the operator's policy, to the
//! steps for every instance.

use fhir_security_labels::ReadGrant;

use super::steps::{
    Removal, blue_green_steps, delete_action, removal, repoint_in_turn, step, verify_all,
    wipe_steps,
};
use super::{Action, Plan, Policy, PreloadSchedule, Step, Strategy};
use crate::Error;
use crate::delta::{Delta, DeltaItem};
use crate::deployment::{Deployment, DeploymentModel, ReleaseCandidate, Topology};
use crate::resource::ResourceType;

/// Plans a release of `delta` to `deployment` under `policy`.
///
/// # Errors
/// [`Error::PolicyRejected`] when the policy itself is unsafe for the deployment: the same
/// preload scheduled on every instance of a shared deployment, or on an unknown instance.
///
/// ```
/// use release_model::delta::{Delta, DeltaItem};
/// use release_model::deployment::*;
/// use release_model::feed::ContentType;
/// use release_model::plan::{plan, Policy, Strategy};
///
/// // Authoring → production, production scaled to three instances with their own storage.
/// let prod = |n: &str| Instance::new(
///     InstanceName::new(n).unwrap(),
///     BaseUrl::new(&format!("https://{n}.tx.example.org")).unwrap(),
///     Role::Production, Access::ReadOnly, Storage::Persistent);
/// let topology = Topology::scaled_separate(vec![prod("prod-0"), prod("prod-1"), prod("prod-2")])?;
/// let deployment = Deployment::new(DeploymentModel::AuthoringToProduction, topology);
///
/// let mut delta = Delta::default();
/// delta.added.push(DeltaItem::new(
///     "http://example.org/ValueSet/body-sites".into(), "1.1.0".into(), ContentType::FhirValueSet, None));
///
/// let p = plan(&deployment, &delta, &Policy::default())?;
/// assert_eq!(p.strategy, Strategy::Additive);
/// assert!(!p.downtime);
/// // Separate storage: every instance redoes its preload and is verified.
/// assert_eq!(p.steps.iter().filter(|s| s.action.name() == "redo-preload").count(), 3);
/// # Ok::<(), release_model::Error>(())
/// ```
pub fn plan(deployment: &Deployment, delta: &Delta, policy: &Policy) -> Result<Plan, Error> {
    check_policy(deployment, policy)?;
    if deployment.model == DeploymentModel::SingleReadWrite {
        return plan_single_read_write(deployment, delta);
    }
    let topology = &deployment.topology;
    let mut warnings = Vec::new();
    if let PreloadSchedule::CronOnEveryInstance { expression }
    | PreloadSchedule::CronOnOneInstance { expression, .. } = &policy.preload_schedule
    {
        warnings.push(format!(
            "a scheduled preload ({expression}) may run during the release; it only adds, so it cannot undo deletions, but a rebuild must not overlap it"
        ));
    }

    if delta.is_additive() {
        let mut steps = Vec::new();
        for i in topology.update_targets() {
            steps.push(step(i, Action::RedoPreload));
        }
        if delta.is_empty() {
            steps.clear();
            warnings.push("nothing changes: the plan only verifies".into());
        }
        if !delta.updated.is_empty() {
            warnings.push(format!(
                "{} entries changed only in metadata; a preload skips resources already present",
                delta.updated.len()
            ));
        }
        verify_all(&mut steps, topology, delta);
        return Ok(Plan {
            strategy: Strategy::Additive,
            steps,
            downtime: false,
            downtime_estimate: None,
            rationale: "the release only adds content, so redoing the preload applies it; nothing needs wiping".into(),
            warnings,
            hazards: delta.hazards.clone(),
            notice: None,
            preload_feed: deployment.preload_feed.clone(),
            decisions: Vec::new(),
        });
    }

    // Non-additive: something must be deleted or rebuilt.
    let deletions: Vec<&DeltaItem> = delta.to_delete().collect();
    let rebuild_only: Vec<&DeltaItem> = deletions
        .iter()
        .copied()
        .filter(|i| matches!(removal(i), Removal::RebuildOnly))
        .collect();
    let writable = topology.all_writable();
    let can_delete = writable && policy.fhir_deletes_allowed && rebuild_only.is_empty();
    let rebuild_fits = policy.max_downtime.is_none_or(|m| policy.rebuild_time <= m);
    let repoint = deployment.preload_feed.is_some();
    let platform = &policy.platform;
    let can_wipe =
        !policy.zero_downtime && rebuild_fits && platform.can_rebuild(topology.storage(), repoint);
    let why_not_delete = if !writable {
        "the instances are read-only and reject FHIR deletes".to_owned()
    } else if !policy.fhir_deletes_allowed {
        "the policy does not allow FHIR deletes".to_owned()
    } else if !rebuild_only.is_empty() {
        format!(
            "{} item(s) cannot be deleted through the API (e.g. {}): only a rebuild removes them",
            rebuild_only.len(),
            rebuild_only[0]
        )
    } else {
        String::new()
    };
    if !delta.replaced.is_empty() {
        warnings.push(format!(
            "{} item(s) were republished under the same version; a preload alone would keep the old content",
            delta.replaced.len()
        ));
    }

    let strategy;
    let rationale;
    if can_delete && (!can_wipe || deletions.len() <= policy.max_deletes) {
        strategy = Strategy::DeleteThenPreload;
        rationale = if can_wipe {
            format!(
                "{} deletion(s) is within the policy's limit of {}, so deleting them keeps the service up instead of a rebuild",
                deletions.len(),
                policy.max_deletes
            )
        } else {
            "the release removes content and deleting it through the API is the only way without downtime".into()
        };
    } else if can_wipe {
        strategy = Strategy::WipeAndRestart;
        rationale = if can_delete {
            format!(
                "{} deletions exceed the policy's limit of {}; a rebuild from the candidate is simpler and certain",
                deletions.len(),
                policy.max_deletes
            )
        } else {
            format!(
                "content must be removed and {why_not_delete}; a rebuild from the candidate removes it"
            )
        };
    } else if !platform.can_blue_green(repoint) {
        return Err(Error::PolicyRejected {
            reason: format!(
                "content must be removed and {}; a rebuild needs {}, which the platform cannot do",
                if why_not_delete.is_empty() {
                    "deletes are not possible".to_owned()
                } else {
                    why_not_delete
                },
                if policy.zero_downtime || !rebuild_fits {
                    "new instances and a load-balancer switch (the policy allows no rebuild in place)"
                } else {
                    "a restart with cleared storage, or new instances and a load-balancer switch"
                }
            ),
        });
    } else {
        strategy = Strategy::BlueGreen;
        rationale = format!(
            "content must be removed, {}, and {}: new instances are built from the candidate and the load balancer switched",
            if why_not_delete.is_empty() {
                "deletes are not possible".to_owned()
            } else {
                why_not_delete.clone()
            },
            if policy.zero_downtime {
                "the policy requires zero downtime".to_owned()
            } else {
                "a rebuild would exceed the allowed downtime".to_owned()
            }
        );
    }

    let mut steps = Vec::new();
    let feed = deployment.preload_feed.clone();
    match strategy {
        Strategy::DeleteThenPreload => {
            for i in topology.update_targets() {
                // One delete per artefact as the server stores it: the RF2 full and snapshot
                // packages and the binary index of one SNOMED CT edition are one code system
                // version, deleted once.
                let mut planned: Vec<Action> = Vec::new();
                let mut delete = |steps: &mut Vec<Step>, items: &[DeltaItem]| {
                    for a in items.iter().filter_map(delete_action) {
                        if !planned.contains(&a) {
                            planned.push(a.clone());
                            steps.push(step(i, a));
                        }
                    }
                };
                // What is replaced under the same version is deleted first, so the preload
                // loads it again; what goes for good is deleted once the preload has loaded
                // what replaces it, so the content is never missing in between.
                delete(&mut steps, &delta.replaced);
                steps.push(step(i, Action::RedoPreload));
                steps.push(step(i, Action::WaitForPreload));
                delete(&mut steps, &delta.removed);
                delete(&mut steps, &delta.retracted);
            }
            verify_all(&mut steps, topology, delta);
            Ok(Plan {
                strategy,
                steps,
                downtime: false,
                downtime_estimate: None,
                rationale,
                warnings,
                hazards: delta.hazards.clone(),
                notice: None,
                preload_feed: deployment.preload_feed.clone(),
                decisions: Vec::new(),
            })
        }
        Strategy::WipeAndRestart => {
            wipe_steps(&mut steps, topology, feed.as_deref());
            verify_all(&mut steps, topology, delta);
            Ok(Plan {
                strategy,
                steps,
                downtime: true,
                downtime_estimate: Some(policy.rebuild_time),
                rationale,
                warnings,
                hazards: delta.hazards.clone(),
                notice: None,
                preload_feed: deployment.preload_feed.clone(),
                decisions: Vec::new(),
            })
        }
        _ => {
            blue_green_steps(&mut steps, topology, feed.as_deref(), delta);
            Ok(Plan {
                strategy,
                steps,
                downtime: false,
                downtime_estimate: None,
                rationale,
                warnings,
                hazards: delta.hazards.clone(),
                notice: None,
                preload_feed: deployment.preload_feed.clone(),
                decisions: Vec::new(),
            })
        }
    }
}

/// Plans the release of `candidate` to `deployment`, from the feed its instances preload now
/// (`deployment.preload_feed`) to the candidate's.
///
/// When the instances already preload the candidate's feed (an alias repointed at it), this
/// is [`plan`]. When they preload another feed, a `redoPreload` would read the old one: an
/// additive release points each instance at the candidate and restarts it in turn (no
/// rebuild), a delete-then-preload deletes and then restarts each instance on the new feed
/// instead of redoing the preload, and a rebuild repoints as it rebuilds. The plan's
/// `preload_feed` is the candidate's feed: record it for the next release.
///
/// # Errors
/// As [`plan`].
pub fn plan_release(
    deployment: &Deployment,
    delta: &Delta,
    candidate: &ReleaseCandidate,
    policy: &Policy,
) -> Result<Plan, Error> {
    if deployment.preload_feed.as_deref() == Some(candidate.feed_url.as_str())
        || deployment.model == DeploymentModel::SingleReadWrite
    {
        return plan(deployment, delta, policy);
    }
    let moved = deployment
        .clone()
        .with_preload_feed(candidate.feed_url.clone());
    let mut p = plan(&moved, delta, policy)?;
    let topology = &deployment.topology;
    let repoint = format!(
        "; the instances preload {} now, so each is pointed at {} and restarted (a changed preload feed is read at start-up)",
        deployment
            .preload_feed
            .as_deref()
            .unwrap_or("an unknown feed"),
        candidate.feed_url
    );
    match p.strategy {
        Strategy::Additive if policy.platform.restart => {
            let verify: Vec<Step> = p
                .steps
                .iter()
                .filter(|s| matches!(s.action, Action::Verify { .. }))
                .cloned()
                .collect();
            p.steps.clear();
            repoint_in_turn(&mut p.steps, topology, &candidate.feed_url);
            p.steps.extend(verify);
            p.downtime = topology.instances().len() < 2;
            p.downtime_estimate = p.downtime.then_some(policy.rebuild_time);
            p.rationale.push_str(&repoint);
        }
        Strategy::DeleteThenPreload if policy.platform.restart => {
            let mut steps = Vec::new();
            for s in p.steps.drain(..) {
                if matches!(s.action, Action::RedoPreload) {
                    let i = s.instance.clone();
                    steps.push(Step::new(
                        i.clone(),
                        Action::SetPreloadFeed {
                            url: candidate.feed_url.clone(),
                        },
                    ));
                    steps.push(Step::new(i.clone(), Action::Stop));
                    steps.push(Step::new(i, Action::Start));
                } else {
                    steps.push(s);
                }
            }
            p.steps = steps;
            p.downtime = topology.instances().len() < 2;
            p.downtime_estimate = p.downtime.then_some(policy.rebuild_time);
            p.rationale.push_str(&repoint);
        }
        Strategy::Additive | Strategy::DeleteThenPreload => {
            return Err(Error::PolicyRejected {
                reason: format!(
                    "the instances preload {} and must be pointed at {} and restarted, which the platform cannot do",
                    deployment
                        .preload_feed
                        .as_deref()
                        .unwrap_or("an unknown feed"),
                    candidate.feed_url
                ),
            });
        }
        // Rebuilds already point the instances at the candidate's feed.
        _ => {}
    }
    p.preload_feed = Some(candidate.feed_url.clone());
    Ok(p)
}

/// Plans a rollback to `last_good`: a release whose target is the last good candidate. When
/// that candidate only adds to what is deployed (`undo` is additive), each instance is pointed
/// at it and restarted in turn; otherwise it is a rebuild, because a preload never removes
/// what the bad release added (with zero downtime required, a blue-green switch).
///
/// # Errors
/// As [`plan`] for the policy checks.
pub fn plan_rollback(
    deployment: &Deployment,
    last_good: &ReleaseCandidate,
    undo: &Delta,
    policy: &Policy,
) -> Result<Plan, Error> {
    check_policy(deployment, policy)?;
    let topology = &deployment.topology;
    let mut steps = Vec::new();
    let warnings = vec![format!(
        "repointing an alias at {} alone would not remove what the bad release added",
        last_good.name
    )];
    let zero = policy.zero_downtime || policy.max_downtime.is_some_and(|m| policy.rebuild_time > m);
    let possible = if zero {
        policy.platform.can_blue_green(true)
    } else {
        policy.platform.can_rebuild(topology.storage(), true)
    };
    if !possible {
        return Err(Error::PolicyRejected {
            reason: format!(
                "a rollback to {} needs {}, which the platform cannot do",
                last_good.name,
                if zero {
                    "new instances and a load-balancer switch"
                } else {
                    "a restart with cleared storage and a repointed preload"
                }
            ),
        });
    }
    if undo.is_additive() && policy.platform.restart {
        // The last good candidate only adds to what is deployed: no rebuild. Each instance is
        // pointed at it and restarted in turn (a changed preload feed is read at start-up),
        // so on a scaled topology the others serve meanwhile.
        repoint_in_turn(&mut steps, topology, &last_good.feed_url);
        verify_all(&mut steps, topology, undo);
        let down = topology.instances().len() < 2;
        return Ok(Plan {
            strategy: Strategy::Rollback,
            steps,
            downtime: down,
            // A restart preloads what it lacks; the rebuild time bounds it from above.
            downtime_estimate: down.then_some(policy.rebuild_time),
            rationale: format!(
                "roll back to the last known good candidate {}: it only adds to what is deployed, so each instance is pointed at it and restarted in turn, without a rebuild",
                last_good.name
            ),
            warnings,
            hazards: undo.hazards.clone(),
            notice: None,
            preload_feed: Some(last_good.feed_url.clone()),
            decisions: Vec::new(),
        });
    }
    if zero {
        blue_green_steps(&mut steps, topology, Some(&last_good.feed_url), undo);
    } else {
        wipe_steps(&mut steps, topology, Some(&last_good.feed_url));
        verify_all(&mut steps, topology, undo);
    }
    Ok(Plan {
        strategy: Strategy::Rollback,
        steps,
        downtime: !zero,
        downtime_estimate: (!zero).then_some(policy.rebuild_time),
        rationale: format!(
            "roll back by rebuilding from the last known good candidate {}{}",
            last_good.name,
            if zero {
                " on new instances, then switching the load balancer"
            } else {
                ""
            }
        ),
        warnings,
        hazards: undo.hazards.clone(),
        notice: None,
        preload_feed: Some(last_good.feed_url.clone()),
        decisions: Vec::new(),
    })
}

/// Plans a release on a single read/write server: add each grant's read labels to the
/// content its approval names (the approval rule: no read grant before approval).
///
/// # Errors
/// [`Error::PolicyRejected`] when the deployment is not a single read/write server.
pub fn plan_label_release(deployment: &Deployment, grants: &[ReadGrant]) -> Result<Plan, Error> {
    let Topology::Single { instance } = &deployment.topology else {
        return Err(Error::PolicyRejected {
            reason: "a label release needs a single read/write server".into(),
        });
    };
    if !instance.is_writable() {
        return Err(Error::PolicyRejected {
            reason: format!("{} is read-only and cannot take $meta-add", instance.name),
        });
    }
    let steps = grants
        .iter()
        .map(|grant| {
            let content = grant.approval().content();
            step(
                instance,
                Action::AddLabels {
                    resource_type: ResourceType::parse(&content.resource_type),
                    id: content.id.clone(),
                    labels: grant.labels().iter().map(|l| l.code.clone()).collect(),
                },
            )
        })
        .collect();
    Ok(Plan {
        strategy: Strategy::LabelRelease,
        steps,
        downtime: false,
        downtime_estimate: None,
        rationale: "on a single read/write server, content is released by granting read labels after approval".into(),
        warnings: vec!["a denied read looks like 'not found': verify with the intended cohort's credentials".into()],
        hazards: Vec::new(),
        notice: None,
        preload_feed: deployment.preload_feed.clone(),
        decisions: Vec::new(),
    })
}

pub(super) fn check_policy(deployment: &Deployment, policy: &Policy) -> Result<(), Error> {
    if let (Topology::ScaledShared { through, .. }, PreloadSchedule::CronOnEveryInstance { .. }) =
        (&deployment.topology, &policy.preload_schedule)
    {
        return Err(Error::PolicyRejected {
            reason: format!(
                "the instances share one database, so a preload scheduled on every instance would run the same load concurrently; schedule it on {through} only"
            ),
        });
    }
    if let PreloadSchedule::CronOnOneInstance { instance, .. } = &policy.preload_schedule
        && !deployment
            .topology
            .instances()
            .iter()
            .any(|i| &i.name == instance)
    {
        return Err(Error::PolicyRejected {
            reason: format!(
                "the preload is scheduled on {instance}, which is not an instance of this deployment"
            ),
        });
    }
    Ok(())
}

/// Every plan ends by verifying each instance: what must be there, and what must be gone.
/// A single read/write server has no preload feed: new content is released by adding read
/// labels after approval ([`plan_label_release`]), and removed content is deleted through the
/// FHIR API.
pub(super) fn plan_single_read_write(
    deployment: &Deployment,
    delta: &Delta,
) -> Result<Plan, Error> {
    let rejected = |reason: String| Err(Error::PolicyRejected { reason });
    if !delta.replaced.is_empty() {
        return rejected(format!(
            "{} item(s) were republished under the same version; on a single read/write server content is edited in place, not replaced from a feed",
            delta.replaced.len()
        ));
    }
    let gone: Vec<&DeltaItem> = delta.removed.iter().chain(&delta.retracted).collect();
    if gone.is_empty() {
        return rejected(
            "a single read/write server has no preload feed to load from: its content is released by adding read labels after approval (plan_label_release)".into(),
        );
    }
    let Some(server) = deployment.topology.update_targets().first().copied() else {
        return rejected("the deployment has no instance".into());
    };
    let mut steps = Vec::new();
    let mut planned: Vec<Action> = Vec::new();
    for item in &gone {
        match delete_action(item) {
            Some(a) if !planned.contains(&a) => {
                planned.push(a.clone());
                steps.push(step(server, a));
            }
            Some(_) => {}
            None => {
                return rejected(format!(
                    "{item} cannot be deleted through the API, and a single read/write server has no feed to be rebuilt from"
                ));
            }
        }
    }
    verify_all(&mut steps, &deployment.topology, delta);
    Ok(Plan {
        strategy: Strategy::Delete,
        steps,
        downtime: false,
        downtime_estimate: None,
        rationale: "a single read/write server: removed content is deleted through the FHIR API; nothing is preloaded".into(),
        warnings: Vec::new(),
        hazards: delta.hazards.clone(),
        notice: None,
        preload_feed: deployment.preload_feed.clone(),
        decisions: Vec::new(),
    })
}
