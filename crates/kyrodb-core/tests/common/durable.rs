//! A plain model of a collection's contents and a driver of random write batches, shared
//! by the durability and crash-point tests.
#![allow(dead_code)]

use kyrodb_core::vector::hnsw::BuildParams;
use kyrodb_core::{Collection, CollectionConfig, Database, IndexConfig, Metric, SearchParams};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::BTreeMap;
use std::sync::Arc;

pub const DIM: usize = 8;

/// id → (vector, metadata).
pub type Model = BTreeMap<u64, (Vec<f32>, Option<String>)>;

/// One write batch.
#[derive(Clone, Debug)]
pub enum Batch {
    Upsert(Vec<u64>, Vec<f32>, Vec<Option<String>>),
    Delete(Vec<u64>),
}

pub fn config() -> CollectionConfig {
    CollectionConfig {
        id_type: kyrodb_core::IdType::U64,
        dimension: DIM,
        metric: Metric::L2,
        index: Some(IndexConfig {
            params: BuildParams { m: 8, ef_construction: 40, ..BuildParams::default() },
            auto_build_rows: 300,
        }),
    }
}

/// A random batch over ids `0..id_space`.
pub fn random_batch(rng: &mut StdRng, id_space: u64) -> Batch {
    let n = rng.gen_range(1..40);
    let mut ids: Vec<u64> = (0..n).map(|_| rng.gen_range(0..id_space)).collect();
    ids.sort_unstable();
    ids.dedup();
    if rng.gen_bool(0.25) {
        return Batch::Delete(ids);
    }
    let vectors = (0..ids.len() * DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
    let metadata = ids
        .iter()
        .map(|id| rng.gen_bool(0.5).then(|| format!("{{\"id\":{id},\"tag\":\"t{}\"}}", rng.gen_range(0..5))))
        .collect();
    Batch::Upsert(ids, vectors, metadata)
}

/// Write one random batch of ids below `id_space` to `c` and to `model`.
pub fn write_random_batch(c: &Arc<Collection>, rng: &mut StdRng, model: &mut Model, id_space: u64) {
    let b = random_batch(rng, id_space);
    apply_to_db(c, &b).unwrap();
    apply_to_model(model, &b);
}

pub fn apply_to_model(model: &mut Model, b: &Batch) {
    match b {
        Batch::Upsert(ids, vectors, metadata) => {
            for (i, id) in ids.iter().enumerate() {
                model.insert(*id, (vectors[i * DIM..(i + 1) * DIM].to_vec(), metadata[i].clone()));
            }
        }
        Batch::Delete(ids) => {
            for id in ids {
                model.remove(id);
            }
        }
    }
}

pub fn apply_to_db(c: &Arc<Collection>, b: &Batch) -> kyrodb_core::Result<usize> {
    match b {
        Batch::Upsert(ids, vectors, metadata) => c.upsert(ids, vectors.clone(), Some(metadata.clone())),
        Batch::Delete(ids) => c.delete(ids),
    }
}

/// The collection's full contents.
pub fn read_all(c: &Collection, id_space: u64) -> Model {
    let mut out = Model::new();
    for id in 0..id_space {
        if let Some(v) = c.get(id).expect("get") {
            out.insert(id, (v.vector, v.metadata.map(|m| m.to_string())));
        }
    }
    out
}

/// Whether the database matches `model` exactly: contents, count, and exact top-10 search
/// for a few queries (compared with a brute force over the model).
pub fn matches(db: &Database, name: &str, model: &Model, id_space: u64) -> Result<(), String> {
    let c = db.collection(name).map_err(|e| e.to_string())?;
    let got = read_all(&c, id_space);
    if &got != model {
        let diff: Vec<u64> = (0..id_space).filter(|id| got.get(id) != model.get(id)).take(5).collect();
        return Err(format!("contents differ (db {} ids, model {}), first ids: {diff:?}", got.len(), model.len()));
    }
    if c.count().map_err(|e| e.to_string())? != model.len() {
        return Err("count differs".into());
    }
    let mut rng = StdRng::seed_from_u64(model.len() as u64);
    for _ in 0..3 {
        let q: Vec<f32> = (0..DIM).map(|_| rng.gen_range(-1.0f32..1.0)).collect();
        let hits =
            c.search(&q, &SearchParams { k: 10, ef: Some(200), ..SearchParams::top(10) }).map_err(|e| e.to_string())?;
        let mut truth: Vec<(f32, u64)> = model
            .iter()
            .map(|(id, (v, _))| (v.iter().zip(&q).map(|(a, b)| (a - b) * (a - b)).sum::<f32>(), *id))
            .collect();
        truth.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let want: std::collections::HashSet<u64> = truth.iter().take(10).map(|t| t.1).collect();
        let found = hits.ids.iter().filter(|id| want.contains(id)).count();
        if hits.ids.len() != want.len() || (found as f64) < 0.9 * want.len() as f64 {
            return Err(format!("search found {found} of {} true neighbours ({} hits)", want.len(), hits.ids.len()));
        }
        if hits.ids.iter().any(|id| !model.contains_key(id)) {
            return Err("search returned an id that is not in the model".into());
        }
    }
    Ok(())
}
