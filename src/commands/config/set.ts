import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {setSetting, settingKeys} from '../../core/settings.js'

export default class ConfigSet extends BaseCommand {
  static override args = {
    key: Args.string({description: 'dotted setting name', required: true}),
    value: Args.string({description: 'new value (lists: comma-separated or JSON)', required: true}),
  }

  static override description = `Settings: ${settingKeys().join(', ')}. A running daemon picks up changes to tokens and upstreams at once; server.* settings apply at its next start.`

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> server.port 9000', description: 'Listen on another port'},
    {
      command:
        '<%= config.bin %> <%= command.id %> server.allowedOrigins http://localhost:3000,https://chat.example.com',
      description: 'Let these browser origins call the daemon',
    },
    {
      command: '<%= config.bin %> <%= command.id %> aliases.fast gpt-4o-mini',
      description: 'Let clients ask for model "fast"',
    },
  ]

  static override summary = 'Change a setting.'

  public async run(): Promise<{key: string; value: unknown}> {
    const {args} = await this.parse(ConfigSet)
    const value = await setSetting(this.context(), args.key, args.value)
    this.log(`${args.key} = ${JSON.stringify(value)}`)
    return {key: args.key, value}
  }
}
