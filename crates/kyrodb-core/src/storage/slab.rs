//! [`Slab`]: a read-only array that is either owned (a freshly built segment) or a window
//! into a memory-mapped segment file, so the search code reads both the same way.

use memmap2::Mmap;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;

/// Plain-old-data element types a slab may hold: [`bytemuck::Pod`] (every bit pattern is
/// a valid value, no padding, no pointers or references, so viewing mapped bytes as `[T]`
/// is sound once size and alignment are checked) that can be shared across threads.
///
/// Implemented for every such type and for nothing else: its soundness rests on
/// `bytemuck::Pod`, an `unsafe trait` (or a derive that checks the type), so safe code
/// cannot make a slab of `bool` or `&T`.
pub trait Pod: bytemuck::Pod + Send + Sync {}
impl<T: bytemuck::Pod + Send + Sync> Pod for T {}

/// An owned `Vec<T>` or a `[T]` inside a shared read-only mapping.
pub enum Slab<T: Pod> {
    /// Owned elements.
    Owned(Vec<T>),
    /// `len` elements at byte `offset` of `map` (alignment checked at construction).
    Mapped {
        /// The mapping, shared by every slab of one file.
        map: Arc<Mmap>,
        /// Byte offset of the first element.
        offset: usize,
        /// Element count.
        len: usize,
    },
}

impl<T: Pod> Slab<T> {
    /// A view of `len` elements at byte `offset` of `map`, or `None` when that range is
    /// outside the mapping or misaligned for `T`.
    pub fn mapped(map: &Arc<Mmap>, offset: usize, len: usize) -> Option<Slab<T>> {
        let bytes = len.checked_mul(std::mem::size_of::<T>())?;
        let end = offset.checked_add(bytes)?;
        if end > map.len() || !(map.as_ptr() as usize + offset).is_multiple_of(std::mem::align_of::<T>()) {
            return None;
        }
        Some(Slab::Mapped { map: Arc::clone(map), offset, len })
    }

    /// Whether the elements live in a mapped file.
    pub fn is_mapped(&self) -> bool {
        matches!(self, Slab::Mapped { .. })
    }
}

impl<T: Pod> Deref for Slab<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        match self {
            Slab::Owned(v) => v,
            // SAFETY: `mapped` checked that `offset + len * size_of::<T>()` lies inside the
            // mapping and that the address is aligned for T; T is `bytemuck::Pod`, so any
            // bytes are a valid value; the mapping is read-only and lives as long as `map`.
            // (Not `bytemuck::cast_slice`: this is the search's hot path, and its checks
            // were made once, in `mapped`.)
            Slab::Mapped { map, offset, len } => unsafe {
                std::slice::from_raw_parts(map.as_ptr().add(*offset) as *const T, *len)
            },
        }
    }
}

impl<T: Pod> DerefMut for Slab<T> {
    /// Mutable access copies a mapped slab into memory first (the file is never written).
    fn deref_mut(&mut self) -> &mut [T] {
        if self.is_mapped() {
            *self = Slab::Owned(self.to_vec());
        }
        match self {
            Slab::Owned(v) => v,
            Slab::Mapped { .. } => unreachable!("converted to owned above"),
        }
    }
}

impl<T: Pod> From<Vec<T>> for Slab<T> {
    fn from(v: Vec<T>) -> Self {
        Slab::Owned(v)
    }
}

impl<T: Pod + std::fmt::Debug> std::fmt::Debug for Slab<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Slab({} elements, {})", self.len(), if self.is_mapped() { "mapped" } else { "owned" })
    }
}
