//! A whole deployment of fakes in a few lines: an authorisation server, an authoring server,
//! a syndication server, staging and production instances, and the infrastructure over them.

use std::sync::Arc;

use release_model::deployment::{
    Access, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage, Topology,
};

use super::{
    FakeAuthServer, FakeInfrastructure, FakeSyndicationServer, FakeTerminologyServer, Registry,
};
use crate::{
    ClientCredentials, ClientCredentialsConfig, ClientOptions, ClientSecret, Error, Executor,
    NoAuth, TokenSource, WaitPolicy,
};

/// The client the scenario's authorisation server knows.
pub const PIPELINE_CLIENT: &str = "release-pipeline";
/// Its secret.
pub const PIPELINE_SECRET: &str = "release-pipeline-secret";
/// The authorities its tokens carry: read and write FHIR, syndication and administration.
pub const PIPELINE_AUTHORITIES: &[&str] = &["FHIR_READ", "FHIR_WRITE", "SYND_WRITE", "API_WRITE"];

/// How the instances of one environment are arranged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layout {
    /// One read/write server.
    Single,
    /// Read-only instances, each with its own disk and database.
    ScaledSeparate(usize),
    /// Read-only instances sharing one database, updated through the first.
    ScaledShared(usize),
}

/// Builds a [`Scenario`]. Every environment preloads the authoring server's feed until told
/// otherwise (`set_preload_feeds` on its fakes).
#[derive(Clone, Debug)]
pub struct ScenarioBuilder {
    auth: bool,
    staging: Option<Layout>,
    production: Layout,
    storage: Storage,
}

impl Default for ScenarioBuilder {
    fn default() -> Self {
        Self {
            auth: false,
            staging: None,
            production: Layout::Single,
            storage: Storage::Persistent,
        }
    }
}

impl ScenarioBuilder {
    /// Every server trusts one authorisation server, and clients authenticate as
    /// [`PIPELINE_CLIENT`] with OAuth2 client credentials; without it, clients send no token.
    #[must_use]
    pub fn with_auth(mut self) -> Self {
        self.auth = true;
        self
    }

    /// A staging environment arranged as `layout` (named `staging`, or `staging-0` …).
    #[must_use]
    pub fn staging(mut self, layout: Layout) -> Self {
        self.staging = Some(layout);
        self
    }

    /// The production environment's arrangement (named `prod`, or `prod-0` …).
    #[must_use]
    pub fn production(mut self, layout: Layout) -> Self {
        self.production = layout;
        self
    }

    /// The storage of every staging and production instance.
    #[must_use]
    pub fn storage(mut self, storage: Storage) -> Self {
        self.storage = storage;
        self
    }

    /// Starts every fake.
    ///
    /// # Errors
    /// When a client for the authorisation server cannot be built.
    pub async fn build(self) -> Result<Scenario, Error> {
        let registry = Registry::new();
        let auth = if self.auth {
            let auth = FakeAuthServer::start(3600).await;
            auth.register(PIPELINE_CLIENT, PIPELINE_SECRET, PIPELINE_AUTHORITIES);
            Some(auth)
        } else {
            None
        };
        let authoring = FakeTerminologyServer::start(&registry).await;
        let syndication = FakeSyndicationServer::start(&registry).await;
        if let Some(a) = &auth {
            authoring.trust(a);
        }
        let mut servers = Vec::new();
        let staging = match self.staging {
            Some(layout) => Some(
                self.environment(
                    &registry,
                    auth.as_ref(),
                    &authoring,
                    "staging",
                    layout,
                    Role::Staging,
                    &mut servers,
                )
                .await?,
            ),
            None => None,
        };
        let production = self
            .environment(
                &registry,
                auth.as_ref(),
                &authoring,
                "prod",
                self.production,
                Role::Production,
                &mut servers,
            )
            .await?;
        let tokens: Arc<dyn TokenSource> = match &auth {
            Some(a) => {
                let mut config = ClientCredentialsConfig::new(
                    a.token_url(),
                    PIPELINE_CLIENT,
                    ClientSecret::new(PIPELINE_SECRET),
                );
                config.allow_insecure = true;
                Arc::new(ClientCredentials::new(config)?)
            }
            None => Arc::new(NoAuth),
        };
        let infra = Arc::new(FakeInfrastructure::new(&registry, servers));
        Ok(Scenario {
            registry,
            auth,
            authoring,
            syndication,
            staging,
            production,
            infra,
            tokens,
        })
    }

    /// Starts the instances of one environment, preloading the authoring feed.
    #[allow(clippy::too_many_arguments)]
    async fn environment(
        &self,
        registry: &Registry,
        auth: Option<&FakeAuthServer>,
        authoring: &FakeTerminologyServer,
        prefix: &str,
        layout: Layout,
        role: Role,
        servers: &mut Vec<(String, Arc<FakeTerminologyServer>)>,
    ) -> Result<Deployment, Error> {
        let (names, access): (Vec<String>, Access) = match layout {
            Layout::Single => (vec![prefix.to_owned()], Access::ReadWrite),
            Layout::ScaledSeparate(n) | Layout::ScaledShared(n) => (
                (0..n).map(|i| format!("{prefix}-{i}")).collect(),
                Access::ReadOnly,
            ),
        };
        let feed = authoring.feed_url();
        let mut instances = Vec::new();
        let mut first: Option<Arc<FakeTerminologyServer>> = None;
        for name in names {
            // The instances of a scaled-shared environment serve one store.
            let s = match (&first, layout) {
                (Some(f), Layout::ScaledShared(_)) => {
                    FakeTerminologyServer::start_sharing(registry, f).await
                }
                _ => FakeTerminologyServer::start(registry).await,
            };
            if let Some(a) = auth {
                s.trust(a);
            }
            s.set_read_only(access == Access::ReadOnly);
            // Deployed with the authoring feed as its preload feed: configured, then started.
            // On shared storage only the first instance (writes go through it) preloads; the
            // others serve its store.
            if first.is_none() || !matches!(layout, Layout::ScaledShared(_)) {
                s.set_preload_feeds(vec![feed.clone()]);
            }
            s.start_again();
            let instance_name = InstanceName::new(&name).map_err(|e| Error::Config {
                message: e.to_string(),
            })?;
            instances.push(Instance::new(
                instance_name,
                s.base_url(),
                role,
                access,
                self.storage,
            ));
            let s = Arc::new(s);
            if first.is_none() {
                first = Some(Arc::clone(&s));
            }
            servers.push((name, s));
        }
        Ok(Deployment::new(
            DeploymentModel::AuthoringToProduction,
            topology(layout, instances)?,
        )
        .with_preload_feed(feed))
    }
}

fn topology(layout: Layout, instances: Vec<Instance>) -> Result<Topology, Error> {
    let config = |e: release_model::Error| Error::Config {
        message: e.to_string(),
    };
    match layout {
        Layout::Single => instances
            .into_iter()
            .next()
            .map(Topology::single)
            .ok_or_else(|| Error::Config {
                message: "an environment needs an instance".into(),
            }),
        Layout::ScaledSeparate(_) => Topology::scaled_separate(instances).map_err(config),
        Layout::ScaledShared(_) => {
            let through =
                instances
                    .first()
                    .map(|i| i.name.clone())
                    .ok_or_else(|| Error::Config {
                        message: "an environment needs an instance".into(),
                    })?;
            Topology::scaled_shared(instances, through).map_err(config)
        }
    }
}

/// A deployment of fakes: see [`Scenario::builder`].
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use release_model::delta::{Delta, DeltaItem};
/// use release_model::feed::ContentType;
/// use release_model::plan::{plan, Policy};
/// use syndication_client::testkit::{FakeResource, Layout, Scenario};
/// use syndication_client::Journal;
///
/// let s = Scenario::builder()
///     .with_auth()
///     .staging(Layout::Single)
///     .production(Layout::ScaledSeparate(3))
///     .build()
///     .await
///     .unwrap();
/// s.authoring.add(FakeResource::value_set("vs", "http://example.org/vs", "1.0.0", "2026-11-01"));
/// s.authoring.set_syndicated("ValueSet", "vs", true);
///
/// let mut delta = Delta::default();
/// delta.added.push(DeltaItem::new("http://example.org/vs".into(), "1.0.0".into(), ContentType::FhirValueSet, None));
/// let p = plan(&s.production, &delta, &Policy::default()).unwrap();
/// s.executor(&s.production).unwrap().run(&p, &mut Journal::new(), |_| {}).await.unwrap();
/// for n in ["prod-0", "prod-1", "prod-2"] {
///     assert!(s.infra.server(n).unwrap().content().contains(&("http://example.org/vs".into(), "1.0.0".into())));
/// }
/// # });
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct Scenario {
    /// Where the fakes find each other's documents.
    pub registry: Registry,
    /// The authorisation server, with [`ScenarioBuilder::with_auth`].
    pub auth: Option<FakeAuthServer>,
    /// The authoring server.
    pub authoring: FakeTerminologyServer,
    /// The syndication server.
    pub syndication: FakeSyndicationServer,
    /// The staging environment, when asked for.
    pub staging: Option<Deployment>,
    /// The production environment.
    pub production: Deployment,
    /// The infrastructure over every staging and production instance (find one by name with
    /// [`FakeInfrastructure::server`]).
    pub infra: Arc<FakeInfrastructure>,
    tokens: Arc<dyn TokenSource>,
}

impl Scenario {
    /// A builder: one production server and no authorisation unless asked.
    pub fn builder() -> ScenarioBuilder {
        ScenarioBuilder::default()
    }

    /// The pipeline's tokens (or no token without an authorisation server).
    pub fn tokens(&self) -> Arc<dyn TokenSource> {
        Arc::clone(&self.tokens)
    }

    /// An executor for one environment of the scenario. It waits by the fakes' virtual clock
    /// ([`Registry::clock`]), so a preload that takes minutes passes at once.
    ///
    /// # Errors
    /// As [`Executor::new`].
    pub fn executor(&self, environment: &Deployment) -> Result<Executor, Error> {
        Ok(Executor::new(
            environment,
            self.tokens(),
            self.infra.clone(),
            ClientOptions::for_local_testing(),
            WaitPolicy::virtual_time(),
        )?
        .with_clock(Arc::new(self.registry.clock())))
    }
}
