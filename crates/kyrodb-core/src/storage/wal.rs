//! The write-ahead log: numbered files in `wal/`, each a checked header followed by frames.
//! One frame holds one whole batch, so a batch is applied all or nothing.
//!
//! Format (little-endian; `docs/ARCHITECTURE.md` §"On-disk formats" is the reference):
//!
//! ```text
//! file header (40 bytes)
//!   0  magic "KYRODBWL"       8
//!   8  format version u32     (2; version 1 files are read: their frames have no flags)
//!  12  reserved u32           (0)
//!  16  database id u64
//!  24  first sequence u64     sequence number of the file's first frame
//!  32  reserved u32           (0)
//!  36  crc32c u32             of bytes 0..36
//! frame
//!   0  length u32             whole frame, header and trailer included
//!   4  kind u8, flags u8, reserved [u8; 2]
//!   8  sequence u64           previous frame's + 1
//!  16  payload                length − 20 bytes (− 8 with a tag)
//!   …  tag u64                only with flag bit 0 ([`FLAG_TAGGED`])
//!   …  crc32c u32             of the frame's bytes before it
//! ```
//!
//! A tag is an opaque `u64` the writer attaches to a write ([`crate::Database::last_tag`]):
//! it is in the same frame as the write, so it is recovered exactly when the write is.

use super::codec::{le_u32, le_u64};
use super::fs;
use crate::error::{Error, Result};
use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

/// File magic.
pub const MAGIC: &[u8; 8] = b"KYRODBWL";
/// Format version written. Version 1 (no frame flags: the byte was always 0) is read too;
/// a file of an older version is never appended to (a new file is started), so that an
/// older release refuses a log holding tagged frames instead of misreading them.
pub const VERSION: u32 = 2;
/// Oldest format version read.
pub const MIN_VERSION: u32 = 1;
/// Frame flag: an 8-byte tag follows the payload.
pub const FLAG_TAGGED: u8 = 1;
/// Bytes of a frame's tag.
pub const TAG_BYTES: usize = 8;
/// File header bytes.
pub const FILE_HEADER: usize = 40;
/// Frame header bytes (length, kind, reserved, sequence).
pub const FRAME_HEADER: usize = 16;
/// Frame trailer bytes (CRC).
pub const FRAME_TRAILER: usize = 4;
/// Largest frame; bigger batches are refused before anything is written.
pub const MAX_FRAME: usize = 1 << 30;
/// A WAL file is closed and a new one started once it passes this size.
pub const ROTATE_BYTES: u64 = 64 << 20;

/// What a frame holds.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum FrameKind {
    /// Vectors upserted into a collection.
    Upsert = 1,
    /// Ids deleted from a collection.
    Delete = 2,
    /// Puts and deletes of the key-value store.
    KvBatch = 3,
    /// Nothing but a tag (empty payload; version 2 files only): a tagged write that was
    /// refused still records its tag ([`crate::Database::write_group`]).
    Tag = 4,
}

impl FrameKind {
    fn from_u8(b: u8) -> Option<FrameKind> {
        match b {
            1 => Some(FrameKind::Upsert),
            2 => Some(FrameKind::Delete),
            3 => Some(FrameKind::KvBatch),
            4 => Some(FrameKind::Tag),
            _ => None,
        }
    }
}

/// Name of the WAL file whose first frame has sequence `first_seq`.
pub fn file_name(first_seq: u64) -> String {
    format!("{first_seq:020}.wal")
}

fn parse_file_name(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".wal")?;
    (digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

/// The WAL files in `dir`, oldest first, as (first sequence from the name, path).
pub fn list(dir: &Path) -> Result<Vec<(u64, PathBuf)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| Error::Io(format!("cannot list {}: {e}", dir.display())))? {
        let entry = entry?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_file_name) {
            out.push((first, entry.path()));
        }
    }
    out.sort();
    Ok(out)
}

fn header_bytes(db_id: u64, first_seq: u64) -> [u8; FILE_HEADER] {
    let mut h = [0u8; FILE_HEADER];
    h[0..8].copy_from_slice(MAGIC);
    h[8..12].copy_from_slice(&VERSION.to_le_bytes());
    h[16..24].copy_from_slice(&db_id.to_le_bytes());
    h[24..32].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&h[0..36]);
    h[36..40].copy_from_slice(&crc.to_le_bytes());
    h
}

/// Append one encoded frame without a tag to `buf`.
pub fn encode_frame(buf: &mut Vec<u8>, kind: FrameKind, seq: u64, payload: &[u8]) {
    encode_tagged_frame(buf, kind, seq, payload, None)
}

/// Append one encoded frame to `buf`, with `tag` after the payload when given.
pub fn encode_tagged_frame(buf: &mut Vec<u8>, kind: FrameKind, seq: u64, payload: &[u8], tag: Option<u64>) {
    let start = buf.len();
    let len = (tagged_frame_len(payload.len(), tag.is_some())) as u32;
    buf.extend_from_slice(&len.to_le_bytes());
    let flags = if tag.is_some() { FLAG_TAGGED } else { 0 };
    buf.extend_from_slice(&[kind as u8, flags, 0, 0]);
    buf.extend_from_slice(&seq.to_le_bytes());
    buf.extend_from_slice(payload);
    if let Some(t) = tag {
        buf.extend_from_slice(&t.to_le_bytes());
    }
    let crc = crc32c::crc32c(&buf[start..]);
    buf.extend_from_slice(&crc.to_le_bytes());
}

/// Bytes a frame with `payload_len` payload bytes and no tag takes.
pub fn frame_len(payload_len: usize) -> usize {
    FRAME_HEADER + payload_len + FRAME_TRAILER
}

/// Bytes a frame with `payload_len` payload bytes takes, with a tag if `tagged`.
pub fn tagged_frame_len(payload_len: usize, tagged: bool) -> usize {
    frame_len(payload_len) + if tagged { TAG_BYTES } else { 0 }
}

/// The appending end of the log. Only the group-commit leader touches it.
pub struct WalWriter {
    dir: PathBuf,
    db_id: u64,
    file: File,
    /// Bytes in the current file.
    len: u64,
    /// Bytes of the current file known to be on stable storage.
    synced: u64,
    /// Sequence number the next frame gets.
    next_seq: u64,
    /// (first sequence, path) of every file, current last.
    files: Vec<(u64, PathBuf)>,
    /// Bytes of the files before the current one (kept up to date at rotation and removal,
    /// so that reporting the log's size never touches the file system under the WAL lock).
    older_bytes: u64,
}

fn file_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

impl WalWriter {
    /// Continue the log: append to the last file of `files` (which recovery has already
    /// checked and truncated to its last good frame, `len` bytes), or start a new file when
    /// there is none or it is full.
    /// `last_version` is the format version of the last file: one older than [`VERSION`]
    /// is left as it is and a new file started.
    pub fn open(
        dir: &Path,
        db_id: u64,
        mut files: Vec<(u64, PathBuf)>,
        len: u64,
        last_version: u32,
        next_seq: u64,
    ) -> Result<WalWriter> {
        let older_bytes: u64 = files[..files.len().saturating_sub(1)].iter().map(|(_, p)| file_size(p)).sum();
        if let Some((_, path)) = files.last() {
            if len < ROTATE_BYTES && last_version == VERSION {
                let file = OpenOptions::new()
                    .append(true)
                    .open(path)
                    .map_err(|e| Error::Io(format!("cannot open {}: {e}", path.display())))?;
                return Ok(WalWriter {
                    dir: dir.to_path_buf(),
                    db_id,
                    file,
                    len,
                    synced: len,
                    next_seq,
                    files,
                    older_bytes,
                });
            }
        }
        // An older-version last file without frames is named for `next_seq`, the name the
        // new file takes: it is replaced (rewritten in place with the current header; a
        // torn rewrite is a file without a complete header, dropped at open), never listed
        // twice — a second entry for the same path would let trimming delete the live file.
        let replaced = files.last().is_some_and(|(first, _)| *first == next_seq) && len <= FILE_HEADER as u64;
        if replaced {
            files.pop();
        }
        // The last file is full (or of an older version): it joins the older ones.
        let older_bytes = older_bytes + if files.is_empty() || replaced { 0 } else { len };
        let (file, path) = create_file(dir, db_id, next_seq)?;
        files.push((next_seq, path));
        Ok(WalWriter {
            dir: dir.to_path_buf(),
            db_id,
            file,
            len: FILE_HEADER as u64,
            synced: FILE_HEADER as u64,
            next_seq,
            files,
            older_bytes,
        })
    }

    /// Sequence number the next frame gets.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// (bytes, files) of the log on disk: the current file's length plus the size of every
    /// older file still kept.
    pub fn disk_usage(&self) -> (u64, u64) {
        (self.older_bytes + self.len, self.files.len() as u64)
    }

    /// Whether bytes were written since the last sync.
    pub fn dirty(&self) -> bool {
        self.synced < self.len
    }

    /// Append already-encoded frames (one `write`). `frames` hold `count` frames numbered
    /// from [`WalWriter::next_seq`]. On a failed write the file is cut back to its previous
    /// length; if even that fails the error says so and the caller must stop writing.
    pub fn append(&mut self, frames: &[u8], count: u64) -> std::result::Result<(), AppendError> {
        if let Err(e) = fs::write_all(&mut self.file, frames) {
            let restored = self.file.set_len(self.len).is_ok();
            return Err(AppendError { error: Error::Io(format!("WAL write failed: {e}")), fatal: !restored });
        }
        self.len += frames.len() as u64;
        self.next_seq += count;
        Ok(())
    }

    /// fdatasync the current file.
    pub fn sync(&mut self) -> Result<()> {
        fs::sync_data(&self.file).map_err(|e| Error::Io(format!("WAL fsync failed: {e}")))?;
        self.synced = self.len;
        Ok(())
    }

    /// Start a new file when the current one is full (or `force` and it holds frames).
    /// The current file is synced first.
    pub fn rotate_if_needed(&mut self, force: bool) -> Result<()> {
        let has_frames = self.len > FILE_HEADER as u64;
        if !(self.len >= ROTATE_BYTES || (force && has_frames)) {
            return Ok(());
        }
        self.sync()?;
        let (file, path) = create_file(&self.dir, self.db_id, self.next_seq)?;
        self.files.push((self.next_seq, path));
        self.older_bytes += self.len;
        self.file = file;
        self.len = FILE_HEADER as u64;
        self.synced = self.len;
        Ok(())
    }

    /// Delete every file all of whose frames have sequence numbers below `bound` (never the
    /// current file). Returns how many were removed.
    pub fn remove_covered(&mut self, bound: u64) -> usize {
        let mut removed = 0;
        // A file that cannot be removed stays listed; it is retried at the next checkpoint.
        while self.files.len() > 1 && self.files[1].0 <= bound {
            if self.files.last().is_some_and(|(_, current)| *current == self.files[0].1) {
                break; // Never the file being appended to, however it came to be listed.
            }
            let size = file_size(&self.files[0].1);
            if std::fs::remove_file(&self.files[0].1).is_err() {
                break;
            }
            self.older_bytes = self.older_bytes.saturating_sub(size);
            self.files.remove(0);
            removed += 1;
        }
        removed
    }
}

/// A failed append; `fatal` when the file could not be restored to its previous length.
pub struct AppendError {
    /// What went wrong.
    pub error: Error,
    /// The log's tail is in an unknown state: no more writes until reopened.
    pub fatal: bool,
}

fn create_file(dir: &Path, db_id: u64, first_seq: u64) -> Result<(File, PathBuf)> {
    let path = dir.join(file_name(first_seq));
    let io = |e: std::io::Error| Error::Io(format!("cannot create WAL file {}: {e}", path.display()));
    let mut f = OpenOptions::new().create(true).truncate(true).write(true).open(&path).map_err(io)?;
    fs::write_all(&mut f, &header_bytes(db_id, first_seq)).map_err(io)?;
    fs::sync_data(&f).map_err(io)?;
    fs::sync_dir(dir).map_err(io)?;
    drop(f);
    let f = OpenOptions::new().append(true).open(&path).map_err(io)?;
    Ok((f, path))
}

/// One frame read back.
pub struct Frame<'a> {
    /// Sequence number.
    pub seq: u64,
    /// Kind.
    pub kind: FrameKind,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// The writer's tag, if the frame carries one.
    pub tag: Option<u64>,
    /// Offset of the frame in its file.
    pub offset: u64,
    /// Bytes of the whole frame (header, payload, tag, checksum).
    pub len: u64,
}

/// How the scan of one file ended.
#[derive(Debug, PartialEq, Eq)]
pub enum FileEnd {
    /// Every byte belonged to a good frame.
    Clean,
    /// The last frame was torn (an interrupted append): the file should be cut to `at`.
    Torn {
        /// Length of the good prefix.
        at: u64,
    },
}

/// Result of [`scan_file`].
pub struct FileScan {
    /// How the file ended.
    pub end: FileEnd,
    /// Sequence number after the file's last good frame.
    pub next_seq: u64,
}

fn corruption(path: &Path, offset: u64, what: &str) -> Error {
    Error::Corruption(format!("{}: {what} at offset {offset}", path.display()))
}

/// Check a WAL file's header: it must name this database and the expected first sequence.
/// A file with nothing but a partial header (and zeros) is reported as `Ok(None)` (a crash
/// while creating it); anything else wrong is corruption. Returns the format version.
pub fn check_header(path: &Path, bytes: &[u8], db_id: u64, first_seq: u64) -> Result<Option<u32>> {
    // The header is written and synced before any frame: a file whose non-zero bytes all
    // lie inside the header region holds no frames — a crash while creating it.
    let non_zero_end = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1);
    let h = &bytes[..bytes.len().min(FILE_HEADER)];
    let valid = h.len() == FILE_HEADER && &h[0..8] == MAGIC && crc32c::crc32c(&h[0..36]) == le_u32(h, 36);
    if !valid && non_zero_end <= FILE_HEADER {
        return Ok(None);
    }
    if !valid {
        return Err(corruption(path, 0, "damaged WAL file header (bad magic or checksum)"));
    }
    let version = le_u32(h, 8);
    if !(MIN_VERSION..=VERSION).contains(&version) {
        return Err(corruption(path, 8, &format!("unsupported WAL format version {version}")));
    }
    let id = le_u64(h, 16);
    if id != db_id {
        return Err(corruption(path, 16, "WAL file belongs to another database"));
    }
    let first = le_u64(h, 24);
    if first != first_seq {
        return Err(corruption(path, 24, &format!("WAL file header says sequence {first}, its name {first_seq}")));
    }
    Ok(Some(version))
}

/// Whether a frame with a valid checksum and a sequence number ≥ `seq` starts anywhere at
/// or after `from` (used to tell a torn tail from a damaged frame in the middle).
fn good_frame_follows(bytes: &[u8], from: usize, seq: u64) -> bool {
    let mut p = from;
    while p + FRAME_HEADER + FRAME_TRAILER <= bytes.len() {
        let h = &bytes[p..];
        let declared = le_u32(h, 0) as usize;
        let frame_seq = le_u64(h, 8);
        if (FRAME_HEADER + FRAME_TRAILER..=h.len()).contains(&declared)
            && FrameKind::from_u8(h[4]).is_some()
            && frame_seq >= seq
            && frame_seq - seq <= (bytes.len() / (FRAME_HEADER + FRAME_TRAILER)) as u64
            && crc32c::crc32c(&h[..declared - FRAME_TRAILER]) == le_u32(h, declared - FRAME_TRAILER)
        {
            return true;
        }
        p += 1;
    }
    false
}

/// Read the frames of one WAL file (header already checked), calling `apply` on each in
/// order. `last` says whether this is the newest file: only there may the final frame be
/// torn. A frame that fails its checks is a torn tail when it is incomplete — it runs past
/// the end of the file, or breaks off into zero bytes that last to the end (a tail the
/// file system extended but never wrote) — and no good frame follows it; any other bad
/// frame is corruption.
pub fn scan_file(
    path: &Path,
    bytes: &[u8],
    first_seq: u64,
    last: bool,
    apply: &mut dyn FnMut(Frame<'_>) -> Result<()>,
) -> Result<FileScan> {
    let mut pos = FILE_HEADER;
    let mut seq = first_seq;
    // Start of the run of zero bytes that ends the file (bytes.len() if none).
    let zero_tail = bytes.iter().rposition(|&b| b != 0).map_or(0, |i| i + 1).max(FILE_HEADER);
    while pos < bytes.len() {
        let rest = &bytes[pos..];
        let declared = if rest.len() >= 4 { le_u32(rest, 0) as usize } else { 0 };
        let sane = (FRAME_HEADER + FRAME_TRAILER..=MAX_FRAME).contains(&declared);
        let frame_end = if sane { pos + declared } else { pos + FRAME_HEADER };
        let problem: Option<String> = if rest.len() < FRAME_HEADER {
            Some("incomplete frame header".into())
        } else if !sane {
            Some(format!("impossible frame length {declared}"))
        } else if declared > rest.len() {
            Some(format!("frame of {declared} bytes runs past the end of the file"))
        } else {
            let body = &rest[..declared - FRAME_TRAILER];
            let crc = le_u32(rest, declared - FRAME_TRAILER);
            let frame_seq = le_u64(rest, 8);
            if crc32c::crc32c(body) != crc {
                Some("frame checksum mismatch".into())
            } else if FrameKind::from_u8(rest[4]).is_none() {
                return Err(corruption(path, pos as u64, &format!("unknown frame kind {}", rest[4])));
            } else if frame_seq != seq {
                return Err(corruption(path, pos as u64, &format!("frame sequence {frame_seq}, expected {seq}")));
            } else if rest[5] & !FLAG_TAGGED != 0 {
                return Err(corruption(path, pos as u64 + 5, &format!("unknown frame flags {:#x}", rest[5])));
            } else if rest[5] & FLAG_TAGGED != 0 && declared < FRAME_HEADER + TAG_BYTES + FRAME_TRAILER {
                return Err(corruption(
                    path,
                    pos as u64,
                    &format!("tagged frame of {declared} bytes has no room for its tag"),
                ));
            } else if rest[4] == FrameKind::Tag as u8
                && (rest[5] & FLAG_TAGGED == 0 || declared != FRAME_HEADER + TAG_BYTES + FRAME_TRAILER)
            {
                return Err(corruption(path, pos as u64, "a tag frame without a tag, or with a payload"));
            } else {
                None
            }
        };
        if let Some(what) = problem {
            if last && zero_tail < frame_end && !good_frame_follows(bytes, pos + 1, seq) {
                return Ok(FileScan { end: FileEnd::Torn { at: pos as u64 }, next_seq: seq });
            }
            return Err(corruption(path, pos as u64, &what));
        }
        let kind = FrameKind::from_u8(rest[4]).ok_or_else(|| corruption(path, pos as u64, "unknown frame kind"))?;
        let body_end = declared - FRAME_TRAILER;
        let (payload, tag) = if rest[5] & FLAG_TAGGED != 0 {
            (&rest[FRAME_HEADER..body_end - TAG_BYTES], Some(le_u64(rest, body_end - TAG_BYTES)))
        } else {
            (&rest[FRAME_HEADER..body_end], None)
        };
        apply(Frame { seq, kind, payload, tag, offset: pos as u64, len: declared as u64 })?;
        seq += 1;
        pos += declared;
    }
    Ok(FileScan { end: FileEnd::Clean, next_seq: seq })
}
