/**
 * The identity of the host tools a build runs: a new mmdebstrap, apt or dpkg can change an image,
 * so their version lines are part of every preset's fingerprint and build manifest. Asking a
 * tool its version costs tens of milliseconds (mmdebstrap is Perl), too much for every `nx run`:
 * answers are remembered by the signature of the binary (inode, size, mtime), so an upgrade is
 * seen and an unchanged tool is never asked twice. Node builtins only.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readJsonCache, writeJsonCache } from './input-digest';
import { signature } from './probe';

/** The host tools the Debian engine runs, with the argument printing their version. */
export const HOST_TOOLS: readonly [string, string][] = [
  ['mmdebstrap', '--version'],
  ['apt-get', '--version'],
  ['dpkg', '--version'],
];

/** Where system tools live; dpkg refuses to run when ldconfig or start-stop-daemon are not on PATH. */
export const SYSTEM_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/**
 * The PATH every tool kiln runs is found on and gets: the system directories, never the
 * builder's PATH. A PATH that starts with a version manager's shims (pyenv, asdf) made every
 * `#!/usr/bin/env python3` that mmdebstrap runs per package go through a shim (measured: a cold
 * base build 45.9 s instead of 37.6 s; tools/bench/tool-path.js), and a tool found there is not
 * the one the fingerprint names. KILN_TOOLS_PATH (colon-separated directories) comes first when
 * set: the documented way to run other tools (tests inject a wrapper this way).
 */
export function toolPath(env: Record<string, string | undefined> = process.env): string {
  const extra = (env.KILN_TOOLS_PATH ?? '').split(':').filter((d) => d.startsWith('/'));
  return [...extra, SYSTEM_PATH].join(':');
}

/** The file `cmd` runs as, on the tools' PATH. */
export function which(cmd: string, env: Record<string, string | undefined> = process.env): string | null {
  for (const dir of toolPath(env).split(':')) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      if (fs.statSync(p).isFile()) return p;
    } catch {
      // not here
    }
  }
  return null;
}

function firstLine(file: string, arg: string): string {
  const r = spawnSync(file, [arg], { encoding: 'utf8', env: { PATH: toolPath(process.env), LC_ALL: 'C' }, timeout: 30_000 });
  if (r.error) return `unknown (${r.error.message})`;
  return (r.stdout || r.stderr).split('\n')[0].trim() || `unknown (exit code ${r.status})`;
}

/** name -> version line ("not installed" when absent), remembered in `cacheFile` when given. */
export function hostToolVersions(env: Record<string, string | undefined> = process.env, cacheFile?: string): Record<string, string> {
  const cache = (cacheFile && readJsonCache<Record<string, { sig: string; version: string }>>(cacheFile)) || {};
  let changed = false;
  const out: Record<string, string> = {};
  for (const [cmd, arg] of HOST_TOOLS) {
    const file = which(cmd, env);
    if (!file) {
      out[cmd] = 'not installed';
      continue;
    }
    const real = fs.realpathSync(file);
    const sig = `${real} ${signature(real)}`;
    const hit = cache[file];
    if (hit && hit.sig === sig) {
      out[cmd] = hit.version;
      continue;
    }
    out[cmd] = firstLine(file, arg);
    cache[file] = { sig, version: out[cmd] };
    changed = true;
  }
  if (cacheFile && changed) writeJsonCache(cacheFile, cache);
  return out;
}
