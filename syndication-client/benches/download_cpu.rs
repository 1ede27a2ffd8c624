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
//! The server gets a runtime and a thread of its own here, so that its CPU time can be counted
//! apart. One more thread on the machine makes the wall times here longer than in the
//! `download` bench, which is where the throughput figures come from.
//!
//! Linux only, because it reads `/proc`. Elsewhere it says so and exits.
//!
//! `cargo bench -p syndication-client --bench download_cpu`

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use release_model::feed::{Checked, Link, LinkRel, Sha256};
use sha2::Digest;
use syndication_client::{ClientOptions, Downloader, NoAuth};

mod support;

/// Downloads counted, after the warm-up ones.
const DOWNLOADS: u32 = 40;
const WARM_UP: u32 = 3;
/// Linux reports process and system CPU times in `USER_HZ` ticks, which is 100 on every
/// architecture it supports.
fn ticks(n: u64) -> Duration {
    Duration::from_millis(n * 10)
}
const SERVER_THREAD: &str = "bench-server";

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

/// Time every CPU of the machine spent idle or waiting for IO.
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
    server: Duration,
    idle: Duration,
}

fn measure(mut one: impl FnMut()) -> Cost {
    for _ in 0..WARM_UP {
        one();
    }
    let (p0, s0, i0) = (process_cpu(), threads_cpu(SERVER_THREAD), machine_idle());
    let mut wall = Duration::ZERO;
    for _ in 0..DOWNLOADS {
        let t = Instant::now();
        one();
        wall += t.elapsed();
    }
    let (p1, s1, i1) = (process_cpu(), threads_cpu(SERVER_THREAD), machine_idle());
    Cost {
        wall: wall / DOWNLOADS,
        process: (p1 - p0) / DOWNLOADS,
        server: (s1 - s0) / DOWNLOADS,
        idle: (i1 - i0) / DOWNLOADS,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn report(name: &str, cost: &Cost, raw: Duration) {
    println!(
        "{name:<22} wall {:6.1} ms ({:.2}x raw)   CPU: process {:6.1} ms = server {:5.1} + client {:5.1}   machine idle {:5.1} ms",
        ms(cost.wall),
        raw.as_secs_f64() / cost.wall.as_secs_f64(),
        ms(cost.process),
        ms(cost.server),
        ms(cost.process.saturating_sub(cost.server)),
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

    let mut link = Link::new(LinkRel::Alternate, url.clone());
    link.length = Some(Checked::Valid(support::SIZE as u64));
    link.sha256 = Some(Checked::Valid(Sha256::parse(&hex).expect("hex")));
    let dir = std::env::temp_dir().join(format!("synd-bench-cpu-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let dest = dir.join("index.bin");
    let downloader =
        Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing()).expect("downloader");
    // The server answers one request per connection, so the plain client keeps none open.
    let plain = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("plain client");

    let transfer = measure(|| {
        rt.block_on(async {
            let mut resp = plain.get(&url).send().await.expect("response");
            while let Some(chunk) = resp.chunk().await.expect("chunk") {
                black_box(chunk);
            }
        })
    });
    let download = measure(|| {
        // Removing the last run's file is counted here, in wall and CPU time alike. A file
        // written with direct IO has no page cache to free, so it costs little.
        let _ = std::fs::remove_file(&dest);
        rt.block_on(downloader.download(&link, &dest, |_, _| {}))
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
    let budget = target_wall * cores as u32;
    println!(
        "target 0.8x raw: wall <= {:.1} ms, in which {cores} CPUs give {:.1} ms of CPU; a download and its server take {:.1} ms ({:.0}%)",
        ms(target_wall),
        ms(budget),
        ms(download.process),
        100.0 * download.process.as_secs_f64() / budget.as_secs_f64(),
    );
    // The hash cannot be split, so it holds one CPU for as long as raw SHA-256 takes.
    println!(
        "beside the hash, that leaves {:.1} ms for everything else, which takes {:.1} ms",
        ms(budget.saturating_sub(raw)),
        ms(download.process.saturating_sub(raw)),
    );
}
