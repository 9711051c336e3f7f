/** Deeper bodies are refused: JSON.parse copes, but serializing them again would overflow the stack. */
export const MAX_DEPTH = 100
const QUOTE = 34
const BACKSLASH = 92

/**
 * One pass over a JSON text, skipping over string contents: the deepest nesting of arrays
 * and objects, and the first key of the top-level object that appears twice. A string at
 * depth 1 of an object is a key when `{` or `,` comes before it (a value has `:`); keys
 * with escapes are decoded, so `mo\u0064el` is `model`. Strings are skipped with indexOf
 * (no per-character loop over a long conversation, no allocation but the top-level keys).
 */
export function scanJson(text: string): {depth: number; duplicate?: string} {
  let depth = 0
  let max = 0
  let topObject = false
  let duplicate: string | undefined
  const keys = new Set<string>()
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const end = stringEnd(text, i)
      if (end === -1) break // unterminated: JSON.parse says so
      if (duplicate === undefined && depth === 1 && topObject && isKeyPosition(text, i)) {
        const escaped = text.lastIndexOf('\\', end) > i
        const key = escaped ? decodeKey(text.slice(i, end + 1)) : text.slice(i + 1, end)
        if (key !== undefined && keys.size === keys.add(key).size) duplicate = key
      }

      i = end
    } else if (c === 0x5b || c === 0x7b) {
      if (depth === 0) topObject = c === 0x7b
      if (++depth > max) max = depth
      if (max > MAX_DEPTH) return {depth: max}
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }

  return duplicate === undefined ? {depth: max} : {depth: max, duplicate}
}

/** The index of the quote that closes the string opening at `start` (one not escaped by an odd run of backslashes), or -1. */
function stringEnd(text: string, start: number): number {
  let from = start + 1
  for (;;) {
    const quote = text.indexOf('"', from)
    if (quote === -1) return -1
    let b = quote - 1
    while (b > start && text.charCodeAt(b) === BACKSLASH) b--
    if ((quote - 1 - b) % 2 === 0) return quote
    from = quote + 1
  }
}

/** Is the string opening at `at` an object key: is `{` or `,` the character before it (after whitespace)? */
function isKeyPosition(text: string, at: number): boolean {
  let i = at - 1
  while (i >= 0 && (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t')) i--
  return text[i] === '{' || text[i] === ','
}

function decodeKey(quoted: string): string | undefined {
  try {
    return JSON.parse(quoted) as string
  } catch {
    return undefined // not valid JSON: JSON.parse of the whole body says so
  }
}
