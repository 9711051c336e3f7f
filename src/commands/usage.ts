import {Flags} from '@oclif/core'
import chalk from 'chalk'

import {BaseCommand} from '../cli/base-command.js'
import {table} from '../cli/output.js'
import {GROUPS, type Group, type UsageReport, parseSince, usageReport} from '../core/usage.js'

export default class Usage extends BaseCommand {
  static override description = 'Every request the daemon finished is in the usage ledger (usage.jsonl in the state directory), with the tokens the upstream reported — or counted with the tokenizer and marked estimated. Costs come from gpt-tokenizer\'s price table.'
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'The last 7 days, by token'},
    {command: '<%= config.bin %> <%= command.id %> --since 30d --by model', description: 'The last 30 days, by model'},
    {command: '<%= config.bin %> <%= command.id %> --by day --json', description: '{since, by, rows: [{key, requests, prompt_tokens, completion_tokens, total_tokens, cost_usd}], total}'},
  ]

  static override flags = {
    by: Flags.string({description: 'group by', options: [...GROUPS], default: 'token'}),
    since: Flags.string({description: 'from how long ago (7d, 24h, 30m, 2w) or a date', default: '7d'}),
  }

  static override summary = 'Show tokens used and estimated cost, from the ledger.'

  public async run(): Promise<UsageReport> {
    const {flags} = await this.parse(Usage)
    const report = await usageReport(this.context(), {since: parseSince(flags.since), by: flags.by as Group})
    if (report.rows.length === 0) {
      this.log(`No requests since ${report.since}.`)
      return report
    }

    const n = (x: number) => x.toLocaleString('en-US')
    const line = (key: string, r: UsageReport['total']) => [key, n(r.requests), n(r.prompt_tokens), n(r.completion_tokens), n(r.total_tokens), `$${r.cost_usd.toFixed(4)}`, r.estimated_requests > 0 ? `${Math.round((r.estimated_requests / r.requests) * 100)}%` : '-']
    this.log(table([flags.by.toUpperCase(), 'REQUESTS', 'PROMPT', 'COMPLETION', 'TOTAL', 'COST', 'ESTIMATED'], [...report.rows.map((r) => line(r.key, r)), line(chalk.bold('total'), report.total)]))
    if (report.unpriced.length > 0) this.log(chalk.yellow(`No price known for ${report.unpriced.join(', ')}: their tokens cost $0 here.`))
    return report
  }
}
