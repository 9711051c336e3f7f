import {badRequest} from '../errors.js'
import {exchange, resolveModel} from '../exchange.js'
import {isObject, readJson, sendJson} from '../http.js'
import type {ChatMessage} from '../protocols/chat/types.js'
import type {RequestContext} from '../router.js'
import {SessionStore} from '../sessions.js'

/**
 * `POST /session` `{sessionId, content, model?, system?}` → `{code: 200, message: "ok",
 * data: "<reply>"}`: the simplest context API, for scripts. The same session memory as
 * `X-Session-Id`. Its errors come in the same envelope, with the HTTP status as `code`
 * (the route's `envelope: 'session'`).
 */
export async function postSession(rc: RequestContext): Promise<void> {
  const {daemon} = rc
  const body = await readJson(rc.req, daemon.registry.settings.server.bodyLimitBytes)
  if (!isObject(body)) throw badRequest('The request body must be a JSON object.')
  const {sessionId, content, model, system} = body
  if (typeof sessionId !== 'string' || sessionId === '' || sessionId.length > 256)
    throw badRequest('`sessionId` must be a string of 1 to 256 characters.', 'sessionId')
  if (typeof content !== 'string' || content === '')
    throw badRequest('`content` must be a non-empty string.', 'content')
  if (model !== undefined && (typeof model !== 'string' || model === ''))
    throw badRequest('`model` must be a model name.', 'model')
  if (system !== undefined && typeof system !== 'string') throw badRequest('`system` must be a string.', 'system')
  const incoming: ChatMessage[] = [...(system ? [{role: 'system', content: system}] : []), {role: 'user', content}]
  const reply = await daemon.sessions.turn(
    SessionStore.key(daemon.clientKey, sessionId),
    incoming,
    {model, defaultModel: daemon.registry.settings.defaultModel},
    async (turn) => {
      const pivot = {model: turn.model, messages: turn.messages}
      const result = await exchange(rc, {
        endpoint: 'chat',
        model: resolveModel(rc, turn.model),
        pivots: [pivot],
        stream: false,
        answer: ([chat]) => ({body: chat}),
        write() {},
      })
      turn.commit(result.text)
      return result.text
    },
  )
  sendJson(rc.res, 200, {code: 200, message: 'ok', data: reply}, {'x-request-id': rc.requestId})
}

/** `DELETE /session/{id}`: forget a session (the next turn starts afresh). */
export async function deleteSession(rc: RequestContext): Promise<void> {
  const deleted = rc.daemon.sessions.delete(SessionStore.key(rc.daemon.clientKey, rc.params.id))
  sendJson(rc.res, 200, {code: 200, message: deleted ? 'deleted' : 'no such session', data: null})
}
