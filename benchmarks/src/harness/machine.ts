import { readFileSync } from 'node:fs'
import os from 'node:os'

/** The machine and the moment, for the report: numbers mean nothing without them. */
export interface MachineInfo {
  readonly cpu: string
  readonly cores: number
  readonly memoryGiB: number
  readonly os: string
  readonly node: string
  /** 1/5/15-minute load averages when the run started. */
  readonly loadAtStart: readonly number[]
  readonly date: string
}

/** Reads the machine description. */
export function machineInfo(): MachineInfo {
  const cpus = os.cpus()
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    loadAtStart: os.loadavg().map((l) => Math.round(l * 100) / 100),
    date: new Date().toISOString(),
  }
}

/** The current 1/5/15-minute load averages, rounded. */
export function loadAverage(): number[] {
  return os.loadavg().map((l) => Math.round(l * 100) / 100)
}

/** Installed versions of the benchmarks' dependencies, read from benchmarks/node_modules. */
export function versions(names: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const name of names) {
    try {
      const file = new URL(`../../node_modules/${name}/package.json`, import.meta.url)
      out[name] = (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version
    } catch {
      out[name] = 'not installed'
    }
  }
  return out
}
