import {Flags} from '@oclif/core'
import chalk from 'chalk'

import {BaseCommand} from '../cli/base-command.js'
import {table} from '../cli/output.js'
import {setPriceHint} from '../core/pricing.js'
import {GROUPS, type Group, type UsageReport, parseSince, usageReport} from '../core/usage.js'

export default class Usage extends BaseCommand {
  static override description = `Every request the daemon finished is in the usage ledger (usage.jsonl in the state directory), with the tokens the upstream reported — or counted with the tokenizer and marked estimated. Costs use your price overrides (gptconv prices set), else the list prices of @pydantic/genai-prices at the time of each request; cached prompt tokens cost the cached-input price. A model with no known price is shown as unpriced, not as $0.`

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'The last 7 days, by token'},
    {command: '<%= config.bin %> <%= command.id %> --since 30d --by model', description: 'The last 30 days, by model'},
    {
      command: '<%= config.bin %> <%= command.id %> --by day --json',
      description:
        '{since, by, rows: [{key, requests, errors, prompt_tokens, completion_tokens, cached_tokens, reasoning_tokens, total_tokens, estimated_requests, unpriced_requests, cost_usd}], total, unpriced}',
    },
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
    const cost = (r: UsageReport['total']) =>
      r.unpriced_requests === 0
        ? `$${r.cost_usd.toFixed(4)}`
        : r.cost_usd === 0
          ? chalk.yellow('unpriced')
          : `$${r.cost_usd.toFixed(4)}${chalk.yellow('*')}`
    const estimated = (r: UsageReport['total']) =>
      r.estimated_requests > 0 ? `${Math.round((r.estimated_requests / r.requests) * 100)}%` : '-'
    const line = (key: string, r: UsageReport['total']) => [
      key,
      n(r.requests),
      n(r.prompt_tokens),
      n(r.cached_tokens),
      n(r.completion_tokens),
      n(r.reasoning_tokens),
      n(r.total_tokens),
      cost(r),
      estimated(r),
    ]
    this.log(
      table(
        [
          flags.by.toUpperCase(),
          'REQUESTS',
          'PROMPT',
          'CACHED',
          'COMPLETION',
          'REASONING',
          'TOTAL',
          'COST',
          'ESTIMATED',
        ],
        [...report.rows.map((r) => line(r.key, r)), line(chalk.bold('total'), report.total)],
      ),
    )
    if (report.unpriced.length > 0) {
      const requests = report.total.unpriced_requests
      this.log(
        chalk.yellow(
          `* No price known for ${report.unpriced.join(', ')}: the cost leaves out ${n(requests)} request${requests === 1 ? '' : 's'}.`,
        ),
      )
      this.log(chalk.yellow(`  Set a price with \`${setPriceHint(report.unpriced)}\` (USD per million tokens).`))
    }

    return report
  }
}
