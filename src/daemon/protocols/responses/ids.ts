import {randomId} from '../../../core/random-id.js'

import type {IdMaker} from './types.js'

/** `resp_…`, `msg_…`, `fc_…`: a prefix and 48 random hex digits, as OpenAI's own ids look. */
export const newId: IdMaker = (prefix) => `${prefix}_${randomId(24, 'hex')}`
