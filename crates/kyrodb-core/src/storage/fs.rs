//! The file operations the storage layer is allowed to use, each behind a failpoint, and
//! the one way to publish a new file: write to a temporary name, fsync, rename, fsync the
//! directory (`docs/ARCHITECTURE.md`, invariant D3).

use super::failpoints::{hit, Op};
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

/// Suffix of files being written; any left at open are debris of a crash and removed.
pub const TMP_SUFFIX: &str = ".tmp";

/// `write_all`. An injected failure writes half the buffer first, like a disk that fills
/// up mid-write.
pub fn write_all(f: &mut File, buf: &[u8]) -> io::Result<()> {
    if let Err(e) = hit(Op::Write) {
        let _ = f.write_all(&buf[..buf.len() / 2]);
        return Err(e);
    }
    f.write_all(buf)
}

/// `fdatasync`.
pub fn sync_data(f: &File) -> io::Result<()> {
    hit(Op::Sync)?;
    f.sync_data()
}

/// `fsync` of a directory, so that a rename or a new file in it is durable.
pub fn sync_dir(dir: &Path) -> io::Result<()> {
    hit(Op::Sync)?;
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        // Windows has no directory fsync; NTFS journals the rename itself.
        let _ = dir;
        Ok(())
    }
}

/// Fill `buf` from `f` at byte `offset` (a positioned read: the file offset is unused, so
/// threads may share `f`). Reads of data files are not failpoints: only writes, syncs and
/// renames are.
pub fn read_exact_at(f: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::read_exact_at(f, buf, offset)
    }
    #[cfg(windows)]
    {
        let (mut done, mut buf) = (0u64, buf);
        while !buf.is_empty() {
            match std::os::windows::fs::FileExt::seek_read(f, buf, offset + done) {
                Ok(0) => return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "file shorter than expected")),
                Ok(n) => {
                    buf = &mut buf[n..];
                    done += n as u64;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

/// `rename`.
pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    hit(Op::Rename)?;
    std::fs::rename(from, to)
}

/// Publish `bytes` as `dir/name` atomically: after a crash the file is either absent (or
/// its previous version) or complete.
pub fn write_file_atomic(dir: &Path, name: &str, bytes: &[u8]) -> io::Result<()> {
    let mut f = AtomicFile::create(dir, name)?;
    f.write(bytes)?;
    f.commit()
}

/// A file being written under a temporary name and published by [`AtomicFile::commit`];
/// dropped without committing, the temporary file is removed.
pub struct AtomicFile {
    file: Option<File>,
    tmp: std::path::PathBuf,
    dir: std::path::PathBuf,
    name: String,
    len: u64,
}

impl AtomicFile {
    /// Start writing `dir/name`.
    pub fn create(dir: &Path, name: &str) -> io::Result<AtomicFile> {
        let tmp = dir.join(format!("{name}{TMP_SUFFIX}"));
        let file = OpenOptions::new().write(true).create(true).truncate(true).open(&tmp)?;
        Ok(AtomicFile { file: Some(file), tmp, dir: dir.to_path_buf(), name: name.to_string(), len: 0 })
    }

    /// Append bytes.
    pub fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        let f = self.file.as_mut().ok_or_else(|| io::Error::other("file already committed"))?;
        write_all(f, buf)?;
        self.len += buf.len() as u64;
        Ok(())
    }

    /// Append zero bytes until the length is a multiple of `align`.
    pub fn pad_to(&mut self, align: u64) -> io::Result<()> {
        let pad = (align - self.len % align) % align;
        self.write(&vec![0u8; pad as usize])
    }

    /// fsync, rename into place, fsync the directory.
    pub fn commit(mut self) -> io::Result<()> {
        let f = self.file.take().ok_or_else(|| io::Error::other("file already committed"))?;
        sync_data(&f)?;
        drop(f);
        rename(&self.tmp, &self.dir.join(&self.name))?;
        sync_dir(&self.dir)
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}
