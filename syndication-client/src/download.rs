//! Verified artefact downloads: streamed to a temporary file beside the destination while
//! hashing and counting, checked against the feed link, and only then moved into place.

use std::fmt;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;
use md5::Md5;
use release_model::feed::{self, Link};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::auth::TokenSource;
use crate::error::{Error, ShownUrl};
use crate::http::{ClientOptions, Http, Idempotent, Verb};

/// Chunks queued for each of the hashing and writing stages. The HTTP stack hands over
/// chunks of up to about 400 KiB, so this absorbs a few milliseconds of a stalled disk or
/// hash while keeping a download's memory under 16 MiB however large the artefact.
const CHUNKS_IN_FLIGHT: usize = 16;

/// Bytes gathered before a write to the temporary file.
const WRITE_BUFFER: usize = 1 << 20;

/// Numbers the temporary files of this process's downloads.
static TEMP_SERIAL: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// A check a feed link declares for its artefact.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum IntegrityCheck {
    /// The byte count (`length`).
    Length,
    /// `ncts:sha256Hash`.
    Sha256,
    /// `sct:md5Hash` (checked only when there is no SHA-256).
    Md5,
}

impl IntegrityCheck {
    /// The check's name, as in the link's attribute (`length`, `sha256`, `md5`).
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrityCheck::Length => "length",
            IntegrityCheck::Sha256 => "sha256",
            IntegrityCheck::Md5 => "md5",
        }
    }
}

impl fmt::Display for IntegrityCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a verified download checked.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Downloaded {
    /// Where the artefact now is.
    pub path: PathBuf,
    /// Bytes written.
    pub bytes: u64,
    /// The SHA-256 of the bytes.
    pub sha256: feed::Sha256,
    /// Which declared checks passed.
    pub verified: Vec<IntegrityCheck>,
}

/// One artefact of a feed checked by [`Downloader::verify_artefacts`].
#[derive(Debug)]
#[non_exhaustive]
pub struct ArtefactCheck {
    /// The link's `href`.
    pub href: String,
    /// The verified download, or why it failed ([`Error::Integrity`] names the check).
    pub result: Result<Downloaded, Error>,
}

/// Downloads artefacts named by feed links.
#[derive(Debug)]
pub struct Downloader {
    http: Http,
    allow_unverified: bool,
}

/// Removes the temporary file if the download is dropped before it ends (a cancelled
/// future); every path that returns an error removes it first, without blocking.
struct TempGuard(Option<PathBuf>);

impl Drop for TempGuard {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            // Best effort: the error that made us unwind is the one to report.
            let _ = std::fs::remove_file(p);
        }
    }
}

impl Downloader {
    /// A downloader.
    ///
    /// # Errors
    /// [`Error::Config`] when the HTTP client cannot be built.
    pub fn new(tokens: Arc<dyn TokenSource>, options: ClientOptions) -> Result<Self, Error> {
        Ok(Self {
            http: Http::for_downloads(tokens, options)?,
            allow_unverified: false,
        })
    }

    /// Downloads links that declare neither a length nor a hash too (they are refused
    /// otherwise: there is nothing to verify them against).
    #[must_use]
    pub fn allow_unverified(mut self, allow: bool) -> Self {
        self.allow_unverified = allow;
        self
    }

    /// Downloads `link.href` to `dest`, verifying its `length` and hashes (SHA-256, and MD5
    /// when there is no SHA-256). Memory stays flat however large the artefact; `progress` is
    /// called with the bytes received so far and the declared length.
    ///
    /// Receiving, hashing and writing overlap: the bytes go through buffered writes to a
    /// temporary file beside `dest` on a blocking thread while another thread hashes them,
    /// and the file is synced before it is renamed into place.
    ///
    /// A connection that breaks mid-body is resumed where it broke, as often as the retry
    /// policy allows: a range request (`Range: bytes=N-`) made conditional on the artefact's
    /// strong `ETag` or `Last-Modified` (`If-Range`). A server that answers with the whole
    /// artefact instead (no range support, or the artefact changed) starts the file over;
    /// either way the length and hashes are checked over the whole file.
    ///
    /// # Errors
    /// [`Error::Integrity`] when the length or a hash does not match, a truncated stream as a
    /// transport error, [`Error::Io`] for local failures; in every case no file is left at
    /// `dest` or beside it.
    pub async fn download(
        &self,
        link: &Link,
        dest: &Path,
        progress: impl FnMut(u64, Option<u64>) + Send,
    ) -> Result<Downloaded, Error> {
        let dir = dest
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "artefact".into());
        if !self.allow_unverified
            && link.length_bytes().is_none()
            && link.sha256().is_none()
            && link.md5().is_none()
        {
            return Err(Error::NothingToVerify {
                url: crate::error::shown(&link.href),
            });
        }
        remove_stale_parts(dir, &name).await;
        // Unique per download, so two downloads to one destination never share a file.
        let serial = TEMP_SERIAL.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let tmp = dir.join(format!(".{name}.{}.{serial}.part", std::process::id()));
        // Guarded before it is created: creating it can fail after the file exists.
        let mut guard = TempGuard(Some(tmp.clone()));
        let result = self.fetch_verified(link, &tmp, progress).await;
        let result = match result {
            Ok(done) => match tokio::fs::rename(&tmp, dest).await {
                // The rename is durable only once the folder holding it is synced.
                Ok(()) => sync_dir(dir)
                    .await
                    .map(|()| done)
                    .map_err(|e| io_error(dir, e)),
                Err(e) => Err(io_error(dest, e)),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok((bytes, sha256, verified)) => {
                guard.0 = None;
                Ok(Downloaded {
                    path: dest.to_path_buf(),
                    bytes,
                    sha256,
                    verified,
                })
            }
            Err(e) => {
                // The error is the one to report; a file that cannot be removed is left to
                // the guard's last try.
                if tokio::fs::remove_file(&tmp).await.is_ok() {
                    guard.0 = None;
                }
                Err(e)
            }
        }
    }

    /// Downloads and verifies every artefact a feed offers (each entry's primary link;
    /// retractions have none to load) into `dir`, one after another, and reports each by its
    /// `href`: run it on a release candidate before the release, so that an artefact that no
    /// longer matches its hash stops the release before any instance is touched, named as
    /// what it is. The verified files stay in `dir` for the caller to keep or remove.
    pub async fn verify_artefacts(&self, feed: &feed::Feed, dir: &Path) -> Vec<ArtefactCheck> {
        let mut checks = Vec::new();
        for (i, entry) in feed.entries.iter().enumerate() {
            if entry.is_retraction() {
                continue;
            }
            let Some(link) = entry.alternate_link() else {
                continue;
            };
            let dest = dir.join(format!("{i}.artefact"));
            let result = self.download(link, &dest, |_, _| {}).await;
            checks.push(ArtefactCheck {
                href: link.href.clone(),
                result,
            });
        }
        checks
    }

    /// Streams the artefact into `tmp` and checks it: the byte count, the SHA-256 of the
    /// bytes and the checks that passed.
    async fn fetch_verified(
        &self,
        link: &Link,
        tmp: &Path,
        mut progress: impl FnMut(u64, Option<u64>) + Send,
    ) -> Result<(u64, feed::Sha256, Vec<IntegrityCheck>), Error> {
        let url = reqwest::Url::parse(&link.href).map_err(|e| Error::Config {
            message: format!("href '{}': {e}", link.href),
        })?;
        let shown = ShownUrl(&url).to_string();
        let expected_len = link.length_bytes();
        let resp = self
            .http
            .send(Verb::Get, &url, None, &[], Idempotent::Yes)
            .await?;

        let want_md5 = link.sha256().is_none() && link.md5().is_some();
        let (hash_tx, mut hash_rx) = tokio::sync::mpsc::channel::<Piece>(CHUNKS_IN_FLIGHT);
        let (write_tx, mut write_rx) = tokio::sync::mpsc::channel::<Piece>(CHUNKS_IN_FLIGHT);
        let hasher = tokio::task::spawn_blocking(move || {
            let mut sha = Sha256::new();
            let mut md5 = want_md5.then(Md5::new);
            while let Some(piece) = hash_rx.blocking_recv() {
                match piece {
                    Piece::Bytes(chunk) => {
                        sha.update(&chunk);
                        if let Some(m) = md5.as_mut() {
                            m.update(&chunk);
                        }
                    }
                    Piece::Restart => {
                        sha = Sha256::new();
                        md5 = want_md5.then(Md5::new);
                    }
                }
            }
            (sha.finalize(), md5.map(Md5::finalize))
        });
        let path = tmp.to_path_buf();
        let writer = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            use std::io::{Seek, SeekFrom};
            let mut file = BufWriter::with_capacity(WRITE_BUFFER, File::create(&path)?);
            while let Some(piece) = write_rx.blocking_recv() {
                match piece {
                    Piece::Bytes(chunk) => file.write_all(&chunk)?,
                    Piece::Restart => {
                        file.flush()?;
                        file.get_mut().set_len(0)?;
                        file.get_mut().seek(SeekFrom::Start(0))?;
                    }
                }
            }
            file.into_inner().map_err(|e| e.into_error())?.sync_all()
        });

        let received: Result<u64, Error> = async {
            let mut written = 0u64;
            // What identifies this version of the artefact, so a resumed request gets the
            // rest of the same bytes or, if it changed, the whole new artefact.
            let validator = resume_validator(&resp);
            let mut resp = resp;
            let mut resumes = 0u32;
            'body: loop {
                let mut stream = resp.bytes_stream();
                while let Some(chunk) = stream.next().await {
                    let chunk = match chunk {
                        Ok(chunk) => chunk,
                        Err(e) => {
                            let broken = Error::Transport {
                                method: "GET",
                                url: shown.clone(),
                                message: format!(
                                    "download interrupted after {written} bytes: {}",
                                    crate::http::transport_message(&e)
                                ),
                                timeout: e.is_timeout(),
                            };
                            resumes += 1;
                            if resumes >= self.http.options.retry.max_attempts {
                                return Err(broken);
                            }
                            let delay = self.http.options.retry.delay(resumes, None, crate::http::jitter());
                            tracing::warn!(written, resumes, error = %broken, "resuming the download");
                            if !delay.is_zero() {
                                tokio::time::sleep(delay).await;
                            }
                            let (next, from) = self
                                .resume(&url, written, validator.as_ref())
                                .await?;
                            if from == 0 && written > 0 {
                                // The server sent the whole artefact again: start over.
                                written = 0;
                                if hash_tx.send(Piece::Restart).await.is_err()
                                    || write_tx.send(Piece::Restart).await.is_err()
                                {
                                    break 'body;
                                }
                            }
                            resp = next;
                            continue 'body;
                        }
                    };
                    written += chunk.len() as u64;
                    if let Some(n) = expected_len.filter(|n| written > *n) {
                        return Err(Error::Integrity {
                            url: shown.clone(),
                            what: IntegrityCheck::Length,
                            expected: n.to_string(),
                            actual: format!("more than {n}"),
                        });
                    }
                    // A closed channel means that stage failed; its error is collected below.
                    if hash_tx.send(Piece::Bytes(chunk.clone())).await.is_err()
                        || write_tx.send(Piece::Bytes(chunk)).await.is_err()
                    {
                        break 'body;
                    }
                    progress(written, expected_len);
                }
                break 'body;
            }
            Ok(written)
        }
        .await;
        drop(hash_tx);
        drop(write_tx);
        let hashed = hasher.await;
        let wrote = writer.await;
        let written = received?;
        let joined = |e: tokio::task::JoinError| io_error(tmp, std::io::Error::other(e));
        let (sha_bytes, md5_bytes) = hashed.map_err(joined)?;
        wrote.map_err(joined)?.map_err(|e| io_error(tmp, e))?;
        let sha256 = feed::Sha256::from_digest(sha_bytes.into());

        let mut verified = Vec::new();
        if let Some(n) = expected_len {
            if n != written {
                return Err(Error::Integrity {
                    url: shown,
                    what: IntegrityCheck::Length,
                    expected: n.to_string(),
                    actual: written.to_string(),
                });
            }
            verified.push(IntegrityCheck::Length);
        }
        if let Some(h) = link.sha256() {
            if !h.matches(&sha_bytes) {
                return Err(Error::Integrity {
                    url: shown,
                    what: IntegrityCheck::Sha256,
                    expected: h.as_str().to_ascii_lowercase(),
                    actual: sha256.as_str().to_owned(),
                });
            }
            verified.push(IntegrityCheck::Sha256);
        } else if let (Some(h), Some(md5_bytes)) = (link.md5(), md5_bytes) {
            if !h.matches(&md5_bytes) {
                return Err(Error::Integrity {
                    url: shown,
                    what: IntegrityCheck::Md5,
                    expected: h.as_str().to_ascii_lowercase(),
                    actual: feed::Md5::from_digest(md5_bytes.into()).as_str().to_owned(),
                });
            }
            verified.push(IntegrityCheck::Md5);
        }
        Ok((written, sha256, verified))
    }
}

/// What the hashing and writing stages are given.
enum Piece {
    /// The next bytes of the artefact.
    Bytes(Bytes),
    /// The artefact starts again from its first byte (a server that answered a range request
    /// with the whole artefact).
    Restart,
}

/// The validator a range request can be made conditional on (`If-Range`): a strong `ETag`,
/// else `Last-Modified`. Weak entity tags cannot be used with ranges.
fn resume_validator(resp: &reqwest::Response) -> Option<reqwest::header::HeaderValue> {
    let h = resp.headers();
    h.get(reqwest::header::ETAG)
        .filter(|v| !v.as_bytes().starts_with(b"W/"))
        .or_else(|| h.get(reqwest::header::LAST_MODIFIED))
        .cloned()
}

/// The first byte a `206` answer's `Content-Range` (`bytes 100-199/200`) covers.
fn range_start(resp: &reqwest::Response) -> Option<u64> {
    let v = resp
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    let range = v.trim().strip_prefix("bytes ")?;
    range.split(['-', '/']).next()?.trim().parse().ok()
}

impl Downloader {
    /// Asks for the artefact from byte `from` on, after a broken connection; returns the
    /// answer and where its body starts (0 when the server sends the whole artefact).
    ///
    /// Without a validator the request is not conditional, so only an answer whose range
    /// starts where asked is appended to; the hash over the whole file still decides.
    async fn resume(
        &self,
        url: &reqwest::Url,
        from: u64,
        validator: Option<&reqwest::header::HeaderValue>,
    ) -> Result<(reqwest::Response, u64), Error> {
        use reqwest::header::{HeaderName, HeaderValue, IF_RANGE, RANGE};
        let mut headers: Vec<(HeaderName, HeaderValue)> = Vec::new();
        if from > 0 {
            if let Ok(v) = HeaderValue::from_str(&format!("bytes={from}-")) {
                headers.push((RANGE, v));
            }
            if let Some(v) = validator {
                headers.push((IF_RANGE, v.clone()));
            }
        }
        let resp = self
            .http
            .send(Verb::Get, url, None, &headers, Idempotent::Yes)
            .await?;
        if resp.status() == reqwest::StatusCode::PARTIAL_CONTENT {
            match range_start(&resp) {
                Some(start) if start == from => Ok((resp, from)),
                other => Err(Error::Transport {
                    method: "GET",
                    url: ShownUrl(url).to_string(),
                    message: format!(
                        "asked to resume at byte {from}, the server answered with a range starting at {}",
                        other.map_or_else(|| "an unknown byte".to_owned(), |s| s.to_string())
                    ),
                    timeout: false,
                }),
            }
        } else {
            Ok((resp, 0))
        }
    }
}

/// Syncs a folder, so a rename into it survives a crash (a no-op where folders cannot be
/// opened for syncing).
async fn sync_dir(dir: &Path) -> std::io::Result<()> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || sync_dir_blocking(&dir))
        .await
        .map_err(std::io::Error::other)?
}

/// [`sync_dir`] on the calling thread.
pub(crate) fn sync_dir_blocking(dir: &Path) -> std::io::Result<()> {
    match File::open(dir) {
        Ok(d) => d.sync_all(),
        // Windows cannot open a folder as a file; its renames are durable as they are.
        Err(_) if cfg!(windows) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes the temporary files of earlier downloads to `name` whose process is gone (killed
/// mid-download): `.{name}.{pid}.{serial}.part`.
async fn remove_stale_parts(dir: &Path, name: &str) {
    remove_stale_temporaries(dir, name, ".part").await;
}

/// Removes temporary files `.{name}.{pid}[.…]{suffix}` left in `dir` by processes that are
/// gone (killed while writing). Where it cannot tell whether a process runs (no `/proc`), it
/// leaves them.
pub(crate) async fn remove_stale_temporaries(dir: &Path, name: &str, suffix: &str) {
    let Ok(mut listing) = tokio::fs::read_dir(dir).await else {
        return;
    };
    let prefix = format!(".{name}.");
    let ours = std::process::id();
    let proc = Path::new("/proc");
    if !tokio::fs::try_exists(proc.join("self"))
        .await
        .unwrap_or(false)
    {
        return;
    }
    while let Ok(Some(entry)) = listing.next_entry().await {
        let file = entry.file_name();
        let Some(rest) = file
            .to_str()
            .and_then(|f| f.strip_prefix(&prefix))
            .and_then(|f| f.strip_suffix(suffix))
        else {
            continue;
        };
        let Some(pid) = rest.split('.').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if pid == ours
            || tokio::fs::try_exists(proc.join(pid.to_string()))
                .await
                .unwrap_or(true)
        {
            continue;
        }
        // Best effort: another run may be removing it too.
        let _ = tokio::fs::remove_file(entry.path()).await;
    }
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        source,
    }
}
