//! The manifest: the one truth of which collections and files are live and how much of the
//! WAL they already contain. Replaced atomically (write `MANIFEST.tmp`, fsync, rename,
//! fsync the directory); files it does not name are removed at open.
//!
//! Format: `"KYROMANI"` (8 bytes), format version u32, body length u32, crc32c of the body
//! u32, then the body: UTF-8 JSON of [`Manifest`] (legible on purpose: it is small and it
//! is the first thing to read when something goes wrong).

use super::codec::le_u32;
use super::fs;
use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// File name in the database directory.
pub const FILE: &str = "MANIFEST";
const MAGIC: &[u8; 8] = b"KYROMANI";
const VERSION: u32 = 1;
const HEADER: usize = 20;
/// Largest manifest accepted (a million segments' worth; anything larger is damage).
const MAX_BODY: usize = 256 << 20;

/// Graph settings of a collection as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexEntry {
    /// HNSW `M`.
    pub m: usize,
    /// HNSW `efConstruction`.
    pub ef_construction: usize,
    /// Live hot rows that trigger a background build.
    pub auto_build_rows: usize,
}

/// One segment file of a collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentEntry {
    /// File number: the segment is `seg/<file>.kseg`.
    pub file: u64,
    /// Rows in the segment (deleted included).
    pub rows: u64,
    /// Deletion bitmap file `seg/<n>.kdel`, absent while nothing in the segment is deleted.
    pub deletes: Option<u64>,
}

/// One collection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectionEntry {
    /// Number used in WAL frames (never reused, so frames of a dropped collection that
    /// had the same name are recognised and skipped).
    pub id: u64,
    /// Name.
    pub name: String,
    /// Dimension.
    pub dimension: usize,
    /// Metric name (`cosine`, `l2`, `ip`).
    pub metric: String,
    /// Graph settings; absent for exact-only collections.
    pub index: Option<IndexEntry>,
    /// Id type (`string`); absent for `u64` ids (every manifest written before string
    /// ids existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id_type: Option<String>,
    /// Every WAL frame of this collection with a sequence number ≤ this is contained in
    /// the segments and deletion bitmaps below; replay applies only later frames.
    pub flushed_seq: u64,
    /// Live segments, oldest first.
    pub segments: Vec<SegmentEntry>,
}

/// One sorted run of the key-value store.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunEntry {
    /// File number: the run is `seg/<file>.krun`.
    pub file: u64,
    /// Entries in the run (tombstones included).
    pub entries: u64,
}

/// The key-value store.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvEntry {
    /// Every key-value WAL frame with a sequence number ≤ this is contained in the runs.
    pub flushed_seq: u64,
    /// Live keys in the runs (what `count()` starts from at recovery).
    pub live: u64,
    /// Runs, newest first.
    pub runs: Vec<RunEntry>,
}

/// A writer's tag and its position among the writes (the WAL sequence number of the frame
/// that carried it, or for a tagged create or drop of a collection the last sequence number
/// logged before it).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagEntry {
    /// Position.
    pub seq: u64,
    /// The tag.
    pub tag: u64,
}

/// The manifest body.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Random id of this database, written into every WAL file header.
    pub database_id: u64,
    /// Next unused file number.
    pub next_file: u64,
    /// Next unused collection id.
    pub next_collection: u64,
    /// Sequence numbers below this were handed out before the manifest was written (the
    /// WAL continues from at least here even when all its files were removed).
    pub next_seq: u64,
    /// Collections by creation.
    pub collections: Vec<CollectionEntry>,
    /// The key-value store (absent in manifests written before it existed).
    #[serde(default)]
    pub kv: KvEntry,
    /// The last tag applied when this manifest was written (absent before tags existed,
    /// and while no write was ever tagged). Tagged WAL frames after `seq` are newer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tag: Option<TagEntry>,
}

impl Manifest {
    /// A new, empty database.
    pub fn new(database_id: u64) -> Manifest {
        Manifest {
            database_id,
            next_file: 1,
            next_collection: 1,
            next_seq: 1,
            collections: Vec::new(),
            kv: KvEntry::default(),
            last_tag: None,
        }
    }

    /// Read `dir/MANIFEST`, or `None` when there is none.
    pub fn read(dir: &Path) -> Result<Option<Manifest>> {
        let path = dir.join(FILE);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::Io(format!("cannot read {}: {e}", path.display()))),
        };
        let bad =
            |offset: usize, what: &str| Error::Corruption(format!("{}: {what} at offset {offset}", path.display()));
        if bytes.len() < HEADER || &bytes[0..8] != MAGIC {
            return Err(bad(0, "not a KyroDB manifest (bad magic)"));
        }
        let version = le_u32(&bytes, 8);
        if version != VERSION {
            return Err(bad(8, &format!("unsupported manifest version {version}")));
        }
        let len = le_u32(&bytes, 12) as usize;
        let crc = le_u32(&bytes, 16);
        if len > MAX_BODY || HEADER + len != bytes.len() {
            return Err(bad(12, &format!("body length {len} does not match the file size {}", bytes.len())));
        }
        let body = &bytes[HEADER..];
        if crc32c::crc32c(body) != crc {
            return Err(bad(HEADER, "checksum mismatch"));
        }
        let m: Manifest = serde_json::from_slice(body)
            .map_err(|e| bad(HEADER + json_error_offset(body, &e), &format!("unreadable body: {e}")))?;
        Ok(Some(m))
    }

    /// Replace `dir/MANIFEST` atomically with this one.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let body = serde_json::to_vec_pretty(self).map_err(|e| Error::Internal(format!("manifest encoding: {e}")))?;
        let mut bytes = Vec::with_capacity(HEADER + body.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&VERSION.to_le_bytes());
        bytes.extend_from_slice(&(body.len() as u32).to_le_bytes());
        bytes.extend_from_slice(&crc32c::crc32c(&body).to_le_bytes());
        bytes.extend_from_slice(&body);
        fs::write_file_atomic(dir, FILE, &bytes).map_err(|e| Error::Io(format!("cannot write the manifest: {e}")))
    }

    /// The collection with id `id`.
    pub fn collection_mut(&mut self, id: u64) -> Option<&mut CollectionEntry> {
        self.collections.iter_mut().find(|c| c.id == id)
    }

    /// Every file number the manifest refers to (segments, deletion bitmaps, runs).
    pub fn live_files(&self) -> std::collections::HashSet<u64> {
        let mut out = std::collections::HashSet::new();
        for c in &self.collections {
            for s in &c.segments {
                out.insert(s.file);
                if let Some(d) = s.deletes {
                    out.insert(d);
                }
            }
        }
        out.extend(self.kv.runs.iter().map(|r| r.file));
        out
    }
}

/// Byte offset in `body` of the line and column a JSON error names (columns count bytes,
/// lines and columns from 1; 0 when the error names no position).
fn json_error_offset(body: &[u8], e: &serde_json::Error) -> usize {
    if e.line() == 0 {
        return 0;
    }
    let line_start = if e.line() == 1 {
        0
    } else {
        body.iter().enumerate().filter(|&(_, &b)| b == b'\n').nth(e.line() - 2).map_or(body.len(), |(i, _)| i + 1)
    };
    (line_start + e.column().saturating_sub(1)).min(body.len())
}
