import {own} from './own.js'

/**
 * What is known of OpenAI's models, from gpt-tokenizer's model table: the context window,
 * the most output tokens a model may be asked for, whether it reasons. Loaded once (`load`);
 * models the table does not know — a reseller's, a self-hosted one — have no facts, and
 * nothing is assumed about them.
 */
export type ModelFacts = {contextWindow?: number; maxOutput?: number; reasoning?: boolean}

type Spec = {context_window?: unknown; max_output_tokens?: unknown; reasoning_tokens?: unknown}

let table: Record<string, Spec> | undefined
let loading: Promise<void> | undefined

export function loadModelFacts(): Promise<void> {
  loading ??= import('gpt-tokenizer/models').then((m) => {
    table = m as unknown as Record<string, Spec>
  })
  return loading
}

/** Is this exact name in the model table? (No date-suffix matching: those names are not bounded.) */
export function knownModel(model: string): boolean {
  return own(table, model) !== undefined
}

/** The facts of a model (as named, or without a date suffix); empty before `loadModelFacts` or for unknown models. */
export function modelFacts(model: string): ModelFacts {
  if (!table) return NONE
  let facts = known.get(model)
  if (facts) return facts
  const spec = own(table, model) ?? own(table, model.replace(/-\d{4}-\d{2}-\d{2}$/, ''))
  facts = spec
    ? Object.freeze({
        ...(typeof spec.context_window === 'number' && {contextWindow: spec.context_window}),
        ...(typeof spec.max_output_tokens === 'number' && {maxOutput: spec.max_output_tokens}),
        ...(typeof spec.reasoning_tokens === 'boolean' && {reasoning: spec.reasoning_tokens}),
      })
    : NONE
  // looked up on every converted request: the answers are kept, for a bounded number of names (clients choose them)
  if (known.size < 1000) known.set(model, facts)
  return facts
}

const NONE: ModelFacts = Object.freeze({})
const known = new Map<string, ModelFacts>()
