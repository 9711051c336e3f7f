import type {ValidateFunction} from 'ajv'
import type Conf from 'conf'
import {copyFileSync, existsSync, readFileSync} from 'node:fs'
import {createRequire} from 'node:module'
import {basename, dirname} from 'node:path'

import {ConfigCorruptError, UsageError, errorMessage} from './errors.js'
import {ensureStateDir, refuseSymlink} from './paths.js'

/**
 * Non-secret settings live in `config.json` under the state directory, handled by conf
 * (schema, defaults, atomic writes). The CLI is the only writer; the daemon and read
 * commands use `ConfigFile.read()`, which never writes (conf writes defaults on open).
 */

export const PROTOCOLS = ['openai', 'chatgpt-web', 'codex'] as const
export type Protocol = (typeof PROTOCOLS)[number]
export const TOKEN_KINDS = ['api-key', 'access-token', 'refresh-token'] as const
export type TokenKind = (typeof TOKEN_KINDS)[number]
export const SECRET_STORE_KINDS = ['keychain', 'file'] as const
export type SecretStoreKind = (typeof SECRET_STORE_KINDS)[number]
export const AUTH_STYLES = ['openai-auth', 'refresh-endpoint'] as const
export type AuthStyle = (typeof AUTH_STYLES)[number]
export const LEGACY_MODES = ['convert', 'passthrough'] as const
export type LegacyMode = (typeof LEGACY_MODES)[number]
export const RESPONSES_MODES = ['native', 'bridge'] as const
export type ResponsesMode = (typeof RESPONSES_MODES)[number]
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]

export type UpstreamConfig = {
  protocol: Protocol
  baseUrl: string
  authUrl?: string
  authStyle?: AuthStyle
  /** OpenAI-auth style exchange: OAuth client id and redirect URI (default: the ChatGPT iOS app's) */
  clientId?: string
  redirectUri?: string
  modelMap?: Record<string, string>
  models?: string[]
  /** how `/v1/completions` reaches this upstream: converted to chat (default) or passed through natively */
  legacy?: LegacyMode
  /** how `/v1/responses` reaches this upstream: passed through (it serves Responses itself) or bridged through chat */
  responses?: ResponsesMode
}

export type TokenEntry = {
  label: string
  kind: TokenKind
  upstream: string
  store: SecretStoreKind
  /** masked form of the secret, e.g. `sk-…abcd`; never the secret itself */
  masked: string
  addedAt: string
  expiresAt?: string
  account?: string
  /** ChatGPT-plan tokens: the ChatGPT account (workspace) id and the plan, from the token's claims */
  chatgptAccountId?: string
  plan?: string
  models?: string[]
  concurrency?: number
  rpm?: number
  grantedUsd?: number
  /** the origin the secret was stored for (its upstream's base URL); another origin blocks the token (core/binding.ts) */
  origin?: string
  /** refresh tokens: the origin of the auth URL they are exchanged at */
  authOrigin?: string
}

/** A price set by hand (a reseller's, a self-hosted model's), in USD per million tokens. */
export type PriceOverride = {
  input: number
  output: number
  /** prompt tokens served from the prompt cache; the input price when not set */
  cachedInput?: number
}

export type Settings = {
  server: {
    host: string
    port: number
    apiPrefix: string
    allowedHosts: string[]
    allowedOrigins: string[]
    bodyLimitBytes: number
    maxMessages: number
    /** listen on an address other than loopback (`serve --allow-remote` for one run) */
    allowRemote: boolean
    /** open client connections at most (capped below the open-file limit); past it, idle and half-open ones make room */
    maxConnections: number
    /** time a client has to send a request's headers, and the whole request (not the answer) */
    headersTimeoutMs: number
    requestTimeoutMs: number
  }
  pool: {
    maxAttempts: number
    queueTimeoutMs: number
    queueLimit: number
    connectTimeoutMs: number
    firstByteTimeoutMs: number
    idleTimeoutMs: number
    drainTimeoutMs: number
    cooldownMs: number
  }
  sessions: {ttlMinutes: number; maxMessages: number}
  /** stored responses of the Responses API (`store: true`) */
  responses: {ttlDays: number; maxMegabytes: number}
  /** the model `gptconv chat` and `POST /session` use when none is named */
  defaultModel: string
  logLevel: LogLevel
  aliases: Record<string, string>
  upstreams: Record<string, UpstreamConfig>
  tokens: Record<string, TokenEntry>
  /** per model name; wins over the price database (written by `gptconv prices set`) */
  prices: Record<string, PriceOverride>
  /** where the daemon's local client key was made (written by gptconv, not by hand) */
  clientKeyStore?: SecretStoreKind
}

const int = (minimum: number, maximum: number, def: number) => ({type: 'integer', minimum, maximum, default: def})
const stringList = {type: 'array', items: {type: 'string', minLength: 1}, default: []}
const stringMap = {type: 'object', additionalProperties: {type: 'string', minLength: 1}}

const upstreamSchema = {
  type: 'object',
  required: ['protocol', 'baseUrl'],
  additionalProperties: false,
  properties: {
    protocol: {enum: PROTOCOLS},
    baseUrl: {type: 'string', pattern: '^https?://'},
    authUrl: {type: 'string', pattern: '^https?://'},
    authStyle: {enum: AUTH_STYLES},
    clientId: {type: 'string', minLength: 1},
    redirectUri: {type: 'string', minLength: 1},
    modelMap: stringMap,
    models: {type: 'array', items: {type: 'string', minLength: 1}},
    legacy: {enum: LEGACY_MODES},
    responses: {enum: RESPONSES_MODES},
  },
}

const usdPerMillion = {type: 'number', minimum: 0}
const priceSchema = {
  type: 'object',
  required: ['input', 'output'],
  additionalProperties: false,
  properties: {input: usdPerMillion, output: usdPerMillion, cachedInput: usdPerMillion},
}

const tokenSchema = {
  type: 'object',
  required: ['label', 'kind', 'upstream', 'store', 'masked', 'addedAt'],
  additionalProperties: false,
  properties: {
    label: {type: 'string', minLength: 1},
    kind: {enum: TOKEN_KINDS},
    upstream: {type: 'string', minLength: 1},
    store: {enum: SECRET_STORE_KINDS},
    masked: {type: 'string'},
    addedAt: {type: 'string'},
    expiresAt: {type: 'string'},
    account: {type: 'string'},
    chatgptAccountId: {type: 'string'},
    plan: {type: 'string'},
    models: {type: 'array', items: {type: 'string', minLength: 1}},
    concurrency: {type: 'integer', minimum: 1},
    rpm: {type: 'integer', minimum: 1},
    grantedUsd: {type: 'number', minimum: 0},
    origin: {type: 'string', minLength: 1},
    authOrigin: {type: 'string', minLength: 1},
  },
}

/** conf schema: one JSON schema per top-level key, with defaults (docs/reference.md §1). */
export const SETTINGS_SCHEMA = {
  server: {
    type: 'object',
    default: {},
    additionalProperties: false,
    properties: {
      host: {type: 'string', minLength: 1, default: '127.0.0.1'},
      port: int(0, 65_535, 8787),
      apiPrefix: {type: 'string', pattern: '^/[A-Za-z0-9/_-]*$', default: '/v1'},
      allowedHosts: stringList,
      allowedOrigins: stringList,
      bodyLimitBytes: int(1024, 1024 ** 3, 16 * 1024 * 1024),
      maxMessages: int(1, 10_000_000, 10_000),
      allowRemote: {type: 'boolean', default: false},
      maxConnections: int(16, 1_000_000, 4096),
      headersTimeoutMs: int(1000, 600_000, 15_000),
      requestTimeoutMs: int(1000, 3_600_000, 120_000),
    },
  },
  pool: {
    type: 'object',
    default: {},
    additionalProperties: false,
    properties: {
      maxAttempts: int(1, 20, 3),
      queueTimeoutMs: int(0, 3_600_000, 60_000),
      queueLimit: int(0, 1_000_000, 10_000),
      connectTimeoutMs: int(1, 600_000, 10_000),
      firstByteTimeoutMs: int(1, 3_600_000, 600_000),
      idleTimeoutMs: int(1, 3_600_000, 120_000),
      drainTimeoutMs: int(0, 600_000, 10_000),
      cooldownMs: int(0, 3_600_000, 30_000),
    },
  },
  sessions: {
    type: 'object',
    default: {},
    additionalProperties: false,
    properties: {ttlMinutes: int(1, 60 * 24 * 365, 30), maxMessages: int(2, 1_000_000, 1000)},
  },
  responses: {
    type: 'object',
    default: {},
    additionalProperties: false,
    properties: {ttlDays: int(1, 3650, 30), maxMegabytes: int(1, 1_000_000, 200)},
  },
  defaultModel: {type: 'string', minLength: 1, default: 'gpt-4o-mini'},
  logLevel: {enum: LOG_LEVELS, default: 'info'},
  aliases: {...stringMap, default: {}},
  upstreams: {
    type: 'object',
    additionalProperties: upstreamSchema,
    default: {openai: {protocol: 'openai', baseUrl: 'https://api.openai.com/v1'}},
  },
  tokens: {type: 'object', additionalProperties: tokenSchema, default: {}},
  prices: {type: 'object', additionalProperties: priceSchema, default: {}},
  clientKeyStore: {enum: SECRET_STORE_KINDS},
} as const

/** Settings a user changes with `gptconv config set` (tokens and upstreams have commands of their own). */
export const SETTING_SECTIONS = [
  'server',
  'pool',
  'sessions',
  'responses',
  'defaultModel',
  'logLevel',
  'aliases',
] as const

let validator: ValidateFunction | undefined

/**
 * The settings validator: compiled to plain JavaScript by the build (scripts/build-validator.mjs),
 * so reading the config does not load ajv; compiled here when running from source.
 */
function settingsValidator(): ValidateFunction {
  const require = createRequire(import.meta.url)
  try {
    return require('./settings-validator.cjs') as ValidateFunction
  } catch {
    const {Ajv} = require('ajv') as typeof import('ajv')
    return new Ajv({allErrors: true, useDefaults: true}).compile({type: 'object', properties: SETTINGS_SCHEMA})
  }
}

function validate(data: unknown): string | undefined {
  validator ??= settingsValidator()
  if (validator(data)) return undefined
  return (validator.errors ?? [])
    .map((e) => `\`${e.instancePath.slice(1).replaceAll('/', '.') || '(root)'}\` ${e.message}`)
    .join('; ')
}

export class ConfigFile {
  readonly path: string

  constructor(path: string) {
    this.path = path
  }

  /** The current settings with defaults filled in. Never writes. */
  read(): Settings {
    let text: string
    try {
      text = readFileSync(this.path, 'utf8')
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') text = '{}'
      else throw new ConfigCorruptError(`Cannot read the config file ${this.path}: ${errorMessage(error)}`)
    }

    let data: unknown
    try {
      data = JSON.parse(text)
    } catch (error) {
      throw this.#corrupt(`is not valid JSON (${errorMessage(error)})`)
    }

    if (typeof data !== 'object' || data === null || Array.isArray(data))
      throw this.#corrupt('does not hold a JSON object')
    const problems = validate(data)
    if (problems) throw this.#corrupt(`breaks the settings schema: ${problems}`)
    return data as Settings
  }

  /**
   * Read, change and write the settings under a lock, so two CLI processes cannot lose
   * each other's change. The change is validated against the schema before it is written.
   */
  async update<T>(change: (settings: Settings) => T): Promise<T> {
    ensureStateDir(dirname(this.path))
    // conf resolves links before it writes: a linked config.json would be written wherever it points
    refuseSymlink(this.path)
    const {default: lockfile} = await import('proper-lockfile')
    const release = await lockfile.lock(this.path, {
      realpath: false,
      retries: {retries: 50, minTimeout: 20, maxTimeout: 200},
      stale: 10_000,
    })
    try {
      const settings = this.read()
      const result = change(settings)
      const problems = validate(settings)
      if (problems) throw new UsageError(`Invalid setting: ${problems}`, {code: 'GPTCONV_CONFIG_INVALID_VALUE'})
      ;(await this.#conf()).store = settings
      return result
    } finally {
      await release()
    }
  }

  /** conf is loaded only to write: read commands stay fast. */
  async #conf(): Promise<Conf<Settings>> {
    const {default: Conf} = await import('conf')
    return new Conf<Settings>({
      cwd: dirname(this.path),
      configName: basename(this.path, '.json'),
      projectName: 'gptconv',
      schema: SETTINGS_SCHEMA as never,
      configFileMode: 0o600,
      clearInvalidConfig: false,
    })
  }

  /** Keep a copy of the unreadable file and say what to do; the file itself is left as it is. */
  #corrupt(problem: string): ConfigCorruptError {
    const backup = `${this.path}.corrupt`
    let saved = ''
    try {
      if (!existsSync(backup) || readFileSync(backup, 'utf8') !== readFileSync(this.path, 'utf8'))
        copyFileSync(this.path, backup)
      saved = ` A copy is kept at ${backup}.`
    } catch {
      // the copy is a courtesy; the error below still names the file
    }

    return new ConfigCorruptError(`The config file ${this.path} ${problem}.${saved}`, {
      hint: `Fix the file by hand, or move it away to start over with defaults (stored secrets stay in the secret store; re-add the tokens with \`gptconv tokens add\`).`,
    })
  }
}
