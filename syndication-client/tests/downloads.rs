//! Verified downloads against wiremock servers: whole, verified before they land, and never a
//! partial file left behind.

use std::sync::Arc;

use release_model::feed::{Checked, Link, LinkRel, Md5, Sha256};
use sha2::Digest;
use syndication_client::{ClientOptions, Downloader, Error, IntegrityCheck, NoAuth, RetryPolicy};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

fn link(url: String, length: Option<u64>, sha: Option<String>) -> Link {
    let mut l = Link::new(LinkRel::Alternate, url);
    l.length = length.map(Checked::Valid);
    l.sha256 = sha.map(|s| Checked::Valid(Sha256::parse(&s).expect("hex")));
    l
}

/// A link that declares `body`'s length and SHA-256.
fn link_to(url: String, body: &[u8]) -> Link {
    link(url, Some(body.len() as u64), Some(sha_hex(body)))
}

fn sha_hex(b: &[u8]) -> String {
    sha2::Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn leftovers(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .expect("lists")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect()
}

/// A server answering GET `p` with `body`.
async fn serving(p: &str, body: &[u8]) -> MockServer {
    let srv = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(p))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(body.to_vec()))
        .mount(&srv)
        .await;
    srv
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("synd-client-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

// Larger than the write buffer (1 MiB) many times over and no whole number of disk blocks,
// with one byte changed so a hash over a wrongly ordered or dropped chunk would not match.
#[tokio::test]
async fn a_large_download_lands_whole() {
    let mut body: Vec<u8> = (0..(10usize << 20) + 1234)
        .map(|i| (i % 251) as u8)
        .collect();
    body[9 << 20] ^= 0xff;
    let srv = serving("/index.bin", &body).await;
    {
        let dir = temp_dir("large");
        let d = Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing())
            .expect("downloader");
        let out = d
            .download(
                &link_to(format!("{}/index.bin", srv.uri()), &body),
                &dir.join("index.bin"),
                |_, _| {},
            )
            .await
            .expect("verified");
        assert_eq!(out.bytes, body.len() as u64);
        assert!(
            std::fs::read(dir.join("index.bin")).expect("landed") == body,
            "the bytes served"
        );
        assert_eq!(leftovers(&dir), ["index.bin"]);
    }
}

#[tokio::test]
async fn downloads_are_verified_before_they_land() {
    let body = b"SNOMED CT-AU release bytes".repeat(1000);
    let srv = serving("/a.zip", &body).await;
    let dir = temp_dir("good");
    let d =
        Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing()).expect("downloader");
    let mut seen = 0;
    let out = d
        .download(
            &link_to(format!("{}/a.zip", srv.uri()), &body),
            &dir.join("a.zip"),
            |n, total| {
                seen = n;
                assert_eq!(total, Some(body.len() as u64));
            },
        )
        .await
        .expect("verified");
    assert_eq!(
        out.verified,
        [IntegrityCheck::Length, IntegrityCheck::Sha256]
    );
    assert_eq!(seen, body.len() as u64);
    assert_eq!(std::fs::read(dir.join("a.zip")).expect("landed"), body);
    assert_eq!(leftovers(&dir), ["a.zip"]);
}

#[tokio::test]
async fn wrong_hash_wrong_length_and_md5_leave_nothing_behind() {
    let body = b"index bytes".to_vec();
    let srv = serving("/i.bin", &body).await;
    let d =
        Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing()).expect("downloader");
    let url = format!("{}/i.bin", srv.uri());
    let dir = temp_dir("bad");
    let wrong = "0".repeat(64);
    let err = d
        .download(
            &link(url.clone(), None, Some(wrong.clone())),
            &dir.join("i.bin"),
            |_, _| {},
        )
        .await
        .expect_err("hash");
    assert!(
        matches!(&err, Error::Integrity { what: IntegrityCheck::Sha256, expected, actual, .. } if *expected == wrong && *actual == sha_hex(&body)),
        "{err}"
    );
    let err = d
        .download(
            &link(url.clone(), Some(5), None),
            &dir.join("i.bin"),
            |_, _| {},
        )
        .await
        .expect_err("too long");
    assert!(
        matches!(
            err,
            Error::Integrity {
                what: IntegrityCheck::Length,
                ..
            }
        ),
        "{err}"
    );
    let err = d
        .download(
            &link(url.clone(), Some(500), None),
            &dir.join("i.bin"),
            |_, _| {},
        )
        .await
        .expect_err("too short");
    assert!(
        matches!(&err, Error::Integrity { what: IntegrityCheck::Length, actual, .. } if actual == "11"),
        "{err}"
    );
    let mut md5_link = link(url, None, None);
    md5_link.md5 = Some(Checked::Valid(Md5::parse(&"f".repeat(32)).expect("hex")));
    let err = d
        .download(&md5_link, &dir.join("i.bin"), |_, _| {})
        .await
        .expect_err("md5");
    assert!(
        matches!(
            err,
            Error::Integrity {
                what: IntegrityCheck::Md5,
                ..
            }
        ),
        "{err}"
    );
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

// Each download has a temporary file of its own: two at once to one destination must not
// write into the same one (the hash is over the bytes received, so it would not notice).
#[tokio::test]
async fn concurrent_downloads_to_one_destination_never_mix() {
    let a: Vec<u8> = (0..3usize << 20).map(|i| (i % 251) as u8).collect();
    let b: Vec<u8> = (0..3usize << 20).map(|i| (i % 241) as u8).collect();
    let srv = MockServer::start().await;
    for (p, body) in [("/a.bin", &a), ("/b.bin", &b)] {
        Mock::given(method("GET"))
            .and(path(p))
            .respond_with(ResponseTemplate::new(200).set_body_bytes(body.clone()))
            .mount(&srv)
            .await;
    }
    let dir = temp_dir("concurrent");
    let dest = dir.join("index.bin");
    let d =
        Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing()).expect("downloader");
    let la = link_to(format!("{}/a.bin", srv.uri()), &a);
    let lb = link_to(format!("{}/b.bin", srv.uri()), &b);
    let (ra, rb) = tokio::join!(
        d.download(&la, &dest, |_, _| {}),
        d.download(&lb, &dest, |_, _| {})
    );
    ra.expect("a verified");
    rb.expect("b verified");
    let landed = std::fs::read(&dest).expect("landed");
    assert!(
        landed == a || landed == b,
        "a mixture of both downloads landed"
    );
    assert_eq!(leftovers(&dir), ["index.bin"]);
}

#[tokio::test]
async fn a_truncated_stream_leaves_nothing_behind() {
    // A server that promises 1000 bytes, sends 10 and hangs up.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        if let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = [0u8; 1024];
            let _ = sock.read(&mut buf).await;
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")
                .await;
        }
    });
    let dir = temp_dir("truncated");
    let d = Downloader::new(
        Arc::new(NoAuth),
        ClientOptions::for_local_testing().with_retry(RetryPolicy::none()),
    )
    .expect("downloader");
    let err = d
        .download(
            &link(format!("http://{addr}/x.zip"), Some(1000), None),
            &dir.join("x.zip"),
            |_, _| {},
        )
        .await
        .expect_err("truncated");
    assert!(
        matches!(err, Error::Transport { .. } | Error::Integrity { .. }),
        "{err:?}"
    );
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

// A link with neither length nor hash has nothing to verify a download against: refused
// unless the caller opts in.
#[tokio::test]
async fn a_link_with_nothing_to_verify_is_refused_unless_allowed() {
    let body = b"unverifiable".to_vec();
    let srv = serving("/plain.bin", &body).await;
    let dir = temp_dir("unverifiable");
    let link = Link::new(LinkRel::Alternate, format!("{}/plain.bin", srv.uri()));
    let d =
        Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing()).expect("downloader");
    let err = d
        .download(&link, &dir.join("plain.bin"), |_, _| {})
        .await
        .expect_err("nothing to verify");
    assert!(matches!(err, Error::NothingToVerify { .. }), "{err:?}");
    assert!(leftovers(&dir).is_empty());
    let d = d.allow_unverified(true);
    let got = d
        .download(&link, &dir.join("plain.bin"), |_, _| {})
        .await
        .expect("allowed");
    assert!(got.verified.is_empty());
}

// A process killed mid-download leaves its temporary file; the next download to the same
// destination removes it (its process is gone) and keeps those of running processes.
#[cfg(target_os = "linux")]
#[tokio::test]
async fn temporary_files_of_dead_processes_are_removed() {
    let body = b"fresh".to_vec();
    let srv = serving("/index.bin", &body).await;
    let dir = temp_dir("stale");
    let pid_max: u32 = std::fs::read_to_string("/proc/sys/kernel/pid_max")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4_194_304);
    // No process has the id pid_max: ids stay below it.
    let dead = dir.join(format!(".index.bin.{pid_max}.0.part"));
    let alive = dir.join(format!(".index.bin.{}.999.part", std::process::id()));
    let other = dir.join(format!(".other.bin.{pid_max}.0.part"));
    for f in [&dead, &alive, &other] {
        std::fs::write(f, b"partial").expect("written");
    }
    Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing())
        .expect("downloader")
        .download(
            &link_to(format!("{}/index.bin", srv.uri()), &body),
            &dir.join("index.bin"),
            |_, _| {},
        )
        .await
        .expect("verified");
    assert!(!dead.exists(), "a dead process's temporary file is removed");
    assert!(alive.exists(), "a running process's is kept");
    assert!(other.exists(), "another destination's is not touched");
}

/// A server on a raw socket that answers its `n`-th request with `answer(n, request)`
/// (request head in lower case), and records every request head.
async fn raw_server(
    answer: impl Fn(usize, &str) -> Vec<u8> + Send + Sync + 'static,
) -> (String, Arc<std::sync::Mutex<Vec<String>>>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("binds");
    let addr = listener.local_addr().expect("address");
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut n = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut head = Vec::new();
            let mut buf = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match sock.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(k) => head.extend_from_slice(&buf[..k]),
                }
            }
            let head = String::from_utf8_lossy(&head).to_lowercase();
            log.lock().expect("lock").push(head.clone());
            let _ = sock.write_all(&answer(n, &head)).await;
            let _ = sock.shutdown().await;
            n += 1;
        }
    });
    (format!("http://{addr}/index.bin"), seen)
}

fn artefact() -> Vec<u8> {
    (0..300_000u32).map(|i| (i % 251) as u8).collect()
}

/// The first answer: the whole length promised, the first `sent` bytes sent, then a hang-up.
fn broken_after(body: &[u8], sent: usize) -> Vec<u8> {
    let mut r = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nETag: \"v1\"\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(&body[..sent]);
    r
}

fn ok(body: &[u8]) -> Vec<u8> {
    let mut r = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    r.extend_from_slice(body);
    r
}

// A connection that breaks mid-body is resumed where it broke, with a range request
// conditional on the artefact's ETag; the file is verified over all its bytes.
#[tokio::test]
async fn a_broken_download_resumes_with_a_range_request() {
    let body = artefact();
    let served = body.clone();
    let (url, seen) = raw_server(move |n, _| {
        if n == 0 {
            return broken_after(&served, 100_000);
        }
        let mut r = format!(
            "HTTP/1.1 206 Partial Content\r\nContent-Range: bytes 100000-{}/{}\r\nContent-Length: {}\r\n\r\n",
            served.len() - 1,
            served.len(),
            served.len() - 100_000
        )
        .into_bytes();
        r.extend_from_slice(&served[100_000..]);
        r
    })
    .await;
    let dir = temp_dir("resumed");
    let d = Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing()).expect("d");
    let done = d
        .download(&link_to(url, &body), &dir.join("index.bin"), |_, _| {})
        .await
        .expect("resumed to the end");
    assert_eq!(done.bytes, body.len() as u64);
    assert_eq!(std::fs::read(dir.join("index.bin")).expect("landed"), body);
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(!seen[0].contains("range:"), "{}", seen[0]);
    assert!(seen[1].contains("range: bytes=100000-"), "{}", seen[1]);
    assert!(seen[1].contains("if-range: \"v1\""), "{}", seen[1]);
    assert_eq!(leftovers(&dir), ["index.bin"]);
}

// A server that ignores the range (or whose artefact changed, failing If-Range) sends the
// whole artefact again: the download starts over rather than appending it, and what lands
// is verified against the link.
#[tokio::test]
async fn a_resumed_download_that_gets_the_whole_artefact_starts_over() {
    let body = artefact();
    let served = body.clone();
    let (url, _) = raw_server(move |n, _| {
        if n == 0 {
            broken_after(&served, 100_000)
        } else {
            ok(&served)
        }
    })
    .await;
    let dir = temp_dir("restarted");
    let d = Downloader::new(Arc::new(NoAuth), ClientOptions::for_local_testing()).expect("d");
    d.download(&link_to(url, &body), &dir.join("index.bin"), |_, _| {})
        .await
        .expect("whole");
    assert_eq!(std::fs::read(dir.join("index.bin")).expect("landed"), body);

    // The artefact changed between the two requests: the new bytes fail the link's hash.
    let mut changed = body.clone();
    changed[7] ^= 1;
    let (url, _) = raw_server(move |n, _| {
        if n == 0 {
            broken_after(&changed, 100_000)
        } else {
            ok(&changed)
        }
    })
    .await;
    let dir = temp_dir("changed");
    let err = d
        .download(&link_to(url, &body), &dir.join("index.bin"), |_, _| {})
        .await
        .expect_err("not the artefact the feed describes");
    assert!(
        matches!(
            err,
            Error::Integrity {
                what: IntegrityCheck::Sha256,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}

// Resumes are bounded by the retry policy: a server that breaks every connection fails the
// download with the transport error, and nothing is left behind.
#[tokio::test]
async fn a_download_that_keeps_breaking_gives_up() {
    let body = artefact();
    let served = body.clone();
    let (url, seen) = raw_server(move |_, _| broken_after(&served, 1_000)).await;
    let dir = temp_dir("gives-up");
    let d = Downloader::new(
        Arc::new(NoAuth),
        ClientOptions::for_local_testing().with_retry(RetryPolicy::immediate(3)),
    )
    .expect("d");
    let err = d
        .download(&link_to(url, &body), &dir.join("index.bin"), |_, _| {})
        .await
        .expect_err("never whole");
    assert!(matches!(err, Error::Transport { .. }), "{err:?}");
    assert!(err.to_string().contains("interrupted"), "{err}");
    assert_eq!(seen.lock().expect("lock").len(), 3);
    assert!(leftovers(&dir).is_empty(), "{:?}", leftovers(&dir));
}
