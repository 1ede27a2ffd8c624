//! What the executor cannot do through a server's API: the platform the instances run on.

use async_trait::async_trait;
use release_model::deployment::{BaseUrl, InstanceName};
use release_model::plan::Capabilities;

use crate::error::Error;

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
    /// Whether an instance's storage is in the state `wipe` leaves it in (disk empty, schema
    /// empty, container new). Asked only when a run died during that wipe, to decide whether
    /// the resumed run must do it again; without an answer the run stops and asks the
    /// operator ([`Error::Unreconciled`]) rather than repeat a destructive step blindly.
    async fn is_wiped(&self, instance: &InstanceName, wipe: Wipe) -> Result<bool, Error> {
        let _ = wipe;
        not_supported("is-wiped", instance)
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
    /// Told where an instance created by this run, or by the interrupted run it resumes, is
    /// reached, so later steps on it (preload feed, retirement) can name it. Called after
    /// [`create_instance`](Self::create_instance) and, on resume, for each instance the
    /// journal records as created.
    fn instance_created(&self, instance: &InstanceName, base_url: &BaseUrl) {
        let _ = (instance, base_url);
    }
    /// Retires an instance.
    async fn retire_instance(&self, instance: &InstanceName) -> Result<(), Error> {
        not_supported("retire-instance", instance)
    }
    /// What the last infrastructure step on `instance` printed, taken so the journal
    /// records it with the step; `None` when nothing was kept.
    fn take_output(&self, instance: &InstanceName) -> Option<String> {
        let _ = instance;
        None
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

/// A destructive storage step, as [`Infrastructure::is_wiped`] is asked about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Wipe {
    /// The instance's disk was cleared.
    Disk,
    /// The instance's database schema was dropped and recreated.
    Schema,
    /// The instance's container was recreated (transient storage).
    Container,
}

fn not_supported<T>(operation: &'static str, instance: &InstanceName) -> Result<T, Error> {
    Err(Error::NotSupported {
        operation,
        instance: instance.to_string(),
    })
}
