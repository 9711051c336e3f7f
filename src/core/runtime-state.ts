import {readFileSync} from 'node:fs'

import {writeStateFile} from './state-files.js'

/**
 * What the daemon learns about tokens at run time — disabled and why, cooling down until
 * when, last use — kept in `state.json`, which only the daemon writes (atomically) and
 * `tokens list` reads. Each entry remembers the `addedAt` of the token it describes, so
 * replacing a token (`tokens add --force`) makes its old state void.
 */
/** A ChatGPT plan's usage windows, as its backend last reported them (headers or a usage call). */
export type PlanLimits = {
  plan?: string
  /** `5h`, `7d`… (from the window's length) */
  windows: Array<{window: string; usedPercent: number; resetsAt: string | null}>
  /** when the daemon saw them */
  seenAt: string
}

export type TokenRuntime = {
  addedAt: string
  disabled?: {reason: string; at: string}
  coolingUntil?: string
  /** what the upstream said when it put the token on hold (a challenge, a cap…) */
  coolingReason?: string
  lastUsedAt?: string
  /** ChatGPT-plan tokens: the plan's usage windows */
  limits?: PlanLimits
  /** a token entry written before bindings existed: the origin(s) the daemon first used it with (core/binding.ts) */
  origin?: string
  authOrigin?: string
}

export type RuntimeState = {tokens: Record<string, TokenRuntime>}

/** Missing or damaged runtime state is no state: it is rebuilt as the daemon runs. */
export function readRuntimeState(path: string): RuntimeState {
  try {
    const data = JSON.parse(readFileSync(path, 'utf8')) as RuntimeState
    return typeof data?.tokens === 'object' && data.tokens !== null ? data : {tokens: {}}
  } catch {
    return {tokens: {}}
  }
}

export async function writeRuntimeState(path: string, state: RuntimeState): Promise<void> {
  await writeStateFile(path, JSON.stringify(state, null, 2) + '\n')
}
