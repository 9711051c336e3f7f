/** A Retry-After value (seconds, or an HTTP date) as ms from `now`; undefined when empty or neither. */
export function retryAfterValueMs(value: string | undefined, now: number): number | undefined {
  const text = value?.trim()
  if (!text) return undefined
  const seconds = Number(text)
  if (Number.isFinite(seconds) && seconds >= 0) return Math.round(seconds * 1000)
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
