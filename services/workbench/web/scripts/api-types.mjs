// The typed API client's source: every service's OpenAPI document (dumped by
// `python -m services.workbench openapi`, no service running) turned into TypeScript by
// openapi-typescript. Run by `npm run build` before vue-tsc, so a changed API breaks the build.
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import openapiTS, { astToString } from 'openapi-typescript'

const web = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const repo = resolve(web, '../../..')
const documents = join(web, 'openapi')
const schemaDir = join(web, 'src/api/schema')

if (process.env.WORKBENCH_SKIP_OPENAPI_DUMP !== '1') {
  // uv when the repository's environment is managed by it (the run and test commands), the
  // plain interpreter otherwise (a container image with the dependencies installed).
  const [cmd, args] = existsSync(join(repo, 'uv.lock')) && hasUv()
    ? ['uv', ['run', '--frozen', 'python', '-m', 'services.workbench', 'openapi']]
    : ['python3', ['-m', 'services.workbench', 'openapi']]
  execFileSync(cmd, args, { cwd: repo, stdio: ['ignore', 'ignore', 'inherit'] })
}

function hasUv() {
  try {
    execFileSync('uv', ['--version'], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

mkdirSync(schemaDir, { recursive: true })
for (const file of readdirSync(documents).filter((f) => f.endsWith('.json')).sort()) {
  const service = file.replace(/\.json$/, '')
  const ast = await openapiTS(new URL(`file://${join(documents, file)}`))
  writeFileSync(
    join(schemaDir, `${service}.ts`),
    `// Generated from services/${service}'s OpenAPI document by scripts/api-types.mjs. Do not edit.\n` +
      astToString(ast),
  )
  console.log(`api types: ${service}`)
}
