import { xmlEscape } from '../harness/svg-chart.js'

/** One line of a latency-over-time chart: points of (ms from the expiry, latency ms). */
export interface Series {
  readonly label: string
  readonly color: string
  readonly points: readonly (readonly [number, number])[]
}

const W = 760
const H = 320
const M = { left: 60, right: 20, top: 40, bottom: 50 }

/**
 * A line chart as a standalone SVG (no dependency): p99 latency per time
 * bucket around an expiry, one line per server, a dashed line at the expiry.
 */
export function latencySvg(title: string, series: readonly Series[], range: readonly [number, number]): string {
  const maxY = Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1])))
  const x = (t: number) => M.left + ((t - range[0]) / (range[1] - range[0])) * (W - M.left - M.right)
  const y = (ms: number) => H - M.bottom - (ms / maxY) * (H - M.top - M.bottom)
  const lines = series.map((s) => {
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join(' ')
    return `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"/>`
  })
  const ticksY = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const v = maxY * f
    return `<line x1="${M.left}" x2="${W - M.right}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#eee"/><text x="${M.left - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end">${v.toFixed(v < 10 ? 1 : 0)}</text>`
  })
  const ticksX: string[] = []
  for (let t = Math.ceil(range[0] / 500) * 500; t <= range[1]; t += 500) {
    ticksX.push(`<text x="${x(t).toFixed(1)}" y="${H - M.bottom + 16}" text-anchor="middle">${t}</text>`)
  }
  const legend = series.map(
    (s, i) =>
      `<rect x="${M.left + 10 + i * 220}" y="${M.top - 22}" width="12" height="12" fill="${s.color}"/><text x="${M.left + 28 + i * 220}" y="${M.top - 12}">${xmlEscape(s.label)}</text>`,
  )
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${M.left}" y="16" font-size="14" font-weight="600">${xmlEscape(title)}</text>`,
    ...ticksY,
    ...ticksX,
    `<line x1="${x(0).toFixed(1)}" x2="${x(0).toFixed(1)}" y1="${M.top}" y2="${H - M.bottom}" stroke="#c00" stroke-dasharray="4 3"/>`,
    `<text x="${(x(0) + 4).toFixed(1)}" y="${M.top + 12}" fill="#c00">expiry</text>`,
    ...lines,
    ...legend,
    `<text x="${W / 2}" y="${H - 12}" text-anchor="middle" fill="#555">ms from the expiry (p99 latency per 50 ms bucket, ms)</text>`,
    '</svg>',
    '',
  ].join('\n')
}
