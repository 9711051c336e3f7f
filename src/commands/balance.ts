import {Args, Flags} from '@oclif/core'
import chalk from 'chalk'

import {BaseCommand} from '../cli/base-command.js'
import {relativeTime, table} from '../cli/output.js'
import {spinner} from '../cli/spinner.js'
import {type BalanceReport, type TokenBalance, balances, refusalsByReason} from '../core/balance.js'
import {describeLimits} from '../core/codex-limits.js'
import {GptconvError} from '../core/errors.js'

const usd = (n: number | null) => (n === null ? '-' : `$${n.toFixed(2)}`)
/** An amount that leaves out usage of unpriced models is marked; used usage that is all unpriced reads so, not $0. */
const marked = (n: number | null, unpriced: boolean, used = false) =>
  !unpriced || n === null ? usd(n) : used && n === 0 ? chalk.yellow('unpriced') : `${usd(n)}${chalk.yellow('*')}`

export default class Balance extends BaseCommand {
  static override args = {
    labels: Args.string({description: 'tokens to check (default: all api-keys and ChatGPT-plan tokens)'}),
  }
  static override description = `For each api-key, the first source that answers: the upstream's /dashboard/billing/subscription and /usage (one-api, new-api and many resellers; OpenAI itself refuses them since 2023), then /dashboard/billing/credit_grants, then the token's --granted-usd minus what the usage ledger says was spent (marked estimated), priced like \`gptconv usage\`: your price overrides (gptconv prices set), else the list prices of @pydantic/genai-prices; usage of a model with no known price is left out, and the amounts it touches are marked with *. A ChatGPT plan (codex upstream) has no amount in USD: its usage windows are shown instead (source codex-limits), as the daemon last saw them, else as the plan's usage endpoint tells now. Exits 1 when a token got no answer from any source (the others are still reported).`
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'Every api-key, over the last 90 days'},
    {
      command: '<%= config.bin %> <%= command.id %> work --days 30 --json',
      description:
        '{tokens: [{label, source, grantedUsd, usedUsd, balanceUsd, window, estimated, error?, refused, unpricedModels?, plan?, limits?: [{window, usedPercent, resetsAt}]}], total: {grantedUsd, usedUsd, balanceUsd}} (total amounts null when no token got an amount)',
    },
  ]

  static override flags = {
    days: Flags.integer({description: 'usage window in days, ending today', default: 90, min: 1, max: 3650}),
  }

  static override strict = false
  static override summary = 'Show granted amount minus usage, per token.'

  public async run(): Promise<BalanceReport> {
    const {argv, flags} = await this.parse(Balance)
    const spin = spinner(!this.jsonEnabled())
    const report = await balances(this.context(), argv as string[], flags.days, {
      onStart: (label) => spin?.start(`Asking about ${label}…`),
      onDone: () => spin?.stop(),
    })
    if (report.tokens.length === 0)
      this.log(
        'No api-key or ChatGPT-plan tokens. Add one with: printf %s "$KEY" | gptconv tokens add work --kind api-key, or sign in to your ChatGPT plan with: gptconv login',
      )
    else this.render(report)
    const failed = report.tokens.filter((t) => t.source === null)
    if (failed.length > 0) {
      if (this.jsonEnabled()) process.exitCode = 1
      else
        throw new GptconvError(
          'GPTCONV_BALANCE_UNKNOWN',
          `No source gave a balance for ${failed.map((t) => t.label).join(', ')}.`,
          {
            hint: 'Set what was granted with `gptconv tokens add LABEL --kind api-key --granted-usd X --force`, and gptconv estimates from its own ledger.',
          },
        )
    }

    return report
  }

  render(report: BalanceReport): void {
    const source = (t: TokenBalance) =>
      t.source ? `${t.source}${t.estimated ? ' (estimated)' : ''}${t.plan ? ` (${t.plan})` : ''}` : chalk.red('none')
    const row = (t: TokenBalance) => {
      const unpriced = Boolean(t.unpricedModels)
      return [
        t.label,
        source(t),
        usd(t.grantedUsd),
        marked(t.usedUsd, unpriced, true),
        marked(t.balanceUsd, unpriced),
        t.limits ? '-' : `${t.window.start} … ${t.window.end}`,
      ]
    }

    const {total} = report
    const anyUnpriced = report.tokens.some((t) => t.unpricedModels)
    const totalRow =
      total.grantedUsd === null
        ? [chalk.bold('total'), '', 'unknown', 'unknown', 'unknown', '']
        : [
            chalk.bold('total'),
            '',
            usd(total.grantedUsd),
            marked(total.usedUsd, anyUnpriced),
            marked(total.balanceUsd, anyUnpriced),
            '',
          ]
    this.log(
      table(
        ['LABEL', 'SOURCE', 'GRANTED', 'USED', 'BALANCE', 'WINDOW'],
        [...report.tokens.map((t) => row(t)), totalRow],
      ),
    )
    for (const t of report.tokens) {
      if (t.source !== null)
        for (const r of refusalsByReason(t.refused))
          this.log(chalk.dim(`  ${t.label}: ${r.sources} not available — ${r.reason}`))
      if (t.limits)
        this.log(
          `${t.label}: ${t.plan ? `${t.plan} plan — ` : ''}${describeLimits(t.limits)}${t.limitsSeenAt ? chalk.dim(` (seen ${relativeTime(t.limitsSeenAt)})`) : ''}`,
        )
      if (t.error) this.log(`${t.source === null ? chalk.red(t.label) : chalk.yellow(t.label)}: ${t.error}`)
    }

    if (total.grantedUsd !== null && report.tokens.some((t) => t.grantedUsd === null))
      this.log(chalk.dim('The total counts only the tokens that got an amount.'))
    if (anyUnpriced) this.log(chalk.yellow('* leaves out usage of models with no known price (named above)'))
  }
}
