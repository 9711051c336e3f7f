import chalk from 'chalk'

import {BaseCommand} from '../cli/base-command.js'
import {runningDaemon} from '../core/daemon-file.js'
import {GptconvError} from '../core/errors.js'
import {isLoopback, listenAddress} from '../core/net.js'

type Status = {
  running: boolean
  pid?: number
  url?: string
  listen?: string
  remote?: boolean
  version?: string
  uptime_s?: number
  tokens?: number
  usable?: number
  demo?: boolean
}

export default class Status_ extends BaseCommand {
  static override description =
    'Exits 0 when a daemon is running and healthy, 1 when not — so `gptconv status >/dev/null || gptconv serve --detach` works in scripts.'
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'Is it running, where, with how many usable tokens'},
    {
      command: '<%= config.bin %> <%= command.id %> --json',
      description: '{running, pid, url, listen, remote, version, uptime_s, tokens, usable}',
    },
  ]

  static override summary = 'Show whether the daemon is running.'

  public async run(): Promise<Status> {
    await this.parse(Status_)
    const running = await runningDaemon(this.context())
    if (!running) {
      if (this.jsonEnabled()) process.exitCode = 1
      else
        throw new GptconvError('GPTCONV_NOT_RUNNING', 'gptconv is not running.', {
          hint: 'Start it with `gptconv serve` (foreground) or `gptconv serve --detach`.',
        })
      return {running: false}
    }

    const {info, health} = running
    // where it really listens: the url is how this machine reaches it, which says nothing of 0.0.0.0
    const listen = info.listen ?? listenAddress(info.host, info.port)
    const remote = info.remote ?? !isLoopback(info.host)
    this.log(
      `${chalk.green('●')} running at ${info.url} (pid ${info.pid}, version ${health.version}, up ${health.uptime_s} s${info.demo ? ', demo' : ''}) — ${health.usable} of ${health.tokens} tokens usable`,
    )
    this.log(
      remote
        ? chalk.yellow(`  listening on ${listen}: beyond loopback, other machines can reach it`)
        : `  listening on ${listen} (loopback only)`,
    )
    return {
      running: true,
      pid: info.pid,
      url: info.url,
      listen,
      remote,
      version: health.version,
      uptime_s: health.uptime_s,
      tokens: health.tokens,
      usable: health.usable,
      demo: info.demo,
    }
  }
}
