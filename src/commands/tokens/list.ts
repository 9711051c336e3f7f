import {Args} from '@oclif/core'
import chalk from 'chalk'

import {BaseCommand} from '../../cli/base-command.js'
import {relativeTime, table} from '../../cli/output.js'
import {describeLimits} from '../../core/codex-limits.js'
import {type TokenView, listTokens} from '../../core/tokens.js'

export default class TokensList extends BaseCommand {
  static override args = {
    labels: Args.string({description: 'only these tokens'}),
  }

  static override description = `Shows each token's kind, upstream, state (ok, expired, cooling down until T, disabled and why as the daemon last saw it, or blocked because its upstream now points to another origin than the one it was stored for), expiry (of the access token, for refresh tokens: as of the last renewal by a command), last use and masked secret. Tokens of a ChatGPT plan also show the plan, the account id (masked) and the plan's usage windows as the daemon last saw them. Never prints a secret.`

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'All tokens as a table'},
    {
      command: '<%= config.bin %> <%= command.id %> --json',
      description:
        'As JSON: [{label, kind, upstream, state, expiresAt, lastUsedAt, secret, plan?, chatgptAccount?, limits?: [{window, usedPercent, resetsAt}], limitsSeenAt?}]',
    },
  ]

  static override strict = false
  static override summary = 'List stored credentials (secrets masked).'

  public async run(): Promise<TokenView[]> {
    const {argv} = await this.parse(TokensList)
    const tokens = listTokens(this.context(), argv as string[])
    if (tokens.length === 0) {
      this.log('No tokens yet. Add one with: printf %s "$OPENAI_API_KEY" | gptconv tokens add work --kind api-key')
      return tokens
    }

    this.log(
      table(
        ['LABEL', 'KIND', 'UPSTREAM', 'STATE', 'EXPIRES', 'LAST USED', 'SECRET'],
        tokens.map((t) => [
          t.label,
          t.kind,
          t.upstream,
          stateText(t),
          t.expiresAt ? relativeTime(t.expiresAt) : '-',
          relativeTime(t.lastUsedAt),
          t.secret,
        ]),
      ),
    )
    const plans = tokens.filter((t) => t.plan || t.limits)
    if (plans.length > 0) this.log(`\n${plans.map((t) => planLine(t)).join('\n')}`)
    const inFile = tokens.filter((t) => t.store === 'file').map((t) => t.label)
    if (inFile.length > 0)
      this.log(chalk.yellow(`\nIn the plain secrets file, not the OS keychain: ${inFile.join(', ')}`))
    return tokens
  }
}

/** `alice@example.com: ChatGPT plus, account …1c2d — 5h: 42% used, resets 15:28; 7d: … (seen 2 min ago)` */
function planLine(t: TokenView): string {
  const who = [t.plan ? `ChatGPT ${t.plan}` : 'ChatGPT plan', t.chatgptAccount && `account ${t.chatgptAccount}`]
    .filter(Boolean)
    .join(', ')
  if (!t.limits) return `${t.label}: ${who}`
  return `${t.label}: ${who} — ${describeLimits(t.limits)}${t.limitsSeenAt ? chalk.dim(` (seen ${relativeTime(t.limitsSeenAt)})`) : ''}`
}

function stateText(t: TokenView): string {
  switch (t.state) {
    case 'ok': {
      return chalk.green('ok')
    }

    case 'expired': {
      return chalk.red('expired')
    }

    case 'cooling-down': {
      return chalk.yellow(`cooling down until ${t.until}${t.reason ? `: ${t.reason}` : ''}`)
    }

    case 'disabled': {
      return chalk.red(`disabled: ${t.reason}`)
    }

    case 'blocked': {
      return chalk.red(t.reason ?? 'blocked')
    }
  }
}
