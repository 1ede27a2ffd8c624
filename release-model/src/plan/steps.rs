//! The steps both planners build plans from: one instance's preload, repoint, rebuild, the
//! deletes an artefact needs, and the verification every plan ends with.

use super::{Action, Expectation, Step};
use crate::delta::{Delta, DeltaItem};
use crate::deployment::{Instance, InstanceName, Storage, Topology};
use crate::resource::ResourceType;

/// How a removed or replaced artefact can be taken off a server through its API.
pub(super) enum Removal {
    Resource(ResourceType),
    CodeSystem(String),
    /// Only a rebuild removes it (a bundle's contents, AMT CSV, unknown packages).
    RebuildOnly,
}

pub(super) fn removal(item: &DeltaItem) -> Removal {
    if let Some(t) = item.content_type.resource_type() {
        return Removal::Resource(t);
    }
    match item.content_type.code_system() {
        Some(cs) => Removal::CodeSystem(cs.to_owned()),
        None => Removal::RebuildOnly,
    }
}

pub(super) fn delete_action(item: &DeltaItem) -> Option<Action> {
    match removal(item) {
        Removal::Resource(t) => Some(Action::DeleteResource {
            resource_type: t,
            url: item.identifier.as_str().to_owned(),
            version: item.version.as_str().to_owned(),
        }),
        Removal::CodeSystem(cs) => Some(Action::DeleteCodeSystem {
            code_system: cs,
            version: item.version.as_str().to_owned(),
        }),
        Removal::RebuildOnly => None,
    }
}

/// Points every instance at `feed` and restarts it, one after another, waiting for each one's
/// start-up preload: a changed `atom.preload.feedLocation` is read only at start-up, and on a
/// scaled topology the other instances serve meanwhile.
pub(super) fn repoint_in_turn(steps: &mut Vec<Step>, topology: &Topology, feed: &str) {
    for i in topology.instances() {
        preload(steps, i, Some(feed));
    }
}

/// Redoes the preload, or (with `repoint`) points the instance at the feed and restarts it,
/// then waits for the load.
pub(super) fn preload(steps: &mut Vec<Step>, i: &Instance, repoint: Option<&str>) {
    match repoint {
        None => steps.push(step(i, Action::RedoPreload)),
        Some(url) => {
            steps.push(step(
                i,
                Action::SetPreloadFeed {
                    url: url.to_owned(),
                },
            ));
            steps.push(step(i, Action::Stop));
            steps.push(step(i, Action::Start));
        }
    }
    steps.push(step(i, Action::WaitForPreload));
}

pub(super) fn step(i: &Instance, action: Action) -> Step {
    Step {
        instance: i.name.clone(),
        action,
    }
}

/// Every instance is checked for the whole target (everything the candidate offers), not
/// only for the changes, and for the absence of what the release removes.
pub(super) fn verify_all(steps: &mut Vec<Step>, topology: &Topology, delta: &Delta) {
    let present: Vec<Expectation> = delta.target().map(Expectation::from).collect();
    let absent: Vec<Expectation> = delta
        .removed
        .iter()
        .chain(&delta.retracted)
        .map(Expectation::from)
        .collect();
    for i in topology.instances() {
        steps.push(step(
            i,
            Action::Verify {
                present: present.clone(),
                absent: absent.clone(),
            },
        ));
    }
}

pub(super) fn wipe_steps(steps: &mut Vec<Step>, topology: &Topology, feed: Option<&str>) {
    let instances = topology.instances();
    for i in instances {
        steps.push(step(i, Action::Stop));
    }
    for i in instances {
        if let Some(url) = feed {
            steps.push(step(
                i,
                Action::SetPreloadFeed {
                    url: url.to_owned(),
                },
            ));
        }
    }
    let first = topology.update_targets().first().map(|i| i.name.clone());
    match topology.storage() {
        Storage::Persistent => {
            for i in instances {
                steps.push(step(i, Action::ClearDisk));
            }
            // A shared database is dropped once; separate ones each.
            for i in instances {
                if !topology.is_shared() || Some(&i.name) == first.as_ref() {
                    steps.push(step(i, Action::DropSchema));
                }
            }
        }
        Storage::Transient => {
            for i in instances {
                steps.push(step(i, Action::RecreateContainer));
            }
        }
    }
    if topology.is_shared() {
        // One instance loads the shared database before the others start, or they contend
        // for it.
        let (lead, rest): (Vec<&Instance>, Vec<&Instance>) = instances
            .iter()
            .partition(|i| Some(&i.name) == first.as_ref());
        for i in lead {
            steps.push(step(i, Action::Start));
            steps.push(step(i, Action::WaitForPreload));
        }
        for i in rest {
            steps.push(step(i, Action::Start));
            steps.push(step(i, Action::WaitForPreload));
        }
    } else {
        for i in instances {
            steps.push(step(i, Action::Start));
        }
        for i in instances {
            steps.push(step(i, Action::WaitForPreload));
        }
    }
}

pub(super) fn blue_green_steps(
    steps: &mut Vec<Step>,
    topology: &Topology,
    feed: Option<&str>,
    delta: &Delta,
) {
    // New instances start empty: they must hold the whole target before traffic moves.
    let present: Vec<Expectation> = delta.target().map(Expectation::from).collect();
    let absent: Vec<Expectation> = delta
        .removed
        .iter()
        .chain(&delta.retracted)
        .map(Expectation::from)
        .collect();
    let green: Vec<InstanceName> = topology
        .instances()
        .iter()
        .map(|i| InstanceName::new(&format!("{}-green", i.name)).unwrap_or_else(|_| i.name.clone()))
        .collect();
    for g in &green {
        steps.push(Step {
            instance: g.clone(),
            action: Action::CreateInstance,
        });
        if let Some(url) = feed {
            steps.push(Step {
                instance: g.clone(),
                action: Action::SetPreloadFeed {
                    url: url.to_owned(),
                },
            });
        }
        steps.push(Step {
            instance: g.clone(),
            action: Action::Start,
        });
        steps.push(Step {
            instance: g.clone(),
            action: Action::WaitForPreload,
        });
        steps.push(Step {
            instance: g.clone(),
            action: Action::Verify {
                present: present.clone(),
                absent: absent.clone(),
            },
        });
    }
    if let Some(first) = topology.instances().first() {
        steps.push(step(
            first,
            Action::SwitchLoadBalancer { to: green.clone() },
        ));
    }
    for blue in topology.instances() {
        steps.push(step(blue, Action::RetireInstance));
    }
    for g in &green {
        steps.push(Step {
            instance: g.clone(),
            action: Action::Verify {
                present: present.clone(),
                absent: absent.clone(),
            },
        });
    }
}

/// One instance with its own storage rebuilt from `url`: the others keep serving.
pub(super) fn rebuild(steps: &mut Vec<Step>, i: &Instance, url: &str, storage: Storage) {
    steps.push(step(i, Action::Stop));
    steps.push(step(
        i,
        Action::SetPreloadFeed {
            url: url.to_owned(),
        },
    ));
    match storage {
        Storage::Persistent => {
            steps.push(step(i, Action::ClearDisk));
            steps.push(step(i, Action::DropSchema));
        }
        Storage::Transient => steps.push(step(i, Action::RecreateContainer)),
    }
    steps.push(step(i, Action::Start));
    steps.push(step(i, Action::WaitForPreload));
}
