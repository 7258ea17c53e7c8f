// A uPlot time-series chart with background work drawn as bands on the time axis.
import { useEffect, useRef } from 'preact/hooks'
import uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'

/** A band kind: which samples it covers and its colour. */
export interface Band {
  label: string
  color: string
  on: boolean[]
}

export interface SeriesSpec {
  label: string
  stroke: string
  /** Scale (axis) key; default 'y'. */
  scale?: string
  digits?: number
}

/** Fill the sample intervals of each band beneath the series. */
function bandsPlugin(bands: () => Band[], intervalS: number): uPlot.Plugin {
  return {
    hooks: {
      drawClear: [
        (u: uPlot) => {
          const xs = u.data[0]
          const { ctx } = u
          const { top, height } = u.bbox
          ctx.save()
          for (const band of bands()) {
            ctx.fillStyle = band.color
            let start = -1
            for (let i = 0; i <= xs.length; i++) {
              const on = i < xs.length && band.on[i]
              if (on && start < 0) start = i
              if (!on && start >= 0) {
                const x0 = u.valToPos(xs[start]! - intervalS, 'x', true)
                const x1 = u.valToPos(xs[i - 1]!, 'x', true)
                ctx.fillRect(x0, top, Math.max(2, x1 - x0), height)
                start = -1
              }
            }
          }
          ctx.restore()
        },
      ],
    },
  }
}

export function TimeChart(props: {
  id: string
  title: string
  series: SeriesSpec[]
  data: (number | null)[][]
  bands: Band[]
  intervalS: number
  windowS: number
  axes?: { scale: string; label: string; side?: 0 | 1 | 2 | 3 }[]
}) {
  const box = useRef<HTMLDivElement>(null)
  const plot = useRef<uPlot | null>(null)
  const bands = useRef(props.bands)
  bands.current = props.bands

  useEffect(() => {
    const el = box.current!
    const axes: uPlot.Axis[] = [{ stroke: '#8a94a6', grid: { stroke: '#e8ebf0' } }]
    for (const a of props.axes ?? [{ scale: 'y', label: '' }]) {
      axes.push({ scale: a.scale, label: a.label, side: a.side ?? 3, stroke: '#8a94a6', grid: { show: a.side !== 1, stroke: '#e8ebf0' }, size: 56 })
    }
    const scales: uPlot.Scales = { x: { time: true } }
    for (const s of props.series) scales[s.scale ?? 'y'] = { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] }
    const u = new uPlot(
      {
        width: Math.max(300, el.clientWidth),
        height: 220,
        scales,
        axes,
        series: [
          {},
          ...props.series.map((s) => ({
            label: s.label,
            stroke: s.stroke,
            width: 1.5,
            scale: s.scale ?? 'y',
            spanGaps: false,
            value: (_u: uPlot, v: number | null) => (v === null ? '–' : v.toFixed(s.digits ?? 1)),
          })),
        ],
        legend: { live: true },
        cursor: { drag: { x: false, y: false } },
        plugins: [bandsPlugin(() => bands.current, props.intervalS)],
      },
      props.data as uPlot.AlignedData,
      el,
    )
    plot.current = u
    const resize = new ResizeObserver(() => u.setSize({ width: Math.max(300, el.clientWidth), height: 220 }))
    resize.observe(el)
    return () => {
      resize.disconnect()
      u.destroy()
      plot.current = null
    }
  }, [])

  useEffect(() => {
    const u = plot.current
    if (u === null) return
    const xs = props.data[0] as number[]
    const end = xs.length > 0 ? xs[xs.length - 1]! : Date.now() / 1000
    // The window, or less while the server has not been up that long (at least a minute).
    const span = Math.min(props.windowS, Math.max(60, xs.length > 0 ? end - xs[0]! + props.intervalS : 0))
    u.batch(() => {
      u.setData(props.data as uPlot.AlignedData, false)
      u.setScale('x', { min: end - span, max: end })
    })
  }, [props.data, props.windowS])

  return (
    <div class="chart card" id={props.id} data-points={String((props.data[0] as number[]).length)}>
      <h3>{props.title}</h3>
      <div ref={box} />
    </div>
  )
}
