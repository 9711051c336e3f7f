/** Deeper bodies are refused: JSON.parse copes, but serializing them again would overflow the stack. */
export const MAX_DEPTH = 100
const STRUCTURE = /[[\]{}"\\]/g

/**
 * One pass over a JSON text, skipping over string contents: the deepest nesting of arrays
 * and objects, and the first key of the top-level object that appears twice. A string at
 * depth 1 of an object is a key when `{` or `,` comes before it (a value has `:`); keys
 * with escapes are decoded, so `mo\u0064el` is `model`.
 */
export function scanJson(text: string): {depth: number; duplicate?: string} {
  let depth = 0
  let max = 0
  let inString = false
  let topObject = false
  let keyStart = -1
  let escaped = false
  let duplicate: string | undefined
  const keys = new Set<string>()
  STRUCTURE.lastIndex = 0
  for (let m = STRUCTURE.exec(text); m; m = STRUCTURE.exec(text)) {
    const c = m[0]
    if (inString) {
      if (c === '\\') {
        STRUCTURE.lastIndex++ // skip the escaped character
        escaped = true
      } else if (c === '"') {
        inString = false
        if (keyStart !== -1) {
          const key = escaped ? decodeKey(text.slice(keyStart, m.index + 1)) : text.slice(keyStart + 1, m.index)
          if (duplicate === undefined && key !== undefined && keys.size === keys.add(key).size) duplicate = key
          keyStart = -1
        }
      }
    } else if (c === '"') {
      inString = true
      escaped = false
      if (depth === 1 && topObject && isKeyPosition(text, m.index)) keyStart = m.index
    } else if (c === '[' || c === '{') {
      if (depth === 0) topObject = c === '{'
      if (++depth > max) max = depth
      if (max > MAX_DEPTH) return {depth: max}
    } else if (c === ']' || c === '}') {
      depth--
    }
  }

  return duplicate === undefined ? {depth: max} : {depth: max, duplicate}
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
