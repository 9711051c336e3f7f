import {BaseCommand} from '../../cli/base-command.js'
import {type SettingsView, listSettings} from '../../core/settings.js'

export default class ConfigList extends BaseCommand {
  static override description = 'Tokens and upstreams have commands of their own (`tokens list`, `upstreams list`).'
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'Every setting, one per line'},
    {command: '<%= config.bin %> <%= command.id %> --json', description: 'The whole settings object'},
  ]

  static override summary = 'Print all settings.'

  public async run(): Promise<SettingsView> {
    await this.parse(ConfigList)
    const settings = listSettings(this.context())
    for (const line of flatten(settings)) this.log(line)
    return settings
  }
}

function flatten(value: unknown, prefix = ''): string[] {
  if (typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length > 0) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k))
  }

  return [`${prefix} = ${JSON.stringify(value)}`]
}
