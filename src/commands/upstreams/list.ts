import {BaseCommand} from '../../cli/base-command.js'
import {table} from '../../cli/output.js'
import {type UpstreamView, listUpstreams} from '../../core/upstreams.js'

export default class UpstreamsList extends BaseCommand {
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'As a table'},
    {
      command: '<%= config.bin %> <%= command.id %> --json',
      description: 'As JSON: [{name, protocol, baseUrl, authUrl?, modelMap?, models?, tokens}]',
    },
  ]

  static override summary = 'List upstream endpoints.'

  public async run(): Promise<UpstreamView[]> {
    await this.parse(UpstreamsList)
    const upstreams = listUpstreams(this.context())
    const map = (m?: Record<string, string>) =>
      m
        ? Object.entries(m)
            .map(([a, b]) => `${a}=${b}`)
            .join(',')
        : '-'
    this.log(
      table(
        ['NAME', 'PROTOCOL', 'BASE URL', 'AUTH URL', 'MODEL MAP', 'MODELS', 'TOKENS'],
        upstreams.map((u) => [
          u.name,
          u.protocol,
          u.baseUrl,
          u.authUrl ?? '-',
          map(u.modelMap),
          u.models?.join(',') ?? 'any',
          String(u.tokens),
        ]),
      ),
    )
    return upstreams
  }
}
