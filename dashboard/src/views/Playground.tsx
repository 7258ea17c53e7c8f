import { useEffect, useState } from 'preact/hooks'
import { api, ApiError } from '../api'
import { count, decimal, percent } from '../format'
import type { Hit } from '../types'

interface CollectionInfo {
  name: string
  dimension: number
  metric: string
  count: number
}

interface Comparison {
  approx: Hit[]
  exact: Hit[]
  recall: number
  scanned: number
  complete: boolean | null
  ms: { approx: number; exact: number }
}

/** Numbers from a pasted vector: a JSON array, or numbers separated by commas or spaces. */
export function parseVector(text: string): number[] {
  const t = text.trim()
  const parts = t.startsWith('[') ? (JSON.parse(t) as unknown[]) : t.split(/[\s,]+/).filter((p) => p.length > 0)
  const v = parts.map((p) => Number(p))
  if (v.length === 0 || v.some((x) => !Number.isFinite(x))) throw new Error('the vector must be a list of finite numbers')
  return v
}

/** The position a filter error names ("... at position 17 ..."), in UTF-16 units. */
function errorPosition(message: string): number | null {
  const m = /position (\d+)/.exec(message)
  return m ? Number(m[1]) : null
}

function FilterError({ filter, error }: { filter: string; error: ApiError }) {
  const pos = errorPosition(error.message)
  return (
    <div class="error filter-error" id="filter-error" role="alert">
      <div>
        <strong>{error.code}</strong>: {error.message}
      </div>
      {pos !== null && (
        <pre class="caret" id="filter-caret">
          {filter}
          {'\n'}
          {' '.repeat(Math.min(pos, filter.length))}^
        </pre>
      )}
    </div>
  )
}

export function Playground() {
  const [collections, setCollections] = useState<CollectionInfo[]>([])
  const [name, setName] = useState('')
  const [mode, setMode] = useState<'id' | 'vector'>('id')
  const [idText, setIdText] = useState('')
  const [vectorText, setVectorText] = useState('')
  const [k, setK] = useState(10)
  const [ef, setEf] = useState('')
  const [filter, setFilter] = useState('')
  const [results, setResults] = useState<Hit[] | null>(null)
  const [searchMs, setSearchMs] = useState<number | null>(null)
  const [error, setError] = useState<ApiError | Error | null>(null)
  const [errorFilter, setErrorFilter] = useState('')
  const [comparison, setComparison] = useState<Comparison | null>(null)
  const [busy, setBusy] = useState(false)

  useEffect(() => {
    api<{ collections: CollectionInfo[] }>('/v1/collections')
      .then((r) => {
        setCollections(r.collections)
        if (r.collections.length > 0) setName((n) => n || r.collections[0]!.name)
      })
      .catch((err) => setError(err as ApiError))
  }, [])

  /** The query vector: the stored vector of the id given, or the pasted one. */
  const queryVector = async (): Promise<number[]> => {
    if (mode === 'vector') return parseVector(vectorText)
    const id = idText.trim()
    if (id.length === 0) throw new Error('enter the id of a stored vector')
    // Ids are opaque here: whatever was typed goes into the path, encoded.
    const p = await api<{ vector: number[] }>(`/v1/collections/${encodeURIComponent(name)}/points/${encodeURIComponent(id)}`)
    return p.vector
  }

  const body = (vector: number[]) => {
    const b: Record<string, unknown> = { vector, k }
    if (ef.trim() !== '') b.ef = Number(ef)
    if (filter.trim() !== '') b.filter = filter
    return b
  }

  const run = async (compare: boolean) => {
    setBusy(true)
    setError(null)
    if (!compare) setComparison(null)
    try {
      const vector = await queryVector()
      if (compare) {
        setComparison(await api<Comparison>(`/v1/dashboard/collections/${encodeURIComponent(name)}/compare`, { body: body(vector) }))
      } else {
        const t0 = performance.now()
        const r = await api<{ results: Hit[] }>(`/v1/collections/${encodeURIComponent(name)}/search`, { body: body(vector) })
        setSearchMs(performance.now() - t0)
        setResults(r.results)
      }
    } catch (err) {
      setErrorFilter(filter)
      setError(err as Error)
      if (!compare) setResults(null)
    } finally {
      setBusy(false)
    }
  }

  const selected = collections.find((c) => c.name === name)
  const exactIds = new Set(comparison?.exact.map((h) => String(h.id)))
  return (
    <main id="view-search">
      <form
        class="card search-form"
        id="search-form"
        onSubmit={(e) => {
          e.preventDefault()
          void run(false)
        }}
      >
        <div class="row">
          <label>
            Collection
            <select id="search-collection" value={name} onChange={(e) => setName(e.currentTarget.value)}>
              {collections.map((c) => (
                <option value={c.name}>
                  {c.name} ({count(c.count)} × {c.dimension}, {c.metric})
                </option>
              ))}
            </select>
          </label>
          <label>
            k
            <input id="search-k" type="number" min={1} max={10000} value={k} onInput={(e) => setK(Number(e.currentTarget.value))} />
          </label>
          <label>
            ef
            <input id="search-ef" type="number" min={1} max={10000} placeholder="default" value={ef} onInput={(e) => setEf(e.currentTarget.value)} />
          </label>
        </div>
        <div class="row">
          <label class="radio">
            <input type="radio" name="mode" id="mode-id" checked={mode === 'id'} onChange={() => setMode('id')} /> by the vector of a stored id
          </label>
          <label class="radio">
            <input type="radio" name="mode" id="mode-vector" checked={mode === 'vector'} onChange={() => setMode('vector')} /> by a pasted vector
          </label>
        </div>
        {mode === 'id' ? (
          <label>
            Id
            <input id="search-id" type="text" autocomplete="off" spellcheck={false} value={idText} onInput={(e) => setIdText(e.currentTarget.value)} />
          </label>
        ) : (
          <label>
            Vector ({selected?.dimension ?? '?'} numbers: a JSON array, or separated by commas or spaces)
            <textarea id="search-vector" rows={3} spellcheck={false} value={vectorText} onInput={(e) => setVectorText(e.currentTarget.value)} />
          </label>
        )}
        <label>
          <span>
            Filter (string form, e.g. <code>category == 'news' AND year &gt;= 2020</code>)
          </span>
          <input id="search-filter" type="text" spellcheck={false} autocomplete="off" value={filter} onInput={(e) => setFilter(e.currentTarget.value)} />
        </label>
        <div class="row">
          <button type="submit" id="search-run" disabled={busy || name === ''}>
            Search
          </button>
          <button type="button" id="search-compare" disabled={busy || name === ''} onClick={() => void run(true)}>
            Compare with exact
          </button>
          {busy && <span class="muted">running…</span>}
        </div>
        {error &&
          (error instanceof ApiError && error.code === 'INVALID_FILTER' ? (
            <FilterError filter={errorFilter} error={error} />
          ) : (
            <p class="error" id="search-error" role="alert">
              {error instanceof ApiError ? `${error.code}: ` : ''}
              {error.message}
            </p>
          ))}
      </form>

      {results && (
        <section class="card">
          <h2>
            {results.length} results{searchMs !== null && <span class="muted"> · {decimal(searchMs, 1)} ms round trip</span>}
          </h2>
          <table id="results">
            <thead>
              <tr>
                <th>#</th>
                <th>id</th>
                <th class="num">distance</th>
                <th>metadata</th>
              </tr>
            </thead>
            <tbody>
              {results.map((h, i) => (
                <tr class={comparison && !exactIds.has(String(h.id)) ? 'missed' : ''}>
                  <td>{i + 1}</td>
                  <td class="result-id">{String(h.id)}</td>
                  <td class="num">{h.distance.toFixed(6)}</td>
                  <td class="metadata">{h.metadata === undefined ? '' : JSON.stringify(h.metadata)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </section>
      )}
      {comparison && (
        <section class="card" id="comparison">
          <h2>
            Recall@{comparison.exact.length}: <span id="recall">{percent(comparison.recall)}</span>
          </h2>
          <p class="hint">
            Brute force over {count(comparison.scanned)} rows
            {comparison.complete === false && ' (fewer than the collection holds: it changed meanwhile)'} in {decimal(comparison.ms.exact, 1)} ms;
            the search took {decimal(comparison.ms.approx, 2)} ms.
          </p>
          <table>
            <thead>
              <tr>
                <th>#</th>
                <th>exact id</th>
                <th class="num">distance</th>
                <th>search found it</th>
              </tr>
            </thead>
            <tbody>
              {comparison.exact.map((h, i) => {
                const found = comparison.approx.some((a) => String(a.id) === String(h.id))
                return (
                  <tr class={found ? '' : 'missed'}>
                    <td>{i + 1}</td>
                    <td>{String(h.id)}</td>
                    <td class="num">{h.distance.toFixed(6)}</td>
                    <td>{found ? 'yes' : 'missed'}</td>
                  </tr>
                )
              })}
            </tbody>
          </table>
        </section>
      )}

    </main>
  )
}
