import {Flags} from '@oclif/core'
import chalk from 'chalk'

import {BaseCommand} from '../cli/base-command.js'
import {runForeground, startDetached} from '../cli/launch.js'
import {invocation, isHost} from '../cli/shell.js'
import {LOG_LEVELS, type LogLevel} from '../core/config.js'
import {type DaemonInfo, runningDaemon} from '../core/daemon-file.js'
import {ConflictError, UsageError} from '../core/errors.js'
import {ensureStateDir, refuseSymlinks} from '../core/paths.js'
import {refuseRemote, remoteWarning} from '../daemon/exposure.js'

export default class Serve extends BaseCommand {
  static override description =
    'Exposes OpenAI-compatible endpoints on 127.0.0.1 backed by the pool of stored tokens (another address needs --allow-remote). Every client sends the local client key (`eval "$(gptconv env)"` sets OPENAI_BASE_URL and OPENAI_API_KEY). Token and upstream changes made with the CLI reach a running daemon at once; SIGTERM lets open streams finish (pool.drainTimeoutMs), then exits 0.'

  static override examples = [
    {
      command: '<%= config.bin %> <%= command.id %> --demo',
      description: 'Try it without an account: an offline demo upstream answers',
    },
    {
      command: '<%= config.bin %> <%= command.id %> --detach',
      description: 'In the background; `gptconv status`, `logs -f` and `stop` manage it',
    },
    {command: '<%= config.bin %> <%= command.id %> --port 0', description: 'On a free port (printed)'},
  ]

  static override flags = {
    'allow-remote': Flags.boolean({
      description:
        'allow listening on an address other than loopback (0.0.0.0, a LAN address); see also server.allowRemote',
    }),
    demo: Flags.boolean({description: 'add an offline demo upstream that answers deterministically'}),
    detach: Flags.boolean({
      description: 'run in the background (pid and log files in the state directory); returns once it is healthy',
    }),
    host: Flags.string({description: 'address to listen on (default: server.host, 127.0.0.1)', env: 'GPTCONV_HOST'}),
    'log-level': Flags.string({description: 'log level (default: logLevel setting)', options: [...LOG_LEVELS]}),
    port: Flags.integer({
      description: 'port to listen on; 0 picks a free one (default: server.port, 8787)',
      env: 'GPTCONV_PORT',
      min: 0,
      max: 65_535,
    }),
  }

  static override summary = 'Run the OpenAI-compatible daemon.'

  public async run(): Promise<DaemonInfo | void> {
    const {flags} = await this.parse(Serve)
    const ctx = this.context()
    ctx.config.read() // a broken config stops us here, with the error naming the file
    // an unsafe state directory or a linked state file stops us here too, before the daemon starts
    ensureStateDir(ctx.paths.dir, (message) => this.warnUser(message))
    refuseSymlinks(ctx.paths)
    const running = await runningDaemon(ctx)
    if (running)
      throw new ConflictError(
        'GPTCONV_DAEMON_RUNNING',
        `gptconv is already running at ${running.info.url} (pid ${running.info.pid}).`,
        {hint: 'Stop it first with `gptconv stop`, or use `gptconv status`.'},
      )
    if (flags.host !== undefined && !isHost(flags.host))
      throw new UsageError(
        `--host (or GPTCONV_HOST) is ${JSON.stringify(flags.host)}, which is not a host name or an IP address.`,
        {hint: 'Listen on loopback with --host 127.0.0.1.'},
      )
    const {server} = ctx.config.read()
    refuseRemote(flags.host ?? server.host, flags['allow-remote'] || server.allowRemote)
    const options = {
      host: flags.host,
      port: flags.port,
      demo: flags.demo,
      allowRemote: flags['allow-remote'],
      logLevel: flags['log-level'] as LogLevel | undefined,
      invocation: invocation(),
    }
    if (flags.detach) {
      const info = await startDetached(ctx, options)
      this.log(
        `gptconv is running in the background at ${chalk.bold(info.url)} (pid ${info.pid}); logs: ${options.invocation} logs -f`,
      )
      if (info.remote) this.warnUser(remoteWarning(info.listen ?? info.host))
      return info
    }

    if (this.jsonEnabled())
      throw new UsageError('--json needs --detach: in the foreground, serve prints logs, not one JSON document.')
    const code = await runForeground(options)
    if (code !== 0) this.exit(code) // the daemon said why on this terminal
  }
}
