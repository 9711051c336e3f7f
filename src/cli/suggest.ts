import type {Interfaces} from '@oclif/core'
import {closest, distance} from 'fastest-levenshtein'

/** A command that a mistyped one probably meant, and the words typed after it. */
export type Suggestion = {id: string; rest: string[]}

/**
 * The visible command closest to what was typed (`tokns list` → `tokens list`), by edit
 * distance over the whole words or their leading part (`tokns add work` → `tokens add`
 * with `work`), the way @oclif/plugin-not-found picks its "Did you mean". Nothing when
 * even the closest is too far to be a typo.
 */
export function suggestCommand(config: Interfaces.Config, words: string[]): Suggestion | undefined {
  const visible = config.commands.filter((c) => !c.hidden)
  const ids = [...visible.map((c) => c.id), ...visible.flatMap((c) => c.aliases)]
  if (ids.length === 0) return undefined
  for (let n = words.length; n > 0; n--) {
    const typed = words.slice(0, n).join(':')
    const id = closest(typed, ids)
    if (distance(typed, id) <= Math.max(1, Math.floor(typed.length / 3))) return {id, rest: words.slice(n)}
  }

  return undefined
}
