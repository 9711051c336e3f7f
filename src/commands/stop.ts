import {BaseCommand} from '../cli/base-command.js'
import {isAlive, readDaemonFile, removeDaemonFile, stopDaemon} from '../core/daemon-file.js'
import {GptconvError} from '../core/errors.js'

export default class Stop extends BaseCommand {
  static override description =
    'Sends SIGTERM and waits while the daemon lets open requests finish (pool.drainTimeoutMs).'
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'Stop the background daemon'},
  ]
  static override summary = 'Stop the daemon.'

  public async run(): Promise<{stopped: boolean; pid?: number}> {
    await this.parse(Stop)
    const ctx = this.context()
    const info = readDaemonFile(ctx)
    if (!info || !isAlive(info.pid)) {
      if (info) removeDaemonFile(ctx, info.pid)
      this.log('gptconv is not running.')
      return {stopped: false}
    }

    const {drainTimeoutMs} = ctx.config.read().pool
    if (!(await stopDaemon(info.pid, drainTimeoutMs + 5000))) {
      throw new GptconvError(
        'GPTCONV_STOP_FAILED',
        `The daemon (pid ${info.pid}) did not stop within ${(drainTimeoutMs + 5000) / 1000} s.`,
        {hint: `kill -9 ${info.pid}`},
      )
    }

    this.log(`Stopped gptconv (pid ${info.pid}).`)
    return {stopped: true, pid: info.pid}
  }
}
