/**
 * Vitest global setup: the integration tests need a Redis on 127.0.0.1:6379.
 * When none answers and `redis-server` is installed, start one (no persistence);
 * when it is not installed, fail with the command that installs it.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { createConnection } from 'node:net'

const PORT = 6379

function reachable(): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port: PORT })
    socket.setTimeout(500)
    socket.once('connect', () => {
      socket.end()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

export default async function setup(): Promise<void> {
  if (await reachable()) return
  if (spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error(
      'The tests need Redis on 127.0.0.1:6379 and redis-server is not installed: apt-get install -y redis-server',
    )
  }
  execFileSync('redis-server', [
    '--daemonize',
    'yes',
    '--bind',
    '127.0.0.1',
    '-::1',
    '--port',
    String(PORT),
    '--save',
    '',
    '--appendonly',
    'no',
  ])
  for (let i = 0; i < 50; i++) {
    if (await reachable()) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error('started redis-server on 127.0.0.1:6379 but it does not answer')
}
