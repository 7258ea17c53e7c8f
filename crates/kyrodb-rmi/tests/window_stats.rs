//! Window widths on 1M-key sets: a sanity floor (mean window <= 64 keys), not a timing
//! test. Run with `--nocapture` to see the numbers and the builder's candidates.

mod common;

use common::keysets::KeySet;
use kyrodb_rmi::{Rmi, RmiConfig};

fn report(set: KeySet) -> f64 {
    let keys = set.generate(1_000_000, 42);
    let (rmi, report) = Rmi::build_with_report(&keys, &RmiConfig::default()).expect("valid keys");
    let w = report.windows;
    println!(
        "{:>14}: n={} leaves={} root={} index={} B ({:.2} B/key) window mean={:.2} p99={} max={} widened={}",
        set.name(),
        keys.len(),
        rmi.leaf_count(),
        rmi.root_kind(),
        rmi.index_bytes(),
        rmi.index_bytes() as f64 / keys.len() as f64,
        w.mean,
        w.p99,
        w.max,
        report.widened
    );
    for c in &report.candidates {
        println!(
            "    candidate leaves={:>7} root={:<6} est mean window={:>9.2} mean log2={:>6.2} cost={:>6.2}",
            c.leaves, c.root, c.mean_window, c.mean_log2_window, c.cost
        );
    }
    assert_eq!(report.widened, 0);
    assert_eq!(w.count, keys.len());
    assert_eq!(rmi.window_stats(&keys), w);
    w.mean
}

#[test]
fn uniform_1m_windows_are_small() {
    let mean = report(KeySet::UniformSparse);
    assert!(mean <= 64.0, "mean window {mean}");
}

#[test]
fn lognormal_1m_windows_are_small() {
    let mean = report(KeySet::Lognormal);
    assert!(mean <= 64.0, "mean window {mean}");
}
