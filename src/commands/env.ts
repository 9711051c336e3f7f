import {BaseCommand} from '../cli/base-command.js'
import {isHost, shellQuote} from '../cli/shell.js'
import {clientKey} from '../core/client-key.js'
import {apiUrl, clientOrigin, runningDaemon} from '../core/daemon-file.js'
import {UsageError} from '../core/errors.js'
import {isLoopback, listenAddress} from '../core/net.js'

/** `listen` is where the daemon listens (or would): its url is how this machine reaches it, which says nothing of 0.0.0.0. */
type Env = {OPENAI_BASE_URL: string; OPENAI_API_KEY: string; listen: string; remote: boolean}

export default class EnvCommand extends BaseCommand {
  static override description =
    "OPENAI_BASE_URL is the running daemon's address (or the configured one); OPENAI_API_KEY is gptconv's local client key — not an upstream key. OPENAI_API_BASE is set too, for the old 0.x Python SDK."
  static override examples = [
    {
      command: 'eval "$(<%= config.bin %> <%= command.id %>)"',
      description: 'Point every OpenAI SDK in this shell at gptconv',
    },
    {command: '<%= config.bin %> <%= command.id %> --json', description: '{OPENAI_BASE_URL, OPENAI_API_KEY}'},
  ]

  static override summary = 'Print shell exports for OpenAI clients.'

  public async run(): Promise<Env> {
    await this.parse(EnvCommand)
    const ctx = this.context()
    const {server} = ctx.config.read()
    const running = await runningDaemon(ctx)
    const host = running?.info.host ?? configuredHost(ctx.env.GPTCONV_HOST, server.host)
    const port = running?.info.port ?? configuredPort(ctx.env.GPTCONV_PORT, server.port)
    const url = running?.info.url ?? apiUrl(clientOrigin(host, port), server.apiPrefix)
    const listen = running?.info.listen ?? listenAddress(host, port)
    const remote = running?.info.remote ?? !isLoopback(host)
    const key = (await clientKey(ctx, {create: true}))!
    // a comment for `eval`: the address clients here use is loopback, but the daemon is reachable from other machines
    if (remote) this.log(`# gptconv listens on ${listen}: beyond loopback, other machines can reach it`)
    // the output is run by `eval`: every value is quoted so that the shell takes it literally
    this.log(
      `export OPENAI_BASE_URL=${shellQuote(url)} OPENAI_API_BASE=${shellQuote(url)} OPENAI_API_KEY=${shellQuote(key)}`,
    )
    return {OPENAI_BASE_URL: url, OPENAI_API_KEY: key, listen, remote}
  }
}

function configuredHost(fromEnv: string | undefined, fromSettings: string): string {
  const host = fromEnv ?? fromSettings
  if (isHost(host)) return host
  const where = fromEnv === undefined ? 'The setting server.host' : 'GPTCONV_HOST'
  throw new UsageError(`${where} is ${JSON.stringify(host)}, which is not a host name or an IP address.`, {
    hint:
      fromEnv === undefined
        ? 'gptconv config set server.host 127.0.0.1'
        : 'export GPTCONV_HOST=127.0.0.1 (or unset it)',
  })
}

function configuredPort(fromEnv: string | undefined, fromSettings: number): number {
  if (fromEnv === undefined) return fromSettings
  const port = Number(fromEnv)
  if (/^\d+$/.test(fromEnv) && port <= 65_535) return port
  throw new UsageError(`GPTCONV_PORT is ${JSON.stringify(fromEnv)}, which is not a port number (0-65535).`, {
    hint: 'export GPTCONV_PORT=8787 (or unset it)',
  })
}
