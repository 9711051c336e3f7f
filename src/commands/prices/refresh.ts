import {Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {spinner} from '../../cli/spinner.js'
import {refreshPriceData, resetPriceData} from '../../core/price-data.js'

type Result = {path: string; url: string; fetchedAt: string; providers: number; models: number} | {removed: boolean}

export default class PricesRefresh extends BaseCommand {
  static override description = `Prices come from the data inside @pydantic/genai-prices, and nothing is fetched while pricing. This fetches that project's current data once (a JSON file on GitHub), checks it, and caches it in the state directory; \`gptconv usage\`, \`gptconv balance\` and a running daemon use it from then on, until --reset or an update of gptconv's copy of the package. Overrides still win.`

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'Fetch the current prices'},
    {
      command: '<%= config.bin %> <%= command.id %> --reset',
      description: 'Go back to the prices the package ships with',
    },
  ]

  static override flags = {
    url: Flags.string({description: 'fetch from this address instead (a mirror of the same JSON)'}),
    reset: Flags.boolean({description: 'forget fetched prices', exclusive: ['url']}),
  }

  static override summary = 'Fetch newer list prices into the state directory.'

  public async run(): Promise<Result> {
    const {flags} = await this.parse(PricesRefresh)
    const ctx = this.context()
    if (flags.reset) {
      const result = await resetPriceData(ctx)
      this.log(
        result.removed
          ? 'Forgot the fetched prices: the prices @pydantic/genai-prices ships with are used.'
          : 'No fetched prices: the prices @pydantic/genai-prices ships with are in use.',
      )
      return result
    }

    const spin = spinner(!this.jsonEnabled())
    spin?.start('Fetching prices…')
    const result = await refreshPriceData(ctx, {url: flags.url}).finally(() => spin?.stop())
    this.log(
      `Fetched the prices of ${result.models} models of ${result.providers} providers from ${result.url}; cached in ${result.path}.`,
    )
    return result
  }
}
