import {Flags} from '@oclif/core'
import chalk from 'chalk'

import {BaseCommand} from '../cli/base-command.js'
import {startDetached} from '../cli/detach.js'
import {LOG_LEVELS, type LogLevel} from '../core/config.js'
import {type DaemonInfo, apiUrl, clientOrigin, removeDaemonFile, runningDaemon, writeDaemonFile} from '../core/daemon-file.js'
import {ConflictError, UsageError} from '../core/errors.js'
import {createLogger} from '../daemon/logger.js'
import {VERSION, startDaemon} from '../daemon/server.js'

export default class Serve extends BaseCommand {
  static override description = 'Exposes OpenAI-compatible endpoints on 127.0.0.1 backed by the pool of stored tokens. Every client sends the local client key (`eval "$(gptconv env)"` sets OPENAI_BASE_URL and OPENAI_API_KEY). Token and upstream changes made with the CLI reach a running daemon at once; SIGTERM lets open streams finish (pool.drainTimeoutMs), then exits 0.'

  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> --demo', description: 'Try it without an account: an offline demo upstream answers'},
    {command: '<%= config.bin %> <%= command.id %> --detach', description: 'In the background; `gptconv status`, `logs -f` and `stop` manage it'},
    {command: '<%= config.bin %> <%= command.id %> --port 0', description: 'On a free port (printed)'},
  ]

  static override flags = {
    demo: Flags.boolean({description: 'add an offline demo upstream that answers deterministically'}),
    detach: Flags.boolean({description: 'run in the background (pid and log files in the state directory); returns once it is healthy'}),
    host: Flags.string({description: 'address to listen on (default: server.host, 127.0.0.1)', env: 'GPTCONV_HOST'}),
    'log-file': Flags.string({description: 'write JSON log lines to this file (set by --detach)', hidden: true}),
    'log-level': Flags.string({description: 'log level (default: logLevel setting)', options: [...LOG_LEVELS]}),
    port: Flags.integer({description: 'port to listen on; 0 picks a free one (default: server.port, 8787)', env: 'GPTCONV_PORT', min: 0, max: 65_535}),
  }

  static override summary = 'Run the OpenAI-compatible daemon.'

  public async run(): Promise<DaemonInfo | void> {
    const {flags} = await this.parse(Serve)
    const ctx = this.context()
    const settings = ctx.config.read()
    const running = await runningDaemon(ctx)
    if (running) throw new ConflictError('GPTCONV_DAEMON_RUNNING', `gptconv is already running at ${running.info.url} (pid ${running.info.pid}).`, {hint: 'Stop it first with `gptconv stop`, or use `gptconv status`.'})
    if (flags.detach) {
      const args = this.argv.filter((a) => a !== '--detach' && a !== '--json')
      const info = await startDetached(ctx, args)
      this.log(`gptconv is running in the background at ${chalk.bold(info.url)} (pid ${info.pid}); logs: gptconv logs -f`)
      return info
    }

    if (flags['log-file'] === undefined && this.jsonEnabled()) throw new UsageError('--json needs --detach: in the foreground, serve prints logs, not one JSON document.')
    const level = (flags['log-level'] ?? settings.logLevel) as LogLevel
    const log = createLogger({level, file: flags['log-file'], pretty: process.stdout.isTTY})
    const daemon = await startDaemon({ctx: {...ctx, warn: (m) => log.warn(m)}, log, host: flags.host, port: flags.port, demo: flags.demo})
    const origin = clientOrigin(daemon.host, daemon.port)
    const info: DaemonInfo = {pid: process.pid, origin, url: apiUrl(origin, settings.server.apiPrefix), host: daemon.host, port: daemon.port, apiPrefix: settings.server.apiPrefix, startedAt: new Date().toISOString(), version: VERSION, demo: Boolean(flags.demo), ...(flags['log-file'] && {logFile: flags['log-file']})}
    await writeDaemonFile(ctx, info)
    log.info({url: info.url, tokens: daemon.state.registry.tokens.length, demo: info.demo}, 'gptconv listening')
    if (!flags['log-file']) this.banner(info, daemon.state.registry.tokens.length)

    await new Promise<void>((resolve) => {
      let stopping = false
      const stop = (signal: string) => {
        if (stopping) return
        stopping = true
        log.info({signal}, 'shutting down: letting open requests finish')
        const hold = setInterval(() => {}, 60_000) // the loop may run dry while closing; stay until the cleanup is done
        daemon
          .close()
          .finally(() => {
            removeDaemonFile(ctx, process.pid)
            log.info('stopped')
            log.flush()
            clearInterval(hold)
            resolve()
          })
      }

      // `on`, not `once`: signal-exit (loaded by proper-lockfile) re-raises a signal when no other listener is left
      process.on('SIGINT', () => stop('SIGINT'))
      process.on('SIGTERM', () => stop('SIGTERM'))
    })
  }

  banner(info: DaemonInfo, tokens: number): void {
    const lines = [
      `${chalk.green('●')} gptconv ${VERSION} listening on ${chalk.bold(info.url)}${info.demo ? ' with the offline demo upstream' : ''} — ${tokens} token${tokens === 1 ? '' : 's'}`,
      tokens === 0 ? chalk.yellow('  No tokens yet: add one with `gptconv tokens add LABEL --kind api-key`, or restart with --demo.') : '',
      '  Point clients at it (in another terminal):',
      '    eval "$(gptconv env)"',
      `    curl -s $OPENAI_BASE_URL/chat/completions -H "Authorization: Bearer $OPENAI_API_KEY" -H 'content-type: application/json' \\`,
      `      -d '{"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "Hello"}]}'`,
      '  Ctrl-C stops it.',
    ]
    process.stderr.write(lines.filter(Boolean).join('\n') + '\n')
  }
}
