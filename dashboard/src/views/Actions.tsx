import { useEffect, useState } from 'preact/hooks'
import { api, ApiError } from '../api'
import { ago, count, decimal } from '../format'
import type { Job } from '../types'

const KIND_TEXT: Record<Job['kind'], string> = {
  flush: 'Flush',
  compact: 'Compact',
  build_index: 'Build index',
  verify: 'Verify',
}

export function Actions() {
  const [jobs, setJobs] = useState<Job[]>([])
  const [collections, setCollections] = useState<string[]>([])
  const [collection, setCollection] = useState('')
  const [error, setError] = useState<string | null>(null)
  const running = jobs.some((j) => j.state === 'running')

  useEffect(() => {
    api<{ collections: { name: string }[] }>('/v1/collections')
      .then((r) => {
        setCollections(r.collections.map((c) => c.name))
        if (r.collections.length > 0) setCollection((c) => c || r.collections[0]!.name)
      })
      .catch((err) => setError((err as Error).message))
  }, [])

  // Fast polling while a job runs, slow otherwise.
  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const poll = async () => {
      try {
        const r = await api<{ jobs: Job[] }>('/v1/dashboard/jobs')
        if (!stopped) setJobs(r.jobs)
      } catch {
        // shown by the next start, or the key prompt
      }
      if (!stopped) timer = setTimeout(poll, running ? 300 : 3000)
    }
    void poll()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [running])

  const start = async (kind: Job['kind']) => {
    setError(null)
    try {
      const job = await api<Job>('/v1/dashboard/jobs', { body: kind === 'build_index' ? { kind, collection } : { kind } })
      setJobs((js) => [job, ...js.filter((j) => j.id !== job.id)])
    } catch (err) {
      const a = err as ApiError
      setError(`${a.code}: ${a.message}`)
    }
  }

  return (
    <main id="view-actions">
      <section class="card">
        <h2>Maintenance</h2>
        <div class="actions">
          <div class="action">
            <button id="action-flush" disabled={running} onClick={() => void start('flush')}>
              Flush
            </button>
            <p class="hint">Write every recent write into segment and run files and drop the write-ahead log they cover.</p>
          </div>
          <div class="action">
            <button id="action-compact" disabled={running} onClick={() => void start('compact')}>
              Compact
            </button>
            <p class="hint">Merge each collection into one segment and the key-value runs into one, dropping deleted rows; then flush.</p>
          </div>
          <div class="action">
            <span class="row">
              <select id="action-collection" value={collection} onChange={(e) => setCollection(e.currentTarget.value)}>
                {collections.map((c) => (
                  <option value={c}>{c}</option>
                ))}
              </select>
              <button id="action-build" disabled={running || collection === ''} onClick={() => void start('build_index')}>
                Build index
              </button>
            </span>
            <p class="hint">Build one HNSW graph over everything the collection holds.</p>
          </div>
          <div class="action">
            <button id="action-verify" disabled={running} onClick={() => void start('verify')}>
              Verify
            </button>
            <p class="hint">Check now the stored vectors of large segments that open left to check on first use.</p>
          </div>
        </div>
        {error && (
          <p class="error" id="action-error">
            {error}
          </p>
        )}
      </section>
      <section class="card">
        <h2>Jobs</h2>
        {jobs.length === 0 ? (
          <p class="muted">No job started from this dashboard since the server started.</p>
        ) : (
          <table id="jobs">
            <thead>
              <tr>
                <th>#</th>
                <th>action</th>
                <th>progress</th>
                <th>state</th>
                <th>started</th>
                <th class="num">took</th>
              </tr>
            </thead>
            <tbody>
              {jobs.map((j) => {
                const pct = j.total > 0 ? Math.floor((100 * j.done) / j.total) : 0
                return (
                  <tr data-job={j.id} data-state={j.state}>
                    <td>{j.id}</td>
                    <td>
                      {KIND_TEXT[j.kind]}
                      {j.collection && ` ${j.collection}`}
                    </td>
                    <td class="progress-cell">
                      <progress max={j.total} value={j.done} />
                      <span class="pct">{pct}%</span>
                      <span class="muted">
                        {' '}
                        {count(j.done)} / {count(j.total)}
                      </span>
                    </td>
                    <td class={j.state === 'failed' ? 'error' : ''}>
                      {j.state}
                      {j.error && `: ${j.error.code} ${j.error.message}`}
                    </td>
                    <td>{ago(j.startedAt)}</td>
                    <td class="num">{j.endedAt ? `${decimal((j.endedAt - j.startedAt) / 1000, 2)} s` : '…'}</td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        )}
      </section>
    </main>
  )
}
