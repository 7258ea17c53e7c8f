//! A fixed-size buffer aligned to 64 bytes (one cache line; the natural alignment of an
//! AVX-512 load), so that vector blocks and quantized rows start on a line boundary.

use crate::storage::slab::Pod;
use std::alloc::{alloc_zeroed, dealloc, Layout};
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

const ALIGN: usize = 64;

/// Owned, 64-byte-aligned, zero-initialised `[T]` of plain-old-data elements (all-zero
/// bytes are a valid `T`).
pub struct Aligned<T: Pod> {
    ptr: NonNull<T>,
    len: usize,
    _owns: PhantomData<T>,
}

/// The vector block of a segment built in memory.
pub type AlignedF32 = Aligned<f32>;

// SAFETY: Aligned owns its allocation exclusively, like a Box<[T]>, and T is Send + Sync.
unsafe impl<T: Pod> Send for Aligned<T> {}
// SAFETY: shared access only hands out `&[T]`.
unsafe impl<T: Pod> Sync for Aligned<T> {}

impl<T: Pod> Aligned<T> {
    fn layout(len: usize) -> Layout {
        // A length whose byte size overflows isize is a programming error (we never
        // allocate more than the rows we were given).
        Layout::from_size_align((len * std::mem::size_of::<T>()).max(ALIGN), ALIGN).expect("block too large")
    }

    /// A zeroed buffer of `len` elements.
    pub fn zeroed(len: usize) -> Aligned<T> {
        let layout = Self::layout(len);
        // SAFETY: the layout has non-zero size (at least ALIGN bytes).
        let raw = unsafe { alloc_zeroed(layout) } as *mut T;
        let ptr = NonNull::new(raw).unwrap_or_else(|| std::alloc::handle_alloc_error(layout));
        Aligned { ptr, len, _owns: PhantomData }
    }

    /// A copy of `data`.
    pub fn from_slice(data: &[T]) -> Aligned<T> {
        let mut out = Aligned::zeroed(data.len());
        out.copy_from_slice(data);
        out
    }
}

impl<T: Pod> Deref for Aligned<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: ptr points to `len` initialised (zeroed or written) elements we own;
        // the zero bit pattern is a valid value of every Pod type used here.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Pod> DerefMut for Aligned<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` guarantees exclusive access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Pod> Drop for Aligned<T> {
    fn drop(&mut self) {
        // SAFETY: allocated in `zeroed` with exactly this layout.
        unsafe { dealloc(self.ptr.as_ptr() as *mut u8, Self::layout(self.len)) }
    }
}

impl<T: Pod> std::fmt::Debug for Aligned<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Aligned<{}>({} elements)", std::any::type_name::<T>(), self.len)
    }
}

/// A read-only block of a segment: built in memory (line-aligned) or a window into the
/// segment's mapped file (sections start on 64-byte boundaries of a page-aligned mapping).
pub enum Block<T: Pod> {
    /// Built in memory.
    Owned(Aligned<T>),
    /// Mapped from a segment file.
    Mapped(crate::storage::slab::Slab<T>),
}

impl<T: Pod> Deref for Block<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        match self {
            Block::Owned(a) => a,
            Block::Mapped(s) => s,
        }
    }
}
