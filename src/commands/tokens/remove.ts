import {Args} from '@oclif/core'

import {BaseCommand} from '../../cli/base-command.js'
import {removeTokens} from '../../core/tokens.js'

export default class TokensRemove extends BaseCommand {
  static override args = {
    labels: Args.string({description: 'labels of the tokens to remove', required: true}),
  }

  static override description =
    'Deletes the secret from the keychain (or secrets file), any cached access token, and the index entry.'
  static override examples = [
    {command: '<%= config.bin %> <%= command.id %> work', description: 'Remove one token'},
    {
      command: '<%= config.bin %> <%= command.id %> old1 old2 --json',
      description: 'Remove several; print {"removed": [...]}',
    },
  ]

  static override strict = false
  static override summary = 'Delete stored credentials.'

  public async run(): Promise<{removed: string[]}> {
    const {argv} = await this.parse(TokensRemove)
    const removed = await removeTokens(this.context(), argv as string[])
    this.log(`Removed ${removed.map((l) => `"${l}"`).join(', ')}.`)
    return {removed}
  }
}
