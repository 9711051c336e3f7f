#!/usr/bin/env node
// A micro-benchmark of the request body reader (src/daemon/http.ts readJson) on a 20 KB
// chat request: `node --import tsx bench/read-json.mjs`. Prints the fastest and the median of
// 7 rounds (the fastest is the steadier figure on a shared machine). READ_JSON_MODULE names
// another copy of the module to compare (e.g. an older http.ts saved beside it).
import {Readable} from 'node:stream'

const {readJson} = await import(process.env.READ_JSON_MODULE ?? '../src/daemon/http.ts')

const messages = Array.from({length: 40}, (_, i) => ({
  role: i % 2 ? 'assistant' : 'user',
  content: `Message ${i}: ${'lorem ipsum dolor sit amet, "quoted" text \\ with escapes '.repeat(8)}`,
}))
const text = JSON.stringify({
  model: 'gpt-4o-mini',
  messages,
  temperature: 0.2,
  stream: true,
  stream_options: {include_usage: true},
  metadata: {user: 'bench'},
})
const body = Buffer.from(text)

function request() {
  const req = Readable.from([body], {objectMode: false})
  req.headers = {'content-length': String(body.length)}
  return req
}

async function round(n) {
  const started = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await readJson(request(), 16 * 1024 * 1024)
  return Number(process.hrtime.bigint() - started) / n / 1000
}

await round(3000) // warm up
const rounds = []
for (let r = 0; r < 7; r++) rounds.push(await round(5000))
rounds.sort((a, b) => a - b)
console.log(
  `readJson, ${body.length} byte body: fastest ${rounds[0].toFixed(2)} µs, median ${rounds[3].toFixed(2)} µs per call`,
)
