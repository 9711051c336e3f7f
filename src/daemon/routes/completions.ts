import {countText, encodingFor} from '../../core/tokenizer.js'
import {badRequest} from '../errors.js'
import {exchange, resolveModel} from '../exchange.js'
import {SSE_HEADERS, isObject, readJson} from '../http.js'
import {ChatPassthrough} from '../protocols/chat/byte-relay.js'
import {LegacyEncoder, legacyAsOneEvent} from '../protocols/completions/encoder.js'
import {chatCompletionsToLegacy, newCompletionId} from '../protocols/completions/from-chat.js'
import {completionsRequestToChat, parseCompletionsRequest} from '../protocols/completions/to-chat.js'
import type {LegacyCompletion, LegacyPlan} from '../protocols/completions/types.js'
import type {RequestContext} from '../router.js'

/**
 * `POST /v1/completions`. Upstreams marked `legacy: passthrough` serve it natively — they
 * judge their own parameters (suffix, echo with logprobs…), so when one can answer, only
 * they do. Everything else gets it converted to chat: one chat call per prompt, merged back
 * into one legacy answer or stream.
 */
export async function completions(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  const body = await readJson(rc.req, daemon.registry.settings.server.bodyLimitBytes)
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  if (typeof body.model !== 'string' || body.model === '')
    throw badRequest('you must provide a model parameter', 'model')
  const model = resolveModel(rc, body.model)
  if (daemon.registry.tokens.some(daemon.registry.filterFor('completions', model, {native: true}))) {
    const wantUsage = isObject(body.stream_options) && body.stream_options.include_usage === true
    await exchange(rc, {
      endpoint: 'completions',
      model,
      native: body,
      relay: () => new ChatPassthrough(wantUsage),
      pivots: [],
      stream: body.stream === true,
    })
    return
  }

  const plan: LegacyPlan = {...parseCompletionsRequest(body), model}
  const prompts = await decodePrompts(plan.prompts, model)
  const pivots = prompts.map((prompt) => completionsRequestToChat(plan, prompt))
  if (plan.maxTokens === 0) {
    daemon.registry.requireModel('completions', model, {native: false, pivot: pivots[0]})
    await answerLocally(rc, plan, prompts)
    return
  }

  // best_of cannot stream: its candidates are asked whole, and the answer goes out as one event
  const streamed = plan.stream && plan.bestOf === undefined
  await exchange(rc, {
    endpoint: 'completions',
    model,
    pivots,
    stream: streamed,
    encoder: streamed ? new LegacyEncoder(plan, prompts) : undefined,
    answer(chats) {
      const {completion, ranked} = chatCompletionsToLegacy(
        chats.map((chat, i) => ({chat, prompt: prompts[i]})),
        plan,
        newCompletionId(),
      )
      const headers: Record<string, string> = ranked
        ? {}
        : {
            'x-gptconv-warning':
              'best_of: the upstream returned no logprobs to rank by; the first candidates were returned',
          }
      return {body: completion, headers}
    },
    write: plan.stream
      ? ({body: completion}, headers) => sendAsStream(rc, completion as LegacyCompletion, plan.wantUsage, headers)
      : undefined,
  })
}

/** Token-id prompts become text with the model's own encoding. */
async function decodePrompts(prompts: LegacyPlan['prompts'], model: string): Promise<string[]> {
  if (prompts.every((p) => typeof p === 'string')) return prompts as string[]
  const encoding = await encodingFor(model)
  return prompts.map((p) => {
    if (typeof p === 'string') return p
    try {
      return encoding.decode(p)
    } catch {
      throw badRequest(`\`prompt\` holds token ids that the ${model} encoding does not know.`, 'prompt')
    }
  })
}

function sendAsStream(
  rc: RequestContext,
  completion: LegacyCompletion,
  wantUsage: boolean,
  headers: Record<string, string>,
): void {
  rc.res.writeHead(200, {...headers, ...SSE_HEADERS})
  rc.res.end(legacyAsOneEvent(completion, wantUsage))
}

/** `max_tokens: 0`: nothing to generate, so no upstream call — the (echoed) prompt and its token count. */
async function answerLocally(rc: RequestContext, plan: LegacyPlan, prompts: string[]): Promise<void> {
  let promptTokens = 0
  for (const prompt of prompts) promptTokens += await countText(prompt, plan.model)
  const completion: LegacyCompletion = {
    id: newCompletionId(),
    object: 'text_completion',
    created: Math.floor(Date.now() / 1000),
    model: plan.model,
    choices: prompts.flatMap((prompt, p) =>
      Array.from({length: plan.n}, (_, k) => ({
        text: plan.echo ? prompt : '',
        index: p * plan.n + k,
        logprobs: null,
        finish_reason: 'length' as const,
      })),
    ),
    usage: {prompt_tokens: promptTokens, completion_tokens: 0, total_tokens: promptTokens},
  }
  if (plan.stream) {
    sendAsStream(rc, completion, plan.wantUsage, {'x-request-id': rc.requestId})
    return
  }

  rc.res.writeHead(200, {'x-request-id': rc.requestId, 'content-type': 'application/json'})
  rc.res.end(JSON.stringify(completion))
}
