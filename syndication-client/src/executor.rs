//! Carrying out a release plan: network steps through the clients, platform steps through an
//! [`Infrastructure`] you implement, verification by content, and a journal that lets an
//! interrupted run resume where it stopped.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use fhir_security_labels::ReadGrant;
use release_model::deployment::{BaseUrl, Deployment, InstanceName};
use release_model::plan::{Action, Capabilities, Expectation, Plan, Step};
use release_model::resource::ResourceType;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use tracing::Instrument;

use crate::auth::TokenSource;
use crate::error::Error;
use crate::http::ClientOptions;
use crate::terminology::TerminologyClient;

/// The platform a deployment runs on: what the executor cannot do through a server's API.
/// Implement it for your orchestration (Kubernetes, Compose, VMs); the `testkit` feature
/// implements it for the fakes.
///
/// Every operation has a default that answers [`Error::NotSupported`]: implement the ones
/// your platform can do and say so in [`capabilities`](Self::capabilities), which the
/// planner is given (`Policy::with_platform`) so it never plans a step the platform cannot
/// take.
///
/// ```
/// use syndication_client::{async_trait, Error, Infrastructure};
/// use release_model::deployment::InstanceName;
/// use release_model::plan::Capabilities;
///
/// /// Restarts only: no rebuilds, no new instances.
/// struct RestartOnly;
///
/// #[async_trait]
/// impl Infrastructure for RestartOnly {
///     fn capabilities(&self) -> Capabilities {
///         let mut c = Capabilities::none();
///         c.restart = true;
///         c
///     }
///     async fn stop(&self, _: &InstanceName) -> Result<(), Error> { Ok(()) }
///     async fn start(&self, _: &InstanceName) -> Result<(), Error> { Ok(()) }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let name = InstanceName::new("prod-0").unwrap();
/// let err = RestartOnly.clear_disk(&name).await.unwrap_err();
/// assert!(matches!(err, Error::NotSupported { operation: "clear-disk", .. }));
/// # });
/// ```
#[async_trait]
pub trait Infrastructure: Send + Sync {
    /// What this platform can do; [`Capabilities::none`] unless overridden.
    fn capabilities(&self) -> Capabilities {
        Capabilities::none()
    }
    /// Stops an instance.
    async fn stop(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("stop", instance)
    }
    /// Starts an instance (it preloads as it starts).
    async fn start(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("start", instance)
    }
    /// Clears an instance's disk.
    async fn clear_disk(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("clear-disk", instance)
    }
    /// Drops and recreates an instance's database schema.
    async fn drop_schema(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("drop-schema", instance)
    }
    /// Deletes and recreates an instance's container (transient storage).
    async fn recreate_container(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("recreate-container", instance)
    }
    /// Sets `atom.preload.feedLocation`.
    async fn set_preload_feed(&self, instance: &InstanceName, url: &str) -> Result<(), Error> {
        let _ = url;
        not_supported("set-preload-feed", instance)
    }
    /// Creates a new instance and returns its base URL.
    async fn create_instance(&self, instance: &InstanceName) -> Result<BaseUrl, Error> {
        not_supported("create-instance", instance)
    }
    /// Retires an instance.
    async fn retire_instance(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("retire-instance", instance)
    }
    /// Routes the load balancer to these instances.
    async fn switch_load_balancer(&self, to: &[InstanceName]) -> Result<(), Error> {
        Err(Error::NotSupported {
            operation: "switch-load-balancer",
            instance: to
                .iter()
                .map(InstanceName::to_string)
                .collect::<Vec<_>>()
                .join(", "),
        })
    }
}

fn not_supported<T>(operation: &'static str, instance: &InstanceName) -> Result<T, Error> {
    Err(Error::NotSupported {
        operation,
        instance: instance.to_string(),
    })
}

/// How long to keep checking content and waiting for preloads: a number of checks with a
/// pause that doubles after each, up to a ceiling (a full SNOMED CT preload can take hours).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WaitPolicy {
    /// Checks before giving up.
    pub attempts: u32,
    /// The pause after the first check.
    pub interval: Duration,
    /// The longest pause.
    pub max_interval: Duration,
}

impl Default for WaitPolicy {
    fn default() -> Self {
        Self {
            attempts: 30,
            interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(300),
        }
    }
}

impl WaitPolicy {
    /// Checks without pausing (for fakes, whose preloads finish at once).
    pub fn immediate(attempts: u32) -> Self {
        Self {
            attempts,
            interval: Duration::ZERO,
            max_interval: Duration::ZERO,
        }
    }

    /// The pause after check number `attempt` (from 1).
    pub fn pause_after(&self, attempt: u32) -> Duration {
        self.interval
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.max_interval)
    }
}

/// What happened to one step.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Outcome {
    /// The step was carried out.
    Done,
    /// The step failed with this message; the run stopped there.
    Failed {
        /// The error.
        message: String,
    },
}

/// One step's record in the journal.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Record {
    /// The step's number: 1 for the plan's first step, as runbooks and dry runs number them.
    pub step: usize,
    /// The instance.
    pub instance: InstanceName,
    /// The action's name.
    pub action: String,
    /// What happened.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// The record of a run: which steps of which plan are done. Serialise it between runs; a run
/// given a journal resumes after its last completed step.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Journal {
    /// The fingerprint of the plan this journal belongs to (empty before the first run).
    pub plan: String,
    /// How many steps are done, in order: the run resumes at step `completed + 1`.
    pub completed: usize,
    /// Every attempt, failures included.
    pub records: Vec<Record>,
}

impl Journal {
    /// An empty journal.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether every step of `plan` is done.
    pub fn is_finished(&self, plan: &Plan) -> bool {
        self.plan == fingerprint(plan) && self.completed == plan.steps.len()
    }
}

/// The first 16 hex digits of the SHA-256 of the plan's steps as JSON: what the plan does,
/// not its prose, so a plan made again with other rationale or warnings resumes its journal.
fn fingerprint(plan: &Plan) -> String {
    let json = serde_json::to_vec(&plan.steps).unwrap_or_default();
    let digest = release_model::feed::Sha256::from_digest(sha2::Sha256::digest(&json).into());
    digest.as_str()[..16].to_owned()
}

/// Progress reported during a run. Steps are numbered from 1, as runbooks number them.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A step starts.
    Started {
        /// Its number.
        step: usize,
        /// Its instance.
        instance: InstanceName,
        /// Its action.
        action: &'static str,
    },
    /// A step was skipped: the journal records it as done.
    Skipped {
        /// Its number.
        step: usize,
    },
    /// A verification or wait is still not satisfied and will be checked again.
    Waiting {
        /// Its number.
        step: usize,
        /// The attempt just made.
        attempt: u32,
        /// What is still missing.
        detail: String,
    },
    /// A step finished.
    Finished {
        /// Its number.
        step: usize,
    },
}

impl std::fmt::Display for Event {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Event::Started {
                step,
                instance,
                action,
            } => write!(f, "step {step}: {action} on {instance}"),
            Event::Skipped { step } => write!(f, "step {step}: done in an earlier run"),
            Event::Waiting {
                step,
                attempt,
                detail,
            } => write!(f, "step {step}: attempt {attempt}: {detail}"),
            Event::Finished { step } => write!(f, "step {step}: done"),
        }
    }
}

/// Runs plans against a deployment.
pub struct Executor {
    clients: HashMap<InstanceName, Arc<TerminologyClient>>,
    infra: Arc<dyn Infrastructure>,
    tokens: Arc<dyn TokenSource>,
    options: ClientOptions,
    wait: WaitPolicy,
    grants: HashMap<(ResourceType, String), ReadGrant>,
}

impl std::fmt::Debug for Executor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Executor")
            .field("instances", &self.clients.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Executor {
    /// An executor for the instances of `deployment`.
    ///
    /// # Errors
    /// When a client cannot be built for an instance (e.g. plain HTTP not allowed).
    pub fn new(
        deployment: &Deployment,
        tokens: Arc<dyn TokenSource>,
        infra: Arc<dyn Infrastructure>,
        options: ClientOptions,
        wait: WaitPolicy,
    ) -> Result<Self, Error> {
        let mut clients = HashMap::new();
        for i in deployment.topology.instances() {
            let c = TerminologyClient::new(&i.base_url, Arc::clone(&tokens), options.clone())?;
            clients.insert(i.name.clone(), Arc::new(c));
        }
        Ok(Self {
            clients,
            infra,
            tokens,
            options,
            wait,
            grants: HashMap::new(),
        })
    }

    /// Provides the approved grant an `add-labels` step for this resource carries out; steps
    /// without one fail, so read is never granted without an approval.
    pub fn with_grant(mut self, grant: ReadGrant) -> Self {
        let c = grant.approval().content();
        self.grants
            .insert((ResourceType::parse(&c.resource_type), c.id.clone()), grant);
        self
    }

    /// What a run would do, one line per step, without doing it.
    pub fn dry_run(plan: &Plan, journal: &Journal) -> Vec<String> {
        let resume = if journal.plan == fingerprint(plan) {
            journal.completed
        } else {
            0
        };
        plan.steps
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let done = if i < resume { " (done)" } else { "" };
                match s.action.http() {
                    Some(h) => format!(
                        "{:>3}. {} {}: {} {}{done}",
                        i + 1,
                        s.instance,
                        s.action.name(),
                        h.method,
                        h.path
                    ),
                    None => format!("{:>3}. {} {}{done}", i + 1, s.instance, s.action.name()),
                }
            })
            .collect()
    }

    /// Runs `plan`, resuming after the steps `journal` records as done, recording each step.
    ///
    /// # Errors
    /// [`Error::Step`] naming the step, instance and cause when one fails (the journal then
    /// records everything done before it); [`Error::JournalMismatch`] when the journal belongs
    /// to another plan.
    pub async fn run(
        &mut self,
        plan: &Plan,
        journal: &mut Journal,
        mut events: impl FnMut(Event) + Send,
    ) -> Result<(), Error> {
        let fp = fingerprint(plan);
        if journal.plan.is_empty() {
            journal.plan = fp.clone();
        } else if journal.plan != fp {
            return Err(Error::JournalMismatch {
                journal: journal.plan.clone(),
                plan: fp,
            });
        }
        for (i, step) in plan.steps.iter().enumerate() {
            // Steps are numbered from 1 everywhere a person reads them: runbooks, dry runs,
            // events, the journal and errors.
            let number = i + 1;
            if i < journal.completed {
                events(Event::Skipped { step: number });
                continue;
            }
            events(Event::Started {
                step: number,
                instance: step.instance.clone(),
                action: step.action.name(),
            });
            let span = tracing::info_span!("step", number, instance = %step.instance, action = step.action.name());
            let result = self.step(number, step, &mut events).instrument(span).await;
            match result {
                Ok(()) => {
                    journal.records.push(Record {
                        step: number,
                        instance: step.instance.clone(),
                        action: step.action.name().into(),
                        outcome: Outcome::Done,
                    });
                    journal.completed = number;
                    events(Event::Finished { step: number });
                }
                Err(e) => {
                    journal.records.push(Record {
                        step: number,
                        instance: step.instance.clone(),
                        action: step.action.name().into(),
                        outcome: Outcome::Failed {
                            message: e.to_string(),
                        },
                    });
                    return Err(Error::Step {
                        step: number,
                        instance: step.instance.clone(),
                        action: step.action.name(),
                        source: Box::new(e),
                    });
                }
            }
        }
        Ok(())
    }

    fn client(&self, instance: &InstanceName) -> Result<Arc<TerminologyClient>, Error> {
        self.clients
            .get(instance)
            .cloned()
            .ok_or_else(|| Error::Config {
                message: format!("no client for instance {instance}"),
            })
    }

    async fn step(
        &mut self,
        number: usize,
        step: &Step,
        events: &mut (impl FnMut(Event) + Send),
    ) -> Result<(), Error> {
        let who = &step.instance;
        match &step.action {
            Action::RedoPreload => self.client(who)?.redo_preload().await,
            Action::DeleteResource {
                resource_type,
                url,
                version,
            } => {
                self.client(who)?
                    .delete_canonical(resource_type, url, version)
                    .await
            }
            Action::DeleteCodeSystem {
                code_system,
                version,
            } => {
                self.client(who)?
                    .delete_code_system(code_system, version)
                    .await
            }
            Action::Stop => self.infra.stop(who).await,
            Action::Start => self.infra.start(who).await,
            Action::ClearDisk => self.infra.clear_disk(who).await,
            Action::DropSchema => self.infra.drop_schema(who).await,
            Action::RecreateContainer => self.infra.recreate_container(who).await,
            Action::SetPreloadFeed { url } => self.infra.set_preload_feed(who, url).await,
            Action::CreateInstance => {
                let url = self.infra.create_instance(who).await?;
                let c =
                    TerminologyClient::new(&url, Arc::clone(&self.tokens), self.options.clone())?;
                self.clients.insert(who.clone(), Arc::new(c));
                Ok(())
            }
            Action::RetireInstance => self.infra.retire_instance(who).await,
            Action::SwitchLoadBalancer { to } => self.infra.switch_load_balancer(to).await,
            Action::WaitForPreload => self.wait_until_up(number, who, events).await,
            Action::Verify { present, absent } => {
                self.verify(number, who, present, absent, events).await
            }
            Action::AddLabels {
                resource_type, id, ..
            } => {
                let grant = self.grants.get(&(resource_type.clone(), id.clone())).ok_or_else(|| Error::Config {
                    message: format!("no approved grant for {resource_type}/{id}: read is granted only after approval"),
                })?;
                self.client(who)?.grant_read(grant).await.map(drop)
            }
            _ => Err(Error::Config {
                message: format!("unsupported action {}", step.action.name()),
            }),
        }
    }

    async fn pause(&self, attempt: u32) {
        let d = self.wait.pause_after(attempt);
        if !d.is_zero() {
            tokio::time::sleep(d).await;
        }
    }

    async fn wait_until_up(
        &self,
        number: usize,
        who: &InstanceName,
        events: &mut (impl FnMut(Event) + Send),
    ) -> Result<(), Error> {
        let client = self.client(who)?;
        let mut last = None;
        for attempt in 1..=self.wait.attempts.max(1) {
            match client.health().await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    events(Event::Waiting {
                        step: number,
                        attempt,
                        detail: e.to_string(),
                    });
                    last = Some(e);
                    self.pause(attempt).await;
                }
            }
        }
        Err(last.unwrap_or(Error::Config {
            message: "no attempt was made".into(),
        }))
    }

    /// Checks the instance for each expected content item and the absence of removed ones,
    /// redoing the preload when content is missing (the server's feed cache may lag).
    async fn verify(
        &self,
        number: usize,
        who: &InstanceName,
        present: &[Expectation],
        absent: &[Expectation],
        events: &mut (impl FnMut(Event) + Send),
    ) -> Result<(), Error> {
        let client = self.client(who)?;
        let key = |e: &Expectation| format!("{}|{}", e.identifier, e.version);
        let mut missing = Vec::new();
        let mut unexpected = Vec::new();
        for attempt in 1..=self.wait.attempts.max(1) {
            missing.clear();
            unexpected.clear();
            for e in present {
                let s = e.search();
                if !client
                    .has_canonical(&s.resource_type, &s.url, &s.version)
                    .await?
                {
                    missing.push(key(e));
                }
            }
            for e in absent {
                let s = e.search();
                if client
                    .has_canonical(&s.resource_type, &s.url, &s.version)
                    .await?
                {
                    unexpected.push(key(e));
                }
            }
            if missing.is_empty() && unexpected.is_empty() {
                return Ok(());
            }
            events(Event::Waiting {
                step: number,
                attempt,
                detail: format!("missing {missing:?}, still present {unexpected:?}"),
            });
            if !missing.is_empty() {
                // A preload may have read a cached copy of its feed; ask again.
                client.redo_preload().await?;
            }
            self.pause(attempt).await;
        }
        Err(Error::Verification {
            instance: who.to_string(),
            missing,
            unexpected,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_back_off_to_a_ceiling() {
        let w = WaitPolicy {
            attempts: 10,
            interval: Duration::from_secs(5),
            max_interval: Duration::from_secs(30),
        };
        let pauses: Vec<u64> = (1..=5).map(|a| w.pause_after(a).as_secs()).collect();
        assert_eq!(pauses, [5, 10, 20, 30, 30]);
        assert_eq!(WaitPolicy::immediate(3).pause_after(3), Duration::ZERO);
    }
}
