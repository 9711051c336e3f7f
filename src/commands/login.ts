import {Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {onInterrupt} from '../cli/signals.js'
import {codexIssuer} from '../core/codex-auth.js'
import {deviceLogin} from '../core/codex-device.js'
import {type LoginEvent, browserLogin} from '../core/codex-login.js'
import {type SavedLogin, codexTarget, saveCodexLogin} from '../core/codex-tokens.js'

export default class Login extends BaseCommand {
  static override description = `Signs in the way Codex CLI does: a browser page at the upstream's OAuth issuer (https://auth.openai.com by default) asks you to allow access, and sends the browser back to a one-shot server of gptconv on localhost:1455 (1457 when 1455 is taken). On a machine without a browser, --device shows a code to enter at https://auth.openai.com/codex/device from any other device.

The login is stored as a refresh-token token (label: the account's e-mail unless --label) on the codex upstream: the only one, the one named with --upstream, or — when there is none — a new upstream "chatgpt". The refresh token goes to the OS keychain (or the secrets file); gptconv renews access by itself from then on. Signing in again to the same account replaces its token. Secrets are never printed.

This uses your own ChatGPT subscription, under its terms.`

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'Sign in in the browser'},
    {
      command: '<%= config.bin %> <%= command.id %> --device',
      description: 'Sign in on a headless machine with a device code',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --upstream work-plan --label work --no-browser',
      description: 'Print the sign-in link instead of opening a browser',
    },
  ]

  static override flags = {
    'callback-port': Flags.integer({
      description:
        'port of the local callback server (default 1455, then 1457; the OpenAI sign-in only returns to those two; 0 = any free port)',
      min: 0,
      max: 65_535,
    }),
    device: Flags.boolean({description: 'sign in with a code entered on another device (no browser needed here)'}),
    force: Flags.boolean({description: "replace an existing token with the same label that is not this account's"}),
    label: Flags.string({description: "name for the token (default: the account's e-mail)", helpValue: 'LABEL'}),
    'no-browser': Flags.boolean({description: 'do not open a browser; print the link to open yourself'}),
    upstream: Flags.string({
      description: 'codex upstream to sign in to (default: the only one; "chatgpt", made now, when there is none)',
      helpValue: 'NAME',
    }),
  }

  static override summary = 'Sign in to your ChatGPT plan (Plus, Pro, Team…) and store the login as a token.'

  public async run(): Promise<SavedLogin> {
    const {flags} = await this.parse(Login)
    const ctx = this.context()
    const target = codexTarget(ctx, flags.upstream)
    const issuer = codexIssuer(target.upstream)
    const undo = onInterrupt(() => process.stderr.write('\nSign-in cancelled; nothing was stored.\n'))
    try {
      const onEvent = (event: LoginEvent) => this.show(event, !flags['no-browser'])
      const tokens = flags.device
        ? await deviceLogin({issuer, onEvent})
        : await browserLogin({issuer, port: flags['callback-port'], onEvent})
      const saved = await saveCodexLogin(ctx, {target, tokens, label: flags.label, force: flags.force})
      if (saved.createdUpstream)
        this.log(`Added upstream "${saved.createdUpstream}" (codex) → ${target.upstream.baseUrl}`)
      this.log(
        `Signed in as ${saved.account ?? saved.label}${saved.plan ? ` (ChatGPT ${saved.plan})` : ''}. Stored as refresh-token "${saved.label}" (${saved.secret}) on upstream ${saved.upstream}; gptconv renews its access by itself.`,
      )
      return saved
    } finally {
      undo()
    }
  }

  /** Progress goes to stderr: stdout is for the result (and --json). */
  private show(event: LoginEvent, browser: boolean): void {
    switch (event.type) {
      case 'authorize': {
        process.stderr.write(
          `Sign in to ChatGPT in your browser:\n\n  ${event.url}\n\nWaiting for the browser to come back to ${event.redirectUri} (Ctrl-C to cancel)…\n`,
        )
        // only for a person at a terminal: never from scripts, pipes or CI
        if (browser && process.stdin.isTTY && process.stderr.isTTY) void openBrowser(event.url)
        break
      }

      case 'device': {
        process.stderr.write(
          `On any device, open\n\n  ${event.verificationUrl}\n\nand enter the code\n\n  ${event.userCode}\n\n(valid 15 minutes; Ctrl-C to cancel). Waiting…\n`,
        )
        break
      }

      case 'exchanging': {
        process.stderr.write('Signed in; getting the tokens…\n')
        break
      }
    }
  }
}

async function openBrowser(url: string): Promise<void> {
  try {
    const {default: open} = await import('open')
    const child = await open(url)
    child.on('error', () => process.stderr.write('Could not open a browser; open the link above yourself.\n'))
  } catch {
    process.stderr.write('Could not open a browser; open the link above yourself.\n')
  }
}
