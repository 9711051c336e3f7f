import {createContext} from '../core/context.js'
import {type DaemonInfo, apiUrl, clientOrigin, removeDaemonFile, writeDaemonFile} from '../core/daemon-file.js'
import {GptconvError, errorMessage} from '../core/errors.js'
import type {LogLevel} from '../core/config.js'
import {listenAddress} from '../core/net.js'
import {createLogger} from './logger.js'
import {remoteWarning} from './exposure.js'
import {VERSION, startDaemon} from './server.js'

/**
 * The daemon process. `gptconv serve` starts it (as a child on the same terminal, or
 * detached with --detach) so that it runs without the CLI framework loaded and with V8
 * flags chosen for many concurrent streams (see DAEMON_NODE_FLAGS). Options arrive as
 * JSON in GPTCONV_DAEMON_OPTIONS; the state directory and stores come from the usual
 * environment.
 */
export type DaemonLaunch = {
  host?: string
  port?: number
  demo?: boolean
  logLevel?: LogLevel
  logFile?: string
  banner?: boolean
  /** how the user runs the CLI from where they are (`gptconv`, or `./bin/run.js` before `npm link`), for the banner's commands */
  invocation?: string
  /** listen beyond loopback (`serve --allow-remote`) */
  allowRemote?: boolean
}

async function main(): Promise<void> {
  const options = JSON.parse(process.env.GPTCONV_DAEMON_OPTIONS ?? '{}') as DaemonLaunch
  const ctx = createContext()
  const settings = ctx.config.read()
  const log = createLogger({
    level: options.logLevel ?? settings.logLevel,
    file: options.logFile,
    pretty: !options.logFile && process.stdout.isTTY,
  })
  const daemon = await startDaemon({
    ctx: {...ctx, warn: (m) => log.warn(m)},
    log,
    host: options.host,
    port: options.port,
    demo: options.demo,
    allowRemote: options.allowRemote,
  })
  const origin = clientOrigin(daemon.host, daemon.port)
  const listen = listenAddress(daemon.host, daemon.port)
  const info: DaemonInfo = {
    pid: process.pid,
    origin,
    url: apiUrl(origin, settings.server.apiPrefix),
    host: daemon.host,
    port: daemon.port,
    listen,
    remote: daemon.remote,
    apiPrefix: settings.server.apiPrefix,
    startedAt: new Date().toISOString(),
    version: VERSION,
    demo: Boolean(options.demo),
    ...(options.logFile && {logFile: options.logFile}),
  }
  await writeDaemonFile(ctx, info)
  log.info(
    {url: info.url, listen, remote: daemon.remote, tokens: daemon.state.registry.tokens.length, demo: info.demo},
    'gptconv listening',
  )
  if (options.banner)
    process.stderr.write(banner(info, daemon.state.registry.tokens.length, options.invocation ?? 'gptconv'))

  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({signal}, 'shutting down: letting open requests finish')
    daemon
      .close()
      .catch((error: unknown) => log.error({err: errorMessage(error)}, 'error while closing'))
      .finally(() => {
        removeDaemonFile(ctx, process.pid)
        log.info('stopped')
        log.flush()
        process.exitCode = 0
      })
  }

  // `on`, not `once`: signal-exit (loaded by proper-lockfile) re-raises a signal when no other listener is left
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
}

/** What to run next, spelled the way the user ran the CLI: `./bin/run.js …` until `gptconv` is on PATH. */
function banner(info: DaemonInfo, tokens: number, cli: string): string {
  const lines = [
    `● gptconv ${VERSION} listening on ${info.url}${info.demo ? ' with the offline demo upstream' : ''} — ${tokens} token${tokens === 1 ? '' : 's'}`,
    info.remote ? `  ⚠ WARNING: ${remoteWarning(info.listen ?? info.host)}` : '',
    tokens === 0
      ? `  No tokens yet: add one with \`printf %s "$KEY" | ${cli} tokens add LABEL --kind api-key\`, or restart with --demo.`
      : '',
    `  Point clients at it (in another terminal${cli.startsWith('./') ? `, from ${process.cwd()}` : ''}):`,
    `    eval "$(${cli} env)"`,
    `    curl -s $OPENAI_BASE_URL/chat/completions -H "Authorization: Bearer $OPENAI_API_KEY" -H 'content-type: application/json' \\`,
    `      -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}'`,
    cli === 'gptconv' ? '' : '  (`npm link` in the repository puts `gptconv` on your PATH.)',
    '  Ctrl-C stops it.',
  ]
  return lines.filter(Boolean).join('\n') + '\n'
}

main().catch((error: unknown) => {
  // what went wrong, for the serve command (foreground: the terminal; --detach: the log it shows)
  const message =
    error instanceof GptconvError
      ? `${error.message}${error.hint ? `\n  Try this: ${error.hint}` : ''}`
      : (error as NodeJS.ErrnoException).code === 'EADDRINUSE'
        ? `The address is in use: ${errorMessage(error)}. Pick another with --port.`
        : errorMessage(error)
  process.stderr.write(`gptconv daemon: ${message}\n`)
  process.exit(1)
})
