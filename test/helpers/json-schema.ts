import assert from 'node:assert/strict'

import {Ajv2020} from 'ajv/dist/2020.js'
import addFormats from 'ajv-formats'

const ajv = new Ajv2020({strict: false, allErrors: true})
addFormats.default(ajv)

/** Asserts that `data` is valid against a JSON schema (draft 2020-12, formats checked), listing every error when not. */
export function assertValid(schema: unknown, data: unknown, what = 'data'): void {
  const validate = ajv.compile(schema as object)
  if (validate(data)) return
  const errors = (validate.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? e.keyword}`)
  assert.fail(`${what} ${JSON.stringify(data)} does not match ${JSON.stringify(schema)}:\n${errors.join('\n')}`)
}

/**
 * A JSON schema as a Standard Schema (the `~standard` interface the SDK's
 * `standardResponseFormat`, `standardTextFormat` and `standardFunction` helpers take), validated
 * by ajv: structured outputs parsed and checked by the SDK itself, without zod.
 */
export function standardSchema<T = unknown>(schema: object) {
  const validate = ajv.compile(schema)
  return {
    '~standard': {
      version: 1 as const,
      vendor: 'ajv',
      types: undefined as unknown as {input: T; output: T},
      validate: (value: unknown) =>
        validate(value)
          ? {value: value as T}
          : {
              issues: (validate.errors ?? []).map((e) => ({
                message: `${e.instancePath || '/'} ${e.message ?? e.keyword}`,
              })),
            },
      jsonSchema: {input: () => structuredClone(schema) as Record<string, unknown>},
    },
  }
}
