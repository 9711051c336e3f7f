import {encodingFor} from '../../core/tokenizer.js'
import {chatChunksToCompletion} from '../protocols/chat/aggregate.js'
import type {ChatChunk, ChatRequest} from '../protocols/chat/types.js'
import {WebDecoder} from '../protocols/chatgpt-web/decoder.js'
import {WEB_MODELS, chatRequestToConversation, webLimitation, webModelSlug} from '../protocols/chatgpt-web/request.js'
import {webErrorVerdict} from '../protocols/chatgpt-web/verdict.js'
import {SseParser} from '../sse.js'
import type {UpstreamAdapter, UpstreamCall} from './adapter.js'
import {USER_AGENT} from './openai.js'

/**
 * ChatGPT web upstreams: a chat request becomes a new conversation at
 * `{baseUrl}/backend-api/conversation`, which always streams. Its events are converted to
 * chat chunks (protocols/chatgpt-web); non-stream answers fold that stream, so there is one
 * conversion path. It serves chat-shaped requests only: no tools, images, `n` or logprobs.
 */
/** The decoder of one answer: the backend's conversation stream → chat chunks. */
async function webDecoder(call: UpstreamCall): Promise<WebDecoder> {
  return new WebDecoder(call.body as ChatRequest, call.model, await encodingFor(call.model))
}

export const chatgptWebAdapter: UpstreamAdapter = {
  fixedModels: WEB_MODELS,
  estimatesUsage: true,
  serves: (endpoint) =>
    endpoint === 'chat' ||
    endpoint === 'completions' ||
    endpoint === 'responses' ||
    endpoint === 'messages' ||
    endpoint === 'models',
  native: (endpoint) => endpoint === 'models',
  refuses(chat) {
    const limitation = webLimitation(chat)
    return limitation && [...limitation, 'unsupported_on_chatgpt_web']
  },

  request(call, served, secret) {
    const headers: Record<string, string> = {
      authorization: `Bearer ${secret}`,
      'user-agent': USER_AGENT,
      'oai-language': 'en-US',
    }
    if (call.endpoint === 'models')
      return {
        url: `${served.upstream.baseUrl}/backend-api/models`,
        method: 'GET',
        headers: {...headers, accept: 'application/json'},
      }
    const conversation = chatRequestToConversation(
      call.body as ChatRequest,
      webModelSlug(call.model, served.upstream.modelMap),
    )
    return {
      url: `${served.upstream.baseUrl}/backend-api/conversation`,
      method: 'POST',
      headers: {...headers, accept: 'text/event-stream', 'content-type': 'application/json'},
      body: JSON.stringify(conversation),
    }
  },

  /** Challenges and caps rest the token (a cap only for its model); a revoked token is disabled; a request the backend refuses goes to the client. */
  classify(status, headers, text, call) {
    const verdict = webErrorVerdict(status, headers, text, call.model)
    switch (verdict?.kind) {
      case 'cooldown': {
        return {
          kind: 'cooldown',
          ms: verdict.ms,
          reason: verdict.reason,
          message: verdict.message,
          model: verdict.model,
        }
      }

      case 'disable':
      case 'client': {
        return verdict
      }

      default: {
        return undefined // a plain 401 is renewed (refresh tokens) or refused, as for any upstream
      }
    }
  },

  decoder: webDecoder,

  /** Non-stream: fold the converted stream; stops reading as soon as the answer ended. */
  async readAnswer(body, call) {
    const decoder = await webDecoder(call)
    const parser = new SseParser()
    const chunks: ChatChunk[] = []
    for await (const data of body) {
      chunks.push(...decoder.process(parser.push(data as Buffer)))
      if (decoder.done) break // leaving the loop destroys the body: the upstream is cut off
    }

    if (!decoder.done) chunks.push(...decoder.process(parser.end()), ...decoder.finish())
    if (chunks.length === 0) throw new Error('the conversation stream ended without an answer')
    return chatChunksToCompletion(chunks, {id: decoder.state.id, created: decoder.state.created, model: call.model})
  },
}
