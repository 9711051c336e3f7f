import {type ChildProcess, execFileSync, spawn, spawnSync} from 'node:child_process'
import {mkdirSync, mkdtempSync, rmSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'

export type PrivateKeyring = {
  /** env for child processes: the private bus, a throwaway keyring directory */
  env: Record<string, string>
  /** `secret-tool` on the private bus: its stdout and stderr (where it prints attributes) */
  secretTool: (...args: string[]) => string
  /** restart gnome-keyring on the same bus and keyring files; `unlock: false` leaves them locked */
  restart: (options?: {unlock?: boolean}) => Promise<void>
  stop: () => Promise<void>
}

function have(command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], {stdio: 'ignore'})
    return true
  } catch {
    return false
  }
}

/**
 * Reason to skip keychain tests on this machine, or undefined when they can run.
 * With GPTCONV_REQUIRE_KEYCHAIN=1 (CI) a missing tool is a failure, not a skip.
 */
export function keyringUnavailable(): string | undefined {
  if (process.platform !== 'linux') return 'keychain tests run on Linux only'
  const missing = ['dbus-daemon', 'gnome-keyring-daemon', 'secret-tool', 'dbus-send'].filter((c) => !have(c))
  if (missing.length === 0) return undefined
  const reason = `missing ${missing.join(', ')} (apt install gnome-keyring dbus dbus-x11 libsecret-tools)`
  if (process.env.GPTCONV_REQUIRE_KEYCHAIN === '1')
    throw new Error(`Keychain tests are required but cannot run: ${reason}`)
  return reason
}

/**
 * A Secret Service of the test's own: a private D-Bus session daemon and a gnome-keyring
 * unlocked with a throwaway password, keyrings in a temporary XDG_DATA_HOME. The
 * developer's own session bus and keyring are never contacted.
 */
export async function startPrivateKeyring(options: {unlock?: boolean} = {}): Promise<PrivateKeyring> {
  const root = mkdtempSync(join(tmpdir(), 'gptconv-keyring-'))
  const runtime = join(root, 'run')
  mkdirSync(runtime, {mode: 0o700})
  const base = {
    PATH: process.env.PATH ?? '/usr/bin:/bin',
    HOME: root,
    XDG_DATA_HOME: join(root, 'data'),
    XDG_RUNTIME_DIR: runtime,
  }
  const children: ChildProcess[] = []
  const stop = async () => {
    for (const child of children.reverse()) child.kill('SIGTERM')
    await sleep(50)
    rmSync(root, {recursive: true, force: true})
  }

  try {
    const bus = spawn('dbus-daemon', ['--session', '--nofork', '--nopidfile', '--print-address=1'], {
      env: base,
      stdio: ['ignore', 'pipe', 'ignore'],
    })
    children.push(bus)
    const address = await firstLine(bus, 5000)
    const env = {...base, DBUS_SESSION_BUS_ADDRESS: address}
    let keyring: ChildProcess | undefined
    const startKeyring = async (unlock = true) => {
      keyring = spawn(
        'gnome-keyring-daemon',
        ['--foreground', '--components=secrets', ...(unlock ? ['--unlock'] : [])],
        {env, stdio: ['pipe', 'ignore', 'ignore']},
      )
      children.push(keyring)
      keyring.stdin!.end(unlock ? 'gptconv-test-keyring' : '')
      await waitForName(env, 'org.freedesktop.secrets', true, 5000)
    }

    const restart = async (again: {unlock?: boolean} = {}) => {
      const old = keyring!
      const exited = new Promise((resolve) => old.once('exit', resolve))
      old.kill('SIGTERM')
      await exited
      children.splice(children.indexOf(old), 1)
      await waitForName(env, 'org.freedesktop.secrets', false, 5000)
      await startKeyring(again.unlock !== false)
    }

    await startKeyring(options.unlock !== false)
    const secretTool = (...args: string[]) => {
      const r = spawnSync('secret-tool', args, {env, encoding: 'utf8', timeout: 5000})
      return r.stdout + r.stderr
    }
    return {env, secretTool, restart, stop}
  } catch (error) {
    await stop()
    throw error
  }
}

function firstLine(child: ChildProcess, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffer = ''
    const timer = setTimeout(() => reject(new Error('dbus-daemon printed no address')), timeoutMs)
    child.stdout!.on('data', (chunk: Buffer) => {
      buffer += chunk.toString()
      const newline = buffer.indexOf('\n')
      if (newline !== -1) {
        clearTimeout(timer)
        resolve(buffer.slice(0, newline).trim())
      }
    })
    child.once('exit', () => reject(new Error('dbus-daemon exited')))
  })
}

async function waitForName(
  env: Record<string, string>,
  name: string,
  owned: boolean,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try {
      const out = execFileSync(
        'dbus-send',
        [
          '--session',
          '--print-reply',
          '--dest=org.freedesktop.DBus',
          '/org/freedesktop/DBus',
          'org.freedesktop.DBus.NameHasOwner',
          `string:${name}`,
        ],
        {env, encoding: 'utf8', timeout: 2000},
      )
      if (out.includes(`boolean ${owned}`)) return
    } catch {
      // bus not ready yet
    }

    await sleep(50)
  }

  throw new Error(`${name} did not ${owned ? 'appear on' : 'leave'} the private bus within ${timeoutMs} ms`)
}
