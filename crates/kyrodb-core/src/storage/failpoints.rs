//! Fault injection for tests (Cargo feature `failpoints`): make the n-th write, fsync or
//! rename of the storage layer fail, as a full disk or a dying device would.
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
pub use imp::{arm, arm_once, count, reset};

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
