//! Where the CPU goes in a download-and-verify, set against what the machine's cores can give.
//!
//! The `download` bench measures wall time. This one counts CPU time. It runs many downloads
//! of one artefact from the local server. For each, it reads the CPU time of the whole process
//! (every thread, including the ones that have exited) and of the server's own thread. These
//! are set against the CPU time the cores provide in the wall time that the 0.8× raw SHA-256
//! target allows.
//!
//! SHA-256 is sequential, so the hash holds one core for as long as raw SHA-256 takes.
//! Everything else has to fit beside it: receiving, copying into aligned blocks, writing, the
//! local server and the kernel's loopback path. When all the work together needs more CPU time
//! than the cores have in the target's time, no scheduling can meet the target on this machine.
//!
//! Downloads are measured twice:
//! - with the server on a runtime and a thread of its own, so that its CPU time can be
//!   counted apart (the extra thread makes these downloads slower);
//! - with the server on the client's runtime, as in the `download` bench. The budget is
//!   judged on this one.
//!
//! The throughput figures come from the `download` bench.
//!
//! Linux only, because it reads `/proc`. Elsewhere it says so and exits.
//!
//! `cargo bench -p syndication-client --bench download_cpu`

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::Digest;
use syndication_client::{ClientOptions, Downloader, NoAuth};

mod support;

/// Downloads counted, after the warm-up ones.
const DOWNLOADS: u32 = 40;
const WARM_UP: u32 = 3;
const SERVER_THREAD: &str = "bench-server";

/// Linux reports process and system CPU times in `USER_HZ` ticks, which is 100 on every
/// architecture it supports.
fn ticks(n: u64) -> Duration {
    Duration::from_millis(n * 10)
}

/// CPU time of the whole process, exited threads included.
fn process_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    // Fields after the command name, which is in parentheses and may hold spaces.
    let after = &stat[stat.rfind(')').expect("command name") + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    let field = |i: usize| fields[i].parse::<u64>().expect("tick count");
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    ticks(field(11) + field(12))
}

/// On-CPU time of the live threads named `name`, to the nanosecond.
fn threads_cpu(name: &str) -> Duration {
    let mut total = Duration::ZERO;
    for task in std::fs::read_dir("/proc/self/task").expect("/proc/self/task") {
        let dir = task.expect("task entry").path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim_end() == name {
            let stat = std::fs::read_to_string(dir.join("schedstat")).unwrap_or_default();
            let ns = stat.split(' ').next().and_then(|n| n.parse().ok());
            total += Duration::from_nanos(ns.unwrap_or(0));
        }
    }
    total
}

/// Time the machine's CPUs spent idle or waiting for IO, summed over the CPUs.
fn machine_idle() -> Duration {
    let stat = std::fs::read_to_string("/proc/stat").expect("/proc/stat");
    let cpu = stat.lines().next().expect("cpu line");
    let fields: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .map(|f| f.parse().expect("tick count"))
        .collect();
    ticks(fields[3] + fields[4])
}

/// What a run of downloads cost, per download.
struct Cost {
    wall: Duration,
    process: Duration,
    /// `None` when the server shares the client's threads.
    server: Option<Duration>,
    idle: Duration,
}

/// Runs `one` after `prepare`, again and again. As in criterion's batched runs, the wall time
/// is of `one` alone; CPU and idle time can only be read around the whole loop, so they
/// include `prepare`.
fn measure(server_apart: bool, mut prepare: impl FnMut(), mut one: impl FnMut()) -> Cost {
    for _ in 0..WARM_UP {
        prepare();
        one();
    }
    let (p0, s0, i0) = (process_cpu(), threads_cpu(SERVER_THREAD), machine_idle());
    let mut wall = Duration::ZERO;
    for _ in 0..DOWNLOADS {
        prepare();
        let t = Instant::now();
        one();
        wall += t.elapsed();
    }
    let (p1, s1, i1) = (process_cpu(), threads_cpu(SERVER_THREAD), machine_idle());
    Cost {
        wall: wall / DOWNLOADS,
        process: p1.saturating_sub(p0) / DOWNLOADS,
        server: server_apart.then(|| s1.saturating_sub(s0) / DOWNLOADS),
        idle: i1.saturating_sub(i0) / DOWNLOADS,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(name: &str, cost: &Cost, raw: Duration) {
    let split = match cost.server {
        Some(server) => format!(
            "= server {:5.1} + client {:5.1}",
            ms(server),
            ms(cost.process.saturating_sub(server))
        ),
        None => "(server and client)        ".to_owned(),
    };
    println!(
        "{name:<22} wall {:6.1} ms ({:.2}x raw)   CPU: process {:6.1} ms {split}   machine idle {:5.1} ms",
        ms(cost.wall),
        raw.as_secs_f64() / cost.wall.as_secs_f64(),
        ms(cost.process),
        ms(cost.idle),
    );
}

fn main() {
    if !Path::new("/proc/self/task").exists() {
        println!("download_cpu reads /proc and runs on Linux only");
        return;
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let body = support::body();
    let hex = support::sha256_hex(&body);
    let raw = (0..5)
        .map(|_| {
            let t = Instant::now();
            black_box(sha2::Sha256::digest(black_box(&body)));
            t.elapsed()
        })
        .min()
        .unwrap_or_default();

    let server_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .thread_name(SERVER_THREAD)
        .enable_all()
        .build()
        .expect("server runtime");
    let url = support::raw_server(&server_rt, &body);
    // The client's runtime is the same as in the `download` bench.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("client runtime");

    let link = support::link(url.clone(), &hex);
    let (dir, dest) = support::destination("bench-cpu");
    let downloader =
        Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing()).expect("downloader");
    // The server answers one request per connection, so the plain client keeps none open.
    let plain = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("plain client");

    let transfer = measure(
        true,
        || {},
        || {
            rt.block_on(async {
                let mut resp = plain.get(&url).send().await.expect("response");
                while let Some(chunk) = resp.chunk().await.expect("chunk") {
                    black_box(chunk);
                }
            })
        },
    );
    // Removing the last run's file is not part of a download, as in the `download` bench.
    let remove = || {
        let _ = std::fs::remove_file(&dest);
    };
    let download = measure(true, remove, || {
        rt.block_on(downloader.download(&link, &dest, |_, _| {}))
            .expect("verified");
    });
    // As the `download` bench has it: the server on the client's runtime. Its CPU time is
    // then the client's, as far as thread names go.
    let shared_link = support::link(support::raw_server(&rt, &body), &hex);
    let shared = measure(false, remove, || {
        rt.block_on(downloader.download(&shared_link, &dest, |_, _| {}))
            .expect("verified");
    });
    let _ = std::fs::remove_dir_all(&dir);

    let target_wall = raw.div_f64(0.8);
    println!(
        "{} MiB per download, {DOWNLOADS} downloads, {cores} CPUs",
        support::SIZE >> 20
    );
    println!("raw SHA-256 in memory  {:6.1} ms", ms(raw));
    report("transfer only", &transfer, raw);
    report("download and verify", &download, raw);
    report("same, shared runtime", &shared, raw);
    // The budget is judged on the shared runtime: that is how the `download` bench, and so
    // the target, is measured.
    let budget = target_wall * cores as u32;
    println!(
        "target 0.8x raw: wall <= {:.1} ms, in which {cores} CPUs give {:.1} ms of CPU; on the shared runtime a download and its server take {:.1} ms ({:.0}%)",
        ms(target_wall),
        ms(budget),
        ms(shared.process),
        100.0 * shared.process.as_secs_f64() / budget.as_secs_f64(),
    );
    // The hash cannot be split, so it holds one CPU for as long as raw SHA-256 takes.
    println!(
        "beside the hash, that leaves {:.1} ms for everything else, which takes {:.1} ms",
        ms(budget.saturating_sub(raw)),
        ms(shared.process.saturating_sub(raw)),
    );
}
