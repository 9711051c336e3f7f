import {BaseCommand} from '../../cli/base-command.js'

export default class ConfigPath extends BaseCommand {
  static override description = "All state lives in this file's directory (GPTCONV_HOME overrides it)."
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'e.g. /home/me/.config/gptconv/config.json'},
  ]
  static override summary = "Print the config file's path."

  public async run(): Promise<{path: string; dir: string}> {
    await this.parse(ConfigPath)
    const {paths} = this.context()
    this.log(paths.config)
    return {path: paths.config, dir: paths.dir}
  }
}
