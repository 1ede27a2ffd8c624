//! The platform adapter a run uses: the one a caller gives, the deployment file's commands and
//! databases, or the servers' API only.

use std::sync::Arc;

use syndication_client::Infrastructure;

use super::{Connected, Services};
use crate::synd::Failure;

/// The infrastructure a run uses: the one given, the deployment file's commands, or none
/// (the servers' API only).
pub(super) fn infrastructure(
    c: &Connected,
    services: &Services,
) -> Result<Arc<dyn Infrastructure>, Failure> {
    if let Some(i) = &services.infrastructure {
        return Ok(Arc::clone(i));
    }
    Ok(match commands_of(c)? {
        Some(infra) => Arc::new(infra),
        None => Arc::new(ApiOnly),
    })
}

/// The environment's commands and databases as an adapter; `None` when it has neither.
pub(super) fn commands_of(
    c: &Connected,
) -> Result<Option<syndication_client::CommandInfrastructure>, Failure> {
    let Some(env) = c.file.environments.get(&c.environment) else {
        return Ok(None);
    };
    let databases = env.instances.iter().any(|i| i.database.is_some());
    let commands = match (&env.commands, databases) {
        (None, false) => return Ok(None),
        (commands, _) => commands.clone().unwrap_or_default(),
    };
    let mut infra = syndication_client::CommandInfrastructure::new(commands, &c.deployment)
        .map_err(|e| format!("{}: {e}", c.shown))?;
    for entry in &env.instances {
        if let Some(db) = &entry.database {
            infra = with_database(infra, c, &entry.name, db)?;
        }
    }
    Ok(Some(infra))
}

/// The adapter resetting `instance`'s schema through its database.
#[cfg(feature = "postgres")]
fn with_database(
    infra: syndication_client::CommandInfrastructure,
    c: &Connected,
    instance: &str,
    db: &release_model::deployment_file::Database,
) -> Result<syndication_client::CommandInfrastructure, Failure> {
    let name = release_model::deployment::InstanceName::new(instance).map_err(|e| e.to_string())?;
    let reset = syndication_client::SchemaReset::from_env(name.clone(), db.clone())
        .map_err(|e| format!("{}: {e}", c.shown))?;
    Ok(infra.with_database(name, reset))
}

/// Without PostgreSQL support a database in the file is refused before anything runs, rather
/// than its schema left to a command that may not exist.
#[cfg(not(feature = "postgres"))]
fn with_database(
    _infra: syndication_client::CommandInfrastructure,
    c: &Connected,
    instance: &str,
    _db: &release_model::deployment_file::Database,
) -> Result<syndication_client::CommandInfrastructure, Failure> {
    Err(format!(
        "{}: instance {instance} names a database, but this synd was built without PostgreSQL \
         support (build it with --features postgres)",
        c.shown
    ))
}

/// No platform adapter: only what the servers' API does (redo the preload, deletes,
/// verification). The planner is told, so it plans nothing else.
struct ApiOnly;

impl Infrastructure for ApiOnly {}
