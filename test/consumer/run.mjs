// `pnpm test:consumer`: installs the packages the way an app does and uses them.
// Packs every package, checks each tarball's types with @arethetypeswrong/cli,
// installs the tarballs with npm into two fresh projects (an ES module one and a
// CommonJS one), then runs in each a JavaScript program and a TypeScript program
// (CommonJS: moduleResolution node16; ES module: moduleResolution bundler)
// against the Redis on 127.0.0.1:6379. The two projects take the two majors of
// ioredis the peer range admits: 6 in the ES module project, 5 in the CommonJS one.
//
//   node test/consumer/run.mjs [--keep]   (after pnpm build)
import { execFile as execFileCb } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const execFile = promisify(execFileCb)
const root = fileURLToPath(new URL('../../', import.meta.url))
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url))
const args = process.argv.slice(2)
const keep = args.includes('--keep')
const PACKAGES = readdirSync(join(root, 'packages'))
const work = mkdtempSync(join(tmpdir(), 'tiercache-consumer-'))
const started = performance.now()

function log(line) {
  console.log(`[${((performance.now() - started) / 1000).toFixed(1).padStart(5)} s] ${line}`)
}

async function run(command, argv, cwd) {
  try {
    return (await execFile(command, argv, { cwd, timeout: 90_000, maxBuffer: 16 * 1024 * 1024 })).stdout
  } catch (error) {
    throw new Error(`${command} ${argv.join(' ')} (in ${cwd}) failed:\n${error.stdout ?? ''}${error.stderr ?? ''}`)
  }
}

/** `pnpm pack` turns workspace:^ into a real range, as `pnpm publish` does. */
async function pack() {
  const dir = join(work, 'tarballs')
  const tarballs = {}
  for (const name of PACKAGES) {
    await run('pnpm', ['pack', '--pack-destination', dir], join(root, 'packages', name))
    tarballs[`@tiercache/${name}`] = join(
      dir,
      readdirSync(dir).find((f) => f.startsWith(`tiercache-${name}-`)),
    )
  }
  return tarballs
}

async function checkTypes(tarballs) {
  const attw = join(root, 'node_modules', '.bin', 'attw')
  await Promise.all(Object.values(tarballs).map((tarball) => run(attw, [tarball, '--format', 'ascii'], work)))
}

/** A fresh project with the tarballs, ioredis and the fixtures, installed with npm. */
async function project(kind, { tarballs, ioredis, files, tsconfig }) {
  const dir = join(work, kind)
  mkdirSync(dir)
  const dependencies = { ...tarballs, ioredis }
  const manifest = { name: `consumer-${kind}`, private: true, type: kind === 'esm' ? 'module' : 'commonjs' }
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ ...manifest, dependencies, devDependencies: { '@types/node': '^20.19.0' } }, null, 2),
  )
  for (const file of files) copyFileSync(join(fixtures, file), join(dir, file))
  const compilerOptions = {
    target: 'ES2022',
    strict: true,
    esModuleInterop: true,
    skipLibCheck: false,
    outDir: 'dist',
    ...tsconfig,
  }
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['program.ts'] }, null, 2))
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], dir)
  // One copy of core, the app's, or `cacheHttp(…, { cache })` stops type-checking.
  for (const name of PACKAGES) {
    const nested = join(dir, 'node_modules', '@tiercache', name, 'node_modules', '@tiercache', 'core')
    if (existsSync(nested)) throw new Error(`${kind}: a second @tiercache/core was installed under ${name}`)
  }
  return dir
}

/**
 * Compiles program.ts and runs it and the JavaScript program. `nodeFlags` of
 * the CommonJS project turn require(esm) off, as on Node 20.0 to 20.18, where a
 * require() that reached an ES module would throw ERR_REQUIRE_ESM.
 */
async function programs(dir, javascript, nodeFlags = []) {
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')
  await run(process.execPath, [tsc, '-p', dir], dir)
  const outputs = await Promise.all([
    run(process.execPath, [...nodeFlags, javascript], dir),
    run(process.execPath, [...nodeFlags, join('dist', 'program.js')], dir),
  ])
  return outputs.join('').trim().split('\n')
}

try {
  log(`packing ${PACKAGES.join(', ')} into ${work}`)
  const tarballs = await pack()
  log('checking types of every tarball with @arethetypeswrong/cli; installing them')
  const shared = ['exercise.cjs', 'program.ts']
  const [, esm, cjs] = await Promise.all([
    checkTypes(tarballs),
    project('esm', {
      tarballs,
      ioredis: '^6.0.0',
      files: ['esm.mjs', ...shared],
      tsconfig: { module: 'preserve', moduleResolution: 'bundler' },
    }),
    project('cjs', {
      tarballs,
      ioredis: '^5.9.0',
      files: ['cjs.cjs', ...shared],
      tsconfig: { module: 'node16', moduleResolution: 'node16' },
    }),
  ])
  const version = (dir) =>
    JSON.parse(readFileSync(join(dir, 'node_modules', 'ioredis', 'package.json'), 'utf8')).version
  log(`attw: no problems; installed, one copy of @tiercache/core each; ioredis ${version(esm)} and ${version(cjs)}`)
  for (const line of await programs(esm, 'esm.mjs')) log(`ES module project, ioredis 6: ${line}`)
  const noRequireEsm = process.allowedNodeEnvironmentFlags.has('--no-experimental-require-module')
    ? ['--no-experimental-require-module']
    : [] // Node 20.0 to 20.18: require(esm) is off anyway
  for (const line of await programs(cjs, 'cjs.cjs', noRequireEsm))
    log(`CommonJS project, ioredis 5, ${noRequireEsm.join(' ') || 'no require(esm)'}: ${line}`)
  log('consumer test passed')
} finally {
  if (keep) log(`kept ${work}`)
  else rmSync(work, { recursive: true, force: true })
}
