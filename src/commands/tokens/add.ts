import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {list, usd} from '../../cli/flags.js'
import {SECRET_HINT, looksLikeSecret} from '../../cli/redact.js'
import {readSecretInput} from '../../cli/secret-input.js'
import {TOKEN_KINDS} from '../../core/config.js'
import {UsageError} from '../../core/errors.js'
import {mask} from '../../core/mask.js'
import {type TokenView, addToken} from '../../core/tokens.js'

export default class TokensAdd extends BaseCommand {
  static override args = {
    label: Args.string({description: 'name for this credential (letters, digits, . _ @ + -)', required: true}),
  }

  static override description = `The secret is read from stdin when piped, from a hidden prompt on a terminal, or from the environment variable named by --from-env — never from an argument, so it stays out of shell history and \`ps\`. It is stored in the OS keychain (service "gptconv"); without a usable
keychain it goes to secrets.json (mode 0600) in the state directory, with a warning.

Access tokens are decoded offline: their expiry and account are read from the JWT.`

  static override examples = [
    {command: 'printf %s "$OPENAI_API_KEY" | <%= config.bin %> <%= command.id %> work --kind api-key', description: 'Store an API key for api.openai.com'},
    {command: '<%= config.bin %> <%= command.id %> reseller --kind api-key --upstream oneapi --concurrency 4 --from-env ONEAPI_KEY', description: 'Store a key for another upstream, at most 4 requests at a time'},
    {command: '<%= config.bin %> <%= command.id %> alice --kind access-token --upstream web', description: 'Store a ChatGPT access token, typed at a hidden prompt'},
  ]

  static override flags = {
    concurrency: Flags.integer({description: 'at most this many requests in flight on this token (default: unlimited for api-keys, 1 for ChatGPT tokens)', min: 1}),
    force: Flags.boolean({description: 'replace an existing token with the same label'}),
    'from-env': Flags.string({description: 'read the secret from this environment variable (its name, not its value)', helpValue: 'VAR'}),
    'granted-usd': usd({description: 'amount granted to this key in USD, used by `gptconv balance` when the upstream reports none'}),
    kind: Flags.string({description: 'what the secret is', options: [...TOKEN_KINDS], required: true}),
    models: list({description: 'only serve these models with this token (comma-separated)'}),
    rpm: Flags.integer({description: 'at most this many requests per minute on this token', min: 1}),
    upstream: Flags.string({description: 'upstream this token belongs to (default: openai for api-keys, the only chatgpt-web upstream for ChatGPT tokens)', helpValue: 'NAME'}),
  }

  static override summary = 'Store a credential in the OS keychain.'

  public async run(): Promise<TokenView> {
    const {args, flags} = await this.parse(TokensAdd)
    // `gptconv tokens add sk-…`: the secret where the label goes would be stored and listed as a label
    if (args.label.length >= 20 && looksLikeSecret(args.label)) throw new UsageError(`The label ${mask(args.label)} looks like a secret; the label is a name for it, such as "work".`, {hint: SECRET_HINT})
    const secret = await readSecretInput({fromEnv: flags['from-env'], what: `Secret for "${args.label}" (${flags.kind})`})
    const token = await addToken(this.context(), {
      label: args.label,
      kind: flags.kind as (typeof TOKEN_KINDS)[number],
      secret,
      upstream: flags.upstream,
      models: flags.models,
      concurrency: flags.concurrency,
      rpm: flags.rpm,
      grantedUsd: flags['granted-usd'],
      force: flags.force,
    })
    const where = token.store === 'keychain' ? 'the OS keychain' : 'the secrets file'
    this.log(`Stored ${token.kind} "${token.label}" (${token.secret}) in ${where}, upstream ${token.upstream}${token.expiresAt ? `, expires ${token.expiresAt}` : ''}.`)
    return token
  }
}
