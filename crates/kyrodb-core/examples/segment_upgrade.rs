//! Rewrite one segment file in the current format, in place, with the database closed:
//! a segment of an older format version is checked whole at every open, one in the
//! current format (version 4) can leave its vectors to deferred checks
//! (`docs/decisions/0014`), and opens without parsing its metadata or sorting its ids
//! (version 4 stores the field index and the id order). Used to bring the 10M scale-run database to the current
//! format without rebuilding its graph (an hour and a half on this machine); compaction
//! does the same as a side effect.
//!
//! ```text
//! cargo run --release -p kyrodb-core --example segment_upgrade -- <file.kseg> <dimension> <l2|cosine|ip>
//! ```
//!
//! The file is read and checked whole, written beside itself under a temporary name,
//! fsynced and renamed over the original (same number, same rows: the manifest stays right).

use kyrodb_core::storage::segment_file::{self, Checks, IdOrder, SegmentParts};
use kyrodb_core::vector::filter::index::FieldIndex;
use kyrodb_core::vector::row::RowMeta;
use kyrodb_core::Metric;
use std::path::Path;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [path, dim, metric] = args.as_slice() else {
        eprintln!("usage: segment_upgrade <file.kseg> <dimension> <l2|cosine|ip>");
        std::process::exit(2);
    };
    let path = Path::new(path);
    let dim: usize = dim.parse().expect("dimension");
    let metric = match metric.as_str() {
        "l2" => Metric::L2,
        "cosine" => Metric::Cosine,
        "ip" => Metric::InnerProduct,
        other => panic!("unknown metric {other}"),
    };
    let t = Instant::now();
    let f = segment_file::open(path, dim, metric, Checks::All).expect("open and check the segment");
    println!("read and checked {} rows in {:.1} s", f.rows, t.elapsed().as_secs_f64());
    // Older files carry neither the id order nor the field index: compute them.
    let id_order = f.id_order.unwrap_or_else(|| IdOrder::compute(&f.ids));
    let index = f.index.unwrap_or_else(|| {
        let parsed: Vec<Option<RowMeta>> = (0..f.rows)
            .map(|r| f.metadata.get(r).map(|json| RowMeta::parse(json.to_string(), f.ids[r]).expect("stored metadata")))
            .collect();
        FieldIndex::build(parsed.iter().map(|m| m.as_ref().map(|m| &m.flat)))
    });
    let parts = SegmentParts {
        dim,
        metric,
        vectors: &f.vectors,
        ids: &f.ids,
        metadata: (0..f.rows).map(|r| f.metadata.get(r)).collect(),
        graph: f.graph.as_ref(),
        quant: f.quant.as_ref(),
        id_order: (&id_order.ids, &id_order.rows),
        index: &index,
        names: f.names.as_ref().map(|n| (0..f.rows).map(|r| n.get(r).unwrap_or_default()).collect()),
    };
    // Written as file number u64::MAX in a scratch directory beside the original (same
    // file system), then renamed over it.
    let dir = path.parent().expect("segment directory");
    let scratch = dir.join(".upgrade");
    std::fs::create_dir_all(&scratch).expect("scratch directory");
    let t = Instant::now();
    segment_file::write(&scratch, u64::MAX, &parts).expect("write the segment");
    std::fs::rename(scratch.join(segment_file::file_name(u64::MAX)), path).expect("rename over the original");
    std::fs::File::open(dir).and_then(|d| d.sync_all()).expect("fsync the directory");
    std::fs::remove_dir(&scratch).expect("remove the scratch directory");
    println!("wrote {} in {:.1} s", path.display(), t.elapsed().as_secs_f64());
}
