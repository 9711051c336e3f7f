import assert from 'node:assert/strict'
import {describe, it} from 'node:test'

import {WEB_MODELS, webModelSlug} from '../../../src/daemon/protocols/chatgpt-web/request.js'
import {
  CHALLENGE_COOLDOWN_MS,
  RATE_LIMIT_COOLDOWN_MS,
  UNUSUAL_ACTIVITY_COOLDOWN_MS,
  webErrorVerdict,
} from '../../../src/daemon/protocols/chatgpt-web/verdict.js'

const CHALLENGE_HTML =
  '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body><div id="challenge-stage"></div><script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1"></script></body></html>'
const JSON_HEADERS = {'content-type': 'application/json'}
const NOW = Date.parse('2026-01-01T00:00:00Z')

describe('webErrorVerdict', () => {
  it('403 Cloudflare challenge (header or page) and unusual activity: a cooldown, never a disable', () => {
    const reason =
      'a Cloudflare challenge (403): the proxy in front of the ChatGPT backend must pass the browser check again'
    assert.deepEqual(webErrorVerdict(403, {'content-type': 'text/html', 'cf-mitigated': 'challenge'}, CHALLENGE_HTML), {
      kind: 'cooldown',
      ms: CHALLENGE_COOLDOWN_MS,
      reason,
    })
    assert.deepEqual(webErrorVerdict(403, {'Content-Type': 'text/html'}, CHALLENGE_HTML), {
      kind: 'cooldown',
      ms: CHALLENGE_COOLDOWN_MS,
      reason,
    })
    assert.deepEqual(webErrorVerdict(403, {'CF-Mitigated': ['challenge']}, ''), {
      kind: 'cooldown',
      ms: CHALLENGE_COOLDOWN_MS,
      reason,
    })
    const unusual = 'Unusual activity has been detected from your device. Try again later. (9a0b1c2d3e4f5a6b-AMS)'
    assert.deepEqual(webErrorVerdict(403, JSON_HEADERS, JSON.stringify({detail: unusual})), {
      kind: 'cooldown',
      ms: UNUSUAL_ACTIVITY_COOLDOWN_MS,
      reason: `the ChatGPT backend saw unusual activity (403): ${unusual}`,
      message: unusual,
    })
  })

  it('429: cools down for detail.clears_in, per model for model_cap_exceeded, with the backend message; else Retry-After, else a default', () => {
    const message = 'You have sent too many messages to the model. Please try again later.'
    const capped = JSON.stringify({detail: {clears_in: 252, code: 'model_cap_exceeded', message}})
    assert.deepEqual(webErrorVerdict(429, JSON_HEADERS, capped, 'gpt-4o'), {
      kind: 'cooldown',
      ms: 252_000,
      reason: `rate limited (429 model_cap_exceeded): ${message}`,
      message,
      model: 'gpt-4o',
    })
    assert.deepEqual(
      webErrorVerdict(429, JSON_HEADERS, capped),
      {kind: 'cooldown', ms: 252_000, reason: `rate limited (429 model_cap_exceeded): ${message}`, message},
      'no model given: the whole token',
    )
    const hourly = "You've reached our limit of messages per hour. Please try again later."
    assert.deepEqual(webErrorVerdict(429, {'retry-after': '7'}, JSON.stringify({detail: hourly})), {
      kind: 'cooldown',
      ms: 7000,
      reason: `rate limited (429): ${hourly}`,
      message: hourly,
    })
    assert.equal(
      (webErrorVerdict(429, {'retry-after': 'Thu, 01 Jan 2026 00:00:30 GMT'}, '{}', undefined, NOW) as {ms: number}).ms,
      30_000,
    )
    assert.deepEqual(webErrorVerdict(429, {}, ''), {
      kind: 'cooldown',
      ms: RATE_LIMIT_COOLDOWN_MS,
      reason: 'rate limited (429): The ChatGPT backend is rate limiting this account.',
      message: 'The ChatGPT backend is rate limiting this account.',
    })
  })

  it('401: token_invalidated and deactivated accounts disable; an expired or unknown token asks for a refresh', () => {
    assert.deepEqual(
      webErrorVerdict(
        401,
        JSON_HEADERS,
        JSON.stringify({
          detail: {
            code: 'token_invalidated',
            message: 'Your authentication token has been invalidated. Please try signing in again.',
          },
        }),
      ),
      {
        kind: 'disable',
        reason:
          'the ChatGPT backend revoked this credential (401 token_invalidated): Your authentication token has been invalidated. Please try signing in again.',
      },
    )
    assert.equal(
      webErrorVerdict(
        401,
        JSON_HEADERS,
        JSON.stringify({
          detail: 'Your OpenAI account has been deactivated, please check your email for more information.',
        }),
      )?.kind,
      'disable',
    )
    assert.equal(
      webErrorVerdict(
        403,
        JSON_HEADERS,
        JSON.stringify({detail: {code: 'account_deactivated', message: 'This account has been deactivated.'}}),
      )?.kind,
      'disable',
    )
    assert.deepEqual(
      webErrorVerdict(
        401,
        JSON_HEADERS,
        JSON.stringify({
          detail: {
            code: 'token_expired',
            message: 'Provided authentication token is expired. Please try signing in again.',
          },
        }),
      ),
      {
        kind: 'refresh',
        reason:
          'the ChatGPT backend did not accept the access token (401 token_expired): Provided authentication token is expired. Please try signing in again.',
      },
    )
    assert.equal(
      webErrorVerdict(
        401,
        JSON_HEADERS,
        JSON.stringify({detail: 'Your authentication token has been invalidated. Please try signing in again.'}),
      )?.kind,
      'refresh',
      'without its code, a renewal may cure it',
    )
    assert.deepEqual(webErrorVerdict(401, {}, ''), {
      kind: 'refresh',
      reason: 'the ChatGPT backend did not accept the access token (401): no message',
    })
  })

  it('413 and other request errors go to the client with the backend message', () => {
    const message =
      'The message you submitted was too long, please reload the conversation and submit something shorter.'
    assert.deepEqual(
      webErrorVerdict(413, JSON_HEADERS, JSON.stringify({detail: {message, code: 'message_length_exceeds_limit'}})),
      {kind: 'client', status: 413, message, code: 'message_length_exceeds_limit'},
    )
    assert.deepEqual(webErrorVerdict(413, {}, ''), {
      kind: 'client',
      status: 413,
      message: 'The ChatGPT backend refused the request (413).',
      code: 'message_length_exceeds_limit',
    })
    assert.deepEqual(
      webErrorVerdict(400, JSON_HEADERS, JSON.stringify({detail: 'model: expected a non-empty string'})),
      {kind: 'client', status: 400, message: 'model: expected a non-empty string', code: 'invalid_request'},
    )
  })

  it('anything else is left to the default handling', () => {
    for (const [status, body] of [
      [500, '{"detail":"boom"}'],
      [502, 'Bad gateway'],
      [404, '{"detail":"Not Found"}'],
      [403, '{"detail":"Forbidden"}'],
    ] as const)
      assert.equal(webErrorVerdict(status, {}, body), undefined, String(status))
  })

  it('never repeats anything shaped like a token, and keeps reasons short', () => {
    const jwt = 'eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlLXZhbHVl'
    const verdict = webErrorVerdict(
      401,
      {},
      JSON.stringify({detail: `token ${jwt} rejected; header was Bearer ${jwt}; refresh rt_abcdefghijklmnopqrstuvwx`}),
    )
    assert.deepEqual(verdict, {
      kind: 'refresh',
      reason:
        'the ChatGPT backend did not accept the access token (401): token [redacted] rejected; header was Bearer [redacted] refresh [redacted]',
    })
    const long = webErrorVerdict(413, {}, JSON.stringify({detail: {message: 'x'.repeat(1000)}}))
    assert.equal((long as {message: string}).message.length, 300)
  })
})

describe('webModelSlug and WEB_MODELS', () => {
  it('maps API names to web slugs: dots become dashes, dates and -chat-latest go, legacy names map; modelMap wins', () => {
    const cases: Record<string, string> = {
      'gpt-4.1': 'gpt-4-1',
      'gpt-4.1-mini': 'gpt-4-1-mini',
      'gpt-4.1-2025-04-14': 'gpt-4-1',
      'gpt-4.5': 'gpt-4-5',
      'gpt-5.2': 'gpt-5-2',
      'GPT-5.2-Thinking': 'gpt-5-2-thinking',
      'gpt-5.1-instant': 'gpt-5-1-instant',
      'gpt-5.2-chat-latest': 'gpt-5-2',
      'gpt-5': 'gpt-5',
      'gpt-4o': 'gpt-4o',
      'gpt-4o-2024-08-06': 'gpt-4o',
      'chatgpt-4o-latest': 'gpt-4o',
      'gpt-4o-mini-2024-07-18': 'gpt-4o-mini',
      'gpt-3.5-turbo': 'gpt-4o-mini',
      'gpt-4-1': 'gpt-4-1',
      auto: 'auto',
      o3: 'o3',
      'o4-mini-high': 'o4-mini-high',
      'gpt-4': 'gpt-4',
    }
    for (const [model, slug] of Object.entries(cases)) assert.equal(webModelSlug(model, undefined), slug, model)
    assert.equal(webModelSlug('gpt-4.1', {'gpt-4.1': 'gpt-4o'}), 'gpt-4o')
    assert.equal(webModelSlug('gpt-4.1', {other: 'x'}), 'gpt-4-1')
  })

  it('lists the 2026 web models by their API names, each with a distinct slug', () => {
    assert.ok(WEB_MODELS.includes('auto') && WEB_MODELS.includes('gpt-5.2') && WEB_MODELS.includes('gpt-4.1'))
    const slugs = WEB_MODELS.map((m) => webModelSlug(m, undefined))
    assert.equal(new Set(slugs).size, WEB_MODELS.length)
    assert.ok(
      slugs.every((s) => /^[a-z0-9-]+$/.test(s)),
      slugs.join(' '),
    )
  })
})
