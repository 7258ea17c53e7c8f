//! napi-rs binding for KyroDB. Deliberately thin: it converts JavaScript values, moves
//! work off the JS thread (`AsyncTask` on the libuv pool), turns panics into errors, and
//! tags every error with the engine's stable code. All validation and all behaviour live
//! in `kyrodb-core`; the public, documented API is the TypeScript layer in `src-ts/`.
//!
//! Error transport: every error's message is `"<CODE>: <message>"` (for example
//! `"DIMENSION_MISMATCH: vector has 3 components ..."`). The TypeScript layer splits it
//! into `KyroDBError.code` and `.message`.
#![deny(clippy::unwrap_used)]
// The test build has no Node host: the `#[napi]` exports are never registered, so their
// private helpers look dead there.
#![cfg_attr(test, allow(dead_code))]

mod collection;
mod database;
mod errors;
mod external_memory;
mod fast_read;
mod group;
mod kv;
mod logging;

pub use collection::NativeCollection;
pub use database::NativeDatabase;
pub use kv::NativeKv;

use napi_derive::napi;

/// The SIMD level the distance kernels use on this CPU: "avx512", "avx2", "neon" or "scalar".
#[napi]
pub fn simd_level() -> String {
    kyrodb_core::simd_level().to_string()
}

/// Version of the native engine.
#[napi]
pub fn native_version() -> String {
    env!("CARGO_PKG_VERSION").to_string()
}

/// Measure single-thread sequential read bandwidth in GB/s (bytes summed per second over
/// a buffer of `megabytes` MB, best of `rounds`). Used by the benchmarks to state how close
/// a memory-bound scan comes to the machine's limit.
#[napi]
pub fn measure_read_bandwidth(megabytes: u32, rounds: u32) -> f64 {
    kyrodb_core::measure_read_gbps(megabytes as usize, rounds.max(1) as usize)
}
