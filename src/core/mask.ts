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

/** Replace every occurrence of the given secrets in `text` by their masked form. */
export function redact(text: string, secrets: Iterable<string>): string {
  let out = text
  for (const secret of secrets) if (secret.length >= 8 && out.includes(secret)) out = out.replaceAll(secret, mask(secret))
  return out
}
