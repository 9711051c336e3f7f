import assert from 'node:assert/strict'
import {AssertionError} from 'node:assert'
import {describe, it} from 'node:test'

import {assertSchema, matchesSchema, parseSseBody} from './openapi.js'

function chatCompletion(): Record<string, unknown> {
  return {
    id: 'chatcmpl-B9MBs8CjcvOU2jLn4n570S5qMJKcT',
    object: 'chat.completion',
    created: 1741569952,
    model: 'gpt-4o-2024-08-06',
    choices: [
      {
        index: 0,
        message: {role: 'assistant', content: 'Hello! How can I assist you today?', refusal: null, annotations: []},
        logprobs: null,
        finish_reason: 'stop',
      },
    ],
    usage: {prompt_tokens: 19, completion_tokens: 10, total_tokens: 29},
    service_tier: 'default',
    system_fingerprint: 'fp_fc9f1d7035',
  }
}

function choice(data: Record<string, unknown>): Record<string, unknown> {
  const choices = data.choices as Array<Record<string, unknown>>
  return choices[0]
}

function rejected(name: Parameters<typeof assertSchema>[0], data: unknown, pattern: RegExp): void {
  assert.throws(
    () => assertSchema(name, data),
    (error: unknown) => {
      assert.ok(error instanceof AssertionError, 'an AssertionError')
      assert.match(error.message, pattern)
      return true
    },
  )
}

describe('assertSchema (official OpenAPI schemas)', () => {
  it('accepts the protocol sheet / spec examples', () => {
    assertSchema('CreateChatCompletionResponse', chatCompletion())
    const chunk = {
      id: 'chatcmpl-123',
      object: 'chat.completion.chunk',
      created: 1694268190,
      model: 'gpt-4o-mini',
      system_fingerprint: 'fp_44709d6fcb',
      choices: [{index: 0, delta: {role: 'assistant', content: ''}, logprobs: null, finish_reason: null}],
    }
    assertSchema('CreateChatCompletionStreamResponse', chunk)
    assertSchema('CreateChatCompletionStreamResponse', {...chunk, usage: null})
    assertSchema('CreateChatCompletionStreamResponse', {
      ...chunk,
      choices: [],
      usage: {prompt_tokens: 11, completion_tokens: 18, total_tokens: 29},
    })
    assertSchema('CreateCompletionResponse', {
      id: 'cmpl-uqkvlQyYK7bGYrRHQ0eXlWi7',
      object: 'text_completion',
      created: 1589478378,
      model: 'gpt-3.5-turbo-instruct',
      choices: [{text: '\n\nThis is indeed a test', index: 0, logprobs: null, finish_reason: 'length'}],
      usage: {prompt_tokens: 5, completion_tokens: 7, total_tokens: 12},
    })
    assertSchema('CreateCompletionStreamResponse', {
      id: 'cmpl-7iA7',
      object: 'text_completion',
      created: 1690759702,
      choices: [{text: 'This', index: 0, logprobs: null, finish_reason: null}],
      model: 'gpt-3.5-turbo-instruct',
      system_fingerprint: 'fp_44709d6fcb',
    })
    assertSchema('ListModelsResponse', {
      object: 'list',
      data: [{id: 'gpt-4o-mini', object: 'model', created: 1686935002, owned_by: 'openai'}],
    })
    assertSchema('Model', {id: 'gpt-4o-mini', object: 'model', created: 1686935002, owned_by: 'openai'})
    assertSchema('CreateEmbeddingResponse', {
      object: 'list',
      data: [{object: 'embedding', index: 0, embedding: [0.0023, -0.0093]}],
      model: 'text-embedding-ada-002',
      usage: {prompt_tokens: 8, total_tokens: 8},
    })
    assertSchema('ImagesResponse', {
      created: 1589478378,
      data: [{url: 'https://example.com/a.png', revised_prompt: 'x'}],
    })
    assertSchema('ErrorResponse', {
      error: {
        message: 'Incorrect API key provided',
        type: 'invalid_request_error',
        param: null,
        code: 'invalid_api_key',
      },
    })
  })

  it('(a) rejects a float `created`', () => {
    rejected('CreateChatCompletionResponse', {...chatCompletion(), created: 1741569952.5}, /\/created must be integer/)
  })

  it('rejects `created` in milliseconds (format unixtime is read as seconds)', () => {
    rejected(
      'CreateChatCompletionResponse',
      {...chatCompletion(), created: 1741569952123},
      /\/created must match format "unixtime"/,
    )
  })

  it('(b) rejects a choice without finish_reason', () => {
    const data = chatCompletion()
    delete choice(data).finish_reason
    rejected('CreateChatCompletionResponse', data, /\/choices\/0 must have required property 'finish_reason'/)
  })

  it('(c) rejects object "chat.completion.chunk" in a non-stream response, and the reverse', () => {
    rejected(
      'CreateChatCompletionResponse',
      {...chatCompletion(), object: 'chat.completion.chunk'},
      /\/object must be equal to one of the allowed values \["chat.completion"\]/,
    )
    const chunk = {
      id: 'c',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{index: 0, delta: {content: 'x'}, finish_reason: null}],
    }
    rejected('CreateChatCompletionStreamResponse', chunk, /\/object must be equal to one of the allowed values/)
  })

  it('(d) rejects an error without param', () => {
    rejected(
      'ErrorResponse',
      {error: {message: 'x', type: 'invalid_request_error', code: null}},
      /\/error must have required property 'param'/,
    )
  })

  it('rejects other common mistakes', () => {
    const noRefusal = chatCompletion()
    delete (choice(noRefusal).message as Record<string, unknown>).refusal
    assert.equal(matchesSchema('CreateChatCompletionResponse', noRefusal), false, 'message.refusal is required')
    assert.equal(
      matchesSchema('CreateChatCompletionResponse', {
        ...chatCompletion(),
        usage: {prompt_tokens: 1, completion_tokens: 1},
      }),
      false,
      'usage.total_tokens is required',
    )
    assert.equal(
      matchesSchema('CreateChatCompletionStreamResponse', {
        id: 'c',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'm',
        choices: [{index: 0, delta: {content: 'x'}}],
      }),
      false,
      'finish_reason must be present (null) on chunks',
    )
    assert.equal(
      matchesSchema('CreateChatCompletionStreamResponse', {
        id: 'c',
        object: 'chat.completion.chunk',
        created: 1,
        model: 'm',
        choices: [{index: 0, delta: {content: 'x'}, finish_reason: 'done'}],
      }),
      false,
      'finish_reason enum',
    )
    assert.equal(
      matchesSchema('CreateCompletionResponse', {
        id: 'c',
        object: 'text_completion',
        created: 1,
        model: 'm',
        choices: [{text: 'x', index: 0, logprobs: null, finish_reason: null}],
      }),
      false,
      'the official legacy schema has a non-null finish_reason',
    )
    assert.equal(
      matchesSchema('CreateCompletionResponse', {
        id: 'c',
        object: 'text_completion',
        created: 1,
        model: 'm',
        choices: [{text: 'x', index: 0, logprobs: null, finish_reason: 'tool_calls'}],
      }),
      false,
      'no tool_calls in legacy',
    )
    assert.equal(
      matchesSchema('CreateEmbeddingResponse', {
        object: 'list',
        data: [{object: 'embedding', index: 0, embedding: 'AAAAAA=='}],
        model: 'm',
        usage: {prompt_tokens: 1, total_tokens: 1},
      }),
      false,
      'the official schema only knows float arrays',
    )
    assert.equal(matchesSchema('ImagesResponse', {created: 1, data: [{url: 'not a url'}]}), false, 'url format')
    assert.equal(
      matchesSchema('ErrorResponse', {message: 'x', type: 't', param: null, code: null}),
      false,
      'envelope required',
    )
  })

  it('documents where the official schema is loose', () => {
    // no additionalProperties: false anywhere: misspelt / extra fields pass
    assert.equal(
      matchesSchema('CreateChatCompletionResponse', {...chatCompletion(), finish_reasons: 'stop', extra: 1}),
      true,
    )
    // usage is optional on a chat completion
    const noUsage = chatCompletion()
    delete noUsage.usage
    assert.equal(matchesSchema('CreateChatCompletionResponse', noUsage), true)
    // an image entry requires nothing
    assert.equal(matchesSchema('ImagesResponse', {created: 1, data: [{}]}), true)
    // the type of an error is any string
    assert.equal(
      matchesSchema('ErrorResponse', {error: {message: 'x', type: 'whatever', param: null, code: null}}),
      true,
    )
  })

  it('lists every error and the data in the message', () => {
    const data = {...chatCompletion(), created: 1.5, object: 'chat.completion.chunk'}
    delete choice(data).finish_reason
    try {
      assertSchema('CreateChatCompletionResponse', data)
      assert.fail('should throw')
    } catch (error) {
      assert.ok(error instanceof AssertionError)
      assert.match(error.message, /4 schema error\(s\)/)
      assert.match(error.message, /\/created must be integer/)
      assert.match(error.message, /\/object must be equal/)
      assert.match(error.message, /finish_reason/)
      assert.match(error.message, /"model": "gpt-4o-2024-08-06"/)
    }
  })
})

describe('parseSseBody', () => {
  it('parses data events, [DONE], CRLF and comments', () => {
    const parsed = parseSseBody(': keep-alive\r\n\r\ndata: {"a":1}\r\n\r\ndata:{"b":2}\n\ndata: [DONE]\n\n')
    assert.deepEqual(parsed.events, [{a: 1}, {b: 2}])
    assert.equal(parsed.done, true)
    assert.deepEqual(parsed.raw, ['{"a":1}', '{"b":2}', '[DONE]'])
    assert.equal(parsed.trailing, '')
  })

  it('joins multi-line data and reports a missing [DONE] and an unterminated tail', () => {
    const parsed = parseSseBody('data: {"a":\ndata: 1}\n\ndata: {"b"')
    assert.deepEqual(parsed.events, [{a: 1}])
    assert.equal(parsed.done, false)
    assert.equal(parsed.trailing, 'data: {"b"')
  })

  it('throws on invalid JSON, event: lines, stray lines and events after [DONE]', () => {
    assert.throws(() => parseSseBody('data: {nope}\n\n'), /not valid JSON/)
    assert.throws(() => parseSseBody('event: error\ndata: {"error":{}}\n\n'), /event line/)
    assert.throws(() => parseSseBody('hello world\n\n'), /not an SSE line/)
    assert.throws(() => parseSseBody('data: [DONE]\n\ndata: {}\n\n'), /after \[DONE\]/)
  })
})
