//! Verified artefact downloads: streamed to a temporary file beside the destination while
//! hashing and counting, checked against the feed link, and only then moved into place.

mod sink;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use md5::Md5;
use release_model::feed::Link;
use sha2::{Digest, Sha256};

use crate::auth::TokenSource;
use crate::error::{Error, ShownUrl};
use crate::http::{ClientOptions, Http, Idempotent, Verb};
use sink::Sink;
pub use sink::WriteMode;

/// Chunks queued for each of the hashing and writing stages. The HTTP stack hands over
/// chunks of up to about 400 KiB, so this absorbs a few milliseconds of a stalled disk or
/// hash while keeping a download's memory under 16 MiB (with the direct-IO blocks) however
/// large the artefact.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Numbers the temporary files of this process's downloads.
static TEMP_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// What a verified download checked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// Where the artefact now is.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: u64,
    /// The SHA-256 of the bytes, lower-case hex.
    pub sha256: String,
    /// Which declared checks passed (`length`, `sha256`, `md5`).
    pub verified: Vec<&'static str>,
}

/// Downloads artefacts named by feed links.
#[derive(Debug)]
pub struct Downloader {
    http: Http,
    write_mode: WriteMode,
}

/// Removes the temporary file unless the download completed.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            // Best effort: the error that made us unwind is the one to report.
            let _ = std::fs::remove_file(p);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Downloader {
    /// A downloader.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(tokens: Arc<dyn TokenSource>, options: ClientOptions) -> Result<Self, Error> {
        Ok(Self {
            http: Http::new(tokens, options)?,
            write_mode: WriteMode::default(),
        })
    }

    /// Sets how downloads are written to disk ([`WriteMode::Direct`] unless set).
    #[must_use]
    pub fn with_write_mode(mut self, mode: WriteMode) -> Self {
        self.write_mode = mode;
        self
    }

    /// Downloads `link.href` to `dest`, verifying its `length` and hashes (SHA-256, and MD5
    /// when there is no SHA-256). Memory stays flat however large the artefact; `progress` is
    /// called with the bytes received so far and the declared length.
    ///
    /// The bytes go to a temporary file beside `dest`, written as the downloader's
    /// [`WriteMode`] says, and synced before they are renamed into place.
    ///
    /// # Errors
    /// [`Error::Integrity`] when the length or a hash does not match, a truncated stream as a
    /// transport error, [`Error::Io`] for local failures; in every case no file is left at
    /// `dest` or beside it.
    pub async fn download(
        &self,
        link: &Link,
        dest: &Path,
        mut progress: impl FnMut(u64, Option<u64>) + Send,
    ) -> Result<Downloaded, Error> {
        let url = reqwest::Url::parse(&link.href).map_err(|e| Error::Config {
            message: format!("href '{}': {e}", link.href),
        })?;
        let shown = ShownUrl(&url).to_string();
        let expected_len = link.length_bytes();
        let resp = self
            .http
            .send(Verb::Get, &url, None, &[], Idempotent::Yes)
            .await?;

        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "artefact".into());
        // Unique per download, so two downloads to one destination never share a file.
        let serial = TEMP_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{serial}.part", std::process::id()));
        let io = |path: &Path, source| Error::Io {
            path: path.display().to_string(),
            source,
        };
        // Guarded before it is created: creating it can fail after the file exists.
        let mut guard = TempGuard(Some(tmp.clone()));
        let sink = Sink::create(&tmp, self.write_mode).map_err(|e| io(&tmp, e))?;

        // Receiving, hashing and writing overlap: the network loop hands each chunk (shared,
        // not copied) to a hashing thread and a writing thread through bounded channels, so
        // memory stays flat and the slowest stage sets the pace.
        let want_md5 = link.sha256().is_none() && link.md5().is_some();
        let (hash_tx, mut hash_rx) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
        let (write_tx, mut write_rx) = tokio::sync::mpsc::channel::<Bytes>(CHUNKS_IN_FLIGHT);
        let hasher = tokio::task::spawn_blocking(move || {
            let mut sha = Sha256::new();
            let mut md5 = want_md5.then(Md5::new);
            while let Some(chunk) = hash_rx.blocking_recv() {
                sha.update(&chunk);
                if let Some(m) = md5.as_mut() {
                    m.update(&chunk);
                }
            }
            (sha.finalize(), md5.map(Md5::finalize))
        });
        let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            let mut sink = sink;
            while let Some(chunk) = write_rx.blocking_recv() {
                sink.write(&chunk)?;
            }
            sink.finish()
        });

        let received: Result<u64, Error> = async {
            let mut written = 0u64;
            let mut stream = resp.bytes_stream();
            while let Some(chunk) = stream.next().await {
                let chunk = chunk.map_err(|e| Error::Transport {
                    method: "GET",
                    url: shown.clone(),
                    message: format!(
                        "download interrupted after {written} bytes: {}",
                        crate::http::transport_message(&e)
                    ),
                    timeout: e.is_timeout(),
                })?;
                written += chunk.len() as u64;
                if let Some(n) = expected_len.filter(|n| written > *n) {
                    return Err(Error::Integrity {
                        url: shown.clone(),
                        what: "length",
                        expected: n.to_string(),
                        actual: format!("more than {n}"),
                    });
                }
                // A closed channel means that stage failed; its error is collected below.
                if hash_tx.send(chunk.clone()).await.is_err() || write_tx.send(chunk).await.is_err()
                {
                    break;
                }
                progress(written, expected_len);
            }
            Ok(written)
        }
        .await;
        drop(hash_tx);
        drop(write_tx);
        let hashed = hasher.await;
        let wrote = writer.await;
        let written = received?;
        let joined = |e: tokio::task::JoinError| Error::Io {
            path: tmp.display().to_string(),
            source: std::io::Error::other(e),
        };
        let (sha_bytes, md5_bytes) = hashed.map_err(joined)?;
        wrote.map_err(joined)?.map_err(|e| io(&tmp, e))?;

        let mut verified = Vec::new();
        if let Some(n) = expected_len {
            if n != written {
                return Err(Error::Integrity {
                    url: shown,
                    what: "length",
                    expected: n.to_string(),
                    actual: written.to_string(),
                });
            }
            verified.push("length");
        }
        if let Some(h) = link.sha256() {
            if !h.matches(&sha_bytes) {
                return Err(Error::Integrity {
                    url: shown,
                    what: "sha256",
                    expected: h.as_str().to_ascii_lowercase(),
                    actual: hex(&sha_bytes),
                });
            }
            verified.push("sha256");
        } else if let (Some(h), Some(md5_bytes)) = (link.md5(), md5_bytes) {
            if !h.matches(&md5_bytes) {
                return Err(Error::Integrity {
                    url: shown,
                    what: "md5",
                    expected: h.as_str().to_ascii_lowercase(),
                    actual: hex(&md5_bytes),
                });
            }
            verified.push("md5");
        }
        std::fs::rename(&tmp, dest).map_err(|e| io(dest, e))?;
        guard.0 = None;
        Ok(Downloaded {
            path: dest.to_path_buf(),
            bytes: written,
            sha256: hex(&sha_bytes),
            verified,
        })
    }
}
