//! Observing and verifying a release target of 2,000 content items on 5 instances against
//! local fakes, against doing it on one instance in the same run, and against the per-item
//! search verification used before (the baseline). Targets (issue: releases that converge):
//! requests per instance ≤ items/100 + 10; 5 instances ≤ 1.5× the time of one.
//!
//! `cargo bench -p syndication-client --features testkit --bench observe`; figures are in
//! `benches/README.md`.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use release_model::delta::{Delta, DeltaItem};
use release_model::deployment::{
    Access, Deployment, DeploymentModel, Instance, InstanceName, Role, Storage, Topology,
};
use release_model::feed::ContentType;
use release_model::plan::{Action, Expectation, Policy, Step, plan};
use release_model::resource::ResourceType;
use syndication_client::testkit::{
    FakeInfrastructure, FakeResource, FakeTerminologyServer, Registry,
};
use syndication_client::{
    ClientOptions, Executor, Journal, NoAuth, StagingGate, TerminologyClient, WaitPolicy, fan_out,
};

const ITEMS: usize = 2_000;
const INSTANCES: usize = 5;

fn target() -> Vec<(ResourceType, String, &'static str)> {
    (0..ITEMS)
        .map(|i| {
            let t = if i % 2 == 0 {
                ResourceType::ValueSet
            } else {
                ResourceType::CodeSystem
            };
            (t, format!("http://example.org/content/{i}"), "1.0.0")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let registry = Registry::new();
    let items = target();
    let servers: Vec<Arc<FakeTerminologyServer>> = rt.block_on(async {
        let mut v = Vec::new();
        for _ in 0..INSTANCES {
            let s = FakeTerminologyServer::start(&registry).await;
            for (i, (t, url, version)) in items.iter().enumerate() {
                s.add(FakeResource::new(
                    t.as_str(),
                    &format!("r{i}"),
                    url,
                    version,
                    "2026-11-01",
                ));
            }
            v.push(Arc::new(s));
        }
        v
    });
    let names: Vec<InstanceName> = (0..INSTANCES)
        .map(|i| InstanceName::new(&format!("prod-{i}")).expect("valid"))
        .collect();
    let clients: Vec<Arc<TerminologyClient>> = servers
        .iter()
        .map(|s| {
            Arc::new(
                TerminologyClient::new(
                    &s.base_url(),
                    Arc::new(NoAuth),
                    ClientOptions::for_local_testing(),
                )
                .expect("client"),
            )
        })
        .collect();
    let types = [ResourceType::CodeSystem, ResourceType::ValueSet];

    // Requests one observation of one instance makes.
    let before = servers[0].requests();
    let held = rt.block_on(clients[0].holdings(&types)).expect("holdings");
    assert_eq!(held.len(), ITEMS);
    let requests = servers[0].requests() - before;
    println!(
        "observe: {ITEMS} items, {requests} requests per instance (target ≤ {})",
        ITEMS / 100 + 10
    );

    let deployment = |n: usize| {
        let instances: Vec<Instance> = (0..n)
            .map(|i| {
                Instance::new(
                    names[i].clone(),
                    servers[i].base_url(),
                    Role::Production,
                    Access::ReadOnly,
                    Storage::Persistent,
                )
            })
            .collect();
        let topology = if n == 1 {
            Topology::single(instances.into_iter().next().expect("one"))
        } else {
            Topology::scaled_separate(instances).expect("valid")
        };
        Deployment::new(DeploymentModel::Comprehensive, topology)
    };
    let present: Vec<Expectation> = items
        .iter()
        .map(|(t, url, v)| {
            let ct = if *t == ResourceType::ValueSet {
                ContentType::FhirValueSet
            } else {
                ContentType::FhirCodeSystem
            };
            Expectation::from(&DeltaItem::new(url.as_str().into(), (*v).into(), ct, None))
        })
        .collect();
    let verify_plan = |d: &Deployment, n: usize| {
        let mut p = plan(d, &Delta::default(), &Policy::default()).expect("plans");
        p.steps = (0..n)
            .map(|i| {
                Step::new(
                    names[i].clone(),
                    Action::Verify {
                        present: present.clone(),
                        absent: Vec::new(),
                    },
                )
            })
            .collect();
        p
    };
    let infra = Arc::new(FakeInfrastructure::new(&registry, Vec::new()));
    let verify = |d: &Deployment, p: &release_model::plan::Plan| {
        let mut exec = Executor::new(
            d,
            Arc::new(NoAuth),
            infra.clone(),
            ClientOptions::for_local_testing(),
            WaitPolicy::immediate(1),
        )
        .expect("executor")
        // Only verification is measured; the staging gate has its own tests.
        .with_staging(StagingGate::skipped("a benchmark of verification"));
        rt.block_on(exec.run(p, &mut Journal::new(), |_| {}))
            .expect("verified");
    };
    let (one, five) = (deployment(1), deployment(INSTANCES));
    let (p1, p5) = (verify_plan(&one, 1), verify_plan(&five, INSTANCES));

    // On this machine the fakes and the client share its cores, so a page's CPU on both
    // sides bounds what concurrency can win; a server elsewhere answers after a network
    // round trip and its own work, modelled by a delay on every answer.
    for (group, delay) in [
        ("observe_2000", std::time::Duration::ZERO),
        (
            "observe_2000_remote_20ms",
            std::time::Duration::from_millis(20),
        ),
    ] {
        for s in &servers {
            s.set_response_delay(delay);
        }
        let mut g = c.benchmark_group(group);
        g.sample_size(20);
        g.bench_function("holdings/1 instance", |b| {
            b.iter(|| black_box(rt.block_on(clients[0].holdings(&types)).expect("holdings")))
        });
        g.bench_function("holdings/5 instances", |b| {
            b.iter(|| {
                let results = rt.block_on(fan_out(&names, INSTANCES, |n| {
                    let c = Arc::clone(&clients[names.iter().position(|x| *x == n).unwrap_or(0)]);
                    let types = types.clone();
                    async move { c.holdings(&types).await }
                }));
                black_box(results)
            })
        });
        g.bench_function("verify/1 instance", |b| b.iter(|| verify(&one, &p1)));
        g.bench_function("verify/5 instances", |b| b.iter(|| verify(&five, &p5)));
        g.finish();
    }
    for s in &servers {
        s.set_response_delay(std::time::Duration::ZERO);
    }

    // The baseline: one search per item, as verification did before.
    let mut g = c.benchmark_group("observe_2000_baseline");
    g.sample_size(10);
    g.bench_function("per-item search/1 instance", |b| {
        b.iter(|| {
            rt.block_on(async {
                for (t, url, v) in &items {
                    black_box(clients[0].has_canonical(t, url, v).await.expect("search"));
                }
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
