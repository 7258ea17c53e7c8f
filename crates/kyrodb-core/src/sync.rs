//! The locks and atomics whose interleavings the model tests explore: `parking_lot`'s (and
//! std's atomics) normally; under the `shuttle` feature, `shuttle`'s behind the same API,
//! so that `tests/model_concurrency.rs` runs the real group-commit queue and the real
//! segment-set swap under a scheduler that tries thousands of interleavings.
//!
//! Only the code those tests cover uses this module (`storage/commit.rs`,
//! `vector/collection/`); everything else uses `parking_lot` directly.

#[cfg(not(feature = "shuttle"))]
pub use parking_lot::{Condvar, Mutex, MutexGuard, RwLock};
#[cfg(not(feature = "shuttle"))]
pub use std::sync::atomic::AtomicU64;

#[cfg(feature = "shuttle")]
pub use model::{AtomicU64, Condvar, Mutex, MutexGuard, RwLock};

#[cfg(feature = "shuttle")]
mod model {
    //! `shuttle`'s primitives with `parking_lot`'s signatures (no poisoning results,
    //! `Condvar::wait(&mut guard)`).
    use std::ops::{Deref, DerefMut};

    pub use shuttle::sync::atomic::AtomicU64;

    /// A mutex.
    pub struct Mutex<T>(shuttle::sync::Mutex<T>);

    /// Its guard (an `Option` only so that `Condvar::wait` can hand it over and back).
    pub struct MutexGuard<'a, T>(Option<shuttle::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        /// A mutex holding `value`.
        pub fn new(value: T) -> Self {
            Mutex(shuttle::sync::Mutex::new(value))
        }

        /// Lock it.
        pub fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().unwrap_or_else(|e| e.into_inner())))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0.as_ref().expect("held")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0.as_mut().expect("held")
        }
    }

    /// A condition variable.
    #[derive(Default)]
    pub struct Condvar(shuttle::sync::Condvar);

    impl Condvar {
        /// A condition variable.
        pub fn new() -> Self {
            Condvar(shuttle::sync::Condvar::new())
        }

        /// Release `guard`, wait for a notification, take the lock again.
        pub fn wait<T>(&self, guard: &mut MutexGuard<'_, T>) {
            let g = guard.0.take().expect("held");
            guard.0 = Some(self.0.wait(g).unwrap_or_else(|e| e.into_inner()));
        }

        /// Wake every waiter.
        pub fn notify_all(&self) {
            self.0.notify_all();
        }
    }

    /// A reader-writer lock.
    pub struct RwLock<T>(shuttle::sync::RwLock<T>);

    impl<T> RwLock<T> {
        /// A lock holding `value`.
        pub fn new(value: T) -> Self {
            RwLock(shuttle::sync::RwLock::new(value))
        }

        /// Shared access.
        pub fn read(&self) -> shuttle::sync::RwLockReadGuard<'_, T> {
            self.0.read().unwrap_or_else(|e| e.into_inner())
        }

        /// Shared access if it can be had without waiting.
        pub fn try_read(&self) -> Option<shuttle::sync::RwLockReadGuard<'_, T>> {
            match self.0.try_read() {
                Ok(g) => Some(g),
                Err(std::sync::TryLockError::Poisoned(e)) => Some(e.into_inner()),
                Err(std::sync::TryLockError::WouldBlock) => None,
            }
        }

        /// Exclusive access.
        pub fn write(&self) -> shuttle::sync::RwLockWriteGuard<'_, T> {
            self.0.write().unwrap_or_else(|e| e.into_inner())
        }
    }
}
