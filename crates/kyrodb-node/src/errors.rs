//! Engine errors and panics → JavaScript errors carrying the stable code.

use napi::{Error as NapiError, Status};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Convert an engine error into a JS error whose message starts with its code.
pub fn to_js(e: kyrodb_core::Error) -> NapiError {
    NapiError::new(Status::GenericFailure, format!("{}: {}", e.code(), e))
}

/// Run `f`, converting both engine errors and panics into JS errors. Every entry point
/// goes through this so that no panic ever unwinds into Node.
pub fn guard<T>(f: impl FnOnce() -> kyrodb_core::Result<T>) -> napi::Result<T> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.map_err(to_js),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            Err(to_js(kyrodb_core::Error::Internal(format!("panic: {what}"))))
        }
    }
}
