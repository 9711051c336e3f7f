import type {ChatAnswerMessage, ChatChunk, ChatCompletion, ChatFinishReason, ChatToolCall, ChatUsage} from './types.js'

type Choice = {
  content: string
  refusal: string
  reasoning: string
  calls: ChatToolCall[]
  finish: ChatFinishReason | null
}

/**
 * Fold a chat chunk stream into the non-stream response (upstreams that always stream, like
 * the ChatGPT web backend, have one conversion path: the stream). Tool call fragments are
 * joined per `index`: the id, type and name come once, the arguments in pieces.
 */
export function chatChunksToCompletion(
  chunks: readonly ChatChunk[],
  fallback: {id: string; created: number; model: string; system_fingerprint?: string | null},
): ChatCompletion {
  const choices = new Map<number, Choice>()
  let usage: ChatUsage | undefined
  for (const chunk of chunks) {
    if (chunk.usage) usage = chunk.usage
    for (const choice of chunk.choices ?? []) {
      let entry = choices.get(choice.index)
      if (!entry)
        choices.set(choice.index, (entry = {content: '', refusal: '', reasoning: '', calls: [], finish: null}))
      const {delta} = choice
      if (typeof delta?.content === 'string') entry.content += delta.content
      if (typeof delta?.refusal === 'string') entry.refusal += delta.refusal
      if (typeof delta?.reasoning_content === 'string') entry.reasoning += delta.reasoning_content
      for (const fragment of delta?.tool_calls ?? []) {
        const call = (entry.calls[fragment.index] ??= {id: '', type: 'function', function: {name: '', arguments: ''}})
        if (fragment.id) call.id = fragment.id
        if (fragment.function?.name) call.function.name += fragment.function.name
        if (fragment.function?.arguments) call.function.arguments += fragment.function.arguments
      }

      if (choice.finish_reason) entry.finish = choice.finish_reason
    }
  }

  const first = chunks.find((c) => c.id) ?? fallback
  return {
    id: first.id,
    object: 'chat.completion',
    created: first.created,
    model: first.model,
    ...(first.system_fingerprint && {system_fingerprint: first.system_fingerprint}),
    choices: [...choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({index, message: messageOf(c), logprobs: null, finish_reason: c.finish ?? 'stop'})),
    ...(usage && {usage}),
  }
}

function messageOf(c: Choice): ChatAnswerMessage {
  const calls = c.calls.filter(Boolean)
  return {
    role: 'assistant',
    content: c.content === '' && calls.length > 0 ? null : c.content,
    refusal: c.refusal === '' ? null : c.refusal,
    ...(calls.length > 0 && {tool_calls: calls}),
    ...(c.reasoning !== '' && {reasoning_content: c.reasoning}),
  }
}
