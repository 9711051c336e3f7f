import {SETTING_SECTIONS, SETTINGS_SCHEMA, type Settings} from './config.js'
import type {Context} from './context.js'
import {UsageError} from './errors.js'

/** `gptconv config …`: dotted keys into the settings sections (docs/reference.md §1). */

type Schema = {
  type?: string
  enum?: readonly string[]
  properties?: Record<string, Schema>
  additionalProperties?: Schema | boolean
  items?: Schema
  default?: unknown
}

export type SettingsView = Pick<Settings, (typeof SETTING_SECTIONS)[number]>

export function settingKeys(): string[] {
  const keys: string[] = []
  for (const section of SETTING_SECTIONS) {
    const schema = SETTINGS_SCHEMA[section] as Schema
    if (schema.properties) for (const key of Object.keys(schema.properties)) keys.push(`${section}.${key}`)
    else keys.push(schema.type === 'object' ? `${section}.<name>` : section)
  }

  return keys
}

const sectionSchema = (section: string): Schema | undefined =>
  (SETTING_SECTIONS as readonly string[]).includes(section)
    ? (SETTINGS_SCHEMA[section as keyof typeof SETTINGS_SCHEMA] as Schema)
    : undefined

/**
 * A dotted key's parts. Inside a map (`aliases`) the rest of the key is one name, dots and
 * all: `aliases.claude-3.5-haiku` names the alias `claude-3.5-haiku`.
 */
function keyParts(key: string): string[] {
  const parts = key.split('.')
  let schema = sectionSchema(parts[0])
  for (let i = 1; i < parts.length; i++) {
    if (schema && !schema.properties && typeof schema.additionalProperties === 'object')
      return [...parts.slice(0, i), parts.slice(i).join('.')]
    schema = schema?.properties?.[parts[i]]
  }

  return parts
}

function schemaOf(key: string): Schema {
  const [section, ...rest] = keyParts(key)
  let schema: Schema | undefined = sectionSchema(section)
  for (const part of rest) {
    if (!schema) break
    schema =
      (schema.properties && Object.hasOwn(schema.properties, part) ? schema.properties[part] : undefined) ??
      (typeof schema.additionalProperties === 'object' ? schema.additionalProperties : undefined)
  }

  if (!schema)
    throw new UsageError(`Unknown setting "${key}".`, {
      code: 'GPTCONV_UNKNOWN_SETTING',
      hint: `Known settings: ${settingKeys().join(', ')}.`,
    })
  return schema
}

function parseValue(key: string, raw: string, schema: Schema): unknown {
  const fail = (what: string) =>
    new UsageError(`${key} takes ${what}, not "${raw}".`, {code: 'GPTCONV_CONFIG_INVALID_VALUE'})
  if (schema.enum) {
    if (!schema.enum.includes(raw)) throw fail(`one of ${schema.enum.join(', ')}`)
    return raw
  }

  switch (schema.type) {
    case 'integer':
    case 'number': {
      const n = Number(raw)
      if (raw.trim() === '' || !Number.isFinite(n) || (schema.type === 'integer' && !Number.isInteger(n)))
        throw fail(schema.type === 'integer' ? 'a whole number' : 'a number')
      return n
    }

    case 'boolean': {
      if (raw !== 'true' && raw !== 'false') throw fail('true or false')
      return raw === 'true'
    }

    case 'array': {
      if (raw.trim().startsWith('[')) return parseJson(raw, fail)
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    }

    case 'object': {
      return parseJson(raw, fail)
    }

    default: {
      return raw
    }
  }
}

function parseJson(raw: string, fail: (what: string) => Error): unknown {
  try {
    return JSON.parse(raw)
  } catch {
    throw fail('JSON')
  }
}

function walk(settings: Settings, key: string): {parent: Record<string, unknown>; leaf: string} {
  const parts = keyParts(key)
  let parent = settings as unknown as Record<string, unknown>
  for (const part of parts.slice(0, -1)) {
    if (!Object.hasOwn(parent, part)) parent[part] = {}
    parent = parent[part] as Record<string, unknown>
  }

  return {parent, leaf: parts.at(-1)!}
}

export function getSetting(ctx: Context, key: string): unknown {
  schemaOf(key)
  const {parent, leaf} = walk(ctx.config.read(), key)
  return Object.hasOwn(parent, leaf) ? parent[leaf] : null
}

export async function setSetting(ctx: Context, key: string, raw: string): Promise<unknown> {
  const schema = schemaOf(key)
  const value = parseValue(key, raw, schema)
  await ctx.config.update((s) => {
    const {parent, leaf} = walk(s, key)
    // an own property even for names like `__proto__`: a user's string never reaches a prototype
    Object.defineProperty(parent, leaf, {value, enumerable: true, writable: true, configurable: true})
  })
  return value
}

/** Remove a setting: a leaf goes back to its default, an alias disappears. */
export async function unsetSetting(ctx: Context, key: string): Promise<unknown> {
  const schema = schemaOf(key)
  if (!key.includes('.'))
    throw new UsageError(`Unset one key inside "${key}", e.g. ${settingKeys().find((k) => k.startsWith(key))}.`)
  await ctx.config.update((s) => {
    const {parent, leaf} = walk(s, key)
    delete parent[leaf]
  })
  return schema.default ?? null
}

export function listSettings(ctx: Context): SettingsView {
  const settings = ctx.config.read()
  return Object.fromEntries(SETTING_SECTIONS.map((k) => [k, settings[k]])) as SettingsView
}
