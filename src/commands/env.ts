import {BaseCommand} from '../cli/base-command.js'
import {clientKey} from '../core/client-key.js'
import {apiUrl, clientOrigin, runningDaemon} from '../core/daemon-file.js'

type Env = {OPENAI_BASE_URL: string; OPENAI_API_KEY: string}

export default class EnvCommand extends BaseCommand {
  static override description = 'OPENAI_BASE_URL is the running daemon\'s address (or the configured one); OPENAI_API_KEY is gptconv\'s local client key — not an upstream key. OPENAI_API_BASE is set too, for the old 0.x Python SDK.'
  static override examples = [
    {command: 'eval "$(<%= config.bin %> <%= command.id %>)"', description: 'Point every OpenAI SDK in this shell at gptconv'},
    {command: '<%= config.bin %> <%= command.id %> --json', description: '{OPENAI_BASE_URL, OPENAI_API_KEY}'},
  ]

  static override summary = 'Print shell exports for OpenAI clients.'

  public async run(): Promise<Env> {
    await this.parse(EnvCommand)
    const ctx = this.context()
    const {server} = ctx.config.read()
    const running = await runningDaemon(ctx)
    const url = running?.info.url ?? apiUrl(clientOrigin(ctx.env.GPTCONV_HOST ?? server.host, Number(ctx.env.GPTCONV_PORT ?? server.port)), server.apiPrefix)
    const key = (await clientKey(ctx, {create: true}))!
    this.log(`export OPENAI_BASE_URL='${url}' OPENAI_API_BASE='${url}' OPENAI_API_KEY='${key}'`)
    return {OPENAI_BASE_URL: url, OPENAI_API_KEY: key}
  }
}
