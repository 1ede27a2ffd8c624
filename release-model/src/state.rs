//! What a deployment was seen to hold: for each instance, the content it serves (as the
//! searches that find it), the preload feeds it is configured with and whether a preload is
//! running. The client reads it (`syndication_client::observe`); the planner
//! ([`plan_to_target`](crate::plan::plan_to_target)) decides from it what each instance needs.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::deployment::InstanceName;
use crate::plan::ContentSearch;

/// What one instance was seen to hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct InstanceState {
    /// The content it serves to the caller that read it: a denied read looks like absence,
    /// so it must be read with credentials that may read every label in use.
    pub held: BTreeSet<ContentSearch>,
    /// The feeds its `atom.preload.feedLocation` names (the server does not expose them, so
    /// they come from the deployment's record); empty when not known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preload_feeds: Vec<String>,
    /// Whether a preload was running, where the server says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload_running: Option<bool>,
}

impl InstanceState {
    /// An instance holding `held`, its preload feeds not known.
    pub fn new(held: impl IntoIterator<Item = ContentSearch>) -> Self {
        Self {
            held: held.into_iter().collect(),
            ..Self::default()
        }
    }

    /// The same, configured to preload `feeds`.
    pub fn with_preload_feeds(mut self, feeds: impl IntoIterator<Item = String>) -> Self {
        self.preload_feeds = feeds.into_iter().collect();
        self
    }

    /// The same, with whether a preload was running.
    pub fn with_preload_running(mut self, running: Option<bool>) -> Self {
        self.preload_running = running;
        self
    }

    /// Whether it holds the content `search` finds.
    pub fn holds(&self, search: &ContentSearch) -> bool {
        self.held.contains(search)
    }
}

/// What every instance of a deployment was seen to hold.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DeploymentState {
    /// By instance.
    pub instances: BTreeMap<InstanceName, InstanceState>,
}

impl DeploymentState {
    /// No instance observed yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The same, with `instance` seen as `state`.
    pub fn with(mut self, instance: InstanceName, state: InstanceState) -> Self {
        self.instances.insert(instance, state);
        self
    }

    /// What `instance` was seen to hold.
    pub fn get(&self, instance: &InstanceName) -> Option<&InstanceState> {
        self.instances.get(instance)
    }
}
