import { useEffect, useRef, useState } from 'preact/hooks'
import type { ApiError } from './api'

/**
 * Load now and every `ms` while the component is shown (and the tab visible); the last
 * answer and the last error.
 */
export function usePoll<T>(load: () => Promise<T>, ms: number): { data: T | null; error: ApiError | null; reload: () => void } {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<ApiError | null>(null)
  const loadRef = useRef(load)
  loadRef.current = load
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const run = async () => {
      if (document.visibilityState !== 'hidden') {
        try {
          const d = await loadRef.current()
          if (!stopped) {
            setData(d)
            setError(null)
          }
        } catch (err) {
          if (!stopped) setError(err as ApiError)
        }
      }
      if (!stopped) timer = setTimeout(run, ms)
    }
    void run()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [ms, tick])
  return { data, error, reload: () => setTick((t) => t + 1) }
}
