import {Errors, type Hook, type Interfaces, toConfiguredId} from '@oclif/core'
import didYouMean from '@oclif/plugin-not-found'

import {type ErrorReport, describeError, renderError} from '../cli/errors.js'
import {type Suggestion, suggestCommand} from '../cli/suggest.js'
import {UsageError} from '../core/errors.js'

/**
 * oclif reads the words after a command without arguments as part of its name (`gptconv
 * status extra` looks for a command "status extra"), and words that name no command at all
 * end here too. Both are usage errors: exit 2, the error as JSON on stdout with --json.
 *
 * A typo gets a suggestion. On an interactive terminal (and without --json) oclif's own
 * plugin-not-found asks "Did you mean …?" and runs the command on yes; it is called from
 * here rather than registered as a plugin, because oclif runs every plugin's hook at once
 * and it would also prompt for the extra-argument case handled above.
 */
const hook: Hook<'command_not_found'> = async function (options) {
  const {argv = [], id} = options
  const json = argv.includes('--json')
  const words = id.split(':')
  const extra = extraArguments(this.config, words)
  if (extra) fail(extra, json)
  const suggestion = suggestCommand(this.config, words)
  if (suggestion && !json && process.stdin.isTTY && process.stderr.isTTY) {
    const declined = new Error('declined')
    const context = {
      ...this,
      warn() {},
      error(): never {
        throw declined
      },
    }
    try {
      return await didYouMean.call(context, options)
    } catch (error) {
      if (error !== declined) throw error
    }
  }

  fail(notACommand(this.config, words, suggestion), json)
}

/** `status extra`: a command, then words it does not take. */
function extraArguments(config: Interfaces.Config, words: string[]): UsageError | undefined {
  for (let n = words.length - 1; n > 0; n--) {
    if (!config.findCommand(words.slice(0, n).join(':'))) continue
    const command = words.slice(0, n).join(' ')
    const rest = words.slice(n)
    return new UsageError(`Unexpected argument${rest.length > 1 ? 's' : ''}: ${rest.join(' ')}`, {
      hint: `\`gptconv ${command}\` takes no arguments; see \`gptconv ${command} --help\`.`,
    })
  }

  return undefined
}

function notACommand(config: Interfaces.Config, words: string[], suggestion: Suggestion | undefined): UsageError {
  const topic = config.findTopic(words[0]) ? words[0] : undefined
  const list = topic
    ? `Run \`gptconv ${topic} --help\` for its commands.`
    : 'Run `gptconv --help` for the list of commands.'
  const guess = suggestion
    ? `Did you mean \`gptconv ${[toConfiguredId(suggestion.id, config), ...suggestion.rest].join(' ')}\`? `
    : ''
  return new UsageError(`"${words.join(' ')}" is not a gptconv command.`, {hint: `${guess}${list}`})
}

function fail(error: UsageError, json: boolean): never {
  const report: ErrorReport = describeError(error, {bin: 'gptconv'})
  if (json) process.stdout.write(`${JSON.stringify({error: report}, null, 2)}\n`)
  else process.stderr.write(renderError(report))
  return Errors.exit(2)
}

export default hook
