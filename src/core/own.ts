/**
 * A value a user's string names in a plain object (settings maps: aliases, model maps,
 * tokens, upstreams), own properties only: `constructor`, `toString` or `__proto__` as a
 * model or label names nothing unless someone stored it.
 */
export function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined
}
