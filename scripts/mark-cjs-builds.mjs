// Marks each package's dist/cjs as CommonJS. The packages are `"type": "module"`,
// so without this package.json Node would read dist/cjs/*.js as ES modules.
import { existsSync, readdirSync, writeFileSync } from 'node:fs'

const packages = new URL('../packages/', import.meta.url)
for (const name of readdirSync(packages)) {
  const cjs = new URL(`${name}/dist/cjs/`, packages)
  if (existsSync(cjs)) writeFileSync(new URL('package.json', cjs), '{ "type": "commonjs" }\n')
}
