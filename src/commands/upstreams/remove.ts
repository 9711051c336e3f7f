import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {removeUpstreams} from '../../core/upstreams.js'

export default class UpstreamsRemove extends BaseCommand {
  static override args = {
    names: Args.string({description: 'upstreams to remove', required: true}),
  }

  static override description = 'An upstream still used by a token cannot be removed; remove the tokens first.'
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> local', description: 'Remove the upstream "local"'},
  ]
  static override strict = false
  static override summary = 'Remove upstream endpoints.'

  public async run(): Promise<{removed: string[]}> {
    const {argv} = await this.parse(UpstreamsRemove)
    const removed = await removeUpstreams(this.context(), argv as string[])
    this.log(`Removed ${removed.map((n) => `"${n}"`).join(', ')}.`)
    return {removed}
  }
}
