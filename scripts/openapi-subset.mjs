#!/usr/bin/env node
// Regenerates test/fixtures/openai-spec/openapi.subset.json from OpenAI's full OpenAPI
// document (openapi.json of the public openai/openai-openapi repository, MIT):
//
//   node scripts/openapi-subset.mjs path/to/openapi.json > test/fixtures/openai-spec/openapi.subset.json
//
// It keeps the paths gptconv serves and every component schema they reference, directly
// or through other schemas, plus the error envelope; nothing else is changed.
import {readFileSync} from 'node:fs'

const PATHS = [
  '/chat/completions',
  '/completions',
  '/models',
  '/models/{model}',
  '/embeddings',
  '/images/generations',
  '/responses',
]
const EXTRA = ['ErrorResponse', 'Error', 'ResponseStreamEvent', 'CreateChatCompletionStreamResponse']

const file = process.argv[2]
if (!file) {
  process.stderr.write('usage: node scripts/openapi-subset.mjs FULL_OPENAPI.json > subset.json\n')
  process.exit(2)
}

const doc = JSON.parse(readFileSync(file, 'utf8'))
const schemas = doc.components?.schemas ?? {}
const keep = new Set()
const pending = [...EXTRA]

/** Every `#/components/schemas/X` reference in a JSON value. */
function refs(value, out = []) {
  if (Array.isArray(value)) for (const v of value) refs(v, out)
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string' && v.startsWith('#/components/schemas/'))
        out.push(v.slice('#/components/schemas/'.length))
      else refs(v, out)
    }
  }
  return out
}

const paths = {}
for (const path of PATHS) {
  if (!doc.paths?.[path]) throw new Error(`${file} has no path ${path}`)
  paths[path] = doc.paths[path]
  pending.push(...refs(doc.paths[path]))
}

while (pending.length > 0) {
  const name = pending.pop()
  if (keep.has(name)) continue
  if (!schemas[name]) throw new Error(`${file} has no schema ${name}`)
  keep.add(name)
  pending.push(...refs(schemas[name]))
}

const subset = {
  openapi: doc.openapi,
  info: doc.info,
  servers: doc.servers,
  paths,
  components: {
    schemas: Object.fromEntries(
      Object.keys(schemas)
        .filter((n) => keep.has(n))
        .map((n) => [n, schemas[n]]),
    ),
  },
}
process.stdout.write(JSON.stringify(subset, null, 2) + '\n')
