import type {ChatMessage} from '../protocols/chat/types.js'
import {badRequest, toOpenAIError} from '../errors.js'
import {isObject, readJson, sendJson} from '../http.js'
import type {RequestContext} from '../router.js'
import {SessionStore} from '../sessions.js'
import {clientGone} from '../stream.js'
import {type ChatBody, answerText, completeChat} from './chat.js'

/**
 * `POST /session` `{sessionId, content, model?, system?}` → `{code: 200, message: "ok",
 * data: "<reply>"}`: the simplest context API, for scripts (protocols.md §8). The same
 * session memory as `X-Session-Id`. Errors come in the same envelope, with the HTTP
 * status as `code`.
 */
export async function postSession(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  try {
    const body = await readJson(rc.req, daemon.registry.settings.server.bodyLimitBytes)
    if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
    const {sessionId, content, model, system} = body
    if (typeof sessionId !== 'string' || sessionId === '' || sessionId.length > 256) throw badRequest('`sessionId` must be a string of 1 to 256 characters.', 'sessionId')
    if (typeof content !== 'string' || content === '') throw badRequest('`content` must be a non-empty string.', 'content')
    if (model !== undefined && (typeof model !== 'string' || model === '')) throw badRequest('`model` must be a model name.', 'model')
    if (system !== undefined && typeof system !== 'string') throw badRequest('`system` must be a string.', 'system')
    const incoming: ChatMessage[] = [...(system ? [{role: 'system', content: system}] : []), {role: 'user', content}]
    const reply = await daemon.sessions.turn(SessionStore.key(daemon.clientKey, sessionId), incoming, {model, defaultModel: daemon.registry.settings.defaultModel}, async (turn) => {
      const reply = answerText((await completeChat(rc, {model: turn.model, messages: turn.messages as ChatBody['messages']})).json, 0)
      turn.commit(reply)
      return reply
    })
    sendJson(rc.res, 200, {code: 200, message: 'ok', data: reply}, {'x-request-id': rc.requestId})
  } catch (error) {
    if (clientGone(rc.signal)) return
    const {status, body, headers} = toOpenAIError(error)
    sendJson(rc.res, status, {code: status, message: body.error.message, data: null}, {'x-request-id': rc.requestId, ...headers})
  }
}

/** `DELETE /session/{id}`: forget a session (the next turn starts afresh). */
export async function deleteSession(rc: RequestContext): Promise<void> {
  const deleted = rc.daemon.sessions.delete(SessionStore.key(rc.daemon.clientKey, rc.params.id))
  sendJson(rc.res, 200, {code: 200, message: deleted ? 'deleted' : 'no such session', data: null})
}
