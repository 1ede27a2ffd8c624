//! What the download benches share: the artefact, its digest, and a local HTTP server that
//! costs as little CPU as a server can, so what is measured is the client's download path.

use std::path::PathBuf;
use std::sync::Arc;

use release_model::feed::{Checked, Link, LinkRel, Sha256};
use sha2::Digest;

/// Bytes per artefact: large enough that connection set-up is noise.
pub(crate) const SIZE: usize = 64 << 20;

/// The artefact served: a fixed byte pattern whose period (251 bytes) lines up with no block
/// or chunk size.
pub(crate) fn body() -> Vec<u8> {
    (0..SIZE).map(|i| (i * 31 % 251) as u8).collect()
}

/// The artefact's SHA-256 as lowercase hex, as a feed would publish it.
pub(crate) fn sha256_hex(body: &[u8]) -> String {
    sha2::Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The feed link a download is verified against: the artefact's length and SHA-256.
pub(crate) fn link(href: String, sha256_hex: &str) -> Link {
    let mut link = Link::new(LinkRel::Alternate, href);
    link.length = Some(Checked::Valid(SIZE as u64));
    link.sha256 = Some(Checked::Valid(Sha256::parse(sha256_hex).expect("hex")));
    link
}

/// A fresh directory for one bench run's downloads, and the destination in it.
pub(crate) fn destination(bench: &str) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!("synd-{bench}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let dest = dir.join("index.bin");
    (dir, dest)
}

/// A minimal HTTP/1.1 server on `rt` that answers one request per connection by writing
/// the whole response in one call; the URL of the artefact on it.
pub(crate) fn raw_server(rt: &tokio::runtime::Runtime, body: &[u8]) -> String {
    let mut response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\n\r\n",
        body.len()
    )
    .into_bytes();
    response.extend_from_slice(body);
    let response = Arc::new(response);
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binds");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else {
                    return;
                };
                let response = Arc::clone(&response);
                tokio::spawn(async move {
                    use tokio::io::{AsyncReadExt, AsyncWriteExt};
                    let mut buf = [0u8; 4096];
                    // One request per connection is enough for the benchmark.
                    if sock.read(&mut buf).await.is_ok() {
                        let _ = sock.write_all(&response).await;
                    }
                });
            }
        });
        format!("http://{addr}/index.bin")
    })
}
