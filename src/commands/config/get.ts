import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {getSetting} from '../../core/settings.js'

export default class ConfigGet extends BaseCommand {
  static override args = {key: Args.string({description: 'dotted setting name, e.g. server.port', required: true})}
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> server.port', description: 'Print one setting'},
    {command: '<%= config.bin %> <%= command.id %> pool --json', description: 'A whole section as JSON'},
  ]

  static override summary = 'Print a setting.'

  public async run(): Promise<unknown> {
    const {args} = await this.parse(ConfigGet)
    const value = getSetting(this.context(), args.key)
    this.log(typeof value === 'object' && value !== null ? JSON.stringify(value, null, 2) : String(value))
    return {key: args.key, value}
  }
}
