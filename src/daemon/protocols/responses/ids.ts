import {randomBytes} from 'node:crypto'

import type {IdMaker} from './types.js'

/** `resp_…`, `msg_…`, `fc_…`: a prefix and 48 random hex digits, as OpenAI's own ids look. */
export const newId: IdMaker = (prefix) => `${prefix}_${randomBytes(24).toString('hex')}`
