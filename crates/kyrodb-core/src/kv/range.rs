//! Ordered scans: a k-way merge of the memtable, the frozen memtable and every run, newest
//! source winning for a key, tombstones hiding older values. A scan is served in pages
//! (each under one read lock, so a page is a consistent view); the caller continues from
//! the cursor a page returns.

use super::memtable::Memtable;
use super::run::{Found, Run};
use super::value::{Value, ValueKind};
use super::{KvState, KvStore};
use crate::error::Result;

/// One page of a scan.
#[derive(Debug, Default, PartialEq)]
pub struct RangePage {
    /// Entries in scan order.
    pub entries: Vec<(u64, Value)>,
    /// Where the scan goes on (the remaining inclusive bounds), or `None` when it is done.
    pub next: Option<(u64, u64)>,
}

/// Most entries (tombstones included) one page examines, so that a page stays short even
/// across long runs of deleted keys.
const MAX_EXAMINED: usize = 65_536;

/// Memtable entries in key order, boxed (the active and frozen memtables merge).
type MemEntries<'a> = Box<dyn Iterator<Item = (u64, ValueKind, &'a [u8])> + 'a>;

/// A source's position in the merge.
enum Cursor<'a> {
    Mem(std::iter::Peekable<MemEntries<'a>>),
    Run { run: &'a Run, pos: usize, end: usize, reverse: bool },
}

impl<'a> Cursor<'a> {
    fn mem(m: &'a Memtable, lo: u64, hi: u64, reverse: bool) -> Cursor<'a> {
        let it = m.range(lo, hi);
        let boxed: Box<dyn Iterator<Item = (u64, ValueKind, &'a [u8])> + 'a> =
            if reverse { Box::new(it.rev()) } else { Box::new(it) };
        Cursor::Mem(boxed.peekable())
    }

    fn run(run: &'a Run, lo: u64, hi: u64, reverse: bool, store: &KvStore) -> Cursor<'a> {
        let start = run.lower_bound(lo, &store.counters);
        let end = if hi == u64::MAX { run.len() } else { run.lower_bound(hi + 1, &store.counters) };
        let end = end.max(start);
        if reverse {
            // Walk positions end-1 down to start: `pos` counts down from `end`.
            Cursor::Run { run, pos: end, end: start, reverse }
        } else {
            Cursor::Run { run, pos: start, end, reverse }
        }
    }

    fn peek_key(&mut self) -> Option<u64> {
        match self {
            Cursor::Mem(it) => it.peek().map(|(k, _, _)| *k),
            Cursor::Run { run, pos, end, reverse } => {
                if *reverse {
                    (*pos > *end).then(|| run.keys()[*pos - 1])
                } else {
                    (*pos < *end).then(|| run.keys()[*pos])
                }
            }
        }
    }

    /// The current entry, as (kind, bytes), then advance.
    fn take(&mut self) -> Result<Option<(ValueKind, &'a [u8])>> {
        match self {
            Cursor::Mem(it) => Ok(it.next().map(|(_, kind, v)| (kind, v))),
            Cursor::Run { run, pos, reverse, .. } => {
                let i = if *reverse {
                    *pos -= 1;
                    *pos
                } else {
                    *pos += 1;
                    *pos - 1
                };
                let run: &'a Run = run;
                Ok(Some(match run.entry(i)?.1 {
                    Found::Deleted => (ValueKind::Deleted, &[][..]),
                    Found::Value(kind, v) => (kind, v),
                }))
            }
        }
    }
}

impl KvStore {
    /// Up to `limit` live entries with keys in `lo..=hi`, ascending (or descending with
    /// `reverse`), and where to continue.
    pub fn range_page(&self, lo: u64, hi: u64, reverse: bool, limit: usize) -> Result<RangePage> {
        self.check_open()?;
        if lo > hi || limit == 0 {
            return Ok(RangePage::default());
        }
        let st = self.state.read();
        scan(&st, self, lo, hi, reverse, limit)
    }
}

fn scan(st: &KvState, store: &KvStore, lo: u64, hi: u64, reverse: bool, limit: usize) -> Result<RangePage> {
    // Sources newest first: on equal keys the first wins.
    let mut cursors: Vec<Cursor<'_>> = Vec::with_capacity(2 + st.runs.len());
    cursors.push(Cursor::mem(&st.active, lo, hi, reverse));
    if let Some(f) = &st.frozen {
        cursors.push(Cursor::mem(f, lo, hi, reverse));
    }
    for r in &st.runs {
        cursors.push(Cursor::run(r, lo, hi, reverse, store));
    }
    let mut page = RangePage::default();
    let mut examined = 0;
    let mut heads: Vec<Option<u64>> = cursors.iter_mut().map(Cursor::peek_key).collect();
    loop {
        let next = heads.iter().flatten().copied().reduce(|a, b| if reverse { a.max(b) } else { a.min(b) });
        let Some(key) = next else { return Ok(page) };
        let mut winner = None;
        for (c, h) in cursors.iter_mut().zip(heads.iter_mut()) {
            if *h == Some(key) {
                let e = c.take()?;
                if winner.is_none() {
                    winner = e;
                }
                *h = c.peek_key();
            }
        }
        examined += 1;
        if let Some((kind, v)) = winner {
            if kind != ValueKind::Deleted {
                page.entries.push((key, Value { kind, bytes: v.to_vec() }));
            }
        }
        let done_here = page.entries.len() >= limit || examined >= MAX_EXAMINED;
        if done_here {
            let more = if reverse { key > lo } else { key < hi };
            if more && heads.iter().any(Option::is_some) {
                page.next = Some(if reverse { (lo, key - 1) } else { (key + 1, hi) });
            }
            return Ok(page);
        }
    }
}
