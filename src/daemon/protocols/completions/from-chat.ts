import {randomId} from '../../../core/random-id.js'

import type {ChatChunk, ChatCompletion, ChatFinishReason, ChatTokenLogprob, ChatUsage} from '../chat/types.js'
import type {
  LegacyChoice,
  LegacyCompletion,
  LegacyFinishReason,
  LegacyLogprobs,
  LegacyPlan,
  LegacyUsage,
} from './types.js'

/**
 * Chat answers → legacy `text_completion` (docs/protocols.md §1.3, §11). Choice index is
 * `prompt_idx * n + k`; ids are `cmpl-…`, one per client request; `created` is an integer;
 * `finish_reason` is mapped into the legacy enum; `text` is never null; logprobs are
 * mapped back (tokens, token_logprobs, top_logprobs with the sampled token, text_offset).
 * `text_offset` counts characters (code points) into the choice's `text`.
 */

export function newCompletionId(): string {
  return `cmpl-${randomId(15, 'base64url')}`
}

/** Legacy has no tool calls: anything that ended the answer normally is `stop`. */
export function finishReasonToLegacy(reason: ChatFinishReason | null | undefined): LegacyFinishReason | null {
  if (reason === null || reason === undefined) return null
  if (reason === 'length' || reason === 'content_filter') return reason
  return 'stop'
}

const codePoints = (text: string) => {
  let n = 0
  for (const _ of text) n++
  return n
}

/** Chat token logprobs → legacy logprobs, offsets starting at `offset`; `top` limits the alternatives. */
export function logprobsToLegacy(
  content: readonly ChatTokenLogprob[],
  offset: number,
  top: number,
): {logprobs: LegacyLogprobs; end: number} {
  const logprobs: LegacyLogprobs = {tokens: [], token_logprobs: [], top_logprobs: [], text_offset: []}
  let at = offset
  for (const item of content) {
    const alternatives: Record<string, number> = {}
    for (const alt of (item.top_logprobs ?? []).slice(0, top)) alternatives[alt.token] = alt.logprob
    // legacy always lists the sampled token among the top ones ("up to logprobs+1 entries")
    alternatives[item.token] ??= item.logprob
    logprobs.tokens.push(item.token)
    logprobs.token_logprobs.push(item.logprob)
    logprobs.top_logprobs.push(alternatives)
    logprobs.text_offset.push(at)
    at += codePoints(item.token)
  }

  return {logprobs, end: at}
}

type Candidate = ChatCompletion['choices'][number]

/** Mean log probability per token: how `best_of` ranks candidates. */
function score(candidate: Candidate): number | undefined {
  const content = candidate.logprobs?.content
  if (!content || content.length === 0) return undefined
  return content.reduce((sum, t) => sum + t.logprob, 0) / content.length
}

/**
 * `best_of` emulation: the `n` candidates with the highest mean token log probability.
 * `ranked` is false when the upstream gave no logprobs to rank by (then the first `n`).
 */
export function pickBest(candidates: Candidate[], n: number): {choices: Candidate[]; ranked: boolean} {
  const scores = candidates.map((c) => score(c))
  if (scores.some((s) => s === undefined)) return {choices: candidates.slice(0, n), ranked: false}
  const order = candidates.map((c, i) => ({c, s: scores[i]!, i})).sort((a, b) => b.s - a.s || a.i - b.i)
  return {choices: order.slice(0, n).map((o) => o.c), ranked: true}
}

export function addUsage(total: LegacyUsage, usage: ChatUsage | undefined | null): LegacyUsage {
  if (!usage) return total
  const prompt = total.prompt_tokens + (usage.prompt_tokens ?? 0)
  const completion = total.completion_tokens + (usage.completion_tokens ?? 0)
  return {prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion}
}

export const ZERO_USAGE: LegacyUsage = {prompt_tokens: 0, completion_tokens: 0, total_tokens: 0}

/** The legacy choices of one prompt's chat completion. */
export function chatCompletionToLegacyChoices(
  chat: ChatCompletion,
  plan: LegacyPlan,
  promptIdx: number,
  prompt: string,
): {choices: LegacyChoice[]; ranked: boolean} {
  const sorted = [...chat.choices].sort((a, b) => a.index - b.index)
  const {choices, ranked} = plan.bestOf === undefined ? {choices: sorted, ranked: true} : pickBest(sorted, plan.n)
  const prefix = plan.echo ? prompt : ''
  return {
    ranked,
    choices: choices.map((choice, k) => {
      const content = choice.message?.content ?? ''
      const mapped =
        plan.logprobs === null || !choice.logprobs?.content
          ? null
          : logprobsToLegacy(choice.logprobs.content, codePoints(prefix), plan.logprobs).logprobs
      return {
        text: prefix + content,
        index: promptIdx * plan.n + k,
        logprobs: mapped,
        finish_reason: finishReasonToLegacy(choice.finish_reason) ?? 'stop',
      }
    }),
  }
}

/** The whole legacy response from each prompt's chat completion (in prompt order). */
export function chatCompletionsToLegacy(
  parts: ReadonlyArray<{chat: ChatCompletion; prompt: string}>,
  plan: LegacyPlan,
  id: string,
): {completion: LegacyCompletion; ranked: boolean} {
  let usage = ZERO_USAGE
  let ranked = true
  const choices: LegacyChoice[] = []
  for (const [promptIdx, {chat, prompt}] of parts.entries()) {
    const converted = chatCompletionToLegacyChoices(chat, plan, promptIdx, prompt)
    choices.push(...converted.choices)
    ranked &&= converted.ranked
    usage = addUsage(usage, chat.usage)
  }

  const first = parts[0]?.chat
  return {
    ranked,
    completion: {
      id,
      object: 'text_completion',
      created: Number.isInteger(first?.created) ? first.created : Math.floor(Date.now() / 1000),
      model: first?.model ?? plan.model,
      ...(first?.system_fingerprint && {system_fingerprint: first.system_fingerprint}),
      choices,
      usage,
    },
  }
}

/** Per client request: one id, one `created`, one `model` for every chunk, and each choice's progress. */
export type LegacyStreamState = {
  id: string
  created: number | undefined
  model: string | undefined
  fingerprint: string | undefined
  /** legacy index → characters of text sent so far (for text_offset), present once the choice has begun */
  offsets: Map<number, number>
}

export function newStreamState(id = newCompletionId()): LegacyStreamState {
  return {id, created: undefined, model: undefined, fingerprint: undefined, offsets: new Map()}
}

function envelope(state: LegacyStreamState, choices: LegacyChoice[], plan: LegacyPlan): LegacyCompletion {
  return {
    id: state.id,
    object: 'text_completion',
    created: state.created!,
    model: state.model ?? plan.model,
    ...(state.fingerprint && {system_fingerprint: state.fingerprint}),
    choices,
  }
}

/**
 * One chat chunk of prompt `promptIdx` → zero or more legacy chunks. A choice's first
 * chunk carries the echoed prompt; role-only chunks without echo produce nothing; the
 * chat finish chunk becomes `text: ""` with the mapped `finish_reason`. Usage chunks are
 * the caller's (summed over prompts, sent once at the end).
 */
export function chatChunkToLegacyChunks(
  chunk: ChatChunk,
  promptIdx: number,
  prompt: string,
  plan: LegacyPlan,
  state: LegacyStreamState,
): LegacyCompletion[] {
  state.created ??= Number.isInteger(chunk.created) ? chunk.created : Math.floor(Date.now() / 1000)
  state.model ??= chunk.model
  state.fingerprint ??= chunk.system_fingerprint ?? undefined
  const out: LegacyCompletion[] = []
  for (const choice of chunk.choices ?? []) {
    const index = promptIdx * plan.n + choice.index
    const sent = state.offsets.get(index)
    const echoNow = sent === undefined && plan.echo
    const text = (echoNow ? prompt : '') + (typeof choice.delta?.content === 'string' ? choice.delta.content : '')
    const content = choice.logprobs?.content
    const logprobs =
      plan.logprobs !== null && content && content.length > 0
        ? logprobsToLegacy(content, (sent ?? 0) + (echoNow ? codePoints(prompt) : 0), plan.logprobs).logprobs
        : null
    const finish = finishReasonToLegacy(choice.finish_reason)
    if (text === '' && finish === null && !logprobs) continue
    state.offsets.set(index, (sent ?? 0) + codePoints(text))
    out.push(envelope(state, [{text, index, logprobs, finish_reason: finish}], plan))
  }

  return out
}

/** The one usage chunk sent after every prompt's stream ended, when the client asked. */
export function legacyUsageChunk(state: LegacyStreamState, plan: LegacyPlan, usage: LegacyUsage): LegacyCompletion {
  state.created ??= Math.floor(Date.now() / 1000)
  return {...envelope(state, [], plan), usage}
}
