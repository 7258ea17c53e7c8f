import { useEffect, useRef, useState } from 'preact/hooks'
import { api, type ApiError } from '../api'
import { TimeChart, type Band } from '../chart'
import { decimal } from '../format'
import type { LiveSample } from '../types'

interface LiveAnswer {
  intervalMs: number
  windowMs: number
  now: number
  samples: LiveSample[]
}

const MiB = 1024 * 1024

const BAND_KINDS: { key: 'building' | 'merging' | 'kvMaintenance' | 'job'; label: string; color: string }[] = [
  { key: 'building', label: 'segment build', color: 'rgba(66, 133, 244, 0.14)' },
  { key: 'merging', label: 'segment merge', color: 'rgba(156, 39, 176, 0.16)' },
  { key: 'kvMaintenance', label: 'key-value flush or merge', color: 'rgba(46, 160, 67, 0.16)' },
  { key: 'job', label: 'dashboard job', color: 'rgba(255, 152, 0, 0.2)' },
]

export function Live() {
  const [samples, setSamples] = useState<LiveSample[]>([])
  const [windowMin, setWindowMin] = useState(5)
  const [error, setError] = useState<ApiError | null>(null)
  const [interval, setIntervalMs] = useState(1000)
  const last = useRef(0)

  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const poll = async () => {
      try {
        const r = await api<LiveAnswer>(`/v1/dashboard/live?since=${last.current}`)
        if (stopped) return
        setIntervalMs(r.intervalMs)
        if (r.samples.length > 0) {
          last.current = r.samples[r.samples.length - 1]!.t
          setSamples((prev) => {
            const all = prev.concat(r.samples)
            const oldest = last.current - r.windowMs
            let i = 0
            while (i < all.length && all[i]!.t < oldest) i++
            return i > 0 ? all.slice(i) : all
          })
        }
        setError(null)
      } catch (err) {
        if (!stopped) setError(err as ApiError)
      }
      if (!stopped) timer = setTimeout(poll, 1000)
    }
    void poll()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [])

  const xs = samples.map((s) => s.t / 1000)
  const col = (f: (s: LiveSample) => number | null) => samples.map(f)
  const bands: Band[] = BAND_KINDS.map((b) => ({ label: b.label, color: b.color, on: samples.map((s) => s[b.key]) }))
  const common = { bands, intervalS: interval / 1000, windowS: windowMin * 60 }
  const latest = samples[samples.length - 1]

  return (
    <main id="view-live">
      <div class="toolbar">
        <label>
          Window{' '}
          <select id="live-window" value={windowMin} onChange={(e) => setWindowMin(Number(e.currentTarget.value))}>
            <option value="5">5 minutes</option>
            <option value="10">10 minutes</option>
            <option value="15">15 minutes</option>
          </select>
        </label>
        <span class="legend-bands">
          {BAND_KINDS.map((b) => (
            <span class="band-key">
              <span class={`swatch swatch-${b.key}`} /> {b.label}
            </span>
          ))}
        </span>
        <span class="muted" id="live-count">
          {samples.length} samples, one per {interval / 1000} s
          {latest && ` · now ${decimal(latest.searches, 0)} searches/s`}
        </span>
      </div>
      {error && <p class="error">{error.message}</p>}
      <section class="charts">
        <TimeChart
          id="chart-throughput"
          title="Searches and writes per second"
          series={[
            { label: 'searches/s', stroke: '#1f77b4' },
            { label: 'vectors written/s', stroke: '#d62728' },
            { label: 'key-value writes/s', stroke: '#2ca02c' },
          ]}
          data={[xs, col((s) => s.searches), col((s) => s.vectorWrites), col((s) => s.kvWrites)]}
          axes={[{ scale: 'y', label: 'per second' }]}
          {...common}
        />
        <TimeChart
          id="chart-latency"
          title="Search latency (from the /metrics histogram)"
          series={[
            { label: 'p50 ms', stroke: '#1f77b4', digits: 3 },
            { label: 'p99 ms', stroke: '#ff7f0e', digits: 3 },
          ]}
          data={[xs, col((s) => s.p50), col((s) => s.p99)]}
          axes={[{ scale: 'y', label: 'ms' }]}
          {...common}
        />
        <TimeChart
          id="chart-wal"
          title="Write-ahead log"
          series={[
            { label: 'fsyncs/s', stroke: '#9467bd' },
            { label: 'frames/s', stroke: '#8c564b' },
            { label: 'frames per group commit', stroke: '#e377c2', scale: 'g', digits: 2 },
          ]}
          data={[xs, col((s) => s.fsyncs), col((s) => s.walFrames), col((s) => s.groupSize)]}
          axes={[
            { scale: 'y', label: 'per second' },
            { scale: 'g', label: 'group size', side: 1 },
          ]}
          {...common}
        />
        <TimeChart
          id="chart-memory"
          title="Memory"
          series={[
            { label: 'RSS MiB', stroke: '#17becf', digits: 0 },
            { label: 'native MiB', stroke: '#bcbd22', digits: 0 },
          ]}
          data={[xs, col((s) => s.rss / MiB), col((s) => s.nativeBytes / MiB)]}
          axes={[{ scale: 'y', label: 'MiB' }]}
          {...common}
        />
        <TimeChart
          id="chart-cache"
          title="Query cache lookups"
          series={[
            { label: 'exact hits/s', stroke: '#2ca02c' },
            { label: 'near hits/s', stroke: '#9467bd' },
            { label: 'misses/s', stroke: '#d62728' },
          ]}
          data={[xs, col((s) => s.cacheExact), col((s) => s.cacheNear), col((s) => s.cacheMiss)]}
          axes={[{ scale: 'y', label: 'per second' }]}
          {...common}
        />
      </section>
    </main>
  )
}
