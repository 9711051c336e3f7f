import {Args, Flags} from '@oclif/core'

import {BaseCommand} from '../cli/base-command.js'
import {type ChatAnswer, chatOnce} from '../cli/chat.js'
import {UsageError} from '../core/errors.js'

export default class Chat extends BaseCommand {
  static override args = {prompt: Args.string({description: 'what to ask (joined with stdin when both are given)'})}
  static override description =
    'The prompt comes from the argument and/or stdin (`git diff | gptconv chat "review this"`). The answer streams to stdout as it arrives, and nothing else goes there. Uses the running daemon, or the token pool in this process when none runs. With --session, the conversation is remembered (30 minutes after last use by default), also across invocations.'
  static override examples = [
    {command: 'echo "Say hi" | <%= config.bin %> <%= command.id %>', description: 'A one-off question from stdin'},
    {
      command: 'git diff | <%= config.bin %> <%= command.id %> "Review this change"',
      description: 'An instruction plus piped input',
    },
    {
      command:
        '<%= config.bin %> <%= command.id %> --session s1 "My name is Ada" && <%= config.bin %> <%= command.id %> --session s1 "What is my name?"',
      description: 'A conversation across invocations',
    },
    {
      command: '<%= config.bin %> <%= command.id %> "2+2?" --json',
      description: '{model, content, finish_reason, usage, session}',
    },
  ]

  static override flags = {
    model: Flags.string({char: 'm', description: 'model to ask (default: the defaultModel setting)'}),
    'no-stdin': Flags.boolean({description: 'do not read stdin even when it is not a terminal'}),
    'no-stream': Flags.boolean({description: 'print the answer once it is complete'}),
    reset: Flags.boolean({description: "forget the session's history first", dependsOn: ['session']}),
    session: Flags.string({char: 's', description: 'remember the conversation under this id'}),
    system: Flags.string({description: 'system message'}),
  }

  static override summary = 'Ask one question from the shell.'

  public async run(): Promise<ChatAnswer> {
    const {args, flags} = await this.parse(Chat)
    const piped = !flags['no-stdin'] && !process.stdin.isTTY ? await readAll() : ''
    const prompt = [args.prompt, piped.trimEnd()].filter(Boolean).join('\n\n')
    if (!prompt)
      throw new UsageError('Nothing to ask: give a prompt as an argument or on stdin.', {
        hint: 'gptconv chat "Hello" — or — echo Hello | gptconv chat',
      })
    const ctx = this.context()
    const stream = !flags['no-stream'] && !this.jsonEnabled()
    let last = ''
    const answer = await chatOnce(
      ctx,
      {
        prompt,
        model: flags.model ?? ctx.config.read().defaultModel,
        session: flags.session,
        system: flags.system,
        stream,
        reset: flags.reset,
      },
      (text) => {
        process.stdout.write(text)
        last = text
      },
    )
    if (!this.jsonEnabled()) {
      if (!stream) process.stdout.write(answer.content)
      const tail = stream ? last : answer.content
      if (!tail.endsWith('\n')) process.stdout.write('\n')
    }

    return answer
  }
}

async function readAll(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}
