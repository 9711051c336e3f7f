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

Access tokens are decoded offline: their expiry and account are read from the JWT.

--from-codex-auth imports the ChatGPT login of Codex CLI from its auth.json ($CODEX_HOME/auth.json, default ~/.codex/auth.json; another file as --from-codex-auth=FILE) onto a codex upstream: the refresh token, the access token and the account. The secrets are read from the file, never from arguments. Refresh tokens work once: from gptconv's first renewal on, the copy in the file stops working, and Codex CLI asks you to sign in again.`

  static override examples = [
    {
      command: 'printf %s "$OPENAI_API_KEY" | <%= config.bin %> <%= command.id %> work --kind api-key',
      description: 'Store an API key for api.openai.com',
    },
    {
      command:
        '<%= config.bin %> <%= command.id %> reseller --kind api-key --upstream oneapi --concurrency 4 --from-env ONEAPI_KEY',
      description: 'Store a key for another upstream, at most 4 requests at a time',
    },
    {
      command: '<%= config.bin %> <%= command.id %> alice --kind access-token --upstream web',
      description: 'Store a ChatGPT access token, typed at a hidden prompt',
    },
    {
      command: '<%= config.bin %> <%= command.id %> plan --kind refresh-token --from-codex-auth',
      description: 'Take over the ChatGPT login of Codex CLI (~/.codex/auth.json)',
    },
  ]

  static override flags = {
    concurrency: Flags.integer({
      description:
        'at most this many requests in flight on this token (default: unlimited for api-keys, 1 for ChatGPT tokens)',
      min: 1,
    }),
    force: Flags.boolean({description: 'replace an existing token with the same label'}),
    'from-codex-auth': Flags.string({
      description:
        'import the ChatGPT login of Codex CLI from its auth.json (default $CODEX_HOME/auth.json or ~/.codex/auth.json; a file as --from-codex-auth=FILE)',
      helpValue: '[FILE]',
    }),
    'from-env': Flags.string({
      description: 'read the secret from this environment variable (its name, not its value)',
      helpValue: 'VAR',
    }),
    'granted-usd': usd({
      description: 'amount granted to this key in USD, used by `gptconv balance` when the upstream reports none',
    }),
    kind: Flags.string({description: 'what the secret is', options: [...TOKEN_KINDS], required: true}),
    models: list({description: 'only serve these models with this token (comma-separated)'}),
    rpm: Flags.integer({description: 'at most this many requests per minute on this token', min: 1}),
    upstream: Flags.string({
      description:
        'upstream this token belongs to (default: openai for api-keys, the only chatgpt-web upstream for ChatGPT tokens, the only codex upstream with --from-codex-auth)',
      helpValue: 'NAME',
    }),
  }

  static override summary = 'Store a credential in the OS keychain.'

  public async run(): Promise<TokenView> {
    const {args, flags} = await this.parse(TokensAdd, optionalValue(this.argv, '--from-codex-auth'))
    // `gptconv tokens add sk-…`: the secret where the label goes would be stored and listed as a label
    if (args.label.length >= 20 && looksLikeSecret(args.label))
      throw new UsageError(
        `The label ${mask(args.label)} looks like a secret; the label is a name for it, such as "work".`,
        {hint: SECRET_HINT},
      )
    if (flags['from-codex-auth'] !== undefined) return this.importCodex(args.label, flags)
    const secret = await readSecretInput({
      fromEnv: flags['from-env'],
      what: `Secret for "${args.label}" (${flags.kind})`,
    })
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
    this.log(
      `Stored ${token.kind} "${token.label}" (${token.secret}) in ${where}, upstream ${token.upstream}${token.expiresAt ? `, expires ${token.expiresAt}` : ''}.`,
    )
    return token
  }

  private async importCodex(
    label: string,
    flags: {kind: string; 'from-codex-auth'?: string; 'from-env'?: string; upstream?: string; force?: boolean},
  ): Promise<TokenView> {
    if (flags.kind !== 'refresh-token')
      throw new UsageError('--from-codex-auth imports a refresh token: pass --kind refresh-token.')
    if (flags['from-env'] !== undefined)
      throw new UsageError('--from-codex-auth reads the secrets from the file; drop --from-env.')
    const {importCodexAuth} = await import('../../core/codex-import.js')
    const token = await importCodexAuth(this.context(), {
      file: flags['from-codex-auth'] || undefined,
      label,
      upstream: flags.upstream,
      force: flags.force,
    })
    if (token.createdUpstream) this.log(`Added upstream "${token.createdUpstream}" (codex).`)
    const where = token.store === 'keychain' ? 'the OS keychain' : 'the secrets file'
    this.log(
      `Imported the ChatGPT login${token.account ? ` of ${token.account}` : ''}${token.plan ? ` (${token.plan})` : ''} from ${token.importedFrom} as refresh-token "${token.label}" (${token.secret}) in ${where}, upstream ${token.upstream}.`,
    )
    this.log(
      `From now on gptconv renews this login itself. Its refresh token works only once, so after gptconv's first renewal the copy in ${token.importedFrom} stops working: Codex CLI will ask you to sign in again (its new login is then separate from this one).`,
    )
    return token
  }
}

/**
 * \`--from-codex-auth\` takes an optional file: \`--from-codex-auth=FILE\`, or a path right after
 * it (a word with a slash or ending in .json: labels have neither); alone, it means the default
 * file, which oclif (whose string flags always want a value) is given as an empty value.
 */
function optionalValue(argv: string[], flag: string): string[] {
  return argv.flatMap((arg, i) => {
    if (arg !== flag) return [arg]
    const next = argv[i + 1]
    return next !== undefined && !next.startsWith('-') && (/[/\\]/.test(next) || next.endsWith('.json'))
      ? [arg]
      : [`${flag}=`]
  })
}
