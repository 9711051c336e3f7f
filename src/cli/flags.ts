import {Errors, Flags} from '@oclif/core'

/** A non-negative amount in USD. */
export const usd = Flags.custom<number>({
  helpValue: 'X',
  async parse(input) {
    const n = Number(input)
    if (input.trim() === '' || !Number.isFinite(n) || n < 0)
      throw new Errors.CLIError(`expected a non-negative amount in USD, not "${input}"`)
    return n
  },
})

/** A comma-separated list. */
export const list = Flags.custom<string[]>({
  helpValue: 'a,b',
  async parse(input) {
    return input
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
  },
})
