import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {unsetSetting} from '../../core/settings.js'

export default class ConfigUnset extends BaseCommand {
  static override args = {key: Args.string({description: 'dotted setting name', required: true})}
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> server.port', description: 'Back to the default port'},
    {command: '<%= config.bin %> <%= command.id %> aliases.fast', description: 'Remove an alias'},
  ]

  static override summary = 'Reset a setting to its default (or remove an alias).'

  public async run(): Promise<{key: string; value: unknown}> {
    const {args} = await this.parse(ConfigUnset)
    const value = await unsetSetting(this.context(), args.key)
    this.log(value === null ? `${args.key} removed` : `${args.key} = ${JSON.stringify(value)} (default)`)
    return {key: args.key, value}
  }
}
