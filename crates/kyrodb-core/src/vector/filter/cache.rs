//! A small per-segment cache of evaluated filters, keyed by a hash of the compiled plan
//! (checked against the plan itself, so a hash collision is a miss, never a wrong answer),
//! bounded by bytes, evicting the least recently used entry one at a time.

use super::{Filter, Scalar};
use std::hash::{BuildHasher, Hash, Hasher};
use std::sync::Arc;

/// Feed a filter plan into a hasher (numbers by their bits; `-0` and `0` hash alike, as
/// they compare alike).
fn hash_plan(f: &Filter, h: &mut impl Hasher) {
    std::mem::discriminant(f).hash(h);
    let scalar = |s: &Scalar, h: &mut dyn Hasher| match s {
        Scalar::Str(x) => {
            h.write_u8(0);
            h.write(x.as_bytes());
            h.write_u8(0xff);
        }
        Scalar::Num(x) => {
            h.write_u8(1);
            h.write_u64(if *x == 0.0 { 0 } else { x.to_bits() });
        }
        Scalar::Bool(b) => h.write_u8(2 + *b as u8),
        Scalar::Null => h.write_u8(4),
    };
    match f {
        Filter::All => {}
        Filter::And(parts) | Filter::Or(parts) => {
            h.write_usize(parts.len());
            parts.iter().for_each(|p| hash_plan(p, h));
        }
        Filter::Not(inner) => hash_plan(inner, h),
        Filter::Cmp { field, op, value } => {
            field.hash(h);
            std::mem::discriminant(op).hash(h);
            scalar(value, h);
        }
        Filter::In { field, values, negate } => {
            field.hash(h);
            negate.hash(h);
            h.write_usize(values.len());
            values.iter().for_each(|v| scalar(v, h));
        }
        Filter::Exists { field, exists } => {
            field.hash(h);
            exists.hash(h);
        }
    }
}

/// The plan's hash.
pub fn plan_hash(f: &Filter) -> u64 {
    let mut h = foldhash::quality::FixedState::with_seed(0x6b79_726f).build_hasher();
    hash_plan(f, &mut h);
    h.finish()
}

/// Approximate bytes a filter plan holds.
fn plan_bytes(f: &Filter) -> usize {
    let scalar = |s: &Scalar| std::mem::size_of::<Scalar>() + if let Scalar::Str(x) = s { x.len() } else { 0 };
    std::mem::size_of::<Filter>()
        + match f {
            Filter::All => 0,
            Filter::And(parts) | Filter::Or(parts) => parts.iter().map(plan_bytes).sum(),
            Filter::Not(inner) => plan_bytes(inner),
            Filter::Cmp { field, value, .. } => field.len() + scalar(value),
            Filter::In { field, values, .. } => field.len() + values.iter().map(scalar).sum::<usize>(),
            Filter::Exists { field, .. } => field.len(),
        }
}

struct Entry<T> {
    hash: u64,
    plan: Filter,
    value: Arc<T>,
    bytes: usize,
    last_used: u64,
}

/// Evaluated filters, at most `budget` bytes (plans and values counted).
pub struct FilterCache<T> {
    entries: Vec<Entry<T>>,
    bytes: usize,
    budget: usize,
    clock: u64,
}

impl<T> FilterCache<T> {
    /// An empty cache holding at most `budget` bytes.
    pub fn new(budget: usize) -> Self {
        FilterCache { entries: Vec::new(), bytes: 0, budget, clock: 0 }
    }

    /// The cached value for `plan` (of hash `hash`), marking it used.
    pub fn get(&mut self, hash: u64, plan: &Filter) -> Option<Arc<T>> {
        self.clock += 1;
        let now = self.clock;
        let e = self.entries.iter_mut().find(|e| e.hash == hash && e.plan == *plan)?;
        e.last_used = now;
        Some(Arc::clone(&e.value))
    }

    /// Keep `value` (of `value_bytes` bytes) for `plan`, evicting least recently used
    /// entries one at a time until it fits. A value larger than the whole budget is not
    /// kept.
    pub fn insert(&mut self, hash: u64, plan: &Filter, value: Arc<T>, value_bytes: usize) {
        let bytes = value_bytes + plan_bytes(plan) + std::mem::size_of::<Entry<T>>();
        if bytes > self.budget || self.entries.iter().any(|e| e.hash == hash && e.plan == *plan) {
            return;
        }
        while self.bytes + bytes > self.budget {
            let Some(oldest) = self.entries.iter().enumerate().min_by_key(|(_, e)| e.last_used).map(|(i, _)| i) else {
                break;
            };
            self.bytes -= self.entries.swap_remove(oldest).bytes;
        }
        self.clock += 1;
        self.entries.push(Entry { hash, plan: plan.clone(), value, bytes, last_used: self.clock });
        self.bytes += bytes;
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(text: &str) -> Filter {
        super::super::text::parse(text).expect("filter")
    }

    #[test]
    fn equal_plans_hash_alike_and_different_plans_do_not_collide_into_wrong_answers() {
        assert_eq!(plan_hash(&f("a == 0")), plan_hash(&f("a == -0")));
        assert_ne!(plan_hash(&f("a == 1")), plan_hash(&f("a == 2")));
        assert_ne!(plan_hash(&f("a == 'x' AND b == 1")), plan_hash(&f("a == 'x' OR b == 1")));
        assert_ne!(plan_hash(&f("a IN ['ab', 'c']")), plan_hash(&f("a IN ['a', 'bc']")));
        let mut c = FilterCache::new(1 << 20);
        // Two plans forced onto one hash: each gets its own value.
        c.insert(7, &f("a == 1"), Arc::new(1u32), 4);
        c.insert(7, &f("a == 2"), Arc::new(2u32), 4);
        assert_eq!(c.get(7, &f("a == 1")).as_deref(), Some(&1));
        assert_eq!(c.get(7, &f("a == 2")).as_deref(), Some(&2));
        assert_eq!(c.get(7, &f("a == 3")), None);
    }

    #[test]
    fn bytes_stay_under_the_budget_and_eviction_takes_the_least_recently_used_one_at_a_time() {
        let budget = 10_000;
        let mut c = FilterCache::new(budget);
        let plans: Vec<Filter> = (0..50).map(|i| f(&format!("field == {i}"))).collect();
        for (i, p) in plans.iter().enumerate().take(4) {
            c.insert(plan_hash(p), p, Arc::new(i), 2_000);
        }
        assert_eq!(c.len(), 4);
        // Touch plan 0: plan 1 is now the least recently used and goes first.
        assert!(c.get(plan_hash(&plans[0]), &plans[0]).is_some());
        c.insert(plan_hash(&plans[4]), &plans[4], Arc::new(4), 2_000);
        assert!(c.bytes() <= budget);
        assert!(c.get(plan_hash(&plans[1]), &plans[1]).is_none(), "least recently used evicted");
        for i in [0, 2, 3, 4] {
            assert!(c.get(plan_hash(&plans[i]), &plans[i]).is_some(), "plan {i} kept: one eviction, not a clear");
        }
        for (i, p) in plans.iter().enumerate() {
            c.insert(plan_hash(p), p, Arc::new(i), 1_000 + i * 37);
            assert!(c.bytes() <= budget);
        }
        // Larger than the whole budget: not kept, nothing evicted for it.
        let before = c.len();
        c.insert(1, &plans[0], Arc::new(0), budget);
        assert_eq!(c.len(), before);
    }
}
