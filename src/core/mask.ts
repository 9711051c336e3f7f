/**
 * Secrets are shown only masked: the well-known prefix, an ellipsis and the last four
 * characters (`sk-…abcd`), the way provider dashboards show keys. Short secrets keep
 * nothing but the prefix.
 */
const PREFIXES = ['sk-proj-', 'sk-svcacct-', 'sk-admin-', 'sk-', 'sess-', 'rt_', 'eyJ']

export function mask(secret: string): string {
  const prefix = PREFIXES.find((p) => secret.startsWith(p)) ?? ''
  const rest = secret.slice(prefix.length)
  return rest.length >= 12 ? `${prefix}…${rest.slice(-4)}` : `${prefix}…`
}

/** Shorter secrets are not searched for: they would match ordinary words. */
const MIN_LENGTH = 8

/**
 * The base64 (or base64url) text that encodes `secret` wherever it sits in a longer
 * encoded value: a value such as `Basic base64(user:secret)` puts the secret at a byte
 * offset that is not a multiple of three, which shifts its encoding. For each of the three
 * offsets, the characters that depend on the bytes around the secret are left out.
 */
function encodedForms(secret: Buffer, encoding: 'base64' | 'base64url'): string[] {
  const forms: string[] = []
  for (let offset = 0; offset < 3; offset++) {
    const text = Buffer.concat([Buffer.alloc(offset), secret]).toString(encoding)
    const from = Math.ceil((offset * 8) / 6)
    const to = Math.floor(((offset + secret.length) * 8) / 6)
    forms.push(text.slice(from, to))
  }

  return forms
}

const escapeRegExp = (text: string) => text.replaceAll(/[$()*+.?[\\\]^{|}]/g, String.raw`\$&`)

type Patterns = {anyCase: RegExp; encoded: RegExp; masked: string}
const patterns = new Map<string, Patterns>()

/** What to search for, made once per secret (the daemon holds a few; the map is bounded all the same). */
function patternsOf(secret: string): Patterns {
  let found = patterns.get(secret)
  if (found) return found
  const bytes = Buffer.from(secret, 'utf8')
  const encoded = [
    ...new Set([...encodedForms(bytes, 'base64'), ...encodedForms(bytes, 'base64url'), encodeURIComponent(secret)]),
  ].filter((f) => f.length >= MIN_LENGTH && f !== secret)
  found = {
    // the secret in any letter case: an upstream may lower-case what it echoes
    anyCase: new RegExp(escapeRegExp(secret), 'gi'),
    encoded: new RegExp(encoded.map((f) => escapeRegExp(f)).join('|'), 'g'),
    masked: mask(secret),
  }
  if (patterns.size >= 1000) patterns.clear()
  patterns.set(secret, found)
  return found
}

/**
 * Replace every occurrence of the given secrets in `text` by their masked form: the secret
 * as it is or in any letter case, its base64 and base64url encodings (at any alignment),
 * and its URL encoding. Used on upstream error text and everything the daemon logs.
 */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text
  for (const secret of secrets) {
    if (secret.length < MIN_LENGTH) continue
    const {anyCase, encoded, masked} = patternsOf(secret)
    out = out.replace(anyCase, masked)
    if (encoded.source !== '(?:)') out = out.replace(encoded, masked)
  }

  return out
}
