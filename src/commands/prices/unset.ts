import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {type PriceOverride, unsetPriceOverride} from '../../core/pricing.js'

export default class PricesUnset extends BaseCommand {
  static override args = {
    model: Args.string({description: 'the model name the override was set for', required: true}),
  }

  static override description =
    'The model goes back to the price database, or to unpriced when the database does not know it.'
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> gpt-4o', description: 'Price gpt-4o at its list price again'},
  ]
  static override summary = 'Remove the price override of a model.'

  public async run(): Promise<{model: string; removed: PriceOverride}> {
    const {args} = await this.parse(PricesUnset)
    const result = await unsetPriceOverride(this.context(), args.model)
    this.log(`Removed the price override for "${result.model}".`)
    return result
  }
}
