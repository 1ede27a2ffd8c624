//! Where a download's bytes go: its temporary file, written either around the page cache
//! (direct IO, where the platform and file system allow it) or through it.
//!
//! Direct IO matters for the artefacts this crate fetches. A binary index is gigabytes that
//! the terminology server reads once, at preload. Through the page cache every byte costs a
//! kernel copy, page allocation and later write-back, which on a small machine is CPU taken
//! from the hash. Direct IO lets the device read from our buffer instead. Its price is
//! alignment: buffer address, length and file offset must be multiples of the device's
//! block. So bytes are gathered into aligned blocks and written a whole block at a time. The
//! last, partial block is padded and the file cut back to its true length.
//!
//! A direct write returns only when the device has the bytes, so the writes run on a thread
//! of their own. Blocks circulate between the two threads, so gathering the next block
//! overlaps writing the last.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;
use std::sync::mpsc::{Receiver, Sender, SyncSender, TryRecvError};
use std::thread::JoinHandle;

/// How a download's bytes reach the disk.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WriteMode {
    /// Around the page cache where the platform and file system support it (Linux
    /// `O_DIRECT`), falling back to [`WriteMode::Buffered`] where they do not. Saves the CPU
    /// of copying into, and writing back from, the page cache, and leaves the cache to the
    /// programs that read from it.
    #[default]
    Direct,
    /// Through the page cache, written back in slices as the download goes.
    Buffered,
}

/// Alignment of direct writes: a multiple of every common logical block size (512, 4096).
const ALIGN: usize = 4096;
/// Bytes in one direct write; larger writes reach the device's full speed.
const BLOCK: usize = 2 << 20;
/// Blocks of one download: one being filled, the others queued for or in the device.
const BLOCKS: usize = 3;
/// Buffered bytes written between syncs of the temporary file.
const SYNC_EVERY: usize = 8 << 20;

/// The temporary file of one download.
pub(crate) struct Sink {
    kind: Kind,
    /// Bytes of the artefact given to the sink.
    written: u64,
}

enum Kind {
    Buffered { file: File, unsynced: usize },
    Direct(Direct),
}

/// The gathering side of direct writes; the device thread owns the file.
struct Direct {
    block: Block,
    filled: usize,
    /// Full blocks, with how many of their bytes to write, to the device thread.
    full: Option<SyncSender<(Block, usize)>>,
    /// Blocks the device thread has written.
    free: Receiver<Block>,
    /// Blocks not allocated yet; the pool grows only if the device falls behind.
    unmade: usize,
    device: Option<JoinHandle<io::Result<File>>>,
}

/// A buffer with a [`BLOCK`]-byte window aligned to [`ALIGN`].
struct Block {
    buf: Vec<u8>,
    start: usize,
}

impl Block {
    fn new() -> Option<Self> {
        // Zeroed allocation is lazy: pages are mapped as the window is first filled.
        let buf = vec![0u8; BLOCK + ALIGN];
        // `align_offset` may decline to compute, which we treat as "no direct IO".
        let start = buf.as_ptr().align_offset(ALIGN);
        (start < ALIGN).then_some(Self { buf, start })
    }

    fn window(&self, len: usize) -> &[u8] {
        &self.buf[self.start..self.start + len]
    }

    fn window_mut(&mut self) -> &mut [u8] {
        &mut self.buf[self.start..self.start + BLOCK]
    }
}

impl Sink {
    /// Creates (or truncates) the file at `path`, written as `mode` asks where possible.
    pub(crate) fn create(path: &Path, mode: WriteMode) -> io::Result<Self> {
        let direct = match mode {
            WriteMode::Direct => open_direct(path)?,
            WriteMode::Buffered => None,
        };
        let kind = match direct.and_then(|file| Some((file, Block::new()?))) {
            Some((file, block)) => Kind::Direct(Direct::start(file, path, block)?),
            None => Kind::Buffered {
                file: File::create(path)?,
                unsynced: 0,
            },
        };
        Ok(Self { kind, written: 0 })
    }

    /// Appends `bytes`.
    pub(crate) fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        self.written += bytes.len() as u64;
        match &mut self.kind {
            Kind::Buffered { file, unsynced } => {
                file.write_all(bytes)?;
                // Writing back as the download goes overlaps the disk with the network and
                // the hash; the one sync at the end then waits for little.
                *unsynced += bytes.len();
                if *unsynced >= SYNC_EVERY {
                    file.sync_data()?;
                    *unsynced = 0;
                }
            }
            Kind::Direct(d) => {
                while !bytes.is_empty() {
                    let n = bytes.len().min(BLOCK - d.filled);
                    d.block.window_mut()[d.filled..d.filled + n].copy_from_slice(&bytes[..n]);
                    d.filled += n;
                    bytes = &bytes[n..];
                    if d.filled == BLOCK {
                        d.send(BLOCK)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Writes what is still gathered, gives the file its exact length and syncs it.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        let file = match &mut self.kind {
            Kind::Buffered { file, .. } => return file.sync_all(),
            Kind::Direct(d) => {
                let tail = d.filled;
                if tail > 0 {
                    let padded = tail.next_multiple_of(ALIGN);
                    d.block.window_mut()[tail..padded].fill(0);
                    d.send(padded)?;
                }
                let file = d.stop()?;
                if tail % ALIGN != 0 {
                    // Direct writes are whole blocks; the padding of the last one goes here.
                    file.set_len(self.written)?;
                }
                file
            }
        };
        file.sync_all()
    }
}

impl Direct {
    fn start(file: File, path: &Path, block: Block) -> io::Result<Self> {
        let (full, queued) = std::sync::mpsc::sync_channel(BLOCKS - 1);
        let (written, free) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        let device = std::thread::Builder::new()
            .name("synd-download-write".into())
            .spawn(move || write_blocks(file, &path, &queued, &written))?;
        Ok(Self {
            block,
            filled: 0,
            full: Some(full),
            free,
            unmade: BLOCKS - 1,
            device: Some(device),
        })
    }

    /// Hands the first `len` bytes of the block (a multiple of [`ALIGN`]) to the device
    /// thread and takes an empty block in its place.
    fn send(&mut self, len: usize) -> io::Result<()> {
        let next = match self.free.try_recv() {
            Ok(block) => block,
            Err(TryRecvError::Empty) if self.unmade > 0 => {
                self.unmade -= 1;
                Block::new().ok_or_else(|| io::Error::other("no aligned buffer"))?
            }
            Err(_) => match self.free.recv() {
                Ok(block) => block,
                Err(_) => return Err(self.device_error()),
            },
        };
        let full = std::mem::replace(&mut self.block, next);
        self.filled = 0;
        let sent = self.full.as_ref().map(|tx| tx.send((full, len)));
        match sent {
            Some(Ok(())) => Ok(()),
            _ => Err(self.device_error()),
        }
    }

    /// Waits for the device thread to write everything sent, and takes the file back.
    fn stop(&mut self) -> io::Result<File> {
        self.full = None;
        match self.device.take().map(JoinHandle::join) {
            Some(Ok(result)) => result,
            Some(Err(_)) => Err(io::Error::other("the download's writing thread panicked")),
            None => Err(io::Error::other(
                "the download's writing thread already stopped",
            )),
        }
    }

    /// Why the device thread stopped taking blocks.
    fn device_error(&mut self) -> io::Error {
        match self.stop() {
            Err(e) => e,
            Ok(_) => io::Error::other("the download's writing thread stopped early"),
        }
    }
}

impl Drop for Direct {
    // A download abandoned part way (a hash mismatch, a dropped connection) must not leave a
    // thread writing to its temporary file after the file is removed.
    fn drop(&mut self) {
        if self.device.is_some() {
            let _ = self.stop();
        }
    }
}

/// The device thread: writes each block it is sent, in order, and sends it back.
fn write_blocks(
    mut file: File,
    path: &Path,
    queued: &Receiver<(Block, usize)>,
    written: &Sender<Block>,
) -> io::Result<File> {
    let mut first = true;
    while let Ok((block, len)) = queued.recv() {
        match file.write_all(block.window(len)) {
            Ok(()) => {}
            // Some file systems accept `O_DIRECT` at open and refuse the first write. Nothing
            // has reached the file yet, so start it again through the page cache, and keep
            // writing the same blocks there.
            Err(e) if first && e.kind() == io::ErrorKind::InvalidInput => {
                tracing::debug!(path = %path.display(), "direct IO refused; writing through the page cache");
                file = File::create(path)?;
                file.write_all(block.window(len))?;
            }
            Err(e) => return Err(e),
        }
        first = false;
        // The gathering side may be finishing and no longer take blocks back.
        let _ = written.send(block);
    }
    Ok(file)
}

#[cfg(target_os = "linux")]
fn open_direct(path: &Path) -> io::Result<Option<File>> {
    use std::os::unix::fs::OpenOptionsExt;
    match OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_DIRECT)
        .open(path)
    {
        Ok(f) => Ok(Some(f)),
        // The file system does not do direct IO (tmpfs before Linux 6.6, some FUSE mounts).
        Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(None),
        Err(e) => Err(e),
    }
}

#[cfg(not(target_os = "linux"))]
fn open_direct(_path: &Path) -> io::Result<Option<File>> {
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp_file(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("synd-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        dir.join(name)
    }

    fn pattern(len: usize) -> Vec<u8> {
        // Not periodic in any power of two, so a misplaced block would not compare equal.
        (0..len).map(|i| (i * 7 % 253) as u8).collect()
    }

    fn written_with(mode: WriteMode, bytes: &[u8], chunk: usize, name: &str) -> Vec<u8> {
        let path = temp_file(name);
        let mut sink = Sink::create(&path, mode).expect("creates");
        for piece in bytes.chunks(chunk) {
            sink.write(piece).expect("writes");
        }
        sink.finish().expect("finishes");
        let back = std::fs::read(&path).expect("reads back");
        std::fs::remove_file(&path).expect("removes");
        back
    }

    #[test]
    fn every_length_and_chunking_lands_exactly() {
        for len in [
            0,
            1,
            ALIGN - 1,
            ALIGN,
            ALIGN + 1,
            BLOCK - 1,
            BLOCK,
            BLOCK + 1,
            // More blocks than the pool holds, so blocks come back and are filled again.
            (BLOCKS + 2) * BLOCK + 12_345,
        ] {
            let bytes = pattern(len);
            for chunk in [1, 4093, 400_000, BLOCK + 7] {
                // Byte by byte is a system call a byte when buffered: small lengths only.
                if chunk == 1 && len > ALIGN + 1 {
                    continue;
                }
                for mode in [WriteMode::Direct, WriteMode::Buffered] {
                    let back = written_with(mode, &bytes, chunk, &format!("{len}-{chunk}"));
                    assert!(
                        back == bytes,
                        "{mode:?}, {len} bytes in chunks of {chunk}: {} back",
                        back.len()
                    );
                }
            }
        }
    }

    #[test]
    fn a_refused_first_direct_write_starts_over_through_the_page_cache() {
        let path = temp_file("refused");
        let mut sink = Sink::create(&path, WriteMode::Direct).expect("creates");
        let bytes = pattern(3 * BLOCK + 5000);
        // A length that is no multiple of any block size: every direct-IO file system
        // refuses it, as some refuse every direct write. (Where the file system takes no
        // direct IO at all, the sink starts buffered and only the bytes are checked.)
        let first = 1000;
        sink.write(&bytes[..first]).expect("gathers");
        if let Kind::Direct(d) = &mut sink.kind {
            d.send(first).expect("sent");
        }
        sink.write(&bytes[first..]).expect("writes");
        sink.finish().expect("finishes");
        assert!(std::fs::read(&path).expect("reads back") == bytes);
        std::fs::remove_file(&path).expect("removes");
    }

    #[test]
    fn a_failing_device_write_is_the_error_reported() {
        let path = temp_file("failing");
        let mut sink = Sink::create(&path, WriteMode::Direct).expect("creates");
        if !matches!(sink.kind, Kind::Direct(_)) {
            return; // No direct IO here: nothing runs on a device thread.
        }
        sink.write(&pattern(BLOCK)).expect("first block");
        // A misaligned length after a good write is refused, not retried through the cache.
        let Kind::Direct(d) = &mut sink.kind else {
            unreachable!("still direct")
        };
        d.block.window_mut()[..10].fill(1);
        let sent = d
            .send(10)
            .and_then(|()| d.send(ALIGN))
            .and_then(|()| d.send(ALIGN));
        let err = match sent {
            Err(e) => e,
            Ok(()) => sink.finish().expect_err("refused"),
        };
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{err}");
        let _ = std::fs::remove_file(&path);
    }
}
