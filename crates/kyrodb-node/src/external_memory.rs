//! Native memory reported to V8 (`napi_adjust_external_memory`): hot tiers, in-memory
//! segments, field indexes, id maps and memtables live outside the JS heap, and a
//! garbage collector that cannot see them under-collects the JS objects that keep them
//! alive. Each database handle reports what it holds after every call that can change it
//! (writes, builds, flushes, open) — the engine's own `Database::memory_bytes`, a sum over
//! collections of sizes kept up to date as rows move — and gives it all back at close.

use kyrodb_core::Database;
use napi::bindgen_prelude::Env;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// Changes smaller than this wait for the next report (V8 only needs the magnitude).
const REPORT_STEP: i64 = 256 << 10;

/// What one database handle has reported to V8.
pub struct MemoryReport {
    db: Arc<Database>,
    reported: AtomicI64,
}

impl MemoryReport {
    pub fn new(db: Arc<Database>) -> Arc<MemoryReport> {
        Arc::new(MemoryReport { db, reported: AtomicI64::new(0) })
    }

    /// Bring V8's figure up to date (on the JS thread: `env` is the caller's, and every
    /// call of this comes from that one thread, so the load and store do not race).
    pub fn sync(&self, env: &Env) {
        let now = if self.db.is_closed() { 0 } else { self.db.memory_bytes() as i64 };
        let before = self.reported.load(Ordering::Relaxed);
        if (now - before).abs() < REPORT_STEP && !(now == 0 && before != 0) {
            return;
        }
        // Recorded only once V8 took it; a failure leaves V8's estimate stale for one
        // call and never fails the caller's operation.
        if env.adjust_external_memory(now - before).is_ok() {
            self.reported.store(now, Ordering::Relaxed);
        }
    }

    /// Bytes V8 has been told this database holds (`db.stats().reportedExternalBytes`).
    pub fn reported(&self) -> i64 {
        self.reported.load(Ordering::Relaxed)
    }
}
