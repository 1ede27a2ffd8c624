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
//!   "syndication": { "base_url": "https://synd.example.org", "alias": "production" },
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
//!       "preload_feed": "https://synd.example.org/alias/production/syndication.xml",
//!       "instances": [
//!         { "name": "prod-0", "base_url": "https://prod-0.tx.example.org" },
//!         { "name": "prod-1", "base_url": "https://prod-1.tx.example.org" }
//!       ]
//!     }
//!   }
//! }"#)?;
//! let production = file.environment("production")?;
//! assert_eq!(production.topology.instances().len(), 2);
//! assert!(production.topology.instances().iter().all(|i| i.role == Role::Production));
//! # Ok::<(), release_model::Error>(())
//! ```

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::deployment::{
    Access, BaseUrl, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage, Topology,
};

/// A deployment file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct SyndicationServer {
    /// Its base URL.
    pub base_url: String,
    /// The alias production preloads, when one is used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

/// OAuth2 client credentials, the secret named by its environment variable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// The feed its instances preload (`atom.preload.feedLocation`), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preload_feed: Option<String>,
    /// Its instances.
    pub instances: Vec<InstanceEntry>,
}

/// One instance of an environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
#[non_exhaustive]
pub struct InstanceEntry {
    /// Its name.
    pub name: String,
    /// Its base URL.
    pub base_url: String,
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
        let d = Deployment::new(env.model, topology);
        Ok(match &env.preload_feed {
            Some(url) => d.with_preload_feed(url.clone()),
            None => d,
        })
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
}
