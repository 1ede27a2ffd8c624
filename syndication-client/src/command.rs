//! Infrastructure steps carried out by commands from the deployment file: `kubectl`,
//! `docker compose`, or a script of the operator's.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Mutex;
use std::time::Duration;

use release_model::deployment::{BaseUrl, Deployment, InstanceName};
use release_model::deployment_file::Commands;
use release_model::plan::{Action, Capabilities};

use crate::error::Error;
use crate::executor::{Infrastructure, Wipe};
#[cfg(feature = "postgres")]
use crate::postgres::SchemaReset;

/// How long a command may run when the file sets no `timeout_seconds`.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(600);

/// How much of a command's output is kept (its end, where errors are).
const KEPT_OUTPUT: usize = 4096;

const PLACEHOLDERS: [&str; 5] = ["instance", "base_url", "preload_feed", "instances", "wipe"];

/// Runs each infrastructure step as the command the deployment file gives for it
/// ([`Commands`]): without a shell, every argument with `{instance}`, `{base_url}`,
/// `{preload_feed}` and `{instances}` substituted (so a feed URL with `&` or spaces stays one
/// argument), killed after its timeout. A command that exits non-zero fails its step with its
/// exit status and the end of its output; the output of one that succeeds is kept for the
/// journal ([`Infrastructure::take_output`]).
///
/// Only the steps that have a command are offered to the planner
/// ([`Infrastructure::capabilities`]): with `stop` and `start` alone, releases may restart
/// instances but never rebuild them.
///
/// ```
/// use release_model::deployment::*;
/// use release_model::deployment_file::Commands;
/// use release_model::plan::Action;
/// use syndication_client::{CommandInfrastructure, Infrastructure};
///
/// let mut commands = Commands::default();
/// commands.set_preload_feed = Some(vec![
///     "kubectl".into(), "-n".into(), "tx".into(), "set".into(), "env".into(),
///     "statefulset/{instance}".into(), "ATOM_PRELOAD_FEEDLOCATION={preload_feed}".into(),
/// ]);
/// let prod = Instance::new(InstanceName::new("prod-0")?, BaseUrl::new("https://prod-0.example.org")?,
///     Role::Production, Access::ReadOnly, Storage::Persistent);
/// let deployment = Deployment::new(DeploymentModel::Comprehensive, Topology::single(prod));
/// let infra = CommandInfrastructure::new(commands, &deployment).unwrap();
/// let set = Action::SetPreloadFeed { url: "https://synd.example.org/alias/production/syndication.xml".into() };
/// assert_eq!(
///     infra.command_line(&set, &InstanceName::new("prod-0")?).unwrap(),
///     ["kubectl", "-n", "tx", "set", "env", "statefulset/prod-0",
///      "ATOM_PRELOAD_FEEDLOCATION=https://synd.example.org/alias/production/syndication.xml"]
/// );
/// // No `stop` command: the planner is never offered a restart.
/// assert!(!infra.capabilities().restart);
/// # Ok::<(), release_model::Error>(())
/// ```
#[derive(Debug)]
pub struct CommandInfrastructure {
    commands: Commands,
    /// The deployment's instances.
    #[cfg(feature = "postgres")]
    instances: Vec<InstanceName>,
    /// Their base URLs, and those of instances created since ([`Infrastructure::instance_created`]).
    base_urls: Mutex<HashMap<InstanceName, BaseUrl>>,
    timeout: Duration,
    outputs: Mutex<HashMap<InstanceName, String>>,
    #[cfg(feature = "postgres")]
    databases: HashMap<InstanceName, SchemaReset>,
}

/// The `{…}` placeholders an argument uses.
fn placeholders(arg: &str) -> impl Iterator<Item = &str> {
    arg.split('{')
        .skip(1)
        .filter_map(|rest| rest.split_once('}').map(|(name, _)| name))
}

fn keep_end(text: &str) -> String {
    let text = text.trim_end();
    if text.len() <= KEPT_OUTPUT {
        return text.to_owned();
    }
    let mut start = text.len() - KEPT_OUTPUT;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}

impl CommandInfrastructure {
    /// The commands for the instances of `deployment`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the command of an argument with an unknown placeholder.
    pub fn new(commands: Commands, deployment: &Deployment) -> Result<Self, Error> {
        for (what, argv) in commands.each() {
            for arg in argv {
                if let Some(unknown) = placeholders(arg).find(|p| !PLACEHOLDERS.contains(p)) {
                    return Err(Error::Config {
                        message: format!(
                            "commands.{what}: unknown placeholder {{{unknown}}} in '{arg}' (known: {{instance}}, {{base_url}}, {{preload_feed}}, {{instances}}, {{wipe}})"
                        ),
                    });
                }
            }
        }
        let timeout = commands
            .timeout_seconds
            .map_or(DEFAULT_COMMAND_TIMEOUT, Duration::from_secs);
        Ok(Self {
            #[cfg(feature = "postgres")]
            instances: deployment
                .topology
                .instances()
                .iter()
                .map(|i| i.name.clone())
                .collect(),
            base_urls: Mutex::new(
                deployment
                    .topology
                    .instances()
                    .iter()
                    .map(|i| (i.name.clone(), i.base_url.clone()))
                    .collect(),
            ),
            commands,
            timeout,
            outputs: Mutex::new(HashMap::new()),
            #[cfg(feature = "postgres")]
            databases: HashMap::new(),
        })
    }

    /// The same, resetting `instance`'s schema through its database directly
    /// ([`SchemaReset`]) instead of a `drop_schema` command, and answering whether it is
    /// wiped from the database too.
    #[cfg(feature = "postgres")]
    #[must_use]
    pub fn with_database(mut self, instance: InstanceName, reset: SchemaReset) -> Self {
        self.databases.insert(instance, reset);
        self
    }

    /// Whether every instance's schema is reset through its database.
    fn resets_every_schema(&self) -> bool {
        #[cfg(feature = "postgres")]
        return !self.databases.is_empty()
            && self
                .instances
                .iter()
                .all(|i| self.databases.contains_key(i));
        #[cfg(not(feature = "postgres"))]
        false
    }

    fn template(&self, action: &Action) -> Option<(&'static str, &[String])> {
        let c = &self.commands;
        let (name, argv) = match action {
            Action::Stop => ("stop", &c.stop),
            Action::Start => ("start", &c.start),
            Action::ClearDisk => ("clear_disk", &c.clear_disk),
            Action::DropSchema => ("drop_schema", &c.drop_schema),
            Action::RecreateContainer => ("recreate_container", &c.recreate_container),
            Action::SetPreloadFeed { .. } => ("set_preload_feed", &c.set_preload_feed),
            Action::CreateInstance => ("create_instance", &c.create_instance),
            Action::RetireInstance => ("retire_instance", &c.retire_instance),
            Action::SwitchLoadBalancer { .. } => ("switch_load_balancer", &c.switch_load_balancer),
            _ => return None,
        };
        argv.as_deref().map(|a| (name, a))
    }

    /// `argv` with the placeholders substituted. An instance whose base URL is not known (one
    /// a run creates, before it is created) keeps `{base_url}` as written.
    fn substitute(&self, argv: &[String], instance: &InstanceName, action: &Action) -> Vec<String> {
        let base = self
            .base_url(instance)
            .map_or_else(|| "{base_url}".to_owned(), |b| b.as_str().to_owned());
        let feed = match action {
            Action::SetPreloadFeed { url } => url.clone(),
            _ => String::new(),
        };
        let to = match action {
            Action::SwitchLoadBalancer { to } => to
                .iter()
                .map(InstanceName::as_str)
                .collect::<Vec<_>>()
                .join(","),
            _ => String::new(),
        };
        argv.iter()
            .map(|a| {
                a.replace("{instance}", instance.as_str())
                    .replace("{base_url}", &base)
                    .replace("{preload_feed}", &feed)
                    .replace("{instances}", &to)
            })
            .collect()
    }

    fn base_url(&self, instance: &InstanceName) -> Option<BaseUrl> {
        self.base_urls.lock().ok()?.get(instance).cloned()
    }

    /// `argv` substituted to run: refused when it needs a base URL no instance has.
    fn runnable(
        &self,
        operation: &'static str,
        argv: &[String],
        instance: &InstanceName,
        action: &Action,
    ) -> Result<Vec<String>, Error> {
        if self.base_url(instance).is_none() && argv.iter().any(|a| a.contains("{base_url}")) {
            return Err(Error::Infrastructure {
                instance: instance.to_string(),
                operation,
                message: "the command needs {base_url}, and no base URL is known for this instance: it is not in the deployment and no create-instance step made it".into(),
            });
        }
        Ok(self.substitute(argv, instance, action))
    }

    /// The command `action` on `instance` would run, substituted: what a dry run prints.
    /// An instance the run is still to create shows `{base_url}` unsubstituted.
    /// `None` when the action is no infrastructure step or has no command.
    pub fn command_line(&self, action: &Action, instance: &InstanceName) -> Option<Vec<String>> {
        self.template(action)
            .map(|(_, argv)| self.substitute(argv, instance, action))
    }

    /// Runs `argv` without a shell, killed after the timeout: its exit status and output.
    async fn execute(
        &self,
        operation: &'static str,
        instance: &InstanceName,
        argv: &[String],
    ) -> Result<std::process::Output, Error> {
        let (program, args) = argv.split_first().ok_or_else(|| Error::Config {
            message: format!("the {operation} command is empty"),
        })?;
        let fail = |message: String| Error::Infrastructure {
            instance: instance.to_string(),
            operation,
            message,
        };
        let child = tokio::process::Command::new(program)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| fail(format!("cannot run '{program}': {e}")))?;
        tracing::info!(%instance, operation, command = ?argv, "running");
        tokio::time::timeout(self.timeout, child.wait_with_output())
            .await
            .map_err(|_| {
                fail(format!(
                    "'{program}' did not finish within {} s and was killed",
                    self.timeout.as_secs()
                ))
            })?
            .map_err(|e| fail(format!("'{program}': {e}")))
    }

    async fn run(
        &self,
        operation: &'static str,
        instance: &InstanceName,
        action: &Action,
    ) -> Result<String, Error> {
        let Some((_, template)) = self.template(action) else {
            return Err(Error::NotSupported {
                operation,
                instance: instance.to_string(),
            });
        };
        let argv = self.runnable(operation, template, instance, action)?;
        let output = self.execute(operation, instance, &argv).await?;
        let program = argv.first().map_or("", String::as_str);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let kept = keep_end(&text);
        if !output.status.success() {
            return Err(Error::Infrastructure {
                instance: instance.to_string(),
                operation,
                message: format!(
                    "'{program}' exited with {}{}",
                    output.status,
                    if kept.is_empty() {
                        String::new()
                    } else {
                        format!(": {kept}")
                    }
                ),
            });
        }
        if let Ok(mut outputs) = self.outputs.lock() {
            outputs.insert(instance.clone(), kept);
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

#[async_trait::async_trait]
impl Infrastructure for CommandInfrastructure {
    fn capabilities(&self) -> Capabilities {
        let c = &self.commands;
        let mut caps = Capabilities::none();
        caps.restart = c.stop.is_some() && c.start.is_some();
        caps.clear_disk = c.clear_disk.is_some();
        caps.drop_schema = c.drop_schema.is_some() || self.resets_every_schema();
        caps.recreate_container = c.recreate_container.is_some();
        caps.set_preload_feed = c.set_preload_feed.is_some();
        caps.create_instances = c.create_instance.is_some() && c.retire_instance.is_some();
        caps.switch_load_balancer = c.switch_load_balancer.is_some();
        caps
    }

    async fn stop(&self, instance: &InstanceName) -> Result<(), Error> {
        self.run("stop", instance, &Action::Stop).await.map(drop)
    }

    async fn start(&self, instance: &InstanceName) -> Result<(), Error> {
        self.run("start", instance, &Action::Start).await.map(drop)
    }

    async fn clear_disk(&self, instance: &InstanceName) -> Result<(), Error> {
        self.run("clear-disk", instance, &Action::ClearDisk)
            .await
            .map(drop)
    }

    async fn drop_schema(&self, instance: &InstanceName) -> Result<(), Error> {
        #[cfg(feature = "postgres")]
        if let Some(db) = self.databases.get(instance) {
            return db.reset().await;
        }
        self.run("drop-schema", instance, &Action::DropSchema)
            .await
            .map(drop)
    }

    async fn recreate_container(&self, instance: &InstanceName) -> Result<(), Error> {
        self.run("recreate-container", instance, &Action::RecreateContainer)
            .await
            .map(drop)
    }

    async fn is_wiped(&self, instance: &InstanceName, wipe: Wipe) -> Result<bool, Error> {
        #[cfg(feature = "postgres")]
        if let (Wipe::Schema, Some(db)) = (wipe, self.databases.get(instance)) {
            return db.is_empty().await;
        }
        let Some(template) = &self.commands.is_wiped else {
            return Err(Error::NotSupported {
                operation: "is-wiped",
                instance: instance.to_string(),
            });
        };
        let wipe = match wipe {
            Wipe::Disk => "disk",
            Wipe::Schema => "schema",
            Wipe::Container => "container",
        };
        let argv: Vec<String> = self
            .runnable("is-wiped", template, instance, &Action::Stop)?
            .into_iter()
            .map(|a| a.replace("{wipe}", wipe))
            .collect();
        let status = self.execute("is-wiped", instance, &argv).await?.status;
        let program = argv.first().map_or("", String::as_str);
        match status.code() {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(Error::Infrastructure {
                instance: instance.to_string(),
                operation: "is-wiped",
                message: format!("'{program}' exited with {status}: 0 means wiped, 1 not"),
            }),
        }
    }

    async fn set_preload_feed(&self, instance: &InstanceName, url: &str) -> Result<(), Error> {
        let action = Action::SetPreloadFeed {
            url: url.to_owned(),
        };
        self.run("set-preload-feed", instance, &action)
            .await
            .map(drop)
    }

    async fn create_instance(&self, instance: &InstanceName) -> Result<BaseUrl, Error> {
        let out = self
            .run("create-instance", instance, &Action::CreateInstance)
            .await?;
        let last = out
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("");
        let url = BaseUrl::new(last.trim()).map_err(|e| Error::Infrastructure {
            instance: instance.to_string(),
            operation: "create-instance",
            message: format!(
                "the command's last line of output must be the new instance's base URL: {e}"
            ),
        })?;
        self.instance_created(instance, &url);
        Ok(url)
    }

    fn instance_created(&self, instance: &InstanceName, base_url: &BaseUrl) {
        if let Ok(mut urls) = self.base_urls.lock() {
            urls.insert(instance.clone(), base_url.clone());
        }
    }

    async fn retire_instance(&self, instance: &InstanceName) -> Result<(), Error> {
        self.run("retire-instance", instance, &Action::RetireInstance)
            .await
            .map(drop)
    }

    async fn switch_load_balancer(&self, to: &[InstanceName]) -> Result<(), Error> {
        let Some(first) = to.first() else {
            return Err(Error::Config {
                message: "switch-load-balancer needs an instance to route to".into(),
            });
        };
        let action = Action::SwitchLoadBalancer { to: to.to_vec() };
        self.run("switch-load-balancer", first, &action)
            .await
            .map(drop)
    }

    fn take_output(&self, instance: &InstanceName) -> Option<String> {
        self.outputs.lock().ok()?.remove(instance)
    }
}
