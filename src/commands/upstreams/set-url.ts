import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {type UpstreamView, setUpstreamUrl} from '../../core/upstreams.js'

export default class UpstreamsSetUrl extends BaseCommand {
  static override args = {
    name: Args.string({description: 'name of the upstream', required: true}),
    url: Args.string({description: 'its new base URL', required: true}),
  }

  static override description = `Each token is bound to the origin it was stored for, and its secret goes nowhere else: pointing an upstream at another origin blocks its tokens. Without --move-tokens this command refuses while any token would be blocked, and names them; with it, they are sent to the new origin from now on. A new path on the same origin needs no flag.`

  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> local http://127.0.0.1:8001/v1 --move-tokens',
      description: 'The server moved to another port; its tokens go along',
    },
    {
      command: '<%= config.bin %> <%= command.id %> oneapi https://oneapi.example.com/openai/v1',
      description: 'A new path on the same host: the tokens stay usable',
    },
  ]

  static override flags = {
    'move-tokens': Flags.boolean({
      description: "bind the upstream's tokens to the new origin (their secrets will be sent there)",
    }),
  }

  static override summary = "Change an upstream's base URL (its tokens move only with --move-tokens)."

  public async run(): Promise<UpstreamView & {moved: string[]}> {
    const {args, flags} = await this.parse(UpstreamsSetUrl)
    const result = await setUpstreamUrl(this.context(), {
      name: args.name,
      baseUrl: args.url,
      moveTokens: flags['move-tokens'],
    })
    this.log(
      `Upstream "${result.name}" → ${result.baseUrl}${result.moved.length > 0 ? `; tokens moved there: ${result.moved.join(', ')}` : ''}`,
    )
    return result
  }
}
