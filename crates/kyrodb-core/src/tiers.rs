//! Size tiers of the size-tiered merges shared by collection segments and key-value runs:
//! pieces whose sizes fall in the same power-of-4 tier above a base merge once
//! [`MERGE_FANIN`] of them accumulate, so an item is rewritten about log4(N / base) times
//! over its life and the number of pieces stays logarithmic.

/// Pieces of one tier that merge into one.
pub const MERGE_FANIN: usize = 4;

/// Tier of a piece of `size` items: 0 below `4·base`, then one more per factor of 4.
pub fn size_tier(size: usize, base: usize) -> u32 {
    let mut t = 0;
    let mut bound = base.max(1).saturating_mul(4);
    while size >= bound && t < 32 {
        t += 1;
        bound = bound.saturating_mul(4);
    }
    t
}
