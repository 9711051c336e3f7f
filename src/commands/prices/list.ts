import {Flags} from '@oclif/core'
import chalk from 'chalk'

import {BaseCommand} from '../../cli/base-command.js'
import {table} from '../../cli/output.js'
import {usePriceData} from '../../core/price-data.js'
import {type PriceEntry, listPrices} from '../../core/pricing.js'

const perMillion = (n: number) => `$${n}`

export default class PricesList extends BaseCommand {
  static override description = `Without --all, the overrides set with \`gptconv prices set\`. With --all, also every model of the price database (@pydantic/genai-prices, per provider) at its price in effect today; where a model name has an override, the override is listed. Prices are USD per million tokens; a tiered price (more above a prompt size) shows its base.`

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'The overrides'},
    {
      command: '<%= config.bin %> <%= command.id %> --all --json',
      description: '[{model, source: "override" | "genai-prices", input, cachedInput, output, provider, tiered?}]',
    },
  ]

  static override flags = {
    all: Flags.boolean({description: 'also every price the database knows'}),
  }

  static override summary = 'List price overrides, or every known price.'

  public async run(): Promise<PriceEntry[]> {
    const {flags} = await this.parse(PricesList)
    const ctx = this.context()
    const data = await usePriceData(ctx)
    const entries = await listPrices(ctx.config.read().prices, {all: flags.all})
    if (entries.length === 0) {
      this.log(
        'No price overrides: prices come from @pydantic/genai-prices (see them with `gptconv prices list --all`). Set one with: gptconv prices set MODEL --input USD --output USD',
      )
      return entries
    }

    const source = (e: PriceEntry) => `${e.source}${e.tiered ? ' (tiered)' : ''}`
    this.log(
      table(
        ['MODEL', 'PROVIDER', 'INPUT', 'CACHED INPUT', 'OUTPUT', 'SOURCE'],
        entries.map((e) => [
          e.model,
          e.provider ?? '-',
          perMillion(e.input),
          perMillion(e.cachedInput),
          perMillion(e.output),
          source(e),
        ]),
      ),
    )
    if (flags.all)
      this.log(
        chalk.dim(
          `\nUSD per million tokens. genai-prices: @pydantic/genai-prices ${data.package}, ${data.source === 'refreshed' ? `with the prices fetched on ${data.fetchedAt} from ${data.url}` : 'the prices it ships with (newer ones: gptconv prices refresh)'}.`,
        ),
      )
    return entries
  }
}
