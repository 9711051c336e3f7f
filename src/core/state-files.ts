import {constants, fchmodSync, fstatSync, openSync} from 'node:fs'
import {writeFile} from 'atomically'

import {refuseSymlink, symlinkError} from './paths.js'

/**
 * Writing state files safely: never through a symbolic link, and readable by the owner
 * only. atomically (like conf) resolves links before it writes, so the link is refused
 * here first; appended files are opened with O_NOFOLLOW where the platform has it.
 */

/** Replace a state file atomically, mode 0600; a link in its place is refused. */
export async function writeStateFile(path: string, text: string): Promise<void> {
  refuseSymlink(path)
  await writeFile(path, text, {mode: 0o600})
}

// Windows has no O_NOFOLLOW (links there need privileges to make); lstat is checked instead
const NOFOLLOW = constants.O_NOFOLLOW ?? 0

/** Open a state file for appending (the ledger, the log): created 0600, a link refused, a mode open to others closed. */
export function openAppend(path: string): number {
  if (NOFOLLOW === 0) refuseSymlink(path)
  let fd: number
  try {
    fd = openSync(path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | NOFOLLOW, 0o600)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOOP') throw symlinkError(path)
    throw error
  }

  // an existing file keeps the mode it was made with: an old 0644 log is closed to others
  if (process.platform !== 'win32' && (fstatSync(fd).mode & 0o077) !== 0) fchmodSync(fd, 0o600)
  return fd
}
