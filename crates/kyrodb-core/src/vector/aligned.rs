//! A fixed-size `f32` buffer aligned to 64 bytes (one cache line; the natural alignment
//! of an AVX-512 load), so that vector blocks start on a line boundary.

use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

const ALIGN: usize = 64;

/// Owned, 64-byte-aligned, zero-initialised `[f32]`.
pub struct AlignedF32 {
    ptr: NonNull<f32>,
    len: usize,
}

// SAFETY: AlignedF32 owns its allocation exclusively, like a Box<[f32]>.
unsafe impl Send for AlignedF32 {}
// SAFETY: shared access only hands out `&[f32]`.
unsafe impl Sync for AlignedF32 {}

impl AlignedF32 {
    fn layout(len: usize) -> Layout {
        // A length whose byte size overflows isize is a programming error (we never
        // allocate more than the vectors we were given).
        Layout::from_size_align((len * 4).max(ALIGN), ALIGN).expect("vector block too large")
    }

    /// A zeroed buffer of `len` floats.
    pub fn zeroed(len: usize) -> AlignedF32 {
        let layout = Self::layout(len);
        // SAFETY: the layout has non-zero size (at least ALIGN bytes).
        let raw = unsafe { alloc_zeroed(layout) } as *mut f32;
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        AlignedF32 { ptr, len }
    }

    /// A copy of `data`.
    pub fn from_slice(data: &[f32]) -> AlignedF32 {
        let mut out = AlignedF32::zeroed(data.len());
        out.copy_from_slice(data);
        out
    }
}

impl Deref for AlignedF32 {
    type Target = [f32];
    fn deref(&self) -> &[f32] {
        // SAFETY: ptr points to `len` initialised (zeroed or written) floats we own.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl DerefMut for AlignedF32 {
    fn deref_mut(&mut self) -> &mut [f32] {
        // SAFETY: as in `deref`, and `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl Drop for AlignedF32 {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with exactly this layout.
        unsafe { dealloc(self.ptr.as_ptr() as *mut u8, Self::layout(self.len)) }
    }
}

impl std::fmt::Debug for AlignedF32 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "AlignedF32({} floats)", self.len)
    }
}
