#!/usr/bin/env node
import { HELP, parseConfig, USAGE } from './config.js'
import { ConfigError } from './errors.js'
import { startProxy } from './proxy-server.js'

async function main(): Promise<void> {
  let config: ReturnType<typeof parseConfig>
  try {
    config = parseConfig(process.argv.slice(2))
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    process.stderr.write(`tiercache-proxy: ${error.message}\n\n${USAGE}\n`)
    process.exit(2)
  }
  if (config === HELP) {
    process.stdout.write(`${USAGE}\n`)
    return
  }
  const proxy = await startProxy(config)
  const { address, port } = proxy.address
  process.stderr.write(
    `tiercache-proxy: listening on http://${address}:${port}, origin ${config.origin.origin}, ${config.redis === undefined ? 'in-memory store' : `Redis ${config.redis}`}\n`,
  )
  const stop = (signal: string) => {
    process.stderr.write(`tiercache-proxy: ${signal}, finishing requests in flight\n`)
    proxy.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`tiercache-proxy: shutdown failed: ${String(error)}\n`)
        process.exit(1)
      },
    )
  }
  process.once('SIGTERM', () => stop('SIGTERM'))
  process.once('SIGINT', () => stop('SIGINT'))
}

main().catch((error: unknown) => {
  process.stderr.write(`tiercache-proxy: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
