import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {list} from '../../cli/flags.js'
import {
  AUTH_STYLES,
  type AuthStyle,
  LEGACY_MODES,
  type LegacyMode,
  PROTOCOLS,
  type Protocol,
  RESPONSES_MODES,
  type ResponsesMode,
} from '../../core/config.js'
import {CODEX_AUTH_URL, CODEX_BASE_URL, type UpstreamView, addUpstream, parseModelMap} from '../../core/upstreams.js'

export default class UpstreamsAdd extends BaseCommand {
  static override args = {
    name: Args.string({description: 'name of the upstream', required: true}),
  }

  static override description = `An upstream is an endpoint tokens belong to: any OpenAI-compatible server (protocol openai; base URL up to and including /v1), a ChatGPT-web reverse proxy (protocol chatgpt-web; base URL in front of /backend-api), or your own ChatGPT plan through the Codex backend (protocol codex; base URL ${CODEX_BASE_URL} and OAuth issuer ${CODEX_AUTH_URL} by default; sign in with \`gptconv login\`). The built-in "openai" upstream is https://api.openai.com/v1.`

  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> local --protocol openai --base-url http://127.0.0.1:8000/v1',
      description: 'A vLLM or llama.cpp server',
    },
    {
      command:
        '<%= config.bin %> <%= command.id %> oneapi --protocol openai --base-url https://oneapi.example.com/v1 --model-map gpt-4=gpt-4o',
      description: 'A reseller, sending gpt-4 requests on as gpt-4o',
    },
    {
      command:
        '<%= config.bin %> <%= command.id %> vllm --protocol openai --base-url http://127.0.0.1:8000/v1 --legacy passthrough',
      description: 'A server that still answers /v1/completions itself',
    },
    {
      command:
        '<%= config.bin %> <%= command.id %> azure --protocol openai --base-url https://example.openai.azure.com/openai/v1 --responses native',
      description: 'A server that serves the Responses API itself: passed through, not bridged',
    },
    {
      command: '<%= config.bin %> <%= command.id %> chatgpt --protocol codex',
      description: 'Your ChatGPT plan (then: gptconv login)',
    },
    {
      command:
        '<%= config.bin %> <%= command.id %> web --protocol chatgpt-web --base-url https://proxy.example.com --auth-url https://proxy.example.com/auth/refresh_token',
      description: 'A ChatGPT-web reverse proxy with a refresh endpoint',
    },
  ]

  static override flags = {
    'auth-style': Flags.string({
      description: 'refresh-token exchange style (default: from the --auth-url path: …/oauth/token is openai-auth)',
      options: [...AUTH_STYLES],
    }),
    'auth-url': Flags.string({
      description: `chatgpt-web: the full token endpoint for refresh-token exchange; codex: the OAuth issuer (default ${CODEX_AUTH_URL})`,
      helpValue: 'URL',
    }),
    'client-id': Flags.string({
      description: "OAuth client id for openai-auth refresh (default: the ChatGPT iOS app's)",
      helpValue: 'ID',
    }),
    'base-url': Flags.string({
      description: `base URL of the upstream (required, except for codex: default ${CODEX_BASE_URL})`,
      helpValue: 'URL',
    }),
    force: Flags.boolean({description: 'replace an existing upstream with the same name'}),
    legacy: Flags.string({
      description:
        'how /v1/completions reaches it: converted to chat (default), or passed through to an upstream that still serves it',
      options: [...LEGACY_MODES],
    }),
    responses: Flags.string({
      description:
        'how /v1/responses reaches it: passed through to an upstream that serves the Responses API itself (native; the default for api.openai.com), or bridged through chat (bridge; the default otherwise)',
      options: [...RESPONSES_MODES],
    }),
    'model-map': Flags.string({description: 'rename models on the way up: requested=upstream,…', helpValue: 'a=b,c=d'}),
    models: list({description: 'models this upstream serves (default: any model asked for)'}),
    'redirect-uri': Flags.string({
      description: "OAuth redirect URI for openai-auth refresh (default: the ChatGPT iOS app's)",
      helpValue: 'URI',
    }),
    protocol: Flags.string({description: 'wire protocol of the upstream', options: [...PROTOCOLS], required: true}),
  }

  static override summary = 'Add or replace an upstream endpoint.'

  public async run(): Promise<UpstreamView> {
    const {args, flags} = await this.parse(UpstreamsAdd)
    const upstream = await addUpstream(this.context(), {
      name: args.name,
      protocol: flags.protocol as Protocol,
      baseUrl: flags['base-url'],
      authUrl: flags['auth-url'],
      authStyle: flags['auth-style'] as AuthStyle | undefined,
      clientId: flags['client-id'],
      redirectUri: flags['redirect-uri'],
      modelMap: flags['model-map'] === undefined ? undefined : parseModelMap(flags['model-map']),
      models: flags.models,
      legacy: flags.legacy as LegacyMode | undefined,
      responses: flags.responses as ResponsesMode | undefined,
      force: flags.force,
    })
    this.log(
      `Upstream "${upstream.name}" (${upstream.protocol}) → ${upstream.baseUrl}${upstream.protocol === 'codex' ? `, signing in at ${upstream.authUrl}` : ''}`,
    )
    return upstream
  }
}
