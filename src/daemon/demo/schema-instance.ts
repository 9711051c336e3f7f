/**
 * A small, deterministic instance of a JSON schema, for the demo's tool-call arguments and
 * structured outputs: objects carry their required properties only (plus more, in declared
 * order, up to `minProperties`), arrays have `minItems` items, `const` and the first `enum`
 * value win, `anyOf`/`oneOf` take the first branch (merged with the keywords beside it),
 * `allOf` is merged, local `$ref`s (`#/$defs/…`, `#/definitions/…`, `#`) are followed, and
 * strings honour `format`, `minLength`/`maxLength` and, where a few plain candidates match
 * it, `pattern`. Numbers are 0 moved into `minimum`/`maximum`/`multipleOf`; booleans are
 * false. A schema that allows anything (`{}`, `true`) gets null. Regular expressions that
 * none of the candidates match, `not`, `uniqueItems` over identical items and conditional
 * keywords (`if`/`then`, `dependentSchemas`) are out of reach: the result may then fail them.
 */

type Schema = Record<string, unknown>

/** Deeper than this (a schema that requires itself) the generator gives up with null. */
const MAX_DEPTH = 32

/** One fixed valid value per string format (the JSON Schema and OpenAPI format names). */
const FORMATS: Readonly<Record<string, string>> = {
  'date-time': '2024-01-01T00:00:00Z',
  date: '2024-01-01',
  time: '00:00:00Z',
  duration: 'P1D',
  email: 'demo@example.com',
  'idn-email': 'demo@example.com',
  hostname: 'example.com',
  'idn-hostname': 'example.com',
  ipv4: '127.0.0.1',
  ipv6: '::1',
  uri: 'https://example.com/',
  'uri-reference': 'https://example.com/',
  iri: 'https://example.com/',
  'iri-reference': 'https://example.com/',
  'uri-template': 'https://example.com/',
  url: 'https://example.com/',
  uuid: '00000000-0000-4000-8000-000000000000',
  'json-pointer': '',
  'relative-json-pointer': '0',
  regex: '.*',
  byte: 'ZGVtbw==',
}

/** Strings tried, in order, against a `pattern`. */
const CANDIDATES = [
  'demo',
  '',
  'a',
  'A',
  '0',
  'demo_1',
  'demo-1',
  'DEMO',
  'Demo',
  'demo@example.com',
  'https://example.com/',
  '2024-01-01',
]

const isSchema = (value: unknown): value is Schema =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
const int = (value: unknown): number | undefined =>
  typeof value === 'number' && Number.isInteger(value) && value >= 0 ? value : undefined

/** A minimal valid instance of `schema`; `$ref`s resolve against `schema` itself. */
export function instanceOf(schema: unknown): unknown {
  return generate(schema, schema, 0)
}

function generate(schema: unknown, root: unknown, depth: number): unknown {
  if (!isSchema(schema) || depth > MAX_DEPTH) return null
  if ('const' in schema) return schema.const
  if (Array.isArray(schema.enum) && schema.enum.length > 0) return schema.enum[0]
  if (typeof schema.$ref === 'string') {
    const {$ref, ...rest} = schema
    return generate(merge(rest, resolve(root, $ref)), root, depth + 1)
  }

  const branches = Array.isArray(schema.anyOf) ? schema.anyOf : schema.oneOf
  if (Array.isArray(branches) && branches.length > 0) {
    const {anyOf: _anyOf, oneOf: _oneOf, ...rest} = schema
    return generate(merge(rest, branches[0]), root, depth + 1)
  }

  if (Array.isArray(schema.allOf)) {
    const {allOf, ...rest} = schema
    return generate(
      allOf.reduce<Schema>((all, part) => merge(all, part), rest),
      root,
      depth + 1,
    )
  }

  switch (typeOf(schema)) {
    case 'object':
      return object(schema, root, depth)
    case 'array':
      return array(schema, root, depth)
    case 'string':
      return string(schema)
    case 'integer':
      return number(schema, true)
    case 'number':
      return number(schema, false)
    case 'boolean':
      return false
    default:
      return null
  }
}

/** The declared type (the first one that is not null), or the one the keywords imply. */
function typeOf(s: Schema): string {
  const types =
    typeof s.type === 'string'
      ? [s.type]
      : Array.isArray(s.type)
        ? s.type.filter((t): t is string => typeof t === 'string')
        : []
  if (types.length > 0) return types.find((t) => t !== 'null') ?? 'null'
  const has = (...keys: string[]) => keys.some((k) => k in s)
  if (has('properties', 'required', 'additionalProperties', 'patternProperties', 'minProperties')) return 'object'
  if (has('items', 'prefixItems', 'minItems', 'contains')) return 'array'
  if (has('minLength', 'maxLength', 'pattern', 'format')) return 'string'
  if (has('minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf')) return 'number'
  return 'null'
}

/** Two schemas as one: later keywords win, except that properties and required add up. */
function merge(a: Schema, b: unknown): Schema {
  if (!isSchema(b)) return a
  const out: Schema = {...a, ...b}
  if (isSchema(a.properties) || isSchema(b.properties))
    out.properties = {...(a.properties as Schema), ...(b.properties as Schema)}
  if (Array.isArray(a.required) || Array.isArray(b.required))
    out.required = [...new Set([...((a.required as unknown[]) ?? []), ...((b.required as unknown[]) ?? [])])]
  return out
}

/** A local reference (`#` or a JSON pointer after it); anything else is the empty schema. */
function resolve(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#')) return {}
  let at: unknown = root
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replaceAll('~1', '/').replaceAll('~0', '~')
    if (!isSchema(at) || !Object.hasOwn(at, key)) return {}
    at = at[key]
  }

  return at
}

/** The schema of property `name`: declared, else a matching `patternProperties`, else `additionalProperties`. */
function propertySchema(s: Schema, name: string): unknown {
  if (isSchema(s.properties) && Object.hasOwn(s.properties, name)) return s.properties[name]
  if (isSchema(s.patternProperties)) {
    for (const [pattern, schema] of Object.entries(s.patternProperties)) if (matches(pattern, name)) return schema
  }

  return isSchema(s.additionalProperties) ? s.additionalProperties : {}
}

function object(s: Schema, root: unknown, depth: number): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  // defineProperty, so that a property named __proto__ is a property, not the prototype
  const put = (name: string) =>
    Object.defineProperty(out, name, {
      value: generate(propertySchema(s, name), root, depth + 1),
      enumerable: true,
      writable: true,
      configurable: true,
    })
  const required = Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : []
  for (const name of new Set(required)) put(name)
  const min = int(s.minProperties) ?? 0
  for (const name of Object.keys(isSchema(s.properties) ? s.properties : {})) {
    if (Object.keys(out).length >= min) break
    if (!Object.hasOwn(out, name)) put(name)
  }

  return out
}

function array(s: Schema, root: unknown, depth: number): unknown[] {
  // draft 2020-12 has prefixItems + items; drafts 4-7 an items array + additionalItems
  const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : Array.isArray(s.items) ? s.items : []
  const rest = Array.isArray(s.items) ? s.additionalItems : s.items
  const contains = isSchema(s.contains) && (int(s.minContains) ?? 1) > 0 ? [s.contains] : []
  const length = Math.max(int(s.minItems) ?? 0, contains.length)
  return Array.from({length}, (_, i) =>
    generate(i < prefix.length ? prefix[i] : (contains[i] ?? rest ?? {}), root, depth + 1),
  )
}

function matches(pattern: string, text: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(text)
  } catch {
    return false
  }
}

function string(s: Schema): string {
  if (typeof s.format === 'string' && Object.hasOwn(FORMATS, s.format)) return FORMATS[s.format]
  const min = int(s.minLength) ?? 0
  const max = int(s.maxLength) ?? Number.POSITIVE_INFINITY
  const fit = (text: string) => text.padEnd(min, 'o').slice(0, max)
  if (typeof s.pattern !== 'string') return fit('demo')
  const pattern = s.pattern
  return CANDIDATES.map(fit).find((c) => matches(pattern, c)) ?? fit('demo')
}

/** 0, or the valid value nearest to it: bounds inclusive or exclusive (drafts 4 and 6+), steps of `multipleOf`. */
function number(s: Schema, integer: boolean): number {
  const bound = (limit: unknown, exclusive: unknown) => {
    if (typeof exclusive === 'number') return {at: exclusive, open: true}
    return typeof limit === 'number' ? {at: limit, open: exclusive === true} : undefined
  }

  const lo = bound(s.minimum, s.exclusiveMinimum)
  const hi = bound(s.maximum, s.exclusiveMaximum)
  const step = typeof s.multipleOf === 'number' && s.multipleOf > 0 ? s.multipleOf : integer ? 1 : undefined
  const above = (v: number) => !lo || v > lo.at || (v === lo.at && !lo.open)
  const below = (v: number) => !hi || v < hi.at || (v === hi.at && !hi.open)
  if (above(0) && below(0)) return 0
  if (lo && !above(0)) {
    if (step === undefined) return lo.open ? (hi ? (lo.at + hi.at) / 2 : lo.at + 1) : lo.at
    const v = Math.ceil(lo.at / step) * step
    return above(v) ? v : v + step
  }

  const top = hi!
  if (step === undefined) return top.open ? (lo ? (lo.at + top.at) / 2 : top.at - 1) : top.at
  const v = Math.floor(top.at / step) * step
  return below(v) ? v : v - step
}
