import {openaiAdapter} from './openai.js'
import type {UpstreamAdapter} from './adapter.js'

/** The ChatGPT plan's Responses backend (being built). */
export const codexAdapter: UpstreamAdapter = {...openaiAdapter}
