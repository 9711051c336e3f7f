/**
 * Every error gptconv raises on purpose is a GptconvError with a stable `code`.
 * The CLI maps it to an exit code and a "Try this:" hint (src/cli/base-command.ts);
 * the daemon maps it to the OpenAI error envelope (src/daemon/errors.ts). Branch on
 * `code`, never on the message. Messages never contain a secret.
 */
export type ErrorOptions = {
  /** what the user can do next; shown as "Try this:" by the CLI */
  readonly hint?: string
  /** CLI exit code: 1 failure, 2 usage */
  readonly exitCode?: 1 | 2
  /** HTTP status when this error crosses the daemon boundary */
  readonly status?: number
  /** OpenAI error `type` */
  readonly type?: string
  /** OpenAI error `param` */
  readonly param?: string | null
  /** extra response headers (e.g. Retry-After) */
  readonly headers?: Readonly<Record<string, string>>
}

export class GptconvError extends Error {
  readonly code: string
  readonly hint?: string
  readonly exitCode: 1 | 2
  readonly status: number
  readonly type: string
  readonly param: string | null
  readonly headers: Readonly<Record<string, string>>

  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(message)
    this.name = new.target.name
    this.code = code
    this.hint = options.hint
    this.exitCode = options.exitCode ?? 1
    this.status = options.status ?? 500
    this.type = options.type ?? (this.status < 500 ? 'invalid_request_error' : 'server_error')
    this.param = options.param ?? null
    this.headers = options.headers ?? {}
  }
}

/** Bad arguments, flags or values: exit 2, HTTP 400. */
export class UsageError extends GptconvError {
  constructor(message: string, options: Omit<ErrorOptions, 'exitCode'> & {code?: string} = {}) {
    super(options.code ?? 'GPTCONV_USAGE', message, {status: 400, ...options, exitCode: 2})
  }
}

export class NotFoundError extends GptconvError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, {status: 404, ...options})
  }
}

export class ConflictError extends GptconvError {
  constructor(code: string, message: string, options: ErrorOptions = {}) {
    super(code, message, {status: 409, ...options})
  }
}

/** The config file cannot be read: not JSON, or it breaks the schema. Nothing is overwritten. */
export class ConfigCorruptError extends GptconvError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('GPTCONV_CONFIG_CORRUPT', message, options)
  }
}

/** No usable OS keychain (no Secret Service, locked, or it refused a write). */
export class KeychainUnavailableError extends GptconvError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('GPTCONV_KEYCHAIN_UNAVAILABLE', message, {status: 503, ...options})
  }
}

/** The secret store failed an operation other than the availability probe. */
export class SecretStoreError extends GptconvError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('GPTCONV_SECRET_STORE', message, {status: 503, ...options})
  }
}

/** A secret that fails offline validation (empty, whitespace, not a JWT, expired). */
export class InvalidSecretError extends GptconvError {
  constructor(message: string, options: ErrorOptions = {}) {
    super('GPTCONV_INVALID_SECRET', message, {status: 400, ...options})
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err)
}
