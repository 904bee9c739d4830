/**
 * Runs an executable config file for its output (an executable mkosi.version gives ImageVersion=;
 * the config reader's ScriptRunner, file-values.ts in @kiln/config). mkosi 26 runs it as it
 * runs itself: in the config directory, with its own environment (LANG=C.UTF-8, no LC_*, HOME
 * and TERM defaulted), the host's network, and standard input from /dev/null. kiln runs it in its
 * sandbox (sandbox.ts): the host and the project read-only, a private /tmp it may write (TMPDIR
 * points there), its own PID and IPC namespaces, no capabilities, dying with kiln; so a version
 * script cannot change the project or anything else while the configuration is read. The network
 * stays, as mkosi gives it (a version may come from a server).
 *
 * Synchronous, as the reader is: reading a configuration is one synchronous pass.
 */
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { sandboxCommand, type Mount, type Sandbox } from './sandbox';

/** The most a version script may print: far beyond any version. */
const MAX_OUTPUT = 1024 * 1024;

/** mkosi's environment for the programs it runs (mkosi/run.py spawn), from the environment kiln runs in. */
export function scriptEnvironment(env: Record<string, string | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && k !== 'LANG' && !k.startsWith('LC_')) out[k] = v;
  out.LANG = 'C.UTF-8';
  out.TERM ??= 'vt220';
  out.HOME ??= '/';
  // The only place it can write.
  out.TMPDIR = '/tmp';
  return out;
}

/** The sandbox a config script runs in (see the module comment). */
export function configScriptSandbox(cwd: string, env: Record<string, string | undefined>): Sandbox {
  // The private /tmp hides the host's: a project under /tmp (and the checkout around it) is shown
  // again, read-only, by the top directory under /tmp holding it.
  const rel = path.relative('/tmp', path.resolve(cwd));
  const mounts: Mount[] = rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? [{ type: 'ro-bind', source: path.join('/tmp', rel.split(path.sep)[0]), target: path.join('/tmp', rel.split(path.sep)[0]) }] : [];
  // No capability kept: root could otherwise remount the read-only host writable in its namespace.
  return { root: 'host', dev: 'minimal', env: scriptEnvironment(env), cwd, net: true, caps: [], mounts };
}

/** Runs `file` and returns its standard output; throws an Error naming the exit status and the last line of its standard error. */
export function runConfigScript(file: string, opts: { cwd: string; env: Record<string, string | undefined> }): string {
  const { file: bwrap, args } = sandboxCommand(configScriptSandbox(opts.cwd, opts.env), [file]);
  const r = spawnSync(bwrap, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: MAX_OUTPUT });
  if (r.error) {
    const code = (r.error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error('bwrap (bubblewrap), which kiln runs scripts in, is not installed (install bubblewrap)');
    if (code === 'ENOBUFS') throw new Error(`it printed more than ${MAX_OUTPUT / 1024} KiB`);
    throw new Error(r.error.message);
  }
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').pop()?.trim().replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 200);
    const how = r.status === null ? `killed by ${r.signal}` : `exit status ${r.status}`;
    throw new Error(`${how}${last ? ` (${last})` : ''}`);
  }
  return r.stdout;
}
