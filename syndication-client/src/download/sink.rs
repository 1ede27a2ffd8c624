//! Where a download's bytes go: its temporary file, written either around the page cache
//! (direct IO, where the platform and file system allow it) or through it.
//!
//! Direct IO matters for the artefacts this crate fetches. A binary index is gigabytes that
//! the terminology server reads once, at preload. Through the page cache every byte costs a
//! kernel copy, page allocation and later write-back, which on a small machine is CPU taken
//! from the hash. Direct IO lets the device read from our buffer instead. Its price is
//! alignment: buffer address, length and file offset must be multiples of the device's
//! block. So bytes are gathered into one aligned staging buffer and written a whole buffer
//! at a time. The last, partial block is padded and the file cut back to its true length.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

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
/// Bytes gathered before each direct write; larger writes reach the device's full speed.
const STAGE: usize = 2 << 20;
/// Buffered bytes written between syncs of the temporary file.
const SYNC_EVERY: usize = 8 << 20;

/// The temporary file of one download.
pub(crate) struct Sink {
    path: PathBuf,
    file: File,
    kind: Kind,
    /// Bytes of the artefact in the file, not counting the padding of a last direct block.
    written: u64,
}

enum Kind {
    Buffered {
        unsynced: usize,
    },
    Direct {
        /// Over-allocated so that an aligned `STAGE`-byte window starts at `start`.
        buf: Vec<u8>,
        start: usize,
        filled: usize,
        /// Whether a direct write has succeeded; before that, a refusal means "not here".
        proven: bool,
    },
}

impl Sink {
    /// Creates (or truncates) the file at `path`, written as `mode` asks where possible.
    pub(crate) fn create(path: &Path, mode: WriteMode) -> io::Result<Self> {
        let direct = match mode {
            WriteMode::Direct => open_direct(path)?,
            WriteMode::Buffered => None,
        };
        if let Some(file) = direct {
            let buf = vec![0u8; STAGE + ALIGN];
            // `align_offset` may decline to compute, which we treat as "no direct IO".
            let start = buf.as_ptr().align_offset(ALIGN);
            if start < ALIGN {
                return Ok(Self {
                    path: path.to_path_buf(),
                    file,
                    kind: Kind::Direct {
                        buf,
                        start,
                        filled: 0,
                        proven: false,
                    },
                    written: 0,
                });
            }
        }
        Ok(Self {
            path: path.to_path_buf(),
            file: File::create(path)?,
            kind: Kind::Buffered { unsynced: 0 },
            written: 0,
        })
    }

    /// Appends `bytes`.
    pub(crate) fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if let Kind::Buffered { unsynced } = &mut self.kind {
                self.file.write_all(bytes)?;
                self.written += bytes.len() as u64;
                // Writing back as the download goes overlaps the disk with the network and
                // the hash; the one sync at the end then waits for little.
                *unsynced += bytes.len();
                if *unsynced >= SYNC_EVERY {
                    self.file.sync_data()?;
                    *unsynced = 0;
                }
                return Ok(());
            }
            let taken = self.stage(bytes);
            bytes = &bytes[taken..];
            if self.staged() == STAGE {
                self.flush_stage(STAGE)?;
            }
        }
        Ok(())
    }

    /// Writes what is still staged, gives the file its exact length and syncs it.
    pub(crate) fn finish(mut self) -> io::Result<()> {
        let staged = self.staged();
        if staged > 0 {
            let padded = staged.next_multiple_of(ALIGN);
            if let Kind::Direct {
                buf, start, filled, ..
            } = &mut self.kind
            {
                buf[*start + *filled..*start + padded].fill(0);
            }
            self.flush_stage(padded)?;
            // Direct writes are whole blocks; the padding of the last one is cut off here.
            self.file.set_len(self.written)?;
        }
        self.file.sync_all()
    }

    fn staged(&self) -> usize {
        match &self.kind {
            Kind::Direct { filled, .. } => *filled,
            Kind::Buffered { .. } => 0,
        }
    }

    /// Copies as much of `bytes` as fits into the staging buffer; returns how much.
    fn stage(&mut self, bytes: &[u8]) -> usize {
        let Kind::Direct {
            buf, start, filled, ..
        } = &mut self.kind
        else {
            return 0;
        };
        let n = bytes.len().min(STAGE - *filled);
        let at = *start + *filled;
        buf[at..at + n].copy_from_slice(&bytes[..n]);
        *filled += n;
        n
    }

    /// Writes the first `len` staged bytes (a multiple of [`ALIGN`], padded past what is
    /// staged if need be) and empties the stage.
    fn flush_stage(&mut self, len: usize) -> io::Result<()> {
        let Kind::Direct {
            buf,
            start,
            filled,
            proven,
        } = &mut self.kind
        else {
            return Ok(());
        };
        let staged = *filled;
        match self.file.write_all(&buf[*start..*start + len]) {
            Ok(()) => {
                *proven = true;
                *filled = 0;
            }
            // Some file systems accept `O_DIRECT` at open and refuse the first write. Nothing
            // has reached the file yet, so start it again through the page cache.
            Err(e) if !*proven && e.kind() == io::ErrorKind::InvalidInput => {
                tracing::debug!(path = %self.path.display(), "direct IO refused; writing through the page cache");
                let staged_bytes = buf[*start..*start + staged].to_vec();
                self.file = File::create(&self.path)?;
                self.kind = Kind::Buffered { unsynced: 0 };
                self.file.write_all(&staged_bytes)?;
            }
            Err(e) => return Err(e),
        }
        self.written += staged as u64;
        Ok(())
    }
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
            STAGE - 1,
            STAGE,
            STAGE + 1,
            2 * STAGE + 12_345,
        ] {
            let bytes = pattern(len);
            for chunk in [1, 4093, 400_000, STAGE + 7] {
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
        let bytes = pattern(STAGE + 5000);
        // A length that is no multiple of any block size: every direct-IO file system
        // refuses it, as some refuse every direct write. (Where the file system takes no
        // direct IO at all, the sink starts buffered and only the bytes are checked.)
        let first = 1000;
        sink.write(&bytes[..first]).expect("stages");
        sink.flush_stage(first).expect("falls back");
        assert!(matches!(sink.kind, Kind::Buffered { .. }));
        sink.write(&bytes[first..]).expect("writes");
        sink.finish().expect("finishes");
        assert!(std::fs::read(&path).expect("reads back") == bytes);
        std::fs::remove_file(&path).expect("removes");
    }
}
