//! The planner from observed state to a target: what each instance holds now, which feed it
//! preloads, and what the target candidate offers and removes decide, instance by instance,
//! what it needs.

use serde::{Deserialize, Serialize};

use super::planner::{check_policy, plan_single_read_write};
use super::steps::{
    Removal, blue_green_steps, delete_action, preload, rebuild, removal, step, verify_all,
    wipe_steps,
};
use super::{Action, Expectation, Plan, Policy, Step, Strategy};
use crate::Error;
use crate::delta::{Delta, DeltaItem};
use crate::deployment::{
    Deployment, DeploymentModel, Instance, InstanceName, ReleaseCandidate, Topology,
};
use crate::state::{DeploymentState, InstanceState};

/// What a release is to reach: a candidate, the feed URL the instances are to preload it
/// from, and what it changes from the candidate in use.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Target {
    /// The candidate.
    pub candidate: ReleaseCandidate,
    /// The feed the instances preload once the release is done: the candidate's own feed,
    /// or the alias that has been pointed at it ([`Target::through_alias`]).
    pub preload_url: String,
    /// From the candidate in use to this one (`feed_diff::diff(deployed, target)`): its
    /// [`Delta::target`] is everything the target offers, and its removed and retracted items
    /// are what no instance may hold afterwards. Held content that is in neither is not the
    /// feed's (the image's default preload, or loaded by hand) and is left alone.
    pub change: Delta,
    /// Whether the target is the last good candidate after a bad release.
    pub rollback: bool,
}

impl Target {
    /// The candidate, preloaded from its own feed, reached through `change`.
    pub fn new(candidate: ReleaseCandidate, change: Delta) -> Self {
        Self {
            preload_url: candidate.feed_url.clone(),
            candidate,
            change,
            rollback: false,
        }
    }

    /// The same, preloaded through an alias that points at the candidate (repoint the alias
    /// before the plan runs): instances that preload the alias only redo their preload.
    pub fn through_alias(mut self, alias_url: impl Into<String>) -> Self {
        self.preload_url = alias_url.into();
        self
    }

    /// The same, as the rollback to the last good candidate.
    pub fn as_rollback(mut self) -> Self {
        self.rollback = true;
        self
    }
}

/// What the planner decided for one instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Choice {
    /// It holds the whole target and preloads its feed: only verified.
    UpToDate,
    /// It lacks part of the target and preloads its feed: the preload is redone.
    RedoPreload,
    /// It preloads another feed: pointed at the target's and restarted.
    Repoint,
    /// It holds what the target removes and accepts deletes: deleted, then preloaded.
    DeleteThenPreload,
    /// A single read/write server holding what the target removes: deleted through the FHIR
    /// API (it has no feed to preload).
    Delete,
    /// It holds what the target removes and cannot delete it: rebuilt from the target's feed.
    Rebuild,
    /// It is replaced by a new instance built from the target's feed.
    BlueGreen,
    /// It shares its storage with the instance writes go through: it follows that one.
    Follows,
}

impl Choice {
    /// The choice's name (`redo-preload`).
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::UpToDate => "up-to-date",
            Choice::RedoPreload => "redo-preload",
            Choice::Repoint => "repoint",
            Choice::DeleteThenPreload => "delete-then-preload",
            Choice::Delete => "delete",
            Choice::Rebuild => "rebuild",
            Choice::BlueGreen => "blue-green",
            Choice::Follows => "follows",
        }
    }
}

/// One instance's decision and the rule it applies.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Decision {
    /// The instance.
    pub instance: InstanceName,
    /// What it gets.
    pub choice: Choice,
    /// How many items of the target it lacked.
    pub missing: usize,
    /// How many items it held that the target removes or replaces.
    pub stale: usize,
    /// Why, naming the rule of the server documentation it applies.
    pub rationale: String,
}

/// What one instance lacks and holds in excess of the target, in the delta shape the steps
/// are made from: `added` is what it lacks, `unchanged` what it already holds, `removed`,
/// `retracted` and `replaced` what it holds and must lose (or reload).
fn instance_delta(change: &Delta, held: &InstanceState) -> Delta {
    let holds = |i: &DeltaItem| held.holds(&Expectation::from(i).search());
    let (have, lack): (Vec<&DeltaItem>, Vec<&DeltaItem>) = change
        .added
        .iter()
        .chain(&change.updated)
        .chain(&change.unchanged)
        .partition(|i| holds(i));
    let (replaced_held, replaced_lacking): (Vec<&DeltaItem>, Vec<&DeltaItem>) =
        change.replaced.iter().partition(|i| holds(i));
    let held_of = |items: &[DeltaItem]| -> Vec<DeltaItem> {
        items.iter().filter(|i| holds(i)).cloned().collect()
    };
    Delta {
        added: lack.into_iter().chain(replaced_lacking).cloned().collect(),
        unchanged: have.into_iter().cloned().collect(),
        // Held under the same version, so held with the old bytes: a preload would skip it.
        replaced: replaced_held.into_iter().cloned().collect(),
        removed: held_of(&change.removed),
        retracted: held_of(&change.retracted),
        updated: Vec::new(),
        hazards: change.hazards.clone(),
    }
}

/// Held content the change does not mention: not the feed's, left alone.
fn foreign(change: &Delta, held: &InstanceState) -> usize {
    let known: std::collections::BTreeSet<_> = change
        .target()
        .chain(&change.removed)
        .chain(&change.retracted)
        .map(|i| Expectation::from(i).search())
        .collect();
    held.held.iter().filter(|s| !known.contains(s)).count()
}

fn observed<'a>(state: &'a DeploymentState, i: &Instance) -> Result<&'a InstanceState, Error> {
    state
        .get(&i.name)
        .ok_or_else(|| Error::NotObserved(i.name.to_string()))
}

/// The feeds `i` preloads now: its observed configuration, else the deployment's record.
fn preloads(deployment: &Deployment, seen: &InstanceState) -> Vec<String> {
    if seen.preload_feeds.is_empty() {
        deployment.preload_feed.iter().cloned().collect()
    } else {
        seen.preload_feeds.clone()
    }
}

/// Whether an instance preloading `preloads` must be pointed at `url`: it does not preload
/// it, or preloads other feeds beside it.
fn must_repoint(preloads: &[String], url: &str) -> bool {
    preloads.iter().all(|f| f != url) || preloads.len() > 1
}

fn rejected<T>(reason: String) -> Result<T, Error> {
    Err(Error::PolicyRejected { reason })
}

/// One write unit's needs: an instance with its own storage, or the one a shared store is
/// written through.
struct Need<'a> {
    instance: &'a Instance,
    delta: Delta,
    repoint: bool,
    preloads: Vec<String>,
}

/// Plans the release that brings every instance of `deployment` from what `state` says it
/// holds to `target`, deciding per instance:
///
/// - it holds the whole target, nothing the target removes, and preloads the target's feed:
///   it is only verified;
/// - it lacks part of the target and preloads the target's feed: `redoPreload` adds what is
///   missing (a preload only adds, SERVERS.md §1.4.3);
/// - it preloads another feed: it is pointed at the target's and restarted, one instance
///   after another (the feed location is read at start-up, §1.6.3);
/// - it holds what the target removes or replaces: where it accepts FHIR deletes and the
///   policy allows them, those are deleted (replaced items before the preload, removed ones
///   after it, §1.6.1–§1.6.2); otherwise it is rebuilt from the target's feed (stop, repoint,
///   clear disk and database, start, §1.6.3). Instances with their own storage are rebuilt
///   in turn, so the others serve meanwhile; a shared store is rebuilt once, through the
///   instance writes go through, with every instance down. When the policy allows no
///   downtime and a rebuild would take the service down, new instances are built instead
///   (blue-green, §1.6.3) where the platform can.
///
/// On shared storage every write goes through the one instance named for it and the others
/// follow (§1.7.2). Whatever is decided, every instance ends verified for the whole target
/// and for the absence of everything the target removes. The plan's `preload_feed` is the
/// target's preload URL, and its `decisions` say what each instance got and why.
///
/// # Errors
/// [`Error::NotObserved`] when an instance has no observed state; [`Error::PolicyRejected`]
/// when the policy is unsafe for the deployment, or an instance needs what neither the
/// policy nor the platform allows.
///
/// ```
/// use release_model::delta::{Delta, DeltaItem};
/// use release_model::deployment::*;
/// use release_model::feed::ContentType;
/// use release_model::plan::{plan_to_target, Choice, ContentSearch, Policy, Target};
/// use release_model::resource::ResourceType;
/// use release_model::state::{DeploymentState, InstanceState};
///
/// let prod = |n: &str| Instance::new(
///     InstanceName::new(n).unwrap(),
///     BaseUrl::new(&format!("https://{n}.tx.example.org")).unwrap(),
///     Role::Production, Access::ReadOnly, Storage::Persistent);
/// let topology = Topology::scaled_separate(vec![prod("prod-0"), prod("prod-1")])?;
/// let feed = "https://synd.example.org/alias/production/syndication.xml";
/// let deployment = Deployment::new(DeploymentModel::Comprehensive, topology).with_preload_feed(feed);
///
/// // The target offers two value sets; prod-0 holds both, prod-1 only the first.
/// let item = |v: &str| DeltaItem::new(
///     "http://example.org/ValueSet/sites".into(), v.into(), ContentType::FhirValueSet, None);
/// let mut change = Delta::default();
/// change.unchanged.push(item("1"));
/// change.added.push(item("2"));
/// let held = |vs: &[&str]| InstanceState::new(vs.iter().map(|v|
///     ContentSearch::new(ResourceType::ValueSet, "http://example.org/ValueSet/sites", *v)));
/// let state = DeploymentState::new()
///     .with(InstanceName::new("prod-0")?, held(&["1", "2"]))
///     .with(InstanceName::new("prod-1")?, held(&["1"]));
///
/// let name = ReleaseCandidateName::parse("release-candidate-20261203T0900")?;
/// let candidate = ReleaseCandidate::new(name, "https://synd.example.org/feed/release-candidate-20261203T0900/syndication.xml");
/// let target = Target::new(candidate, change).through_alias(feed);
/// let p = plan_to_target(&deployment, &state, &target, &Policy::default())?;
/// let choices: Vec<Choice> = p.decisions.iter().map(|d| d.choice).collect();
/// assert_eq!(choices, [Choice::UpToDate, Choice::RedoPreload]);
/// assert!(!p.downtime);
/// # Ok::<(), release_model::Error>(())
/// ```
pub fn plan_to_target(
    deployment: &Deployment,
    state: &DeploymentState,
    target: &Target,
    policy: &Policy,
) -> Result<Plan, Error> {
    check_policy(deployment, policy)?;
    let topology = &deployment.topology;
    let change = &target.change;
    let url = target.preload_url.as_str();
    let total = change.target().count();
    let mut warnings = Vec::new();
    for i in topology.instances() {
        let seen = observed(state, i)?;
        let n = foreign(change, seen);
        if n > 0 {
            warnings.push(format!(
                "{} holds {n} item(s) neither the target nor the candidate in use offers (the image's default preload, or loaded by hand): they are left alone",
                i.name
            ));
        }
        if seen.preload_running == Some(true) {
            warnings.push(format!(
                "{} was preloading when observed: its holdings may still grow, and no preload is started there until it finishes",
                i.name
            ));
        }
    }

    // A denied read looks like absence (SECURITY-LABELS.md §6: reads are filtered silently),
    // so "gone" is only evidence for content these credentials could see before.
    let unseen: Vec<&DeltaItem> = change
        .removed
        .iter()
        .chain(&change.retracted)
        .filter(|i| {
            let s = Expectation::from(*i).search();
            state.instances.values().all(|seen| !seen.holds(&s))
        })
        .collect();
    if let Some(first) = unseen.first() {
        warnings.push(format!(
            "{} item(s) the target removes (e.g. {first}) were visible on no instance to the credentials that observed them: either already gone, or labelled so these credentials may not read them; their absence is verified only with credentials that can read every label in use",
            unseen.len()
        ));
    }

    if deployment.model == DeploymentModel::SingleReadWrite {
        return single_read_write(deployment, state, target, warnings);
    }

    let needs: Vec<Need> = topology
        .update_targets()
        .into_iter()
        .map(|i| {
            let seen = observed(state, i)?;
            let preloads = preloads(deployment, seen);
            Ok(Need {
                instance: i,
                delta: instance_delta(change, seen),
                repoint: must_repoint(&preloads, url),
                preloads,
            })
        })
        .collect::<Result<_, Error>>()?;

    let platform = &policy.platform;
    let can_repoint = platform.restart && platform.set_preload_feed;
    let shared = topology.is_shared();
    let in_turn = !shared && topology.instances().len() > 1;
    let rebuild_fits = policy.max_downtime.is_none_or(|m| policy.rebuild_time <= m);
    let mut decisions = Vec::new();
    let mut blue_green = false;
    for need in &needs {
        let i = need.instance;
        let d = &need.delta;
        let missing = d.added.len() + d.replaced.len();
        let stale = d.to_delete().count();
        let from = if need.preloads.is_empty() {
            "an unrecorded feed".to_owned()
        } else {
            need.preloads.join(", ")
        };
        let holds = format!(
            "holds {} of the target's {total} item(s)",
            total - d.added.len()
        );
        let (choice, rationale) = if d.is_additive() {
            match (missing, need.repoint) {
                (0, false) => (
                    Choice::UpToDate,
                    format!("{holds}, nothing it removes, and preloads {url}: only verified"),
                ),
                (_, false) => (
                    Choice::RedoPreload,
                    format!(
                        "{holds} and preloads {url}: redoing the preload adds the {missing} missing (a preload only adds what is not there, SERVERS.md §1.4.3)"
                    ),
                ),
                _ if can_repoint => (
                    Choice::Repoint,
                    format!(
                        "{holds} and preloads {from}, not {url}: pointed at it and restarted, since the preload feed is read at start-up (SERVERS.md §1.6.3, \"Deploy a release candidate\"){}",
                        if in_turn || shared {
                            "; one instance at a time, so the others serve"
                        } else {
                            ""
                        }
                    ),
                ),
                _ => {
                    return rejected(format!(
                        "{} preloads {from}, not {url}: it must be pointed at the target's feed and restarted, which the platform cannot do",
                        i.name
                    ));
                }
            }
        } else {
            let undeletable: Vec<&DeltaItem> = d
                .to_delete()
                .filter(|x| matches!(removal(x), Removal::RebuildOnly))
                .collect();
            let can_rebuild = platform.can_rebuild(topology.storage(), true)
                && (in_turn || (!policy.zero_downtime && rebuild_fits));
            let deletes = i.is_writable()
                && policy.fhir_deletes_allowed
                && undeletable.is_empty()
                && (stale <= policy.max_deletes || !can_rebuild)
                && (!need.repoint || can_repoint);
            if deletes {
                (
                    Choice::DeleteThenPreload,
                    format!(
                        "{holds} and {stale} it removes or replaces, and accepts FHIR deletes: replaced items are deleted before the preload and removed ones after it (SERVERS.md §1.6.1, §1.6.2), since a preload never removes (§1.4.3)"
                    ),
                )
            } else if can_rebuild {
                let why = if !i.is_writable() {
                    "is read-only, so rejects FHIR deletes (SERVERS.md §1.7.1)".to_owned()
                } else if !policy.fhir_deletes_allowed {
                    "the policy allows no FHIR deletes".to_owned()
                } else if let Some(x) = undeletable.first() {
                    format!("{x} cannot be deleted through the API")
                } else {
                    format!(
                        "{stale} deletions exceed the policy's limit of {}",
                        policy.max_deletes
                    )
                };
                (
                    Choice::Rebuild,
                    format!(
                        "{holds} and {stale} it removes or replaces, and {why}: rebuilt from {url} (stop, repoint, clear disk and database, start: SERVERS.md §1.6.3){}",
                        if in_turn {
                            "; one instance at a time, so the others serve"
                        } else {
                            ""
                        }
                    ),
                )
            } else if platform.can_blue_green(true) {
                blue_green = true;
                (
                    Choice::BlueGreen,
                    format!(
                        "{holds} and {stale} it removes or replaces, cannot delete them, and a rebuild in place would take the service down: new instances are built from {url} and the load balancer switched (SERVERS.md §1.6.3, zero-downtime alternative)"
                    ),
                )
            } else {
                return rejected(format!(
                    "{} holds {stale} item(s) the target removes or replaces and can neither delete them nor be rebuilt{}",
                    i.name,
                    if policy.zero_downtime || !rebuild_fits {
                        " without downtime the policy forbids, nor replaced by new instances"
                    } else {
                        " by this platform"
                    }
                ));
            }
        };
        decisions.push(Decision {
            instance: i.name.clone(),
            choice,
            missing,
            stale,
            rationale,
        });
    }
    if let Topology::ScaledShared { through, .. } = topology {
        let lead = decisions.first().map(|d| d.choice);
        for i in topology.instances().iter().filter(|i| &i.name != through) {
            let seen = observed(state, i)?;
            let preloads = preloads(deployment, seen);
            let repoint = must_repoint(&preloads, url);
            let (choice, rationale) = match lead {
                Some(Choice::Rebuild) => (
                    Choice::Rebuild,
                    format!(
                        "shares its database with {through}, which is rebuilt: it is stopped with it and started after it (SERVERS.md §1.7.2)"
                    ),
                ),
                Some(Choice::BlueGreen) => (
                    Choice::BlueGreen,
                    "replaced with the others by new instances built from the target's feed"
                        .to_owned(),
                ),
                _ if repoint && !can_repoint => {
                    return rejected(format!(
                        "{} preloads {}, not {url}: it must be pointed at the target's feed and restarted, which the platform cannot do",
                        i.name,
                        preloads.join(", ")
                    ));
                }
                _ if repoint => (
                    Choice::Repoint,
                    format!(
                        "shares its database with {through}, through which content is written (SERVERS.md §1.7.2); it preloads another feed, so it is pointed at {url} and restarted after {through} has loaded"
                    ),
                ),
                _ => (
                    Choice::Follows,
                    format!(
                        "shares its database with {through}, through which every write goes (SERVERS.md §1.7.2): it is only verified"
                    ),
                ),
            };
            decisions.push(Decision {
                instance: i.name.clone(),
                choice,
                missing: 0,
                stale: 0,
                rationale,
            });
        }
    }
    if blue_green {
        for d in &mut decisions {
            if d.choice != Choice::BlueGreen {
                d.choice = Choice::BlueGreen;
                d.rationale.push_str(
                    "; replaced with the others, since one load-balancer switch moves them all",
                );
            }
        }
    }

    let mut steps = Vec::new();
    let chosen = |c: Choice| decisions.iter().any(|d| d.choice == c);
    if blue_green {
        blue_green_steps(&mut steps, topology, Some(url), change);
    } else {
        if shared && chosen(Choice::Rebuild) {
            wipe_steps(&mut steps, topology, Some(url));
        }
        for (need, decision) in needs.iter().zip(&decisions) {
            let i = need.instance;
            match decision.choice {
                Choice::UpToDate => {}
                Choice::RedoPreload => preload(&mut steps, i, None),
                Choice::Repoint => preload(&mut steps, i, Some(url)),
                Choice::DeleteThenPreload => {
                    let mut planned: Vec<Action> = Vec::new();
                    let mut delete = |steps: &mut Vec<Step>, items: &[DeltaItem]| {
                        for a in items.iter().filter_map(delete_action) {
                            if !planned.contains(&a) {
                                planned.push(a.clone());
                                steps.push(step(i, a));
                            }
                        }
                    };
                    delete(&mut steps, &need.delta.replaced);
                    // Nothing to load and the feed unchanged: the deletes are the release.
                    if !need.delta.added.is_empty()
                        || !need.delta.replaced.is_empty()
                        || need.repoint
                    {
                        preload(&mut steps, i, need.repoint.then_some(url));
                    }
                    delete(&mut steps, &need.delta.removed);
                    delete(&mut steps, &need.delta.retracted);
                }
                Choice::Rebuild if !shared => rebuild(&mut steps, i, url, topology.storage()),
                _ => {}
            }
        }
        // Followers of a shared store restart on the new feed only after the store holds it.
        for d in decisions.iter().skip(needs.len()) {
            if d.choice == Choice::Repoint
                && let Some(i) = topology.instances().iter().find(|i| i.name == d.instance)
            {
                preload(&mut steps, i, Some(url));
            }
        }
    }
    // Blue-green verifies the new instances before and after the switch; the old ones are
    // retired, so there is nothing left of them to verify.
    if !blue_green {
        verify_all(&mut steps, topology, change);
    }

    let rebuilt = chosen(Choice::Rebuild);
    let restarted = rebuilt || chosen(Choice::Repoint);
    // Instances restarted or rebuilt one at a time leave the others serving; a shared store
    // rebuilt, or the only instance restarted, leaves nobody.
    let downtime =
        !blue_green && ((rebuilt && !in_turn) || (restarted && topology.instances().len() < 2));
    if downtime && policy.zero_downtime {
        return rejected(format!(
            "{} takes the service down and the policy requires zero downtime; new instances cannot be built{}",
            if rebuilt {
                "a rebuild"
            } else {
                "restarting the only instance on the new feed"
            },
            if platform.can_blue_green(true) {
                " for a change this small"
            } else {
                " by this platform"
            }
        ));
    }
    let strategy = if target.rollback {
        Strategy::Rollback
    } else if blue_green {
        Strategy::BlueGreen
    } else if rebuilt {
        Strategy::WipeAndRestart
    } else if chosen(Choice::DeleteThenPreload) {
        Strategy::DeleteThenPreload
    } else {
        Strategy::Additive
    };
    if !change.replaced.is_empty() {
        warnings.push(format!(
            "{} item(s) were republished under the same version; a preload alone would keep the old content",
            change.replaced.len()
        ));
    }
    for need in needs.iter().filter(|n| n.preloads.len() > 1) {
        warnings.push(format!(
            "{} preloads several feeds ({}): repointing it leaves only {url}",
            need.instance.name,
            need.preloads.join(", ")
        ));
    }
    let up_to_date = decisions
        .iter()
        .filter(|d| matches!(d.choice, Choice::UpToDate | Choice::Follows))
        .count();
    let rationale = format!(
        "{}{} of {} instance(s) are at the target already; each of the others gets what its own content and preload feed need (see the decisions)",
        if target.rollback {
            format!(
                "roll back to the last known good candidate {}: ",
                target.candidate.name
            )
        } else {
            format!("release {}: ", target.candidate.name)
        },
        up_to_date,
        decisions.len()
    );
    Ok(Plan {
        strategy,
        steps,
        downtime,
        downtime_estimate: downtime.then_some(policy.rebuild_time),
        rationale,
        warnings,
        hazards: change.hazards.clone(),
        notice: None,
        preload_feed: Some(url.to_owned()),
        decisions,
    })
}

/// A single read/write server has no preload feed: what it holds and the target removes is
/// deleted; what it lacks is released by read labels after approval, not planned here.
fn single_read_write(
    deployment: &Deployment,
    state: &DeploymentState,
    target: &Target,
    warnings: Vec<String>,
) -> Result<Plan, Error> {
    let Some(server) = deployment.topology.update_targets().first().copied() else {
        return rejected("the deployment has no instance".into());
    };
    let d = instance_delta(&target.change, observed(state, server)?);
    if !d.added.is_empty() {
        return rejected(format!(
            "{} lacks {} item(s) of the target, and a single read/write server has no preload feed to load them from: release them by adding read labels after approval (plan_label_release)",
            server.name,
            d.added.len()
        ));
    }
    let stale = d.to_delete().count();
    let mut p = if stale == 0 {
        Plan {
            strategy: Strategy::Delete,
            steps: Vec::new(),
            downtime: false,
            downtime_estimate: None,
            rationale: "a single read/write server that holds the target and nothing it removes: only verified".into(),
            warnings: Vec::new(),
            hazards: target.change.hazards.clone(),
            notice: None,
            preload_feed: deployment.preload_feed.clone(),
            decisions: Vec::new(),
        }
    } else {
        plan_single_read_write(deployment, &d)?
    };
    // Every instance is verified for the whole target, not the part this one lacked.
    p.steps
        .retain(|s| !matches!(s.action, Action::Verify { .. }));
    verify_all(&mut p.steps, &deployment.topology, &target.change);
    p.warnings.extend(warnings);
    p.decisions.push(Decision {
        instance: server.name.clone(),
        choice: if stale == 0 {
            Choice::UpToDate
        } else {
            Choice::Delete
        },
        missing: 0,
        stale,
        rationale: if stale == 0 {
            "holds the whole target and nothing it removes: only verified".into()
        } else {
            format!(
                "holds {stale} item(s) the target removes: deleted through the FHIR API (SERVERS.md §1.6.1, §1.6.2); a single read/write server has no feed to preload"
            )
        },
    });
    Ok(p)
}
