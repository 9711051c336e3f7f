import {AssertionError} from 'node:assert'
import {readFileSync} from 'node:fs'
import {join} from 'node:path'

import {Ajv2020, type ErrorObject, type ValidateFunction} from 'ajv/dist/2020.js'

import {ROOT} from './cli.js'

export const OPENAPI_PATH = join(ROOT, 'test/fixtures/openai-spec/openapi.subset.json')

/**
 * Component schemas of the official document, plus one derived schema:
 * `CreateCompletionStreamResponse` is `CreateCompletionResponse` with `choices[].finish_reason`
 * also allowing `null` (the official schema makes it a non-nullable string, so every legacy
 * stream chunk but the last, including the spec's own streaming example, would fail it).
 * One schema is loosened where the document contradicts itself: `InputItem` lists a message
 * with a list of parts twice (as `EasyInputMessage` and as `Item` → `InputMessage`), so under
 * its `oneOf` such a message matches two branches and fails; it is read as `anyOf`.
 */
export type SchemaName =
  | 'CreateChatCompletionResponse'
  | 'CreateChatCompletionStreamResponse'
  | 'CreateCompletionResponse'
  | 'CreateCompletionStreamResponse'
  | 'ListModelsResponse'
  | 'Model'
  | 'CreateEmbeddingResponse'
  | 'ImagesResponse'
  | 'ErrorResponse'
  | 'CreateChatCompletionRequest'
  | 'CreateResponse'
  | 'Response'
  | 'ResponseStreamEvent'
  | 'InputItem'

type Json = null | boolean | number | string | Json[] | {[key: string]: Json}
type JsonObject = {[key: string]: Json}

function isObject(value: Json | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * The document is OpenAPI 3.1 but still carries 46 OpenAPI 3.0 `nullable: true` keywords (among
 * them `finish_reason`, `logprobs` and `usage` of the chat stream chunk). JSON Schema 2020-12 has no
 * such keyword: ajv refuses `nullable` without `type` and would otherwise reject the `null`s every
 * real chunk carries. Rewrite `{…, nullable: true}` as `{anyOf: [{…}, {type: 'null'}]}`, which is
 * what the keyword means, and drop `nullable: false`.
 */
function normalize(value: Json): Json {
  if (Array.isArray(value)) return value.map(normalize)
  if (!isObject(value)) return value
  const out: JsonObject = {}
  for (const [k, v] of Object.entries(value)) {
    if (k === 'nullable' && typeof v === 'boolean') continue
    out[k] = normalize(v)
  }
  if (value.nullable === true) return {anyOf: [out, {type: 'null'}]}
  return out
}

function loadDocument(): JsonObject {
  let text: string
  try {
    text = readFileSync(OPENAPI_PATH, 'utf8')
  } catch (error) {
    throw new Error(
      `The official OpenAPI document is missing: ${(error as Error).message}. It belongs in test/fixtures/openai-spec (see its README).`,
      {cause: error},
    )
  }

  const doc = normalize(JSON.parse(text) as Json)
  if (!isObject(doc) || !isObject(doc.components) || !isObject(doc.components.schemas))
    throw new Error(`${OPENAPI_PATH}: no components.schemas`)
  const schemas = doc.components.schemas
  const legacy = schemas.CreateCompletionResponse
  if (!isObject(legacy)) throw new Error(`${OPENAPI_PATH}: no CreateCompletionResponse`)
  const stream = structuredClone(legacy)
  const choices = isObject(stream.properties) ? stream.properties.choices : undefined
  const items = isObject(choices) ? choices.items : undefined
  const props = isObject(items) ? items.properties : undefined
  if (!isObject(props) || !isObject(props.finish_reason))
    throw new Error(`${OPENAPI_PATH}: unexpected CreateCompletionResponse shape`)
  props.finish_reason = {anyOf: [props.finish_reason, {type: 'null'}]}
  schemas.CreateCompletionStreamResponse = stream
  const inputItem = schemas.InputItem
  if (!isObject(inputItem) || !Array.isArray(inputItem.oneOf))
    throw new Error(`${OPENAPI_PATH}: unexpected InputItem shape`)
  const {oneOf, discriminator: _discriminator, ...rest} = inputItem
  schemas.InputItem = {...rest, anyOf: oneOf}
  return doc
}

let ajv: Ajv2020 | undefined
const cache = new Map<SchemaName, ValidateFunction>()

function validator(name: SchemaName): ValidateFunction {
  const cached = cache.get(name)
  if (cached) return cached
  if (!ajv) {
    const document = loadDocument()
    ajv = new Ajv2020({strict: false, allErrors: true})
    // The formats the document uses. `unixtime` is read as whole seconds (not milliseconds).
    ajv.addFormat('unixtime', {type: 'number', validate: (n: number) => Number.isInteger(n) && n >= 0 && n < 1e11})
    ajv.addFormat('int64', {type: 'number', validate: (n: number) => Number.isInteger(n)})
    ajv.addFormat('float', {type: 'number', validate: (n: number) => Number.isFinite(n)})
    ajv.addFormat('date', /^\d{4}-\d{2}-\d{2}$/)
    ajv.addFormat('uri', (s: string) => URL.canParse(s) && /^[a-z][a-z0-9+.-]*:/i.test(s))
    ajv.addSchema(document, 'openapi')
  }
  const validate = ajv.getSchema(`openapi#/components/schemas/${name}`)
  if (!validate) throw new Error(`schema ${name} not found in ${OPENAPI_PATH}`)
  cache.set(name, validate)
  return validate
}

function describeError(e: ErrorObject): string {
  let detail = ''
  const params = e.params as Record<string, unknown>
  if (e.keyword === 'enum') detail = ` ${JSON.stringify(params.allowedValues)}`
  else if (e.keyword === 'const') detail = ` ${JSON.stringify(params.allowedValue)}`
  else if (e.keyword === 'additionalProperties') detail = ` (${String(params.additionalProperty)})`
  return `  ${e.instancePath || '/'} ${e.message ?? e.keyword}${detail}  [${e.schemaPath}]`
}

/** Throws an AssertionError listing every schema error (instancePath + message) and the data, if `data` does not validate. */
export function assertSchema(name: SchemaName, data: unknown): void {
  const validate = validator(name)
  if (validate(data)) return
  const errors = validate.errors ?? []
  let shown = JSON.stringify(data, null, 2) ?? String(data)
  if (shown.length > 4000) shown = `${shown.slice(0, 4000)}…`
  throw new AssertionError({
    message: `does not match ${name}: ${errors.length} schema error(s):\n${errors.map(describeError).join('\n')}\ndata: ${shown}`,
    actual: data,
    expected: name,
    operator: 'assertSchema',
  })
}

/** True when `data` validates against the schema (no throw). */
export function matchesSchema(name: SchemaName, data: unknown): boolean {
  return validator(name)(data) === true
}

export type SseBody = {
  /** JSON of each `data:` event, in order, without the final `[DONE]`. */
  events: unknown[]
  /** True when the body contained `data: [DONE]`. */
  done: boolean
  /** The data text of every event, including `[DONE]`. */
  raw: string[]
  /** Text after the last complete event (not terminated by a blank line); '' for a clean end. */
  trailing: string
}

/**
 * Parse a whole SSE body (text) into the JSON of each `data:` event. Throws if an event is not valid
 * JSON, if there is an `event:` line (OpenAI streams are data-only), a line that is not an SSE field,
 * or an event after `[DONE]`. Comment lines (`: …`), `id:` and `retry:` are ignored. Accepts LF, CRLF
 * and CR line ends. An unterminated last event is not dispatched (as in the SSE spec); it is
 * returned as `trailing`.
 */
export function parseSseBody(text: string): SseBody {
  const result: SseBody = {events: [], done: false, raw: [], trailing: ''}
  const lines = text.split(/\r\n|\r|\n/)
  // The piece after the last line end is unterminated: keep it apart.
  const last = lines.pop() ?? ''
  let data: string[] = []
  let pending: string[] = []
  const dispatch = () => {
    pending = []
    if (data.length === 0) return
    const payload = data.join('\n')
    data = []
    if (result.done) throw new Error(`SSE event after [DONE]: ${payload}`)
    result.raw.push(payload)
    if (payload === '[DONE]') {
      result.done = true
      return
    }
    try {
      result.events.push(JSON.parse(payload))
    } catch {
      throw new Error(`SSE event ${result.raw.length} is not valid JSON: ${payload}`)
    }
  }
  for (const line of lines) {
    if (line === '') {
      dispatch()
      continue
    }
    pending.push(line)
    if (line.startsWith(':')) continue
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'data') data.push(value)
    else if (field === 'event') throw new Error(`unexpected SSE event line (OpenAI streams are data-only): ${line}`)
    else if (field !== 'id' && field !== 'retry') throw new Error(`not an SSE line: ${JSON.stringify(line)}`)
  }
  result.trailing = pending.length > 0 ? [...pending, last].join('\n') : last
  return result
}
