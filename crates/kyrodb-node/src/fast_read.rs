//! The hot read of `getSync` (a `number` key) as a raw Node-API function.
//!
//! A `#[napi]` method call pays napi-rs's per-call bookkeeping: unwrapping `this` and
//! registering and releasing a borrow guard (thread-local lists, a mutex) — a few hundred
//! nanoseconds, more than the lookup itself when the key is cached
//! (`docs/decisions/0022-getsync-scratch-buffer-and-raw-napi.md` has the figures). This
//! function is created once per store with everything it needs in its `data` pointer: it
//! reads one `number` argument, looks the key up, copies the value into the store's
//! JavaScript-owned scratch buffer and returns a `number` — three Node-API calls in all.
//!
//! It answers like `NativeKv::read_num` (`len` for bytes, `-2 - len` for a string, `-1`
//! when absent, `Infinity` when the value does not fit the scratch buffer) and `NaN` for
//! anything else — a key that is not a safe non-negative integer, a closed database, a
//! damaged run, a panic: the caller then asks the checked path, which throws the typed error.

use kyrodb_core::KvStore;
use napi::bindgen_prelude::{Env, JsValue, Unknown};
use napi::sys;
use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::Arc;

/// What the function's `data` pointer holds (boxed; freed by the function's finalizer).
struct Reader {
    store: Arc<KvStore>,
    /// The scratch buffer's bytes (a Node `Buffer`'s backing store never moves).
    scratch: *mut u8,
    scratch_len: usize,
    /// Keeps the scratch buffer alive as long as the function.
    scratch_ref: sys::napi_ref,
}

impl Reader {
    fn read(&self, key: f64) -> f64 {
        let Ok(key) = crate::kv::key_of_number(key) else { return f64::NAN };
        // SAFETY: JavaScript is single-threaded and is not running while this native call
        // does; the scratch buffer is private to the store object and alive (referenced).
        let scratch = unsafe { std::slice::from_raw_parts_mut(self.scratch, self.scratch_len) };
        match self.store.get_with(key, |kind, v| crate::kv::copy_out(scratch, kind, v)) {
            Ok(Some(r)) => r,
            Ok(None) => crate::kv::READ_ABSENT,
            Err(_) => f64::NAN,
        }
    }
}

/// The function's body, called by Node for every `kvRead(key)`.
///
/// # Safety
///
/// Only Node may call it, as the callback of the function [`create`] made: on the
/// JavaScript thread of `env`, with the `info` of that call. Then `data` (read from `info`)
/// is the `Reader` box [`create`] leaked, which the finalizer frees only once the function
/// is unreachable — never while a call of it is running — so the reference made here is
/// valid for the whole call; and no other code touches the reader or its scratch buffer
/// meanwhile (JavaScript is single-threaded and blocked in this call). Panics are caught
/// here: none unwinds into Node's C frames.
unsafe extern "C" fn read(env: sys::napi_env, info: sys::napi_callback_info) -> sys::napi_value {
    let mut argc = 1usize;
    let mut argv = [null_mut(); 1];
    let mut data: *mut c_void = null_mut();
    let mut key = f64::NAN;
    // SAFETY (whole body): `env` and `info` come from Node for this call (see above); every
    // out-pointer passed below points at a local of the right type that outlives the call,
    // and `argv` has room for `argc` = 1 value.
    let ok = sys::napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), null_mut(), &mut data)
        == sys::Status::napi_ok
        && argc >= 1
        && !data.is_null()
        && sys::napi_get_value_double(env, argv[0], &mut key) == sys::Status::napi_ok;
    let r = if ok {
        // SAFETY: `data` is non-null and is the `Reader` this function was created with,
        // alive until the finalizer runs, which cannot happen during a call (see above).
        let reader = &*(data as *const Reader);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| reader.read(key))).unwrap_or(f64::NAN)
    } else {
        f64::NAN
    };
    let mut out = null_mut();
    sys::napi_create_double(env, r, &mut out);
    out
}

/// Frees the `Reader` of a function and its reference to the scratch buffer.
///
/// # Safety
///
/// `data` must be the pointer `Box::into_raw` returned in [`create`], and this must run
/// exactly once for it, on the JavaScript thread of `env`: Node calls it once, when the
/// function is garbage-collected (or the env is torn down), and [`create`] calls it
/// directly only on the failure path where no finalizer was registered.
unsafe extern "C" fn finalize(env: sys::napi_env, data: *mut c_void, _hint: *mut c_void) {
    // SAFETY: see the contract above; the box is not used after this.
    let reader = Box::from_raw(data as *mut Reader);
    sys::napi_delete_reference(env, reader.scratch_ref);
}

/// A function `(key: number) => number` reading `store` into `scratch` (a `Buffer`).
pub(crate) fn create<'env>(env: &'env Env, store: Arc<KvStore>, scratch: Unknown<'env>) -> napi::Result<Unknown<'env>> {
    let env = env.raw();
    let fail = |what: &str| napi::Error::new(napi::Status::GenericFailure, format!("fast reader: {what}"));
    let mut bytes: *mut c_void = null_mut();
    let mut len = 0usize;
    let mut is_buffer = false;
    // SAFETY: plain Node-API calls on the current env with values it handed us; the reader
    // box is owned by the function from here on and freed once by its finalizer.
    unsafe {
        if sys::napi_is_buffer(env, scratch.raw(), &mut is_buffer) != sys::Status::napi_ok || !is_buffer {
            return Err(fail("the scratch is not a Buffer"));
        }
        if sys::napi_get_buffer_info(env, scratch.raw(), &mut bytes, &mut len) != sys::Status::napi_ok {
            return Err(fail("cannot read the scratch buffer"));
        }
        let mut scratch_ref = null_mut();
        if sys::napi_create_reference(env, scratch.raw(), 1, &mut scratch_ref) != sys::Status::napi_ok {
            return Err(fail("cannot reference the scratch buffer"));
        }
        let reader =
            Box::into_raw(Box::new(Reader { store, scratch: bytes as *mut u8, scratch_len: len, scratch_ref }));
        let name = "kvRead";
        let mut func = null_mut();
        if sys::napi_create_function(
            env,
            name.as_ptr().cast(),
            name.len() as isize,
            Some(read),
            reader.cast(),
            &mut func,
        ) != sys::Status::napi_ok
            || sys::napi_add_finalizer(env, func, reader.cast(), Some(finalize), null_mut(), null_mut())
                != sys::Status::napi_ok
        {
            finalize(env, reader.cast(), null_mut());
            return Err(fail("cannot create the function"));
        }
        Ok(Unknown::from_raw_unchecked(env, func))
    }
}
