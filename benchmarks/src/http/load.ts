import { Agent, request } from 'node:http'
import autocannon from 'autocannon'
import { quantile } from '../harness/stats.js'

/** One autocannon run against one server. */
export interface LoadRun {
  readonly requests: number
  readonly seconds: number
  readonly reqPerSec: number
  readonly p50: number
  readonly p99: number
  readonly non2xx: number
  /** Every response: [wall-clock ms at completion, latency ms]. */
  readonly timeline: readonly (readonly [number, number])[]
}

/** autocannon with `connections` keep-alive connections for `seconds` against `url`. */
export async function cannon(
  url: string,
  opts: { connections: number; seconds: number; timeline?: boolean },
): Promise<LoadRun> {
  const timeline: [number, number][] = []
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon({ url, connections: opts.connections, duration: opts.seconds }, (error, done) =>
      error ? reject(error) : resolve(done),
    )
    if (opts.timeline === true) {
      instance.on('response', (_client, _status, _bytes, ms) => {
        timeline.push([Date.now(), ms])
      })
    }
  })
  const total = result.requests.total
  return {
    requests: total,
    seconds: result.duration,
    reqPerSec: total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors + result.timeouts,
    timeline,
  }
}

/** One response seen by the round-robin client. */
export interface Seen {
  /** Wall-clock ms at completion. */
  readonly at: number
  readonly node: number
  readonly version: number
  readonly ms: number
}

/**
 * A round-robin client, as a balancer in front of a cluster: `loops` concurrent
 * loops, each sending its next request to the next node, `pauseMs` apart.
 * Records the version every response carries.
 */
export async function roundRobin(
  ports: readonly number[],
  opts: { loops: number; seconds: number; pauseMs: number },
): Promise<Seen[]> {
  const agent = new Agent({ keepAlive: true, maxSockets: opts.loops })
  const seen: Seen[] = []
  const until = Date.now() + opts.seconds * 1000
  let next = 0
  const loop = async () => {
    while (Date.now() < until) {
      const node = next++ % ports.length
      const started = performance.now()
      const body = await getText(ports[node]!, agent)
      seen.push({
        at: Date.now(),
        node,
        version: Number(/^v(\d+)/.exec(body)?.[1] ?? 0),
        ms: performance.now() - started,
      })
      if (opts.pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, opts.pauseMs))
    }
  }
  await Promise.all(Array.from({ length: opts.loops }, loop))
  agent.destroy()
  return seen
}

/** One GET of the cluster's URL under the public Host (fetch would drop a `Host` header). */
export function getItem(port: number): Promise<string> {
  const agent = new Agent({ keepAlive: false })
  return getText(port, agent).finally(() => agent.destroy())
}

function getText(port: number, agent: Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    // One public Host for every node, as behind a balancer (the cache key holds the Host).
    request({ host: '127.0.0.1', port, path: '/item', agent, headers: { host: 'www.example.test' } }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        text += chunk
      })
      res.on('end', () => resolve(text))
    })
      .on('error', reject)
      .end()
  })
}

/** p99 of the latencies of `timeline` entries completed in [from, to). */
export function p99Between(
  timeline: readonly (readonly [number, number])[],
  from: number,
  to: number,
): number | undefined {
  const ms = timeline.filter(([at]) => at >= from && at < to).map(([, latency]) => latency)
  return ms.length === 0 ? undefined : quantile(ms, 0.99)
}
