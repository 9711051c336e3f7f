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
