import {adminPool, adminRefresh, healthz, metrics} from './ops.js'
import {billingSubscription, billingUsage} from './billing.js'
import {chatCompletions} from './chat.js'
import {completions} from './completions.js'
import {countMessageTokens, createMessage} from './messages.js'
import {createResponse, deleteResponse, getResponse, listInputItems} from './responses.js'
import {deleteSession, postSession} from './session.js'
import {embeddings} from './embeddings.js'
import {getModel, listModels} from './models.js'
import {imageGenerations} from './images.js'
import type {Route} from '../router.js'

/** Every route of the daemon, the API ones under `prefix` (server.apiPrefix). */
export function routes(prefix: string): Route[] {
  const p = prefix === '/' ? '' : prefix.replace(/\/+$/, '')
  return [
    {name: 'healthz', method: 'GET', pattern: '/healthz', auth: false, handler: healthz},
    {name: 'metrics', method: 'GET', pattern: '/metrics', auth: false, handler: metrics},
    {name: 'admin.pool', method: 'GET', pattern: '/admin/pool', auth: true, handler: adminPool},
    {name: 'admin.refresh', method: 'POST', pattern: '/admin/tokens/:label/refresh', auth: true, handler: adminRefresh},
    {name: 'models', method: 'GET', pattern: `${p}/models`, auth: true, handler: listModels},
    {name: 'model', method: 'GET', pattern: `${p}/models/*id`, auth: true, handler: getModel},
    {name: 'chat', method: 'POST', pattern: `${p}/chat/completions`, auth: true, handler: chatCompletions},
    {name: 'completions', method: 'POST', pattern: `${p}/completions`, auth: true, handler: completions},
    {name: 'responses', method: 'POST', pattern: `${p}/responses`, auth: true, handler: createResponse},
    {name: 'responses.get', method: 'GET', pattern: `${p}/responses/:id`, auth: true, handler: getResponse},
    {name: 'responses.delete', method: 'DELETE', pattern: `${p}/responses/:id`, auth: true, handler: deleteResponse},
    {
      name: 'responses.input_items',
      method: 'GET',
      pattern: `${p}/responses/:id/input_items`,
      auth: true,
      handler: listInputItems,
    },
    {
      name: 'messages',
      method: 'POST',
      pattern: `${p}/messages`,
      auth: true,
      handler: createMessage,
      envelope: 'anthropic',
    },
    {
      name: 'messages.count_tokens',
      method: 'POST',
      pattern: `${p}/messages/count_tokens`,
      auth: true,
      handler: countMessageTokens,
      envelope: 'anthropic',
    },
    {name: 'embeddings', method: 'POST', pattern: `${p}/embeddings`, auth: true, handler: embeddings},
    {name: 'images', method: 'POST', pattern: `${p}/images/generations`, auth: true, handler: imageGenerations},
    {name: 'session', method: 'POST', pattern: '/session', auth: true, handler: postSession, envelope: 'session'},
    {
      name: 'session.delete',
      method: 'DELETE',
      pattern: '/session/:id',
      auth: true,
      handler: deleteSession,
      envelope: 'session',
    },
    // chat UIs ask for these with and without the API prefix
    ...[...new Set([p, ''])].flatMap((q): Route[] => [
      {
        name: 'billing.subscription',
        method: 'GET',
        pattern: `${q}/dashboard/billing/subscription`,
        auth: true,
        handler: billingSubscription,
      },
      {
        name: 'billing.usage',
        method: 'GET',
        pattern: `${q}/dashboard/billing/usage`,
        auth: true,
        handler: billingUsage,
      },
    ]),
  ]
}
