import {Flags} from '@oclif/core'
import {createReadStream, existsSync, statSync, watchFile} from 'node:fs'
import {createInterface} from 'node:readline'

import {BaseCommand} from '../cli/base-command.js'
import {formatLogLine, printable} from '../daemon/logger.js'

export default class Logs extends BaseCommand {
  static override description =
    'The log of the background daemon (`serve --detach`), one line per request and per event; secrets never appear in it. With --json, the raw JSON lines.'
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %>', description: 'The last 50 lines'},
    {command: '<%= config.bin %> <%= command.id %> -f', description: 'Follow as it grows (Ctrl-C stops)'},
    {command: '<%= config.bin %> <%= command.id %> -n 500 --json', description: 'The last 500 lines as JSON lines'},
  ]

  static override flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new lines'}),
    lines: Flags.integer({char: 'n', description: 'how many of the last lines to print', default: 50, min: 0}),
  }

  static override summary = 'Print the daemon log.'

  public async run(): Promise<void> {
    const {flags} = await this.parse(Logs)
    const {log: path} = this.context().paths
    // formatLogLine escapes control characters; a JSON line has none (JSON escapes them), other lines get the same treatment
    const print = (line: string) =>
      line && process.stdout.write((this.jsonEnabled() ? printable(line) : formatLogLine(line)) + '\n')
    let offset = 0
    if (existsSync(path)) {
      const lines: string[] = []
      for await (const line of createInterface({
        input: createReadStream(path, {encoding: 'utf8'}),
        crlfDelay: Infinity,
      })) {
        lines.push(line)
        if (lines.length > flags.lines) lines.shift()
      }

      for (const line of lines) print(line)
      offset = statSync(path).size
    } else if (!flags.follow) {
      this.logToStderr(`No log yet at ${path} (only a daemon started with \`gptconv serve --detach\` writes it).`)
    }

    if (!flags.follow) return
    // follows until a signal ends the command (base-command.ts)
    let partial = ''
    watchFile(path, {interval: 250}, (current) => {
      if (current.size < offset) offset = 0 // rotated or truncated
      if (current.size === offset) return
      const stream = createReadStream(path, {encoding: 'utf8', start: offset, end: current.size - 1})
      offset = current.size
      stream.on('data', (chunk) => {
        const text = partial + String(chunk)
        const parts = text.split('\n')
        partial = parts.pop() ?? ''
        for (const line of parts) print(line)
      })
    })
    await new Promise<never>(() => {})
  }
}
