//! Little-endian encoding helpers shared by every file format. The reader checks every
//! length against what is left before reading or allocating, so no input — however
//! damaged — can make it read out of bounds or allocate more than the input's size.

/// The little-endian `u32` at `at` (the caller has checked `at + 4 <= b.len()`).
#[inline]
pub fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The little-endian `u64` at `at` (the caller has checked `at + 8 <= b.len()`).
#[inline]
pub fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// The bytes of a plain-data slice; on little-endian hosts these are its encoding.
pub fn as_bytes<T: super::slab::Pod>(v: &[T]) -> &[u8] {
    bytemuck::cast_slice(v)
}

/// Appends little-endian values to a byte buffer.
#[derive(Default)]
pub struct Writer {
    /// The bytes written so far.
    pub buf: Vec<u8>,
}

impl Writer {
    /// An empty writer with room for `cap` bytes.
    pub fn with_capacity(cap: usize) -> Writer {
        Writer { buf: Vec::with_capacity(cap) }
    }
    /// Append a `u8`.
    pub fn u8(&mut self, v: u8) {
        self.buf.push(v);
    }
    /// Append a `u32`.
    pub fn u32(&mut self, v: u32) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Append a `u64`.
    pub fn u64(&mut self, v: u64) {
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
    /// Append raw bytes.
    pub fn bytes(&mut self, b: &[u8]) {
        self.buf.extend_from_slice(b);
    }
    /// Append `u64`s.
    pub fn u64s(&mut self, v: &[u64]) {
        #[cfg(target_endian = "little")]
        self.buf.extend_from_slice(as_bytes(v));
        #[cfg(not(target_endian = "little"))]
        for x in v {
            self.u64(*x);
        }
    }
    /// Append `f32`s.
    pub fn f32s(&mut self, v: &[f32]) {
        #[cfg(target_endian = "little")]
        self.buf.extend_from_slice(as_bytes(v));
        #[cfg(not(target_endian = "little"))]
        for x in v {
            self.buf.extend_from_slice(&x.to_le_bytes());
        }
    }
}

/// Why a read failed: what was being read and where.
#[derive(Debug)]
pub struct ReadError {
    /// Offset into the input.
    pub offset: usize,
    /// What was expected there.
    pub what: String,
}

/// Reads little-endian values from a byte slice, with bounds checks.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Read from the start of `buf`.
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    /// Current offset.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Bytes left.
    pub fn remaining(&self) -> usize {
        self.buf.len() - self.pos
    }

    fn fail<T>(&self, what: &str) -> Result<T, ReadError> {
        Err(ReadError { offset: self.pos, what: what.to_string() })
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], ReadError> {
        if n > self.remaining() {
            return self.fail(&format!("{what}: needs {n} bytes, {} left", self.remaining()));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    /// A `u8`.
    pub fn u8(&mut self, what: &str) -> Result<u8, ReadError> {
        Ok(self.take(1, what)?[0])
    }

    /// A `u32`.
    pub fn u32(&mut self, what: &str) -> Result<u32, ReadError> {
        Ok(le_u32(self.take(4, what)?, 0))
    }

    /// A `u64`.
    pub fn u64(&mut self, what: &str) -> Result<u64, ReadError> {
        Ok(le_u64(self.take(8, what)?, 0))
    }

    /// `n` `u64`s (the count is checked against the bytes left before allocating).
    pub fn u64s(&mut self, n: usize, what: &str) -> Result<Vec<u64>, ReadError> {
        let b = self.take(n.saturating_mul(8), what)?;
        Ok(copy_le(b, u64::from_le_bytes))
    }

    /// `n` `f32`s (checked like [`Reader::u64s`]).
    pub fn f32s(&mut self, n: usize, what: &str) -> Result<Vec<f32>, ReadError> {
        self.f32s_into(n, what, Vec::new())
    }

    /// `n` `f32`s into `out` (cleared first; its memory is reused).
    pub fn f32s_into(&mut self, n: usize, what: &str, mut out: Vec<f32>) -> Result<Vec<f32>, ReadError> {
        let b = self.take(n.saturating_mul(4), what)?;
        out.clear();
        #[cfg(target_endian = "little")]
        {
            let n = b.len() / 4;
            out.reserve(n);
            // SAFETY: `out` has capacity for n f32s (n·4 bytes); on a little-endian host
            // the bytes are the floats' in-memory encoding (any bit pattern is a valid
            // f32); the regions do not overlap; the n elements are initialised before
            // the length is set.
            unsafe {
                std::ptr::copy_nonoverlapping(b.as_ptr(), out.as_mut_ptr() as *mut u8, n * 4);
                out.set_len(n);
            }
        }
        #[cfg(not(target_endian = "little"))]
        out.extend(b.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        Ok(out)
    }
}

/// Decode little-endian `T`s from `b` (whose length is a multiple of `N`): one `memcpy` on
/// little-endian hosts (the input need not be aligned), element by element otherwise.
fn copy_le<T: Copy + Default, const N: usize>(b: &[u8], from_le: fn([u8; N]) -> T) -> Vec<T> {
    let n = b.len() / N;
    #[cfg(target_endian = "little")]
    {
        let _ = from_le;
        let mut out = vec![T::default(); n];
        // SAFETY: `out` has room for n·N bytes; T (u64/f32) is plain data whose in-memory
        // bytes on a little-endian host are its encoding; the regions do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(b.as_ptr(), out.as_mut_ptr() as *mut u8, n * N) };
        out
    }
    #[cfg(not(target_endian = "little"))]
    {
        b.chunks_exact(N).map(|c| from_le(c.try_into().unwrap_or([0; N]))).collect()
    }
}
