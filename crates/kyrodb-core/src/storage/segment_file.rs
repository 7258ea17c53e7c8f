//! Segment files (`seg/<n>.kseg`): one immutable segment — vectors in graph order, ids,
//! metadata and the frozen HNSW graph — laid out so that opening is a `mmap` plus checks,
//! and searching reads the mapped arrays in place.
//!
//! The container (header, section table, checksums) is [`super::sectioned`]'s:
//!
//! ```text
//! header (512 bytes; 256 in format version 1)
//!   0  magic "KYROSEG1"          8
//!   8  format version u32        (4; versions 1–3, without sections 8–13, 10–13 and
//!                                 11–13, are read: their id order and field index
//!                                 are computed at open)
//!  12  flags u32                 bit 0: has a graph
//!  16  rows u64
//!  24  dimension u32
//!  28  metric u8                 0 cosine, 1 l2, 2 ip
//!  29  vector piece shift u8     (version 3) section 0 is checksummed per piece of
//!                                2^shift bytes in section 10; 12..=30; 2 bytes reserved
//!  32  graph M u32, entry u32, max level u8, 3 bytes reserved   (zero without a graph)
//!  44  section count u32         (16; 11 in version 3, 10 in version 2, 8 in version 1)
//!  48  16 × section { offset u64, length u64 (bytes), crc32c u32, reserved u32 }
//!      (at most 18 fit)
//! 496  crc32c u32 of bytes 0..496; zero padding to 512 (version 1: at 240, of 0..240)
//! sections, each starting on a 64-byte boundary, in this order:
//!   0 vectors      rows × dimension f32
//!   1 ids          rows × u64
//!   2 meta offsets (rows + 1) × u64 into section 3; equal neighbours = no metadata
//!   3 meta bytes   JSON objects, concatenated
//!   4 levels       rows × u8          (graph only)
//!   5 layer 0      rows × (2M + 1) × u32: degree, then neighbours
//!   6 upper slots  rows × u32 (u32::MAX for layer-0-only nodes)
//!   7 upper lists  u32: per upper node, `level` lists of M + 1 (degree, neighbours)
//!   8 sq8 ranges   dimension × f32 offsets (value of code 0), then dimension × f32 steps
//!                  (graph only; every step finite and > 0)
//!   9 sq8 codes    rows × stride u8, stride = dimension rounded up to 64, zero padding
//!                  (graph only; row r quantizes vector r, see `vector/quant.rs`)
//!  10 vector piece crc32c per 2^shift-byte piece of section 0 (the last one shorter), u32
//!  11 sorted ids   rows × u64, ascending (the id order: binary-searched by id lookups)
//!  12 sorted rows  rows × u32: the row holding each id of section 11
//!  13 field index  the metadata's inverted indexes ([`FieldIndex::encode`])
//!  14 name offsets (rows + 1) × u64 into section 15 (string-id collections; empty
//!                  otherwise, and section 15 too)
//!  15 name bytes   the rows' string ids, UTF-8, concatenated (section 1 holds their keys)
//! ```
//!
//! Sections 11–13 make opening independent of what the rows hold: no metadata is
//! parsed and no id map is built (metadata is read from the mapped section 3 when a row
//! is returned).
//!
//! Opening checks the header checksum, every section's bounds, length and checksum, and the
//! graph's structure (degrees, neighbour ids, slots, levels), so a damaged file is
//! reported as `CORRUPTION` and can never send the search kernel out of bounds. One
//! exception ([`Checks::DeferLargeVectors`]): the vectors of a large segment with 8-bit
//! codes are checked piece by piece on first use and by a background sweep
//! ([`super::deferred`]) — searches walk the codes, and read vectors only to re-rank.

use super::codec::{as_bytes, le_u32, le_u64};
use super::deferred::{piece_crcs, DeferredCheck, PIECE_SHIFTS};
use super::sectioned;
use super::slab::Slab;
use crate::error::{Error, Result};
use crate::vector::filter::index::FieldIndex;
use crate::vector::hnsw::FrozenGraph;
use crate::vector::quant::{code_stride, Sq8};
use crate::vector::Metric;
use std::path::Path;
use std::sync::Arc;

const MAGIC: &[u8; 8] = b"KYROSEG1";
const VERSION: u32 = 4;
const SECTIONS: usize = 16;

/// Bytes per checksummed piece of the vector section in files this build writes
/// (256 KiB: a re-ranked candidate costs at most one such read the first time).
pub const VECTOR_PIECE_SHIFT: u32 = 18;

/// Section count of each readable format version.
fn sections_for(version: u32) -> Option<usize> {
    match version {
        1 => Some(8),
        2 => Some(10),
        3 => Some(11),
        4 => Some(SECTIONS),
        _ => None,
    }
}

/// How much of a segment file [`open`] checks before returning.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Checks {
    /// Every section.
    All,
    /// Every section, except that the vectors of a segment with a graph and 8-bit codes,
    /// if at least this many bytes, are left to a [`DeferredCheck`].
    DeferLargeVectors(u64),
}

/// The default threshold of [`Checks::DeferLargeVectors`]: below 64 MiB of vectors
/// checking at open costs a few milliseconds.
pub const DEFAULT_DEFER_VECTOR_BYTES: u64 = 64 << 20;

/// Name of segment file number `file`.
pub fn file_name(file: u64) -> String {
    format!("{file:016}.kseg")
}

/// Everything a segment file stores, borrowed from an in-memory segment.
pub struct SegmentParts<'a> {
    /// Components per vector.
    pub dim: usize,
    /// Metric.
    pub metric: Metric,
    /// Row-major vectors, in row order.
    pub vectors: &'a [f32],
    /// External id per row.
    pub ids: &'a [u64],
    /// Metadata JSON per row.
    pub metadata: Vec<Option<&'a str>>,
    /// The graph, if the segment has one.
    pub graph: Option<&'a FrozenGraph>,
    /// The rows' 8-bit codes (present with the graph).
    pub quant: Option<&'a Sq8>,
    /// The id order: ids ascending, and the row of each.
    pub id_order: (&'a [u64], &'a [u32]),
    /// The metadata's field index.
    pub index: &'a FieldIndex,
    /// String id per row (string-id collections).
    pub names: Option<Vec<&'a str>>,
}

/// Rows by id: the ids in ascending order and the row holding each (several rows may hold
/// one id; at most one of them is live).
pub struct IdOrder {
    /// Ids, ascending.
    pub ids: Slab<u64>,
    /// `rows[i]` holds `ids[i]`.
    pub rows: Slab<u32>,
}

impl IdOrder {
    /// The id order of `ids` (row `r` holds `ids[r]`), computed.
    pub fn compute(ids: &[u64]) -> IdOrder {
        let mut pairs: Vec<(u64, u32)> = ids.iter().enumerate().map(|(r, &id)| (id, r as u32)).collect();
        pairs.sort_unstable();
        let (ids, rows): (Vec<u64>, Vec<u32>) = pairs.into_iter().unzip();
        IdOrder { ids: ids.into(), rows: rows.into() }
    }

    /// Positions `from..` of the id order whose id is greater than `after` start here.
    pub fn first_after(&self, after: Option<u64>) -> usize {
        after.map_or(0, |a| self.ids.partition_point(|&x| x <= a))
    }

    /// The rows holding `id` (usually none or one).
    #[inline]
    pub fn rows_of(&self, id: u64) -> &[u32] {
        let ids: &[u64] = &self.ids;
        if ids.is_empty() || id < ids[0] || id > ids[ids.len() - 1] {
            // Ids past either end (new ids of an ingest usually are) cost two compares.
            return &[];
        }
        let lo = ids.partition_point(|&x| x < id);
        let hi = lo + ids[lo..].iter().take_while(|&&x| x == id).count();
        &self.rows[lo..hi]
    }

    /// Bytes held in memory (nothing when mapped).
    pub fn memory_bytes(&self) -> usize {
        if self.ids.is_mapped() {
            0
        } else {
            self.ids.len() * 12
        }
    }
}

/// A string per row (metadata JSON, string ids), over mapped offsets and bytes sections
/// (UTF-8 checked at open, row boundaries included).
pub struct MappedStrings {
    offsets: Slab<u64>,
    bytes: Slab<u8>,
}

impl MappedStrings {
    /// The string of row `r` (`None`: the row has none).
    pub fn get(&self, r: usize) -> Option<&str> {
        let (s, e) = (self.offsets[r] as usize, self.offsets[r + 1] as usize);
        // Checked at open: ordered, in bounds, on character boundaries of valid UTF-8.
        (s < e).then(|| std::str::from_utf8(&self.bytes[s..e]).unwrap_or_default())
    }

    /// Rows.
    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A segment file opened and checked.
pub struct SegmentFile {
    /// Components per vector.
    pub dim: usize,
    /// Rows.
    pub rows: usize,
    /// Vectors, mapped.
    pub vectors: Slab<f32>,
    /// Ids, mapped.
    pub ids: Slab<u64>,
    /// Metadata JSON per row, mapped.
    pub metadata: MappedStrings,
    /// String ids per row, mapped (string-id collections).
    pub names: Option<MappedStrings>,
    /// Rows by id (`None` for files before version 4: the caller computes it).
    pub id_order: Option<IdOrder>,
    /// The metadata's field index (`None` before version 4: the caller builds it).
    pub index: Option<FieldIndex>,
    /// Graph over mapped arrays.
    pub graph: Option<FrozenGraph>,
    /// 8-bit codes over the mapped code rows (`None` for a version 1 file: the caller
    /// computes them).
    pub quant: Option<Sq8>,
    /// The vectors' checks still owed (`None`: checked at open).
    pub deferred: Option<DeferredCheck>,
}

fn metric_code(m: Metric) -> u8 {
    match m {
        Metric::Cosine => 0,
        Metric::L2 => 1,
        Metric::InnerProduct => 2,
    }
}

/// Write a segment as `dir/<file>.kseg` (temporary name, fsync, rename, directory fsync).
pub fn write(dir: &Path, file: u64, parts: &SegmentParts<'_>) -> Result<()> {
    let io = |e: std::io::Error| Error::Io(format!("cannot write segment {}: {e}", file_name(file)));
    let rows = parts.ids.len();
    let mut meta_offsets = Vec::with_capacity(rows + 1);
    let mut meta_bytes = Vec::new();
    meta_offsets.push(0u64);
    for m in &parts.metadata {
        if let Some(json) = m {
            meta_bytes.extend_from_slice(json.as_bytes());
        }
        meta_offsets.push(meta_bytes.len() as u64);
    }
    let (name_offsets, name_bytes) = match &parts.names {
        Some(names) => {
            let mut offsets = Vec::with_capacity(rows + 1);
            let mut bytes = Vec::new();
            offsets.push(0u64);
            for n in names {
                bytes.extend_from_slice(n.as_bytes());
                offsets.push(bytes.len() as u64);
            }
            (offsets, bytes)
        }
        None => (Vec::new(), Vec::new()),
    };
    let empty_u8: &[u8] = &[];
    let empty_u32: &[u32] = &[];
    let (levels, adj0, slots, upper): (&[u8], &[u32], &[u32], &[u32]) = match parts.graph {
        Some(g) => (&g.levels, &g.adj0, &g.upper_slot, &g.upper_adj),
        None => (empty_u8, empty_u32, empty_u32, empty_u32),
    };
    let (ranges, codes): (Vec<f32>, &[u8]) = match parts.quant {
        Some(q) => {
            let (lo, step, codes) = q.parts();
            (lo.iter().chain(step).copied().collect(), codes)
        }
        None => (Vec::new(), &[]),
    };
    // Little-endian hosts only (x86-64, aarch64): the arrays are written as they sit in
    // memory and mapped back the same way.
    let vector_crcs = piece_crcs(as_bytes(parts.vectors), VECTOR_PIECE_SHIFT);
    let index = parts.index.encode();
    let sections: [&[u8]; SECTIONS] = [
        as_bytes(parts.vectors),
        as_bytes(parts.ids),
        as_bytes(&meta_offsets),
        &meta_bytes,
        levels,
        as_bytes(adj0),
        as_bytes(slots),
        as_bytes(upper),
        as_bytes(&ranges),
        codes,
        as_bytes(&vector_crcs),
        as_bytes(parts.id_order.0),
        as_bytes(parts.id_order.1),
        &index,
        as_bytes(&name_offsets),
        &name_bytes,
    ];
    let mut fields = [0u8; 32];
    fields[0..4].copy_from_slice(&(parts.graph.is_some() as u32).to_le_bytes());
    fields[4..12].copy_from_slice(&(rows as u64).to_le_bytes());
    fields[12..16].copy_from_slice(&(parts.dim as u32).to_le_bytes());
    fields[16] = metric_code(parts.metric);
    fields[17] = VECTOR_PIECE_SHIFT as u8;
    if let Some(g) = parts.graph {
        fields[20..24].copy_from_slice(&(g.m as u32).to_le_bytes());
        fields[24..28].copy_from_slice(&g.entry.to_le_bytes());
        fields[28] = g.max_level;
    }
    sectioned::write(dir, &file_name(file), MAGIC, VERSION, &fields, &sections).map_err(io)
}

/// Open and check `path`, which must hold a segment of `dim` and `metric`.
pub fn open(path: &Path, dim: usize, metric: Metric, checks: Checks) -> Result<SegmentFile> {
    let bad = |offset: u64, what: &str| Error::Corruption(format!("{}: {what} at offset {offset}", path.display()));
    let file = sectioned::map(path, MAGIC, "segment", &sections_for)?;
    let map = Arc::clone(&file.map);
    let b = file.bytes();
    let has_graph = le_u32(b, 12) & 1 == 1;
    let sec = &file.sections;
    // Vectors are deferred only where searches read few of them: behind a graph walk
    // over codes (version 3 stores the piece checksums).
    let defer = match checks {
        Checks::All => false,
        Checks::DeferLargeVectors(min) => {
            file.version() >= 3 && has_graph && sec[9].1 > 0 && sec[0].1 as u64 >= min.max(1)
        }
    };
    let checked: Vec<usize> = (0..sec.len()).filter(|&i| !(defer && i == 0)).collect();
    file.check(&checked)?;
    let rows = le_u64(b, 16);
    let fdim = le_u32(b, 24) as usize;
    if fdim != dim || b[28] != metric_code(metric) {
        return Err(bad(
            24,
            &format!("segment has dimension {fdim} / metric code {}, the collection {dim} / {metric:?}", b[28]),
        ));
    }
    if rows > u32::MAX as u64 {
        return Err(bad(16, "impossible row count"));
    }
    let rows = rows as usize;
    let expect = |i: usize, want: usize| -> Result<()> {
        if sec[i].1 != want {
            return Err(bad(48 + i as u64 * 24, &format!("section {i} is {} bytes, expected {want}", sec[i].1)));
        }
        Ok(())
    };
    expect(0, rows * dim * 4)?;
    expect(1, rows * 8)?;
    expect(2, (rows + 1) * 8)?;
    let slab_err = |i: usize| bad(sec[i].0 as u64, &format!("section {i} misaligned"));
    let vectors = Slab::<f32>::mapped(&map, sec[0].0, rows * dim).ok_or_else(|| slab_err(0))?;
    let ids = Slab::<u64>::mapped(&map, sec[1].0, rows).ok_or_else(|| slab_err(1))?;
    let metadata = map_strings(&map, b, sec, 2, 3, rows, &bad)?;
    let names = if file.version() >= 4 && sec[14].1 > 0 {
        expect(14, (rows + 1) * 8)?;
        Some(map_strings(&map, b, sec, 14, 15, rows, &bad)?)
    } else {
        None
    };
    let (id_order, index) = if file.version() >= 4 {
        expect(11, rows * 8)?;
        expect(12, rows * 4)?;
        let order = IdOrder {
            ids: Slab::mapped(&map, sec[11].0, rows).ok_or_else(|| slab_err(11))?,
            rows: Slab::mapped(&map, sec[12].0, rows).ok_or_else(|| slab_err(12))?,
        };
        if let Some(i) = order.ids.windows(2).position(|w| w[0] > w[1]) {
            return Err(bad((sec[11].0 + (i + 1) * 8) as u64, "sorted ids out of order"));
        }
        if let Some(i) = order.rows.iter().position(|&r| r as usize >= rows) {
            return Err(bad((sec[12].0 + i * 4) as u64, "sorted ids name a row past the segment"));
        }
        let index = FieldIndex::decode(&b[sec[13].0..sec[13].0 + sec[13].1], rows)
            .map_err(|e| bad((sec[13].0 + e.offset) as u64, &format!("field index: {}", e.what)))?;
        (Some(order), Some(index))
    } else {
        (None, None)
    };
    let graph = if has_graph {
        let m = le_u32(b, 32) as usize;
        let entry = le_u32(b, 36);
        let max_level = b[40];
        if !(2..=crate::vector::hnsw::MAX_M).contains(&m) || entry as usize >= rows.max(1) {
            return Err(bad(32, "impossible graph parameters"));
        }
        expect(4, rows)?;
        expect(5, rows * (2 * m + 1) * 4)?;
        expect(6, rows * 4)?;
        if sec[7].1 % 4 != 0 {
            return Err(bad(48 + 7 * 24, "upper layer section is not whole u32s"));
        }
        let g = FrozenGraph {
            n: rows,
            dim,
            m,
            entry,
            max_level,
            levels: Slab::mapped(&map, sec[4].0, rows).ok_or_else(|| slab_err(4))?,
            adj0: Slab::mapped(&map, sec[5].0, rows * (2 * m + 1)).ok_or_else(|| slab_err(5))?,
            upper_slot: Slab::mapped(&map, sec[6].0, rows).ok_or_else(|| slab_err(6))?,
            upper_adj: Slab::mapped(&map, sec[7].0, sec[7].1 / 4).ok_or_else(|| slab_err(7))?,
        };
        let at = |i: usize| sec[i].0 as u64;
        check_graph(&g, [at(4), at(5), at(6), at(7)]).map_err(|(offset, what)| bad(offset, &what))?;
        Some(g)
    } else {
        None
    };
    let quant = if has_graph && file.version() >= 2 {
        expect(8, dim * 8)?;
        expect(9, rows * code_stride(dim))?;
        let ranges = Slab::<f32>::mapped(&map, sec[8].0, dim * 2).ok_or_else(|| slab_err(8))?;
        let codes = Slab::<u8>::mapped(&map, sec[9].0, sec[9].1).ok_or_else(|| slab_err(9))?;
        let q = Sq8::from_parts(dim, rows, ranges[..dim].to_vec(), ranges[dim..].to_vec(), codes)
            .ok_or_else(|| bad(sec[8].0 as u64, "quantization ranges are not finite with positive steps"))?;
        Some(q)
    } else {
        None
    };
    let deferred = if defer {
        let shift = b[29] as u32;
        let table = (sec[10].1 % 4 == 0).then(|| Slab::<u32>::mapped(&map, sec[10].0, sec[10].1 / 4)).flatten();
        let check = table.filter(|_| PIECE_SHIFTS.contains(&shift)).and_then(|crcs| {
            DeferredCheck::new(
                Arc::clone(&file.file),
                path.to_path_buf(),
                sec[0].0 as u64,
                sec[0].1 as u64,
                shift,
                crcs,
            )
        });
        Some(check.ok_or_else(|| bad(sec[10].0 as u64, "vector piece checksums do not fit the vectors"))?)
    } else {
        None
    };
    Ok(SegmentFile { dim, rows, vectors, ids, metadata, names, id_order, index, graph, quant, deferred })
}

/// Map a per-row string column: offsets section `offsets_at` ((rows + 1) × u64, from 0,
/// ascending) into bytes section `bytes_at`. One pass over the offsets and one UTF-8 check
/// of the whole section, with every offset on a character boundary; nothing is parsed.
fn map_strings(
    map: &Arc<memmap2::Mmap>,
    b: &[u8],
    sec: &[(usize, usize)],
    offsets_at: usize,
    bytes_at: usize,
    rows: usize,
    bad: &dyn Fn(u64, &str) -> Error,
) -> Result<MappedStrings> {
    let (o, o_len) = sec[offsets_at];
    let (t, t_len) = sec[bytes_at];
    let misaligned = |i: usize| bad(sec[i].0 as u64, &format!("section {i} misaligned"));
    if o_len != (rows + 1) * 8 {
        return Err(bad(
            48 + offsets_at as u64 * 24,
            &format!("section {offsets_at} is {o_len} bytes, expected {}", (rows + 1) * 8),
        ));
    }
    let offsets = Slab::<u64>::mapped(map, o, rows + 1).ok_or_else(|| misaligned(offsets_at))?;
    let bytes = Slab::<u8>::mapped(map, t, t_len).ok_or_else(|| misaligned(bytes_at))?;
    let text = std::str::from_utf8(&b[t..t + t_len])
        .map_err(|e| bad((t + e.valid_up_to()) as u64, "strings are not UTF-8"))?;
    if offsets[0] != 0 {
        return Err(bad(o as u64, "string offsets do not start at 0"));
    }
    for r in 0..rows {
        let (s, e) = (offsets[r] as usize, offsets[r + 1] as usize);
        if s > e || e > text.len() || !text.is_char_boundary(e) {
            return Err(bad(o as u64 + (r as u64 + 1) * 8, "string offsets out of order"));
        }
    }
    Ok(MappedStrings { offsets, bytes })
}

/// Structural checks that make every read of the search kernel in bounds. `at` is where
/// sections 4–7 (levels, layer 0, upper slots, upper lists) start in the file; an error
/// names the offset of the damaged entry.
fn check_graph(g: &FrozenGraph, at: [u64; 4]) -> std::result::Result<(), (u64, String)> {
    let [levels_at, adj0_at, slots_at, upper_at] = at;
    let n = g.n as u32;
    if g.levels[g.entry as usize] != g.max_level {
        return Err((36, "entry node is not on the top layer".into()));
    }
    let stride0 = g.stride0();
    for u in 0..g.n {
        let list_at = adj0_at + (u * stride0 * 4) as u64;
        let d = g.adj0[u * stride0] as usize;
        if d > 2 * g.m {
            return Err((list_at, format!("node {u} has degree {d} on layer 0")));
        }
        if let Some(j) = g.adj0[u * stride0 + 1..u * stride0 + 1 + d].iter().position(|&v| v >= n) {
            return Err((list_at + 4 + j as u64 * 4, format!("node {u} has a neighbour outside the graph")));
        }
        let level = g.levels[u];
        if level > g.max_level {
            return Err((levels_at + u as u64, format!("node {u} is above the top layer")));
        }
        let slot = g.upper_slot[u];
        if level == 0 {
            continue;
        }
        let stride = g.m + 1;
        let start = slot as usize;
        if slot == u32::MAX || start + level as usize * stride > g.upper_adj.len() {
            return Err((slots_at + u as u64 * 4, format!("node {u} has no room for its upper layers")));
        }
        for l in 0..level as usize {
            let s = start + l * stride;
            let d = g.upper_adj[s] as usize;
            if d > g.m || g.upper_adj[s + 1..s + 1 + d].iter().any(|&v| v >= n || g.levels[v as usize] < l as u8 + 1) {
                return Err((upper_at + s as u64 * 4, format!("node {u} has a bad list on layer {}", l + 1)));
            }
        }
    }
    Ok(())
}
