/** The built kiln CLI as a user runs it (npm test builds it first), for the CLI's own tests. */
import { spawn } from 'node:child_process';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '../../..');
const bin = path.join(repo, 'apps/kiln/dist/main.js');

export interface Result {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** `timeoutMs` bounds a run that must not hang (the corpus): past it kiln is killed (SIGKILL shows in the result). */
export function kiln(args: string[], opts: { cwd?: string; env?: Record<string, string>; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: opts.cwd ?? repo, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs, killSignal: 'SIGKILL' });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Starts kiln without waiting, for interrupting it (its own process group, so a kill reaches its tools). */
export function startKiln(args: string[], cwd: string, env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [bin, ...args], { cwd, detached: true, env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += d));
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<Result>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

/**
 * Runs the CLI with exactly `env` (nothing of the test's own environment) and the given umask,
 * which only a shell can set for a child, as the builder's login shell would.
 */
export function kilnIn(args: string[], opts: { cwd?: string; env: Record<string, string>; umask: string }): Promise<Result> {
  const child = spawn('/bin/sh', ['-c', `umask ${opts.umask} && exec "$0" "$@"`, process.execPath, bin, ...args], { cwd: opts.cwd ?? repo, env: opts.env });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (d) => (out.stdout += d));
  child.stderr.on('data', (d) => (out.stderr += d));
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, ...out })));
}
