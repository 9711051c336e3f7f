import {ConfigFile} from './config.js'
import {type Env, type StatePaths, statePaths} from './paths.js'

/** What every core use-case needs: the environment, where state lives, and how to warn. */
export type Context = {
  readonly env: Env
  readonly paths: StatePaths
  readonly config: ConfigFile
  readonly warn: (message: string) => void
}

export function createContext(options: {env?: Env; warn?: (message: string) => void} = {}): Context {
  const env = options.env ?? process.env
  const paths = statePaths(env)
  return {env, paths, config: new ConfigFile(paths.config), warn: options.warn ?? (() => {})}
}
