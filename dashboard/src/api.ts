// Calls to the server's API from the page: the key (when the server has keys) goes as a
// bearer token; a 401 anywhere sends the page back to the key prompt.

const KEY_STORAGE = 'kyrodb.apiKey'

/** An error answer of the API: `{ error: { code, message } }` and the status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

let key: string | null = sessionStorage.getItem(KEY_STORAGE)
let onUnauthorized: () => void = () => {}

export function setKey(k: string | null): void {
  key = k
  if (k === null) sessionStorage.removeItem(KEY_STORAGE)
  else sessionStorage.setItem(KEY_STORAGE, k)
}

export function hasKey(): boolean {
  return key !== null
}

/** Called when the server refuses the key (or wants one). */
export function whenUnauthorized(f: () => void): void {
  onUnauthorized = f
}

/** One call; resolves with the JSON body, rejects with an {@link ApiError}. */
export async function api<T = any>(path: string, init: { method?: string; body?: unknown; signal?: AbortSignal; keyOverride?: string } = {}): Promise<T> {
  const headers: Record<string, string> = {}
  const k = init.keyOverride ?? key
  if (k !== null) headers.authorization = `Bearer ${k}`
  let body: string | undefined
  if (init.body !== undefined) {
    headers['content-type'] = 'application/json'
    body = JSON.stringify(init.body)
  }
  const r = await fetch(path, { method: init.method ?? (body === undefined ? 'GET' : 'POST'), headers, body, signal: init.signal })
  const text = await r.text()
  let json: any
  try {
    json = text.length > 0 ? JSON.parse(text) : undefined
  } catch {
    json = undefined
  }
  if (!r.ok) {
    const err = new ApiError(r.status, json?.error?.code ?? `HTTP_${r.status}`, json?.error?.message ?? text)
    if (r.status === 401 && init.keyOverride === undefined) onUnauthorized()
    throw err
  }
  return json as T
}

/** Who the caller is. */
export interface Session {
  auth: boolean
  /** `null`: no key was sent, or not a valid one. */
  role: 'admin' | 'read' | null
}
