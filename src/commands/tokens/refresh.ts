import {Args} from '@oclif/core'
import chalk from 'chalk'

import {BaseCommand} from '../../cli/base-command.js'
import {printable} from '../../cli/output.js'
import {spinner} from '../../cli/spinner.js'
import {GptconvError} from '../../core/errors.js'
import {type CheckResult, checkTokens} from '../../core/token-check.js'

export default class TokensRefresh extends BaseCommand {
  static override args = {
    labels: Args.string({description: 'tokens to check (default: all)'}),
  }

  static override description = `API keys are validated with GET {upstream}/models. Access tokens are checked for expiry and against the ChatGPT backend. Refresh tokens are exchanged now for a new access token (by the running daemon when there is one, since only one process may rotate a refresh token). Exits 1 if any token fails.`

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'Check every token'},
    {
      command: '<%= config.bin %> <%= command.id %> work --json',
      description: 'Check one token; print [{label, ok, status, detail}]',
    },
  ]

  static override strict = false
  static override summary = 'Check credentials now (and renew what can be renewed).'

  public async run(): Promise<CheckResult[]> {
    const {argv} = await this.parse(TokensRefresh)
    const spin = spinner(!this.jsonEnabled())
    const results = await checkTokens(this.context(), argv as string[], {
      onStart: (label) => spin?.start(`Checking ${label}…`),
      onDone: (r) => {
        spin?.stop()
        // the detail may quote an upstream's answer
        this.log(
          `${r.ok ? chalk.green('✔') : chalk.red('✖')} ${r.label} (${r.kind}): ${r.status} — ${printable(r.detail)}`,
        )
      },
    })
    if (results.length === 0) this.log('No tokens to check.')
    const failed = results.filter((r) => !r.ok)
    if (failed.length > 0) {
      if (this.jsonEnabled()) process.exitCode = 1
      else
        throw new GptconvError(
          'GPTCONV_CHECK_FAILED',
          `${failed.length} of ${results.length} token${results.length > 1 ? 's' : ''} failed: ${failed.map((r) => r.label).join(', ')}.`,
          {hint: 'Replace a refused key with `gptconv tokens add LABEL --kind … --force`.'},
        )
    }

    return results
  }
}
