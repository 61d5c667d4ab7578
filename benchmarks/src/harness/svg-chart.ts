import type { Chart } from './scenario.js'

const ROW = 26
const LABEL = 260
const BAR = 380
const PAD = 12

/**
 * A horizontal bar chart as a standalone SVG document (no dependency: a few
 * rects and texts). The baseline's bar is grey, the others blue, tiercache's
 * green; a dashed line marks the baseline's value so ratios read at a glance.
 */
export function svgChart(chart: Chart): string {
  const max = Math.max(...chart.bars.map((b) => b.value), 1e-9)
  const baseline = chart.bars.find((b) => b.baseline)
  const top = 40
  const height = top + chart.bars.length * ROW + 36
  const width = LABEL + BAR + 110
  const x = (v: number): number => LABEL + (v / max) * BAR
  const rows = chart.bars.map((bar, i) => {
    const y = top + i * ROW
    const fill = bar.baseline ? '#9aa0a6' : bar.label.startsWith('tiercache') ? '#2e9d5b' : '#4a7bd0'
    const w = Math.max(1, x(bar.value) - LABEL)
    return [
      `<text x="${LABEL - 8}" y="${y + 17}" text-anchor="end">${xmlEscape(bar.label)}</text>`,
      `<rect x="${LABEL}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW - 8}" fill="${fill}" rx="2"/>`,
      `<text x="${(LABEL + w + 6).toFixed(1)}" y="${y + 17}">${label(bar.value)}</text>`,
    ].join('')
  })
  const mark = baseline
    ? `<line x1="${x(baseline.value).toFixed(1)}" y1="${top}" x2="${x(baseline.value).toFixed(1)}" y2="${top + chart.bars.length * ROW}" stroke="#555" stroke-dasharray="4 3"/>`
    : ''
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="${PAD}" y="24" font-size="15" font-weight="600">${xmlEscape(chart.title)}</text>`,
    ...rows,
    mark,
    `<text x="${LABEL}" y="${height - 12}" fill="#555">${xmlEscape(chart.unit)}</text>`,
    '</svg>',
    '',
  ].join('\n')
}

function label(v: number): string {
  return v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2)
}

/** `text` escaped for an SVG text node or attribute. */
export function xmlEscape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;')
}
