//! Fault injection for tests (Cargo feature `failpoints`): make the n-th write, fsync or
//! rename of the storage layer fail, as a full disk or a dying device would; or run a
//! test's code at a named point of the engine ([`set_hook`]): panic there, or wait there
//! while the test checks what other threads can do meanwhile.
//!
//! Without the feature every hook compiles to nothing. With it, the counters are global to
//! the process, so tests that arm failpoints must not run concurrently (the crash tests
//! serialise themselves on one lock).

use std::io;

/// A kind of storage operation that can be made to fail.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// A `write` to a file (WAL frame, segment, deletion bitmap, manifest).
    Write,
    /// An `fsync`/`fdatasync` of a file or directory.
    Sync,
    /// A `rename` that publishes a new file.
    Rename,
}

#[cfg(feature = "failpoints")]
mod imp {
    use super::Op;
    use parking_lot::Mutex;
    use std::io;

    struct State {
        counts: [u64; 3],
        armed: Option<(Op, u64)>,
        sticky: bool,
        fired: bool,
    }

    static STATE: Mutex<State> = Mutex::new(State { counts: [0; 3], armed: None, sticky: true, fired: false });

    fn slot(op: Op) -> usize {
        match op {
            Op::Write => 0,
            Op::Sync => 1,
            Op::Rename => 2,
        }
    }

    /// Reset the counters and disarm.
    pub fn reset() {
        let mut s = STATE.lock();
        *s = State { counts: [0; 3], armed: None, sticky: true, fired: false };
        HOOKS.lock().clear();
    }

    /// Make the `nth` (1-based, counted from the last reset) operation of kind `op` fail,
    /// and every later storage operation too (the process "crashed" there).
    pub fn arm(op: Op, nth: u64) {
        let mut s = STATE.lock();
        s.armed = Some((op, nth));
        s.sticky = true;
    }

    /// Make only the `nth` operation of kind `op` fail (a full disk that frees up again).
    pub fn arm_once(op: Op, nth: u64) {
        let mut s = STATE.lock();
        s.armed = Some((op, nth));
        s.sticky = false;
    }

    /// Operations of kind `op` since the last reset.
    pub fn count(op: Op) -> u64 {
        STATE.lock().counts[slot(op)]
    }

    type HookFn = std::sync::Arc<dyn Fn() + Send + Sync>;
    static HOOKS: Mutex<Vec<(&'static str, HookFn)>> = Mutex::new(Vec::new());

    /// Run `f` every time the engine passes the point `name` (`None`: remove the hook).
    /// [`reset`] removes every hook.
    pub fn set_hook(name: &'static str, f: Option<HookFn>) {
        let mut h = HOOKS.lock();
        h.retain(|(n, _)| *n != name);
        h.extend(f.map(|f| (name, f)));
    }

    pub(crate) fn hook(name: &'static str) {
        let f = HOOKS.lock().iter().find(|(n, _)| *n == name).map(|(_, f)| f.clone());
        if let Some(f) = f {
            f();
        }
    }

    pub(crate) fn hit(op: Op) -> io::Result<()> {
        let mut s = STATE.lock();
        if s.fired && s.sticky {
            return Err(io::Error::other("failpoint: storage is down after an injected failure"));
        }
        s.counts[slot(op)] += 1;
        if s.armed == Some((op, s.counts[slot(op)])) {
            s.fired = true;
            return Err(io::Error::other(format!("failpoint: injected failure of {op:?} #{}", s.counts[slot(op)])));
        }
        Ok(())
    }
}

#[cfg(feature = "failpoints")]
pub use imp::{arm, arm_once, count, reset, set_hook};

/// The points [`set_hook`] can name.
pub mod points {
    /// Inside the key-value store's `apply`, before each write of a logged batch goes into
    /// the memtable (under the store's write lock): a panic here leaves half a batch in
    /// memory.
    pub const KV_APPLY_WRITE: &str = "kv.apply.write";
    /// Before each lookup a key-value write makes to keep `count()` exact.
    pub const KV_COUNT_PROBE: &str = "kv.count.probe";
    /// Before each background merge of a collection's segments (on the merge thread): a
    /// panic here fails the merge.
    pub const COLLECTION_MERGE: &str = "collection.merge";
    /// Before each chunk of a build's swap check (rows of the new segment against their
    /// sources), with no lock held.
    pub const COLLECTION_SWAP_CHECK: &str = "collection.swap.check";
    /// After a build's swap check, before it takes the write lock (no lock held): rows
    /// that die here are caught only by the write-locked re-check.
    pub const COLLECTION_SWAP_LOCK: &str = "collection.swap.lock";
}

/// Runs the hook a test set for the point `name` (nothing without the feature).
#[inline(always)]
pub(crate) fn hook(name: &'static str) {
    #[cfg(feature = "failpoints")]
    {
        imp::hook(name)
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = name;
    }
}

/// Called before every storage operation of kind `op`; fails when a test armed it.
#[inline(always)]
pub(crate) fn hit(op: Op) -> io::Result<()> {
    #[cfg(feature = "failpoints")]
    {
        imp::hit(op)
    }
    #[cfg(not(feature = "failpoints"))]
    {
        let _ = op;
        Ok(())
    }
}
