import { useState } from 'preact/hooks'
import { api, ApiError } from '../api'
import { count } from '../format'

interface Entry {
  key: number | string
  value: string
  encoding?: 'base64'
}

/** A value for the table: text as is, bytes as their length and a hex preview. */
function shown(e: { value: string; encoding?: 'base64' }): string {
  if (e.encoding !== 'base64') return e.value
  const raw = atob(e.value)
  const hex = Array.from(raw.slice(0, 32), (c) => c.charCodeAt(0).toString(16).padStart(2, '0')).join(' ')
  return `${count(raw.length)} bytes: ${hex}${raw.length > 32 ? ' …' : ''}`
}

export function KvBrowser() {
  const [key, setKey] = useState('')
  const [got, setGot] = useState<Entry | null>(null)
  const [getError, setGetError] = useState<string | null>(null)
  const [from, setFrom] = useState('')
  const [limit, setLimit] = useState(20)
  // The `gt` cursor of each page shown so far (undefined: the first page starts at `from`).
  const [cursors, setCursors] = useState<(string | undefined)[]>([])
  const [page, setPage] = useState<{ entries: Entry[]; next?: number | string } | null>(null)
  const [rangeError, setRangeError] = useState<string | null>(null)

  const lookup = async (e: Event) => {
    e.preventDefault()
    setGot(null)
    setGetError(null)
    try {
      setGot(await api<Entry>(`/v1/lookup?key=${encodeURIComponent(key.trim())}`))
    } catch (err) {
      const a = err as ApiError
      setGetError(a.status === 404 ? `no value under key ${key.trim()}` : `${a.code}: ${a.message}`)
    }
  }

  const load = async (cursor: string | undefined, stack: (string | undefined)[]) => {
    setRangeError(null)
    const q = new URLSearchParams({ limit: String(limit) })
    if (cursor !== undefined) q.set('gt', cursor)
    else if (from.trim() !== '') q.set('gte', from.trim())
    try {
      setPage(await api(`/v1/range?${q}`))
      setCursors(stack)
    } catch (err) {
      const a = err as ApiError
      setRangeError(`${a.code}: ${a.message}`)
    }
  }

  return (
    <main id="view-kv">
      <section class="card">
        <h2>Get</h2>
        <form class="row" id="kv-get-form" onSubmit={lookup}>
          <label>
            Key
            <input id="kv-key" type="text" autocomplete="off" spellcheck={false} value={key} onInput={(e) => setKey(e.currentTarget.value)} />
          </label>
          <button type="submit" disabled={key.trim() === ''}>
            Get
          </button>
        </form>
        {got && (
          <dl class="kv-value" id="kv-value">
            <dt>{String(got.key)}</dt>
            <dd>{shown(got)}</dd>
          </dl>
        )}
        {getError && (
          <p class="error" id="kv-get-error">
            {getError}
          </p>
        )}
      </section>
      <section class="card">
        <h2>Range</h2>
        <form
          class="row"
          id="kv-range-form"
          onSubmit={(e) => {
            e.preventDefault()
            void load(undefined, [undefined])
          }}
        >
          <label>
            From key (≥)
            <input id="kv-from" type="text" placeholder="the first key" autocomplete="off" value={from} onInput={(e) => setFrom(e.currentTarget.value)} />
          </label>
          <label>
            Per page
            <input id="kv-limit" type="number" min={1} max={1000} value={limit} onInput={(e) => setLimit(Number(e.currentTarget.value))} />
          </label>
          <button type="submit">Show</button>
        </form>
        {rangeError && <p class="error">{rangeError}</p>}
        {page && (
          <>
            <table id="kv-entries">
              <thead>
                <tr>
                  <th>key</th>
                  <th>value</th>
                </tr>
              </thead>
              <tbody>
                {page.entries.map((e) => (
                  <tr>
                    <td class="kv-entry-key">{String(e.key)}</td>
                    <td class="metadata">{shown(e)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
            {page.entries.length === 0 && <p class="muted">No entries.</p>}
            <div class="row pager">
              <button id="kv-prev" disabled={cursors.length <= 1} onClick={() => void load(cursors[cursors.length - 2], cursors.slice(0, -1))}>
                ← Previous
              </button>
              <span class="muted" id="kv-page">
                page {cursors.length}
              </span>
              <button id="kv-next" disabled={page.next === undefined} onClick={() => void load(String(page.next), [...cursors, String(page.next)])}>
                Next →
              </button>
            </div>
          </>
        )}
      </section>
    </main>
  )
}
