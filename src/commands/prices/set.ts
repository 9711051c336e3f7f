import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {usd} from '../../cli/flags.js'
import {type PriceOverride, setPriceOverride} from '../../core/pricing.js'

export default class PricesSet extends BaseCommand {
  static override args = {
    model: Args.string({
      description: 'the model name exactly as clients send it (dots, slashes, colons are fine)',
      required: true,
    }),
  }

  static override description = `An override wins over the price database for that exact model name: a reseller's prices, a self-hosted model's, or a model the database does not know yet. \`gptconv usage\`, \`gptconv balance\` and a running daemon's /dashboard/billing/usage use it at once. Cached prompt tokens cost --cached-input, or --input when it is not given.`

  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> gpt-4o --input 5 --output 20',
      description: "A reseller's price for gpt-4o",
    },
    {
      command: '<%= config.bin %> <%= command.id %> my-org/llama-3.1-70b:q4 --input 0.2 --output 0.2 --json',
      description: 'A self-hosted model; prints {model, price: {input, output, cachedInput?}, replaced}',
    },
  ]

  static override flags = {
    input: usd({description: 'USD per million prompt tokens', required: true}),
    output: usd({description: 'USD per million completion tokens', required: true}),
    'cached-input': usd({
      description: 'USD per million prompt tokens served from the prompt cache (default: the input price)',
    }),
  }

  static override summary = 'Set the price of a model, in USD per million tokens.'

  public async run(): Promise<{model: string; price: PriceOverride; replaced: boolean}> {
    const {args, flags} = await this.parse(PricesSet)
    const result = await setPriceOverride(this.context(), args.model, {
      input: flags.input,
      output: flags.output,
      cachedInput: flags['cached-input'],
    })
    const p = result.price
    this.log(
      `${result.replaced ? 'Replaced the' : 'Set a'} price for "${result.model}": $${p.input} input, $${p.cachedInput ?? p.input} cached input, $${p.output} output, per million tokens.`,
    )
    return result
  }
}
