//! Distance kernels for `f32` vectors: squared L2 and inner product (cosine is the inner
//! product of unit vectors, normalised once on the way in: `vector/metric.rs`); and the two
//! asymmetric kernels of the 8-bit quantized graph search (`f32` query side, `u8` codes).
//!
//! Every kernel exists as a portable scalar version and, where the CPU has them, AVX2+FMA,
//! AVX-512F (x86-64) and NEON (aarch64) versions. The version used is chosen **once, at
//! runtime** ([`kernels`]), never by compiling the crate for a CPU level, so the same
//! binary runs on any x86-64 machine.
//!
//! Conventions shared by all versions:
//! - both slices have the same length (checked; a mismatch is a caller bug and panics);
//! - `l2sq(a, b) = Σ (aᵢ − bᵢ)²`, `dot(a, b) = Σ aᵢ·bᵢ`;
//! - results agree with the scalar version within `n · ε_f32 · Σ|termᵢ|` (summation order
//!   differs between versions; see the property tests in `tests/simd_agreement.rs`).

pub mod bandwidth;
mod scalar;

#[cfg(target_arch = "x86_64")]
mod avx2;
#[cfg(target_arch = "x86_64")]
mod avx512;
#[cfg(target_arch = "aarch64")]
mod neon;

use std::fmt;
use std::sync::OnceLock;

/// An instruction-set level a kernel set is written for.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum SimdLevel {
    /// Portable Rust, no explicit SIMD.
    Scalar,
    /// x86-64 AVX2 with FMA.
    Avx2,
    /// x86-64 AVX-512F.
    Avx512,
    /// aarch64 Advanced SIMD.
    Neon,
}

impl SimdLevel {
    /// Stable lower-case name (`"scalar"`, `"avx2"`, `"avx512"`, `"neon"`).
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Neon => "neon",
        }
    }
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Raw kernel signature. Implementations may assume `a.len() == b.len()`; the public
/// methods of [`Kernels`] check it before calling.
type RawKernel = fn(&[f32], &[f32]) -> f32;
/// `Σ aᵢ·cᵢ` over 8-bit codes; `a.len()` is a multiple of 16, `codes.len() ≥ a.len()`.
type Sq8DotKernel = fn(&[f32], &[u8]) -> f32;
/// `Σ wᵢ·(qᵢ − cᵢ)²` over 8-bit codes; lengths as for [`Sq8DotKernel`], `w.len() == q.len()`.
type Sq8L2Kernel = fn(&[f32], &[f32], &[u8]) -> f32;

/// One consistent set of distance kernels for a single [`SimdLevel`].
#[derive(Copy, Clone)]
pub struct Kernels {
    level: SimdLevel,
    l2sq: RawKernel,
    dot: RawKernel,
    sq8_dot: Sq8DotKernel,
    sq8_l2: Sq8L2Kernel,
}

impl fmt::Debug for Kernels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Kernels").field("level", &self.level).finish()
    }
}

impl Kernels {
    /// The instruction-set level of this kernel set.
    pub fn level(&self) -> SimdLevel {
        self.level
    }

    /// Squared Euclidean distance `Σ (aᵢ − bᵢ)²`.
    #[inline]
    pub fn l2sq(&self, a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len(), "distance kernels need equal lengths");
        (self.l2sq)(a, b)
    }

    /// Inner product `Σ aᵢ·bᵢ`.
    #[inline]
    pub fn dot(&self, a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len(), "distance kernels need equal lengths");
        (self.dot)(a, b)
    }

    /// Inner product of `f32` weights with 8-bit codes, `Σ aᵢ·cᵢ` (the quantized search
    /// of `vector/quant.rs`). `a.len()` must be a multiple of 16 and at most `codes.len()`.
    #[inline]
    pub fn sq8_dot(&self, a: &[f32], codes: &[u8]) -> f32 {
        assert!(a.len().is_multiple_of(16) && codes.len() >= a.len(), "sq8 kernels need padded lengths");
        (self.sq8_dot)(a, codes)
    }

    /// Weighted squared distance to 8-bit codes, `Σ wᵢ·(qᵢ − cᵢ)²`. `q` and `w` have the
    /// same length, a multiple of 16, at most `codes.len()`.
    #[inline]
    pub fn sq8_l2(&self, q: &[f32], w: &[f32], codes: &[u8]) -> f32 {
        assert!(
            q.len().is_multiple_of(16) && w.len() == q.len() && codes.len() >= q.len(),
            "sq8 kernels need padded lengths"
        );
        (self.sq8_l2)(q, w, codes)
    }

    /// The scalar kernel set (always available; the reference for every other level).
    pub fn scalar() -> Kernels {
        Kernels {
            level: SimdLevel::Scalar,
            l2sq: scalar::l2sq,
            dot: scalar::dot,
            sq8_dot: scalar::sq8_dot,
            sq8_l2: scalar::sq8_l2,
        }
    }

    /// The kernel set for `level`, if this CPU supports it and this build allows it.
    pub fn for_level(level: SimdLevel) -> Option<Kernels> {
        match level {
            SimdLevel::Scalar => Some(Kernels::scalar()),
            #[cfg(all(target_arch = "x86_64", feature = "simd-avx2"))]
            SimdLevel::Avx2 if avx2::is_supported() => {
                Some(Kernels { level, l2sq: avx2::l2sq, dot: avx2::dot, sq8_dot: avx2::sq8_dot, sq8_l2: avx2::sq8_l2 })
            }
            #[cfg(all(target_arch = "x86_64", feature = "simd-avx512"))]
            SimdLevel::Avx512 if avx512::is_supported() => Some(Kernels {
                level,
                l2sq: avx512::l2sq,
                dot: avx512::dot,
                sq8_dot: avx512::sq8_dot,
                sq8_l2: avx512::sq8_l2,
            }),
            #[cfg(target_arch = "aarch64")]
            // The 8-bit kernels have no NEON version yet: the scalar ones are auto-vectorised.
            SimdLevel::Neon => Some(Kernels {
                level,
                l2sq: neon::l2sq,
                dot: neon::dot,
                sq8_dot: scalar::sq8_dot,
                sq8_l2: scalar::sq8_l2,
            }),
            _ => None,
        }
    }

    /// Every kernel set this CPU can run, scalar first.
    pub fn available() -> Vec<Kernels> {
        [SimdLevel::Scalar, SimdLevel::Avx2, SimdLevel::Avx512, SimdLevel::Neon]
            .into_iter()
            .filter_map(Kernels::for_level)
            .collect()
    }

    fn detect() -> Kernels {
        // `KYRODB_SIMD=scalar|avx2|avx512|neon` caps the level (for benchmarks and for
        // ruling out a kernel when debugging); an unsupported request falls back.
        let requested = std::env::var("KYRODB_SIMD").ok();
        let preference = [SimdLevel::Avx512, SimdLevel::Avx2, SimdLevel::Neon, SimdLevel::Scalar];
        let start = requested.as_deref().and_then(|r| preference.iter().position(|l| l.name() == r)).unwrap_or(0);
        preference[start..].iter().find_map(|&l| Kernels::for_level(l)).unwrap_or_else(Kernels::scalar)
    }
}

/// Hint the CPU to load the cache lines holding the first `max_bytes` of `data` (a hint:
/// it never faults and changes nothing observable). Used by the graph walk to start the
/// loads of rows and neighbour lists before they are read.
#[inline(always)]
pub fn prefetch<T>(data: &[T], max_bytes: usize) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let bytes = std::mem::size_of_val(data).min(max_bytes);
        let base = data.as_ptr() as *const i8;
        let mut off = 0;
        while off < bytes {
            // SAFETY: the address lies inside `data`, and a prefetch never faults.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(base.add(off)) };
            off += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (data, max_bytes);
}

/// The best kernel set for this CPU, detected on first use and then fixed for the process.
pub fn kernels() -> &'static Kernels {
    static SELECTED: OnceLock<Kernels> = OnceLock::new();
    SELECTED.get_or_init(Kernels::detect)
}
