import type { Table } from './scenario.js'

/** A table as aligned plain text for the terminal. */
export function textTable(table: Table): string {
  const all = [table.columns, ...table.rows]
  const widths = table.columns.map((_, c) => Math.max(...all.map((row) => (row[c] ?? '').length)))
  const line = (row: readonly string[]): string =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ')
  const rule = widths.map((w) => '─'.repeat(w)).join('  ')
  return [`  ${table.title}`, `  ${line(table.columns)}`, `  ${rule}`, ...table.rows.map((r) => `  ${line(r)}`)].join(
    '\n',
  )
}

/** A table as GitHub markdown; figure columns right-aligned. */
export function markdownTable(table: Table): string {
  const pipeSafe = (text: string): string => text.replaceAll('|', '\\|')
  const head = `| ${table.columns.map(pipeSafe).join(' | ')} |`
  const align = `| ${table.columns.map((_, c) => (c === 0 ? '---' : '---:')).join(' | ')} |`
  const body = table.rows.map((row) => `| ${row.map(pipeSafe).join(' | ')} |`)
  return [`**${table.title}**`, '', head, align, ...body].join('\n')
}
