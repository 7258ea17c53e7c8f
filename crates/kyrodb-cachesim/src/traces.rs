//! Key traces, generated with fixed seeds.

/// splitmix64: a small deterministic generator.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
}

/// Ranks `0..n` drawn with probability ∝ `1 / (rank + 1)^alpha` (inverse CDF).
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    pub fn new(n: usize, alpha: f64) -> Zipf {
        let mut cdf = Vec::with_capacity(n);
        let mut sum = 0.0;
        for r in 0..n {
            sum += 1.0 / ((r + 1) as f64).powf(alpha);
            cdf.push(sum);
        }
        cdf.iter_mut().for_each(|c| *c /= sum);
        Zipf { cdf }
    }

    pub fn sample(&self, rng: &mut Rng) -> usize {
        let u = rng.unit();
        self.cdf.partition_point(|&c| c < u).min(self.cdf.len() - 1)
    }
}

/// A bijective scramble of `x` (so keys are not small consecutive integers).
pub fn scramble(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x1234_5678_9ABC_DEF1);
    z = (z ^ (z >> 33)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    z = (z ^ (z >> 33)).wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    z ^ (z >> 33)
}

/// Zipf(`alpha`) over `n` keys, `len` requests.
pub fn zipf(n: usize, alpha: f64, len: usize, seed: u64) -> Vec<u64> {
    let z = Zipf::new(n, alpha);
    let mut rng = Rng::new(seed);
    (0..len).map(|_| scramble(z.sample(&mut rng) as u64)).collect()
}

/// Zipf(`alpha`) whose rank → key mapping is replaced by a fresh random permutation every
/// `every` requests (the hot set changes abruptly).
pub fn shifting(n: usize, alpha: f64, len: usize, every: usize, seed: u64) -> Vec<u64> {
    let z = Zipf::new(n, alpha);
    let mut rng = Rng::new(seed);
    let mut perm: Vec<u64> = (0..n as u64).collect();
    (0..len)
        .map(|i| {
            if i % every == 0 && i > 0 {
                for j in (1..n).rev() {
                    perm.swap(j, rng.below(j + 1));
                }
            }
            scramble(perm[z.sample(&mut rng)])
        })
        .collect()
}

/// Zipf(`alpha`) whose ranks rotate by one key every `step` requests (the hot set drifts:
/// rank `r` is key `r + i / step`).
pub fn drifting(n: usize, alpha: f64, len: usize, step: usize, seed: u64) -> Vec<u64> {
    let z = Zipf::new(n, alpha);
    let mut rng = Rng::new(seed);
    (0..len).map(|i| scramble(((z.sample(&mut rng) + i / step) % n) as u64)).collect()
}

/// Zipf(`alpha`) with a scan of `scan` one-off keys (never asked for again) after every
/// `every` Zipf requests.
pub fn with_scans(n: usize, alpha: f64, len: usize, every: usize, scan: usize, seed: u64) -> Vec<u64> {
    let z = Zipf::new(n, alpha);
    let mut rng = Rng::new(seed);
    let mut out = Vec::with_capacity(len);
    let mut one_off = 1u64 << 40;
    while out.len() < len {
        for _ in 0..every.min(len - out.len()) {
            out.push(scramble(z.sample(&mut rng) as u64));
        }
        for _ in 0..scan.min(len - out.len()) {
            out.push(scramble(one_off));
            one_off += 1;
        }
    }
    out
}

/// Words drawn by a Zipf law over their rank in `words` (GloVe's vocabulary is listed by
/// corpus frequency, most frequent first), each word's key a hash of its text.
pub fn words(words: &[String], alpha: f64, len: usize, seed: u64) -> Vec<u64> {
    use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
    let keys: Vec<u64> = words.iter().map(|w| BuildHasherDefault::<DefaultHasher>::default().hash_one(w)).collect();
    let z = Zipf::new(keys.len(), alpha);
    let mut rng = Rng::new(seed);
    (0..len).map(|_| keys[z.sample(&mut rng)]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zipf_puts_rank_zero_first() {
        let z = Zipf::new(1000, 1.0);
        let mut rng = Rng::new(1);
        let mut counts = vec![0u32; 1000];
        for _ in 0..100_000 {
            counts[z.sample(&mut rng)] += 1;
        }
        // P(rank 0) = 1 / H(1000) ≈ 0.134; rank 1 half of that.
        assert!((12_000..15_000).contains(&counts[0]), "{}", counts[0]);
        assert!(counts[0] > counts[1] && counts[1] > counts[9] && counts[9] > counts[99]);
    }

    #[test]
    fn scans_are_one_offs_and_shifts_change_the_hot_key() {
        let t = with_scans(100, 1.0, 1000, 50, 50, 3);
        let ones: Vec<u64> = t.chunks(100).flat_map(|c| c[50..].to_vec()).collect();
        let distinct: std::collections::HashSet<u64> = ones.iter().copied().collect();
        assert_eq!(distinct.len(), ones.len());
        let s = shifting(1000, 1.2, 20_000, 10_000, 5);
        let top = |xs: &[u64]| {
            let mut m = std::collections::HashMap::new();
            xs.iter().for_each(|&k| *m.entry(k).or_insert(0) += 1);
            m.into_iter().max_by_key(|&(_, c)| c).map(|(k, _)| k)
        };
        assert_ne!(top(&s[..10_000]), top(&s[10_000..]));
    }
}
