//! What the download benches share: the artefact, its digest, and a local HTTP server that
//! costs as little CPU as a server can, so what is measured is the client's download path.

use std::sync::Arc;

use sha2::Digest;

/// Bytes per artefact: large enough that connection set-up is noise.
pub(crate) const SIZE: usize = 64 << 20;

/// The artefact served: a fixed, non-repeating-per-block byte pattern.
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
                    if sock.read(&mut buf).await.is_ok() {
                        let _ = sock.write_all(&response).await;
                    }
                });
            }
        });
        format!("http://{addr}/index.bin")
    })
}
