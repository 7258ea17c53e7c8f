// The KyroDB dashboard: overview, live charts, search playground, key-value browser and
// maintenance actions, over the server's own API (src-ts/server/dashboard/).
import { render } from 'preact'
import { useEffect, useState } from 'preact/hooks'
import { api, ApiError, hasKey, setKey, whenUnauthorized, type Session } from './api'
import { Actions } from './views/Actions'
import { KvBrowser } from './views/KvBrowser'
import { Live } from './views/Live'
import { OverviewView } from './views/Overview'
import { Playground } from './views/Playground'
import './style.css'

const VIEWS = [
  ['overview', 'Overview'],
  ['live', 'Live'],
  ['search', 'Search'],
  ['kv', 'Key-value'],
  ['actions', 'Actions'],
] as const
type View = (typeof VIEWS)[number][0]

function viewFromHash(): View {
  const h = location.hash.replace(/^#/, '')
  return (VIEWS.find(([v]) => v === h)?.[0] ?? 'overview') as View
}

function KeyPrompt({ onSession, refused }: { onSession: (s: Session) => void; refused: boolean }) {
  const [value, setValue] = useState('')
  const [error, setError] = useState<string | null>(refused ? 'The stored key was refused; enter another.' : null)
  const [busy, setBusy] = useState(false)
  const submit = async (e: Event) => {
    e.preventDefault()
    setBusy(true)
    try {
      const s = await api<Session>('/v1/dashboard/session', { keyOverride: value })
      if (s.role === null) setError('That key was refused: it is neither an admin nor a read-only key of this server.')
      else {
        setKey(value)
        onSession(s)
      }
    } catch (err) {
      setError(`Could not check the key: ${(err as ApiError).message}`)
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="login">
      <form class="card" id="key-form" onSubmit={submit}>
        <h1>KyroDB</h1>
        <p>This server has API keys. Enter an admin key, or a read-only key to look without changing anything.</p>
        <label>
          API key
          <input id="api-key" type="password" autocomplete="off" value={value} onInput={(e) => setValue(e.currentTarget.value)} autofocus />
        </label>
        <button type="submit" disabled={busy || value.length === 0}>
          Open the dashboard
        </button>
        {error && (
          <p class="error" id="key-error" role="alert">
            {error}
          </p>
        )}
        <p class="hint">The key is kept in this tab only (session storage) and sent as a bearer token.</p>
      </form>
    </main>
  )
}

function App() {
  const [session, setSession] = useState<Session | null>(null)
  const [needKey, setNeedKey] = useState(false)
  const [refused, setRefused] = useState(false)
  const [failure, setFailure] = useState<string | null>(null)
  const [view, setView] = useState<View>(viewFromHash())

  useEffect(() => {
    whenUnauthorized(() => {
      setRefused(hasKey())
      setKey(null)
      setSession(null)
      setNeedKey(true)
    })
    api<Session>('/v1/dashboard/session')
      .then((s) => {
        if (s.role !== null) setSession(s)
        else {
          // A key kept from earlier that is no longer valid, or none yet.
          setRefused(hasKey())
          setKey(null)
          setNeedKey(true)
        }
      })
      .catch((err: ApiError) => setFailure(err.message))
    const onHash = () => setView(viewFromHash())
    addEventListener('hashchange', onHash)
    return () => removeEventListener('hashchange', onHash)
  }, [])

  if (failure !== null) return <main class="login"><p class="error">The server did not answer: {failure}</p></main>
  if (session === null) {
    return needKey ? <KeyPrompt refused={refused} onSession={(s) => { setNeedKey(false); setRefused(false); setSession(s) }} /> : <main class="login"><p>Connecting…</p></main>
  }
  const views = VIEWS.filter(([v]) => v !== 'actions' || session.role === 'admin')
  const shown: View = view === 'actions' && session.role !== 'admin' ? 'overview' : view
  return (
    <div class="shell">
      <header>
        <span class="brand">KyroDB</span>
        <nav>
          {views.map(([v, label]) => (
            <a href={`#${v}`} id={`nav-${v}`} class={v === shown ? 'active' : ''}>
              {label}
            </a>
          ))}
        </nav>
        <span class="who" id="role">
          {session.auth ? `${session.role === 'admin' ? 'admin' : 'read-only'} key` : 'no API keys (loopback)'}
          {session.auth && (
            <button class="link" onClick={() => { setKey(null); setSession(null); setNeedKey(true) }}>
              forget key
            </button>
          )}
        </span>
      </header>
      {shown === 'overview' && <OverviewView />}
      {shown === 'live' && <Live />}
      {shown === 'search' && <Playground />}
      {shown === 'kv' && <KvBrowser />}
      {shown === 'actions' && <Actions />}
    </div>
  )
}

render(<App />, document.getElementById('app')!)
