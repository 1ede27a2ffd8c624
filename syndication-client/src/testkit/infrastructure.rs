//! Infrastructure over the fakes.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use release_model::deployment::BaseUrl;

use super::{FakeTerminologyServer, Registry, lock};

/// [`Infrastructure`](crate::Infrastructure) for fake terminology servers: stop, start (which
/// preloads), wipe, repoint the preload feed, create and retire instances, switch a recorded
/// load balancer.
#[derive(Debug)]
pub struct FakeInfrastructure {
    registry: Registry,
    servers: Mutex<HashMap<String, Arc<FakeTerminologyServer>>>,
    load_balancer: Mutex<Vec<String>>,
}

impl FakeInfrastructure {
    /// Infrastructure for these named servers.
    pub fn new(registry: &Registry, servers: Vec<(String, Arc<FakeTerminologyServer>)>) -> Self {
        let names = servers.iter().map(|(n, _)| n.clone()).collect();
        Self {
            registry: registry.clone(),
            servers: Mutex::new(servers.into_iter().collect()),
            load_balancer: Mutex::new(names),
        }
    }

    /// The server behind an instance name, created ones included.
    pub fn server(&self, name: &str) -> Option<Arc<FakeTerminologyServer>> {
        lock(&self.servers).get(name).cloned()
    }

    /// The instances the load balancer routes to.
    pub fn routed(&self) -> Vec<String> {
        lock(&self.load_balancer).clone()
    }

    fn with(
        &self,
        instance: &release_model::deployment::InstanceName,
        op: &'static str,
        f: impl FnOnce(&FakeTerminologyServer),
    ) -> Result<(), crate::Error> {
        let server =
            self.server(instance.as_str())
                .ok_or_else(|| crate::Error::Infrastructure {
                    instance: instance.to_string(),
                    operation: op,
                    message: "no such instance".into(),
                })?;
        f(&server);
        Ok(())
    }
}

#[async_trait::async_trait]
impl crate::Infrastructure for FakeInfrastructure {
    fn capabilities(&self) -> release_model::plan::Capabilities {
        release_model::plan::Capabilities::all()
    }

    async fn stop(&self, i: &release_model::deployment::InstanceName) -> Result<(), crate::Error> {
        self.with(i, "stop", FakeTerminologyServer::stop)
    }

    async fn start(&self, i: &release_model::deployment::InstanceName) -> Result<(), crate::Error> {
        self.with(i, "start", FakeTerminologyServer::start_again)
    }

    async fn clear_disk(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<(), crate::Error> {
        self.with(i, "clear-disk", FakeTerminologyServer::wipe)
    }

    async fn drop_schema(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<(), crate::Error> {
        self.with(i, "drop-schema", FakeTerminologyServer::wipe)
    }

    async fn recreate_container(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<(), crate::Error> {
        self.with(i, "recreate-container", FakeTerminologyServer::wipe)
    }

    async fn is_wiped(
        &self,
        i: &release_model::deployment::InstanceName,
        _wipe: crate::Wipe,
    ) -> Result<bool, crate::Error> {
        // A fake's disk, schema and container are one store: wiped means it holds nothing.
        let mut wiped = false;
        self.with(i, "is-wiped", |s| wiped = s.is_empty())?;
        Ok(wiped)
    }

    async fn set_preload_feed(
        &self,
        i: &release_model::deployment::InstanceName,
        url: &str,
    ) -> Result<(), crate::Error> {
        self.with(i, "set-preload-feed", |s| {
            s.set_preload_feeds(vec![url.to_owned()])
        })
    }

    async fn create_instance(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<BaseUrl, crate::Error> {
        let server = FakeTerminologyServer::start(&self.registry).await;
        // A new instance is deployed with the configuration of those it replaces: it trusts
        // the same authorisation server and has the same read rules.
        let template = {
            let servers = lock(&self.servers);
            let mut names: Vec<&String> = servers.keys().collect();
            names.sort();
            names.first().and_then(|n| servers.get(*n)).cloned()
        };
        if let Some(t) = template {
            server.adopt_configuration_of(&t);
        }
        // A new instance has nothing until it is started with its preload feed.
        server.stop();
        let url = server.base_url();
        lock(&self.servers).insert(i.to_string(), Arc::new(server));
        Ok(url)
    }

    async fn retire_instance(
        &self,
        i: &release_model::deployment::InstanceName,
    ) -> Result<(), crate::Error> {
        lock(&self.load_balancer).retain(|n| n != i.as_str());
        self.with(i, "retire-instance", FakeTerminologyServer::stop)
    }

    async fn switch_load_balancer(
        &self,
        to: &[release_model::deployment::InstanceName],
    ) -> Result<(), crate::Error> {
        *lock(&self.load_balancer) = to.iter().map(ToString::to_string).collect();
        Ok(())
    }
}
