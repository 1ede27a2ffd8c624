//! A release planned from what the deployment holds: the target candidate and the candidate
//! in use read from the syndication server, every instance observed at once, and the plan
//! made by [`plan_to_target`].

use std::collections::BTreeMap;
use std::sync::Arc;

use release_model::deployment::{Deployment, InstanceName, ReleaseCandidate, ReleaseCandidateName};
use release_model::feed::Feed;
use release_model::plan::{Expectation, Plan, Policy, Target, plan_to_target};
use release_model::resource::ResourceType;
use release_model::state::{DeploymentState, InstanceState};

use crate::auth::TokenSource;
use crate::error::Error;
use crate::http::ClientOptions;
use crate::observe::observe;
use crate::syndication::{FeedName, SyndicationClient};

/// What the deployment's record says about one environment, beyond its topology.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Record {
    /// The alias its instances preload, when they preload one.
    pub alias: Option<String>,
    /// The candidate it was last released: a release's removals are what it offered and the
    /// target does not. Without it, only retractions are known to be removed.
    pub in_use: Option<FeedName>,
    /// The feeds each instance is configured to preload (Ontoserver does not expose its
    /// `atom.preload.feedLocation`); an instance missing here preloads the deployment's
    /// `preload_feed`.
    pub preload_feeds: BTreeMap<InstanceName, Vec<String>>,
}

/// A release ready to run.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Prepared {
    /// The plan.
    pub plan: Plan,
    /// What it reaches.
    pub target: Target,
    /// What each instance held when it was planned.
    pub state: DeploymentState,
    /// How many requests observing the instances took, in all.
    pub requests: usize,
}

/// The candidate named `name` (`release-candidate-20261203T0900`), or the one whose feed URL
/// on `syndication` is `name` (`…/feed/release-candidate-20261203T0900/syndication.xml`).
///
/// # Errors
/// [`Error::Config`] when it names no feed of the server, or not a release candidate.
pub fn candidate_name(syndication: &SyndicationClient, name: &str) -> Result<FeedName, Error> {
    let bare = if name.contains("://") {
        name.strip_suffix("/syndication.xml")
            .and_then(|rest| rest.rsplit_once("/feed/"))
            .map(|(_, feed)| feed)
            .filter(|feed| {
                FeedName::new(feed)
                    .and_then(|f| syndication.feed_url(&f))
                    .is_ok_and(|url| url == name)
            })
            .ok_or_else(|| Error::Config {
                message: format!(
                    "{name} is not the feed URL of a candidate on this syndication server"
                ),
            })?
    } else {
        name
    };
    ReleaseCandidateName::parse(bare).map_err(|e| Error::Config {
        message: e.to_string(),
    })?;
    FeedName::new(bare)
}

/// Reads the target candidate `candidate` and the candidate in use from `syndication`,
/// observes every instance of `deployment` (its content of the types the target uses, and
/// whether it preloads), and plans the release that brings each instance to the target.
///
/// An instance that cannot be observed stops the planning, named, since a plan from a guess
/// would not be a plan from its state.
///
/// # Errors
/// The syndication server's errors for the feeds; [`Error::Observe`] naming the instance
/// that could not be read; [`Error::Plan`] when the planner refuses.
pub async fn prepare(
    deployment: &Deployment,
    record: &Record,
    candidate: &FeedName,
    policy: &Policy,
    syndication: &SyndicationClient,
    tokens: Arc<dyn TokenSource>,
    options: &ClientOptions,
) -> Result<Prepared, Error> {
    let name = ReleaseCandidateName::parse(candidate.as_str()).map_err(|e| Error::Config {
        message: e.to_string(),
    })?;
    let target_feed = syndication.feed_xml(candidate).await?;
    let deployed = match &record.in_use {
        Some(f) => syndication.feed_xml(f).await?,
        None => Feed::default(),
    };
    let change = feed_diff::diff(&deployed, &target_feed).to_delta();
    let mut target = Target::new(
        ReleaseCandidate::new(name.clone(), syndication.feed_url(candidate)?),
        change,
    );
    if let Some(alias) = &record.alias {
        target = target.through_alias(syndication.alias_url(alias)?);
    }
    if let Some(in_use) = &record.in_use
        && let Ok(was) = ReleaseCandidateName::parse(in_use.as_str())
        && was.time() > name.time()
    {
        target = target.as_rollback();
    }
    let mut types = vec![
        ResourceType::CodeSystem,
        ResourceType::ValueSet,
        ResourceType::ConceptMap,
    ];
    for item in target
        .change
        .target()
        .chain(&target.change.removed)
        .chain(&target.change.retracted)
    {
        let t = Expectation::from(item).search().resource_type;
        if !types.contains(&t) {
            types.push(t);
        }
    }
    let seen = observe(deployment, &types, tokens, options).await;
    let mut state = DeploymentState::new();
    let mut requests = 0;
    for (instance, result) in seen {
        let o = result.map_err(|e| Error::Observe {
            instance: instance.to_string(),
            source: Box::new(e),
        })?;
        requests += o.holdings.requests;
        let held = o.holdings.iter().map(|(t, u, v)| {
            release_model::plan::ContentSearch::new(t.clone(), u.to_owned(), v.to_owned())
        });
        let mut s = InstanceState::new(held).with_preload_running(o.preload_running);
        if let Some(feeds) = record.preload_feeds.get(&instance) {
            s = s.with_preload_feeds(feeds.iter().cloned());
        }
        state = state.with(instance, s);
    }
    let plan = plan_to_target(deployment, &state, &target, policy).map_err(Error::Plan)?;
    Ok(Prepared {
        plan,
        target,
        state,
        requests,
    })
}
