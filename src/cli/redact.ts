import {mask} from '../core/mask.js'

/** What to do instead of typing a secret as an argument. */
export const SECRET_HINT =
  'Secrets are never taken from arguments (shell history, `ps`): pipe it on stdin, e.g. printf %s "$KEY" | gptconv tokens add LABEL --kind api-key (or name the variable that holds it: --from-env KEY).'

const TOKEN_CHARS = /^[\w+.~-]+$/
// OpenAI-style keys (and Anthropic's sk-ant-), ChatGPT session and refresh tokens, and the
// keys of a few other providers people keep beside them (GitHub, Hugging Face, Groq, Google, xAI)
const PREFIXED = /^(sk-|sess-|rt_|ghp_|gho_|github_pat_|hf_|gsk_|AIza|xai-)[\w-]{3,}/
const JWT = /^eyJ[\w-]{4,}(\.[\w-]*){0,2}$/
const HEX = /^[\da-f]{32,}$/i

/** Bits per character of `text` (Shannon entropy of its characters). */
function entropy(text: string): number {
  const counts = new Map<string, number>()
  for (const c of text) counts.set(c, (counts.get(c) ?? 0) + 1)
  let bits = 0
  for (const n of counts.values()) bits -= (n / text.length) * Math.log2(n / text.length)
  return bits
}

/**
 * Whether a word looks like a credential: a known prefix (sk-…, sess-…, rt_…), a JWT
 * (eyJ…), a long hex string, or a long mix of upper case, lower case and digits with
 * high entropy. Model names, labels, flag names and paths (split at `/`) do not.
 */
export function looksLikeSecret(word: string): boolean {
  if (!TOKEN_CHARS.test(word)) return false
  if (PREFIXED.test(word) || JWT.test(word) || HEX.test(word)) return true
  // random keys without a prefix are 32 characters or more; shorter mixed words (a temporary
  // directory's name, a model snapshot) are not masked
  return word.length >= 32 && /[A-Z]/.test(word) && /[a-z]/.test(word) && /\d/.test(word) && entropy(word) >= 4
}

/** `text` with every word that looks like a secret masked (`sk-…abcd`); masked words stay as they are. */
export function scrubSecrets(text: string): string {
  // dots only inside a word (a JWT's), not a sentence's full stop
  return text.replace(/[\w+~-]+(?:\.[\w+~-]+)*/g, (word, at: number) =>
    text[at + word.length] !== '…' && text[at - 1] !== '…' && looksLikeSecret(word) ? mask(word) : word,
  )
}
