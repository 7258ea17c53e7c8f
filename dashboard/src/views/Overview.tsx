import { useState } from 'preact/hooks'
import { api } from '../api'
import { ago, bytes, count, decimal, duration, percent } from '../format'
import { usePoll } from '../poll'
import type { CollectionView, Overview } from '../types'

function Field({ label, children }: { label: string; children: preact.ComponentChildren }) {
  return (
    <div class="field">
      <dt>{label}</dt>
      <dd>{children}</dd>
    </div>
  )
}

function indexText(c: CollectionView): string {
  if (c.index === null) return 'unknown (in memory)'
  if (c.index === false) return 'exact only'
  return `HNSW M ${c.index.m}, efC ${c.index.efConstruction}, auto-build ${count(c.index.autoBuildRows)}`
}

function Segments({ c }: { c: CollectionView }) {
  if (c.segments.length === 0) return <p class="muted">No segments yet: every row is in the hot tier.</p>
  return (
    <table class="segments">
      <thead>
        <tr>
          <th>#</th>
          <th>file</th>
          <th class="num">rows</th>
          <th class="num">live</th>
          <th class="num">deleted</th>
          <th>search</th>
          <th class="num">bytes</th>
          <th>written</th>
        </tr>
      </thead>
      <tbody>
        {c.segments.map((s, i) => (
          <tr>
            <td>{i + 1}</td>
            <td>{s.file === null ? '–' : String(s.file).padStart(16, '0')}</td>
            <td class="num">{count(s.rows)}</td>
            <td class="num">{count(s.live)}</td>
            <td class="num">{percent(s.deletedShare)}</td>
            <td>{s.graph ? 'graph' : 'exact'}</td>
            <td class="num">{bytes(s.bytes)}</td>
            <td>{ago(s.writtenAt)}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function ProbeHistogram({ histogram }: { histogram: number[] }) {
  const total = histogram.reduce((a, b) => a + b, 0)
  if (total === 0) return <p class="muted">No lookup has searched a sorted run yet.</p>
  const max = Math.max(...histogram)
  // Buckets up to the last one used (and one more), not the empty tail up to 2^19 keys.
  let shown = histogram.length
  while (shown > 1 && histogram[shown - 1] === 0 && histogram[shown - 2] === 0) shown--
  return (
    <div class="histogram" id="probe-histogram">
      {histogram.slice(0, shown).map((n, b) => (
        <div class="bar-row">
          <span class="bar-label">{b === histogram.length - 1 ? `> ${2 ** (b - 1)}` : `≤ ${2 ** b}`}</span>
          <span class="bar-track">
            <span class="bar" style={{ width: `${(100 * n) / max}%` }} />
          </span>
          <span class="bar-value">{count(n)}</span>
        </div>
      ))}
    </div>
  )
}

export function OverviewView() {
  const { data, error } = usePoll(() => api<Overview>('/v1/dashboard/overview'), 3000)
  const [open, setOpen] = useState<Record<string, boolean>>({})
  if (data === null) return <main>{error ? <p class="error">{error.message}</p> : <p>Loading…</p>}</main>
  const { server, memory, disk, kv } = data
  return (
    <main id="view-overview">
      {error && <p class="error">Last refresh failed: {error.message}</p>}
      <section class="cards">
        <div class="card">
          <h2>Server</h2>
          <dl>
            <Field label="version">
              {server.version} (engine {server.nativeVersion})
            </Field>
            <Field label="uptime">{duration(server.uptimeMs)}</Field>
            <Field label="data directory">{server.dataDir ?? 'in memory'}</Field>
            <Field label="durability">{server.durability}</Field>
            <Field label="SIMD">{server.simd}</Field>
            <Field label="runtime">
              Node {server.node}, {server.platform}, pid {server.pid}
            </Field>
            <Field label="access">{server.auth ? 'API keys' : 'open (loopback, no keys)'}</Field>
          </dl>
        </div>
        <div class="card">
          <h2>Memory</h2>
          <dl>
            <Field label="resident (RSS)">{bytes(memory.rss)}</Field>
            <Field label="engine, native">{bytes(memory.nativeBytes)}</Field>
            <Field label="JS heap used">{bytes(memory.heapUsed)}</Field>
            <Field label="reported to V8">{bytes(memory.reportedExternalBytes)}</Field>
          </dl>
          <p class="hint">Memory-mapped files are in the page cache, not in the native figure.</p>
        </div>
        <div class="card">
          <h2>Disk</h2>
          {disk === null ? (
            <p class="muted">In memory: nothing on disk.</p>
          ) : (
            <dl>
              <Field label="total">{bytes(disk.total)}</Field>
              <Field label="write-ahead log">
                {bytes(disk.wal)} in {count(disk.walFiles)} files
              </Field>
              <Field label="segments">{bytes(disk.segments)}</Field>
              <Field label="deletion bitmaps">{bytes(disk.deletions)}</Field>
              <Field label="key-value runs">{bytes(disk.kvRuns)}</Field>
            </dl>
          )}
        </div>
        <div class="card">
          <h2>Since open</h2>
          <dl>
            <Field label="WAL frames / fsyncs">
              {count(data.database.walFrames)} / {count(data.database.walFsyncs)}
            </Field>
            <Field label="group commits">{count(data.database.walGroups)}</Field>
            <Field label="segment builds / merges">
              {count(data.database.segmentBuilds)} / {count(data.database.merges)}
            </Field>
            <Field label="recovery">{decimal(data.database.recoveryMs, 0)} ms</Field>
          </dl>
          {data.recoveryReport.length > 0 && <p class="warn">Recovery: {data.recoveryReport.join('; ')}</p>}
        </div>
      </section>

      <section class="card">
        <h2>Collections</h2>
        {data.collections.length === 0 ? (
          <p class="muted">No collections yet.</p>
        ) : (
          <table id="collections">
            <thead>
              <tr>
                <th>name</th>
                <th class="num">count</th>
                <th class="num">dimension</th>
                <th>metric</th>
                <th>id type</th>
                <th>index</th>
                <th class="num">hot rows</th>
                <th class="num">segments</th>
                <th class="num">bytes</th>
                <th>last build</th>
              </tr>
            </thead>
            <tbody>
              {data.collections.map((c) => [
                <tr data-collection={c.name} class="clickable" onClick={() => setOpen({ ...open, [c.name]: !open[c.name] })}>
                  <td>
                    <span class="toggle">{open[c.name] ? '▾' : '▸'}</span> {c.name}
                    {c.indexing && <span class="pill">indexing</span>}
                  </td>
                  <td class="num count">{count(c.count)}</td>
                  <td class="num">{c.dimension}</td>
                  <td>{c.metric}</td>
                  <td>{c.idType}</td>
                  <td>{indexText(c)}</td>
                  <td class="num">{count(c.hotRows)}</td>
                  <td class="num">{c.segments.length}</td>
                  <td class="num">{bytes(c.bytes)}</td>
                  <td>{ago(c.lastBuildAt)}</td>
                </tr>,
                open[c.name] && (
                  <tr class="detail">
                    <td colSpan={10}>
                      <Segments c={c} />
                      <p class="hint">
                        Backlog cap {c.maxUnindexedRows === 0 ? 'none' : count(c.maxUnindexedRows)} rows; {count(c.writeStalls)} write stalls (
                        {decimal(c.stallMs / 1000, 1)} s); {count(c.indexedRows)} rows indexed and {count(c.mergedRows)} merged since open.
                      </p>
                    </td>
                  </tr>
                ),
              ])}
            </tbody>
          </table>
        )}
      </section>

      <section class="cards">
        <div class="card">
          <h2>Key-value store</h2>
          <dl id="kv-stats">
            <Field label="keys">{count(kv.keys)}</Field>
            <Field label="sorted runs">
              {count(kv.runs)}
              {kv.runFiles.length > 0 && ` (${bytes(kv.runFiles.reduce((a, r) => a + (r.bytes ?? 0), 0))})`}
            </Field>
            <Field label="memtable entries">{count(kv.memtableEntries)}</Field>
            <Field label="learned index">
              {kv.learnedIndex ? `on, ${bytes(kv.indexBytes)}` : 'off'}, probe {kv.probeKind}
            </Field>
            <Field label="lookups / hits">
              {count(kv.lookups)} / {count(kv.hits)}
            </Field>
            <Field label="mispredictions">{count(kv.mispredictions)}</Field>
            <Field label="index builds">
              {count(kv.indexBuilds)}
              {kv.indexBuilds > 0 && `, last ${decimal(kv.lastIndexBuildNs / 1e6, 1)} ms`}
            </Field>
          </dl>
        </div>
        <div class="card">
          <h2>Probe length</h2>
          <p class="hint">Keys examined by each search inside a sorted run (the learned index's window).</p>
          <ProbeHistogram histogram={kv.probeHistogram} />
        </div>
      </section>
    </main>
  )
}
