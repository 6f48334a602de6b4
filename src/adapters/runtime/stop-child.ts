/**
 * Stopping a child process we started: SIGTERM, then SIGKILL if it is still there after a grace period, so
 * a teardown never hangs on a child that ignores the polite signal.
 */
import type { ChildProcess } from 'node:child_process'

const GRACE_MS = 3_000

export async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  child.kill('SIGTERM')
  const timer = setTimeout(() => child.kill('SIGKILL'), GRACE_MS)
  await exited
  clearTimeout(timer)
}
