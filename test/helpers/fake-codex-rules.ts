import {isRecord, type Json} from './fake-codex-http.js'

/**
 * The request rules of the Codex backend (`POST /backend-api/codex/responses`), each answered with
 * `{"detail": "…"}`. Messages as reported by third-party probes (justlovemaki/AIClient2API#520,
 * BerriAI/litellm PR#21209, openai/codex#22357). The order they are checked in is not known; this
 * one is fixed so that tests are deterministic.
 */

/** Parameters the backend refuses with "Unsupported parameter: <name>" (LiteLLM drops exactly these). */
export const REJECTED_PARAMETERS = [
  'max_output_tokens',
  'max_tokens',
  'max_completion_tokens',
  'metadata',
  'temperature',
  'user',
  'context_management',
] as const

export type RuleViolation = {status: number; detail: string}

export function unsupportedModel(slug: string): string {
  return `The '${slug}' model is not supported when using Codex with a ChatGPT account.`
}

/**
 * The public API's message for an item id that would need server storage; the ChatGPT backend
 * sends it as a 404 `{"detail"}` (seen by third-party gateways), not as a 400.
 */
export function notPersisted(id: string): string {
  return `Item with id '${id}' not found. Items are not persisted when \`store\` is set to false. Try again with \`store\` set to true, or remove this item from your input.`
}

/** The first input item that needs stored items: any item with an `id`, or an `item_reference`. */
function storedItem(input: unknown[]): string | undefined {
  for (const item of input) {
    if (!isRecord(item)) continue
    if (item.type === 'item_reference') return typeof item.id === 'string' ? item.id : ''
    if (typeof item.id === 'string' && item.id !== '') return item.id
  }
  return undefined
}

/** The first rule the body breaks, or undefined; `models` are the slugs the account may use. */
export function ruleViolation(body: Json, models: readonly string[]): RuleViolation | undefined {
  const bad = (detail: string): RuleViolation => ({status: 400, detail})
  if ('messages' in body) return bad('Unsupported parameter: messages')
  if (!Array.isArray(body.input)) return bad('Input must be a list')
  if (typeof body.instructions !== 'string' || body.instructions.trim() === '') return bad('Instructions are required')
  // Omitting `store` fails too since about 2026-09 (openclaw/openclaw#138395).
  if (body.store !== false) return bad('Store must be set to false')
  if (body.stream !== true) return bad('Stream must be set to true')
  for (const name of REJECTED_PARAMETERS) if (name in body) return bad(`Unsupported parameter: ${name}`)
  const stored = storedItem(body.input)
  if (stored !== undefined) return {status: 404, detail: notPersisted(stored)}
  const model = typeof body.model === 'string' ? body.model : String(body.model)
  if (!models.includes(model)) return bad(unsupportedModel(model))
  return undefined
}
