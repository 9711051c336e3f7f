import {Errors, type Hook} from '@oclif/core'

/**
 * oclif reads the words after a command without arguments as part of its name (`gptconv
 * status extra` looks for a command "status extra"), and words that name no command at all
 * end here too. Both are usage errors: exit 2, the error as JSON on stdout with --json.
 */
const hook: Hook<'command_not_found'> = async function ({argv = [], id}) {
  const words = id.split(':')
  let message = `"${words.join(' ')}" is not a gptconv command.`
  let hint = 'Run `gptconv --help` for the list of commands.'
  for (let n = words.length - 1; n > 0; n--) {
    const command = words.slice(0, n).join(' ')
    if (!this.config.findCommand(words.slice(0, n).join(':'))) continue
    message = `Unexpected argument: ${words.slice(n).join(' ')}`
    hint = `\`gptconv ${command}\` takes no arguments; see \`gptconv ${command} --help\`.`
    break
  }

  if (argv.includes('--json')) {
    process.stdout.write(`${JSON.stringify({error: {message, code: 'GPTCONV_USAGE', hint, exit: 2}}, null, 2)}\n`)
    this.exit(2)
  }

  throw new Errors.CLIError(message, {exit: 2, suggestions: [hint]})
}

export default hook
