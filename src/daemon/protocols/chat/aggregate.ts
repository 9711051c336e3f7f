import type {ChatChunk, ChatCompletion, ChatUsage} from './types.js'

/**
 * Fold a chat chunk stream into the non-stream response (upstreams that always stream,
 * like the ChatGPT web backend, have one conversion path: the stream).
 */
export function chatChunksToCompletion(chunks: readonly ChatChunk[], fallback: {id: string; created: number; model: string}): ChatCompletion {
  const choices = new Map<number, {content: string; finish: ChatCompletion['choices'][number]['finish_reason']}>()
  let usage: ChatUsage | undefined
  for (const chunk of chunks) {
    if (chunk.usage) usage = chunk.usage
    for (const choice of chunk.choices ?? []) {
      const entry = choices.get(choice.index) ?? {content: '', finish: null}
      if (typeof choice.delta?.content === 'string') entry.content += choice.delta.content
      if (choice.finish_reason) entry.finish = choice.finish_reason
      choices.set(choice.index, entry)
    }
  }

  const first = chunks.find((c) => c.id) ?? fallback
  return {
    id: first.id,
    object: 'chat.completion',
    created: first.created,
    model: first.model,
    choices: [...choices.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, c]) => ({index, message: {role: 'assistant', content: c.content, refusal: null}, logprobs: null, finish_reason: c.finish ?? 'stop'})),
    ...(usage && {usage}),
  }
}
