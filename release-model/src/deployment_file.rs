//! A deployment described in a file an operator writes (JSON): its environments, each with its
//! model, topology, storage and instances, the syndication server and the alias in use, and
//! how to authenticate, with the secret named by the environment variable that holds it, never
//! written in the file. Reading it checks it, and every error says where.
//!
//! ```
//! use release_model::deployment_file::DeploymentFile;
//! use release_model::deployment::Role;
//!
//! let file = DeploymentFile::from_json(r#"{
//!   "syndication": { "base_url": "https://synd.example.org" },
//!   "auth": {
//!     "token_url": "https://auth.example.org/realms/tx/protocol/openid-connect/token",
//!     "client_id": "release-pipeline",
//!     "secret_env": "SYND_CLIENT_SECRET"
//!   },
//!   "environments": {
//!     "production": {
//!       "role": "production",
//!       "model": "comprehensive",
//!       "topology": "scaled-separate",
//!       "storage": "persistent",
//!       "alias": "production",
//!       "candidate": "release-candidate-20261123T0900",
//!       "preload_feed": "https://synd.example.org/alias/production/syndication.xml",
//!       "instances": [
//!         { "name": "prod-0", "base_url": "https://prod-0.tx.example.org",
//!           "preload_cron": "0 0 15 * * *" },
//!         { "name": "prod-1", "base_url": "https://prod-1.tx.example.org" }
//!       ]
//!     }
//!   }
//! }"#)?;
//! let production = file.environment("production")?;
//! assert_eq!(production.topology.instances().len(), 2);
//! assert!(production.topology.instances().iter().all(|i| i.role == Role::Production));
//! // What each instance is configured to preload, and when.
//! let prod_1 = release_model::deployment::InstanceName::new("prod-1")?;
//! assert_eq!(file.preload_feeds("production", &prod_1)?,
//!            ["https://synd.example.org/alias/production/syndication.xml"]);
//! # Ok::<(), release_model::Error>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::deployment::{
    Access, BaseUrl, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage, Topology,
};

/// A deployment file.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct DeploymentFile {
    /// The syndication server release candidates are cut on, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syndication: Option<SyndicationServer>,
    /// How the pipeline authenticates (OAuth2 client credentials), if the servers need it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<Auth>,
    /// The environments by name (`staging`, `production` …).
    pub environments: BTreeMap<String, Environment>,
}

/// The syndication server.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SyndicationServer {
    /// Its base URL.
    pub base_url: String,
}

/// OAuth2 client credentials, the secret named by its environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Auth {
    /// The token endpoint.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The name of the environment variable holding the client secret.
    pub secret_env: String,
    /// Scopes to ask for.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<String>,
}

/// How the instances of one environment are arranged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Layout {
    /// One server.
    Single,
    /// Scaled, each instance with its own disk and database.
    ScaledSeparate,
    /// Scaled, sharing one disk and database (written through one instance).
    ScaledShared,
}

/// One environment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Environment {
    /// What it is for.
    pub role: Role,
    /// The release process in use.
    pub model: DeploymentModel,
    /// How its instances are arranged.
    pub topology: Layout,
    /// Its storage.
    pub storage: Storage,
    /// Whether its instances refuse writes (scaled instances always do).
    #[serde(default)]
    pub read_only: bool,
    /// On shared storage, the instance writes go through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub through: Option<String>,
    /// The feed its instances preload (`atom.preload.feedLocation`), when known; an
    /// instance's own `preload_feeds` take its place.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload_feed: Option<String>,
    /// The alias of the syndication server its instances preload, when they preload one: a
    /// release repoints the alias and redoes the preload instead of repointing instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// The release candidate it was last released (the candidate in use): what a release's
    /// removals are found against.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    /// The service must stay up during releases (no rebuild that takes every instance down).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub zero_downtime: bool,
    /// The commands that carry out infrastructure steps on its instances, when the release
    /// may stop, start, rebuild or repoint them (without them only the servers' API is used).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commands: Option<Commands>,
    /// Its instances.
    pub instances: Vec<InstanceEntry>,
}

/// The commands for an environment's infrastructure steps. Each is a program and its
/// arguments, run without a shell; in every argument `{instance}` is replaced by the
/// instance's name, `{base_url}` by its base URL, `{preload_feed}` by the feed to preload
/// (`set_preload_feed`) and `{instances}` by the instances to route to, comma-separated
/// (`switch_load_balancer`). A step whose command is missing is not planned.
///
/// ```json
/// "commands": {
///   "stop":  ["kubectl", "-n", "tx", "scale", "statefulset/{instance}", "--replicas=0"],
///   "start": ["kubectl", "-n", "tx", "scale", "statefulset/{instance}", "--replicas=1"],
///   "set_preload_feed": ["kubectl", "-n", "tx", "set", "env", "statefulset/{instance}",
///                        "ATOM_PRELOAD_FEEDLOCATION={preload_feed}"],
///   "timeout_seconds": 900
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Commands {
    /// Stops an instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<Vec<String>>,
    /// Starts an instance (it preloads as it starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<Vec<String>>,
    /// Clears an instance's disk (`/var/onto`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clear_disk: Option<Vec<String>>,
    /// Drops and recreates an instance's database schema.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drop_schema: Option<Vec<String>>,
    /// Deletes and recreates an instance's container (transient storage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recreate_container: Option<Vec<String>>,
    /// Points an instance's `atom.preload.feedLocation` at `{preload_feed}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_preload_feed: Option<Vec<String>>,
    /// Exits 0 when an instance's storage is wiped, 1 when not (`{wipe}` is `disk`, `schema`
    /// or `container`): asked only when a run died during a wipe, so a resumed run knows
    /// whether to redo it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_wiped: Option<Vec<String>>,
    /// Creates an instance; its last line of output is the new instance's base URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_instance: Option<Vec<String>>,
    /// Retires an instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_instance: Option<Vec<String>>,
    /// Routes the load balancer to `{instances}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub switch_load_balancer: Option<Vec<String>>,
    /// How long one command may run before it is killed and the step fails (default 600).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
}

impl Commands {
    /// Every command given, by its name in the file.
    pub fn each(&self) -> impl Iterator<Item = (&'static str, &[String])> {
        [
            ("stop", &self.stop),
            ("start", &self.start),
            ("clear_disk", &self.clear_disk),
            ("drop_schema", &self.drop_schema),
            ("recreate_container", &self.recreate_container),
            ("set_preload_feed", &self.set_preload_feed),
            ("is_wiped", &self.is_wiped),
            ("create_instance", &self.create_instance),
            ("retire_instance", &self.retire_instance),
            ("switch_load_balancer", &self.switch_load_balancer),
        ]
        .into_iter()
        .filter_map(|(n, c)| c.as_deref().map(|c| (n, c)))
    }
}

/// One instance of an environment.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InstanceEntry {
    /// Its name.
    pub name: String,
    /// Its base URL.
    pub base_url: String,
    /// The feeds it preloads, when they differ from the environment's `preload_feed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub preload_feeds: Vec<String>,
    /// Its `atom.preload.schedule.cron`, when a scheduled preload is configured on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload_cron: Option<String>,
    /// Its PostgreSQL database, when `drop-schema` resets the schema directly rather than
    /// through a command (instances sharing a store name the same one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub database: Option<Database>,
}

/// A PostgreSQL database whose schema a rebuild resets, the password named by the
/// environment variable that holds it.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct Database {
    /// The host.
    pub host: String,
    /// The port (5432 unless given).
    #[serde(default = "default_port")]
    pub port: u16,
    /// The database.
    pub dbname: String,
    /// The role connected as: the schema's owner, or one that may drop and create it.
    pub user: String,
    /// The name of the environment variable holding the password.
    pub password_env: String,
    /// The schema Ontoserver uses (`public` unless given).
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Whether the connection uses TLS (`require`, the default) or not (`disable`: loopback
    /// and tests only).
    #[serde(default)]
    pub tls: DatabaseTls,
}

fn default_port() -> u16 {
    5432
}

fn default_schema() -> String {
    "public".into()
}

impl Database {
    /// A database at `host:port`, connected to as `user` with the password in
    /// `password_env`, resetting schema `public` over TLS.
    pub fn new(
        host: impl Into<String>,
        port: u16,
        dbname: impl Into<String>,
        user: impl Into<String>,
        password_env: impl Into<String>,
    ) -> Self {
        Self {
            host: host.into(),
            port,
            dbname: dbname.into(),
            user: user.into(),
            password_env: password_env.into(),
            schema: default_schema(),
            tls: DatabaseTls::Require,
        }
    }
}

/// Whether a database connection uses TLS.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum DatabaseTls {
    /// TLS, the server's certificate checked against the web PKI roots.
    #[default]
    Require,
    /// Plain TCP (loopback and tests only).
    Disable,
}

fn invalid(location: impl Into<String>, message: impl Into<String>) -> Error {
    Error::DeploymentFile {
        location: location.into(),
        message: message.into(),
    }
}

impl DeploymentFile {
    /// Reads and checks a deployment file.
    ///
    /// # Errors
    /// [`Error::DeploymentFile`] with the line and column of a syntax error or unknown field
    /// (a secret written in the file is one: only `secret_env` is allowed), or the path of the
    /// field that is wrong (`environments.production.instances[1].base_url`).
    pub fn from_json(text: &str) -> Result<Self, Error> {
        let file: Self = serde_json::from_str(text).map_err(|e| {
            invalid(
                format!("line {}, column {}", e.line(), e.column()),
                e.to_string(),
            )
        })?;
        file.check()?;
        Ok(file)
    }

    fn check(&self) -> Result<(), Error> {
        if self.environments.is_empty() {
            return Err(invalid("environments", "no environment is described"));
        }
        if let Some(s) = &self.syndication {
            BaseUrl::new(&s.base_url)
                .map_err(|e| invalid("syndication.base_url", e.to_string()))?;
        }
        if let Some(a) = &self.auth {
            let name = &a.secret_env;
            let well_formed = name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_uppercase() || c == '_')
                && name
                    .chars()
                    .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
            if !well_formed {
                return Err(invalid(
                    "auth.secret_env",
                    format!(
                        "'{name}' is not an environment variable name (the secret itself never goes in the file)"
                    ),
                ));
            }
        }
        for name in self.environments.keys() {
            self.environment(name)?;
        }
        Ok(())
    }

    /// The environment `name` as a deployment the planner and executor take.
    ///
    /// # Errors
    /// [`Error::DeploymentFile`] naming the field: no such environment, an instance name or
    /// base URL that is not one, names used twice, a scaled topology of one instance, or a
    /// `through` instance that is not among them.
    pub fn environment(&self, name: &str) -> Result<Deployment, Error> {
        let at = format!("environments.{name}");
        let env = self
            .environments
            .get(name)
            .ok_or_else(|| invalid(&at, "no such environment"))?;
        if env.instances.is_empty() {
            return Err(invalid(format!("{at}.instances"), "no instance"));
        }
        let scaled = env.topology != Layout::Single;
        let access = if scaled || env.read_only {
            Access::ReadOnly
        } else {
            Access::ReadWrite
        };
        let mut instances = Vec::new();
        for (i, entry) in env.instances.iter().enumerate() {
            let here = format!("{at}.instances[{i}]");
            let name = InstanceName::new(&entry.name)
                .map_err(|e| invalid(format!("{here}.name"), e.to_string()))?;
            if instances.iter().any(|x: &Instance| x.name == name) {
                return Err(invalid(
                    format!("{here}.name"),
                    format!("'{name}' is named twice"),
                ));
            }
            let base = BaseUrl::new(&entry.base_url)
                .map_err(|e| invalid(format!("{here}.base_url"), e.to_string()))?;
            instances.push(Instance::new(name, base, env.role, access, env.storage));
        }
        let topology = match env.topology {
            Layout::Single if instances.len() > 1 => {
                return Err(invalid(
                    format!("{at}.instances"),
                    "a single topology has one instance",
                ));
            }
            Layout::Single => Topology::single(instances.remove(0)),
            Layout::ScaledSeparate => Topology::scaled_separate(instances)
                .map_err(|e| invalid(format!("{at}.topology"), e.to_string()))?,
            Layout::ScaledShared => {
                let through = env.through.as_deref().ok_or_else(|| {
                    invalid(
                        format!("{at}.through"),
                        "shared storage needs the instance writes go through",
                    )
                })?;
                let through = InstanceName::new(through)
                    .map_err(|e| invalid(format!("{at}.through"), e.to_string()))?;
                Topology::scaled_shared(instances, through)
                    .map_err(|e| invalid(format!("{at}.through"), e.to_string()))?
            }
        };
        if let Some(c) = &env.candidate
            && !c.contains("://")
        {
            crate::deployment::ReleaseCandidateName::parse(c)
                .map_err(|e| invalid(format!("{at}.candidate"), e.to_string()))?;
        }
        if let Some(alias) = &env.alias
            && (alias.is_empty()
                || !alias
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'))
        {
            return Err(invalid(
                format!("{at}.alias"),
                format!("'{alias}' is not an alias name (letters, digits, - and _)"),
            ));
        }
        if let Some(commands) = &env.commands {
            for (what, argv) in commands.each() {
                if argv.first().is_none_or(|p| p.trim().is_empty()) {
                    return Err(invalid(
                        format!("{at}.commands.{what}"),
                        "a command needs a program to run",
                    ));
                }
            }
            if commands.timeout_seconds == Some(0) {
                return Err(invalid(
                    format!("{at}.commands.timeout_seconds"),
                    "a timeout of 0 would kill every command",
                ));
            }
        }
        for (i, entry) in env.instances.iter().enumerate() {
            for (f, feed) in entry.preload_feeds.iter().enumerate() {
                if !feed.contains("://") {
                    return Err(invalid(
                        format!("{at}.instances[{i}].preload_feeds[{f}]"),
                        format!("'{feed}' is not a feed URL"),
                    ));
                }
            }
        }
        let d = Deployment::new(env.model, topology);
        Ok(match &env.preload_feed {
            Some(url) => d.with_preload_feed(url.clone()),
            None => d,
        })
    }
}

impl DeploymentFile {
    fn env(&self, name: &str) -> Result<&Environment, Error> {
        self.environments
            .get(name)
            .ok_or_else(|| invalid(format!("environments.{name}"), "no such environment"))
    }

    /// The feeds `instance` of environment `name` is configured to preload: its own
    /// `preload_feeds`, else the environment's `preload_feed`; empty when not recorded.
    ///
    /// # Errors
    /// [`Error::DeploymentFile`] when there is no such environment or instance.
    pub fn preload_feeds(&self, name: &str, instance: &InstanceName) -> Result<Vec<String>, Error> {
        let env = self.env(name)?;
        let entry = env
            .instances
            .iter()
            .find(|e| e.name == instance.as_str())
            .ok_or_else(|| {
                invalid(
                    format!("environments.{name}.instances"),
                    format!("no instance {instance}"),
                )
            })?;
        Ok(if entry.preload_feeds.is_empty() {
            env.preload_feed.iter().cloned().collect()
        } else {
            entry.preload_feeds.clone()
        })
    }

    /// The release policy environment `name` asks for: zero downtime, and the scheduled
    /// preloads its instances are configured with (on every instance, or on one).
    ///
    /// # Errors
    /// [`Error::DeploymentFile`] when there is no such environment.
    pub fn policy(&self, name: &str) -> Result<crate::plan::Policy, Error> {
        use crate::plan::{Policy, PreloadSchedule};
        let env = self.env(name)?;
        let crons: Vec<(&str, &str)> = env
            .instances
            .iter()
            .filter_map(|e| e.preload_cron.as_deref().map(|c| (e.name.as_str(), c)))
            .collect();
        let schedule = match crons.as_slice() {
            [] => PreloadSchedule::Manual,
            [(instance, cron)] if env.instances.len() > 1 || env.topology == Layout::Single => {
                PreloadSchedule::CronOnOneInstance {
                    expression: (*cron).to_owned(),
                    instance: InstanceName::new(instance)?,
                }
            }
            [(_, cron), ..] => PreloadSchedule::CronOnEveryInstance {
                expression: (*cron).to_owned(),
            },
        };
        Ok(Policy::default()
            .with_zero_downtime(env.zero_downtime)
            .with_preload_schedule(schedule))
    }

    /// Records that environment `name` was released `candidate`, its instances now
    /// preloading `preload_feed` (unchanged when `None`): what the next release is planned
    /// from.
    ///
    /// # Errors
    /// [`Error::DeploymentFile`] when there is no such environment.
    pub fn record_release(
        &mut self,
        name: &str,
        candidate: &str,
        preload_feed: Option<&str>,
    ) -> Result<(), Error> {
        let env = self
            .environments
            .get_mut(name)
            .ok_or_else(|| invalid(format!("environments.{name}"), "no such environment"))?;
        env.candidate = Some(candidate.to_owned());
        if let Some(feed) = preload_feed {
            env.preload_feed = Some(feed.to_owned());
            for i in &mut env.instances {
                i.preload_feeds.clear();
            }
        }
        Ok(())
    }

    /// The file as JSON, as [`DeploymentFile::from_json`] reads it.
    ///
    /// # Errors
    /// [`Error::DeploymentFile`] if it cannot be written as JSON.
    pub fn to_json(&self) -> Result<String, Error> {
        serde_json::to_string_pretty(self)
            .map(|s| s + "\n")
            .map_err(|e| invalid("(whole file)", e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(environment: &str) -> String {
        format!(r#"{{"environments": {{"production": {environment}}}}}"#)
    }

    fn location(text: &str) -> String {
        match DeploymentFile::from_json(text) {
            Err(Error::DeploymentFile { location, .. }) => location,
            other => panic!("expected a located error, got {other:?}"),
        }
    }

    const TWO: &str = r#"[{"name": "prod-0", "base_url": "https://a.example.org"}, {"name": "prod-1", "base_url": "https://b.example.org"}]"#;

    #[test]
    fn errors_say_where() {
        let env = |extra: &str, instances: &str| {
            file(&format!(
                r#"{{"role": "production", "model": "comprehensive", "topology": "scaled-separate", "storage": "persistent"{extra}, "instances": {instances}}}"#
            ))
        };
        assert!(DeploymentFile::from_json(&env("", TWO)).is_ok());
        assert_eq!(
            location("{\n  \"environments\": {,}\n}"),
            "line 2, column 20"
        );
        let bad_url = r#"[{"name": "prod-0", "base_url": "https://a.example.org"}, {"name": "prod-1", "base_url": "not a url"}]"#;
        assert_eq!(
            location(&env("", bad_url)),
            "environments.production.instances[1].base_url"
        );
        let twice = r#"[{"name": "prod-0", "base_url": "https://a.example.org"}, {"name": "prod-0", "base_url": "https://b.example.org"}]"#;
        assert_eq!(
            location(&env("", twice)),
            "environments.production.instances[1].name"
        );
        let shared = |through: &str| {
            file(&format!(
                r#"{{"role": "production", "model": "comprehensive", "topology": "scaled-shared", "storage": "persistent"{through}, "instances": {TWO}}}"#
            ))
        };
        assert_eq!(location(&shared("")), "environments.production.through");
        assert_eq!(
            location(&shared(r#", "through": "prod-9""#)),
            "environments.production.through"
        );
        assert!(DeploymentFile::from_json(&shared(r#", "through": "prod-1""#)).is_ok());
    }

    // The secret is named, never written: a `client_secret` field is refused, with its place.
    #[test]
    fn a_secret_in_the_file_is_refused() {
        let with = |auth: &str| {
            format!(
                r#"{{"auth": {auth}, "environments": {{"p": {{"role": "production", "model": "comprehensive", "topology": "single", "storage": "persistent", "instances": [{{"name": "p", "base_url": "https://p.example.org"}}]}}}}}}"#
            )
        };
        let written = with(
            r#"{"token_url": "https://a.example.org/t", "client_id": "c", "client_secret": "hunter2", "secret_env": "X"}"#,
        );
        let err = DeploymentFile::from_json(&written).expect_err("refused");
        assert!(err.to_string().contains("client_secret"), "{err}");
        assert!(!err.to_string().contains("hunter2"), "{err}");
        let lower = with(
            r#"{"token_url": "https://a.example.org/t", "client_id": "c", "secret_env": "hunter2"}"#,
        );
        assert_eq!(location(&lower), "auth.secret_env");
        let named = with(
            r#"{"token_url": "https://a.example.org/t", "client_id": "c", "secret_env": "SYND_SECRET"}"#,
        );
        assert!(DeploymentFile::from_json(&named).is_ok());
    }

    // A release is recorded so the next one is planned from it, and the file reads back.
    #[test]
    fn a_recorded_release_reads_back() {
        let text = file(
            r#"{"role": "production", "model": "comprehensive", "topology": "scaled-separate", "storage": "persistent", "alias": "production",
                "instances": [{"name": "prod-0", "base_url": "https://a.example.org", "preload_feeds": ["https://old.example.org/feed.xml"], "preload_cron": "0 0 15 * * *"},
                              {"name": "prod-1", "base_url": "https://b.example.org", "preload_cron": "0 0 15 * * *"}]}"#,
        );
        let mut f = DeploymentFile::from_json(&text).expect("valid");
        let prod_0 = InstanceName::new("prod-0").expect("valid");
        let prod_1 = InstanceName::new("prod-1").expect("valid");
        assert_eq!(
            f.preload_feeds("production", &prod_0).expect("known"),
            ["https://old.example.org/feed.xml"]
        );
        assert!(
            f.preload_feeds("production", &prod_1)
                .expect("known")
                .is_empty()
        );
        assert!(matches!(
            f.policy("production").expect("known").preload_schedule,
            crate::plan::PreloadSchedule::CronOnEveryInstance { .. }
        ));
        let alias = "https://synd.example.org/alias/production/syndication.xml";
        f.record_release("production", "release-candidate-20261203T0900", Some(alias))
            .expect("known");
        let again = DeploymentFile::from_json(&f.to_json().expect("writes")).expect("reads");
        assert_eq!(again, f);
        for i in [&prod_0, &prod_1] {
            assert_eq!(
                again.preload_feeds("production", i).expect("known"),
                [alias]
            );
        }
        let bad = text.replace(r#""alias": "production""#, r#""alias": "prod/uction""#);
        assert_eq!(location(&bad), "environments.production.alias");
        let bad = text.replace("https://old.example.org/feed.xml", "old");
        assert_eq!(
            location(&bad),
            "environments.production.instances[0].preload_feeds[0]"
        );
    }
}
