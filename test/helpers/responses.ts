import assert from 'node:assert/strict'

import type {IdMaker} from '../../src/daemon/protocols/responses/types.js'
import {parseSse} from '../../src/daemon/sse.js'
import {assertSchema} from './openapi.js'

/** Ids `msg_1`, `fc_2`… in the order they are made, so fixtures can name them. */
export function counter(): IdMaker {
  let n = 0
  return (prefix) => `${prefix}_${++n}`
}

export type StreamedEvent = {type: string; sequence_number: number; [field: string]: unknown}

/**
 * A Responses SSE body → its events. Every event must be framed `event: <type>` + `data:`
 * with the same type inside, validate against `ResponseStreamEvent`, and number itself from 0;
 * there is no `[DONE]`.
 */
export function responsesEvents(text: string): StreamedEvent[] {
  assert.match(
    text,
    /^(event: [a-z_.]+\ndata: [^\n]+\n\n)*$/,
    'each event is `event:` + one `data:` line + a blank line',
  )
  return parseSse(text).map((e, i) => {
    assert.notEqual(e.data, '[DONE]')
    const data = JSON.parse(e.data) as StreamedEvent
    assert.equal(e.event, data.type)
    assert.equal(data.sequence_number, i)
    assertSchema('ResponseStreamEvent', data)
    return data
  })
}
