//! Observing a deployment: what each instance holds and whether it is preloading, read
//! concurrently with a few requests per instance.

use std::collections::BTreeMap;
use std::sync::Arc;

use release_model::deployment::{Deployment, InstanceName};
use release_model::resource::ResourceType;

use crate::auth::TokenSource;
use crate::error::Error;
use crate::fanout::fan_out;
use crate::http::ClientOptions;
use crate::terminology::{Holdings, TerminologyClient};

/// What one instance was seen to hold.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Observed {
    /// Its content of the types asked for (a paged read per type; see
    /// [`TerminologyClient::holdings`]).
    pub holdings: Holdings,
    /// Whether a preload runs on it, where it says ([`TerminologyClient::preload_running`]).
    pub preload_running: Option<bool>,
}

/// Reads what every instance of `deployment` holds of `types` and whether it is preloading,
/// all instances at once: each instance's own result, so one that fails is reported by name
/// while the others' are kept.
///
/// The preload feed an instance is configured with is not read: Ontoserver does not expose
/// `atom.preload.feedLocation` through its API, so it comes from the deployment's record.
pub async fn observe(
    deployment: &Deployment,
    types: &[ResourceType],
    tokens: Arc<dyn TokenSource>,
    options: &ClientOptions,
) -> BTreeMap<InstanceName, Result<Observed, Error>> {
    let instances = deployment.topology.instances();
    let names: Vec<InstanceName> = instances.iter().map(|i| i.name.clone()).collect();
    fan_out(&names, names.len(), |name| {
        let base = instances
            .iter()
            .find(|i| i.name == name)
            .map(|i| i.base_url.clone());
        let (tokens, options) = (Arc::clone(&tokens), options.clone());
        async move {
            let base = base.ok_or_else(|| Error::Config {
                message: format!("no instance {name}"),
            })?;
            let client = TerminologyClient::new(&base, tokens, options)?;
            let holdings = client.holdings(types).await?;
            let preload_running = client.preload_running().await?;
            Ok(Observed {
                holdings,
                preload_running,
            })
        }
    })
    .await
}
