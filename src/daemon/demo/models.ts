import type {ServerResponse} from 'node:http'

import {DemoError, send} from './http.js'

/**
 * The models the demo upstream serves, and for which endpoints: any other name is a 404
 * `model_not_found`, as OpenAI answers it, on every endpoint and on `GET /v1/models/{id}`.
 * Legacy `/v1/completions` requests reach the demo converted to chat, so the instruct model
 * is a chat model here.
 */
export type ModelKind = 'chat' | 'embeddings' | 'images'

const MODELS: ReadonlyArray<readonly [string, ModelKind]> = [
  ['gpt-4o-mini', 'chat'],
  ['gpt-4o', 'chat'],
  ['gpt-4.1-mini', 'chat'],
  ['gpt-3.5-turbo', 'chat'],
  ['gpt-3.5-turbo-instruct', 'chat'],
  ['text-embedding-3-small', 'embeddings'],
  ['text-embedding-3-large', 'embeddings'],
  ['dall-e-2', 'images'],
  ['dall-e-3', 'images'],
]

const CREATED = 1_700_000_000
const model = (id: string) => ({id, object: 'model', created: CREATED, owned_by: 'gptconv-demo'})

export const DEMO_MODELS: readonly string[] = MODELS.map(([id]) => id)

/** The model a request names, if the demo serves it on this endpoint; a DemoError otherwise. */
export function requireModel(kind: ModelKind, name: unknown): string {
  if (typeof name !== 'string' || name === '')
    throw new DemoError(400, "Missing required parameter: 'model'.", 'model', 'missing_required_parameter')
  const found = MODELS.find(([id]) => id === name)
  if (!found)
    throw new DemoError(
      404,
      `The model \`${name}\` does not exist or you do not have access to it.`,
      'model',
      'model_not_found',
    )
  if (found[1] !== kind) {
    const served = MODELS.filter(([, k]) => k === kind).map(([id]) => id)
    throw new DemoError(
      404,
      `The model \`${name}\` is not a ${kind} model; the demo upstream serves ${kind} with ${served.join(', ')}.`,
      'model',
      'model_not_found',
    )
  }

  return name
}

/** `GET /v1/models` */
export function listModels(res: ServerResponse): void {
  send(res, 200, {object: 'list', data: DEMO_MODELS.map(model)})
}

/** `GET /v1/models/{id}` */
export function retrieveModel(res: ServerResponse, id: string): void {
  if (!DEMO_MODELS.includes(id))
    throw new DemoError(404, `The model '${id}' does not exist`, 'model', 'model_not_found')
  send(res, 200, model(id))
}
