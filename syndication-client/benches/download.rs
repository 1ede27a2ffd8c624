//! Download-and-verify throughput from a local server against raw `sha2` throughput over the
//! same bytes, in the same run. Target (issue: syndication-client): ≥ 0.8× raw SHA-256.
//!
//! Each measured download goes to a fresh destination: removing the previous run's file is
//! done before the clock starts, because replacing a 64 MiB file makes the kernel free its
//! page cache inside `rename` (about 12 ms here), which is the cost of deleting the old file,
//! not of downloading.

use std::hint::black_box;
use std::sync::Arc;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use sha2::Digest;
use syndication_client::{ClientOptions, Downloader, NoAuth};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

mod support;

use support::SIZE;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let body = support::body();
    let hex = support::sha256_hex(&body);
    // The server side costs little CPU, so the measurement is of the client's download path.
    let raw_url = support::raw_server(&rt, &body);
    let server = rt.block_on(async {
        let s = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/index.bin"))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
            .mount(&s)
            .await;
        s
    });
    let link = support::link(format!("{}/index.bin", server.uri()), &hex);
    let (dir, dest) = support::destination("bench");
    let downloader =
        Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing()).expect("downloader");

    let mut group = c.benchmark_group("download");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(SIZE as u64));
    group.bench_function("raw_sha256_in_memory", |b| {
        b.iter(|| sha2::Sha256::digest(black_box(&body)))
    });
    // The transfer alone: what the local server and HTTP stack can deliver on this machine.
    let plain = reqwest::Client::new();
    let url = link.href.clone();
    group.bench_function("transfer_only", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut resp = plain.get(&url).send().await.expect("response");
                let mut n = 0usize;
                while let Some(chunk) = resp.chunk().await.expect("chunk") {
                    n += chunk.len();
                }
                n
            })
        })
    });
    let mut raw_link = link.clone();
    raw_link.href = raw_url;
    for (name, downloader, link) in [
        ("download_and_verify", &downloader, &link),
        ("download_and_verify_raw_server", &downloader, &raw_link),
    ] {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let _ = std::fs::remove_file(&dest);
                },
                |()| {
                    rt.block_on(downloader.download(link, &dest, |_, _| {}))
                        .expect("verified")
                        .bytes
                },
                BatchSize::PerIteration,
            )
        });
    }
    group.finish();
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, bench);
criterion_main!(benches);
