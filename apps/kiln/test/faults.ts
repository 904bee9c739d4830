/**
 * The project and checks the fault suites share (faults.test.ts): smallProject with
 * Incremental=yes, scripts that block on FIFOs, a Format=directory preset; output snapshots,
 * mounts, and reaching a script by opening its FIFO.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { linkedPackageCache, smallProject, tempDir } from '../../../libs/engine/test/kiln';
import type { Result } from './run-kiln';

/** A FIFO script: blocks reading $SRCDIR/NAME while that FIFO exists. */
const hangingScript = (name: string, rest = '') => ({
  text: `#!/bin/sh\nif [ -p "$SRCDIR/${name}" ]; then cat "$SRCDIR/${name}" >/dev/null; fi\n${rest}`,
  mode: 0o755,
});

export function faultsProject(): string {
  const root = smallProject();
  const add = (rel: string, spec: string | { text: string; mode: number }) => {
    const p = path.join(root, rel);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (typeof spec === 'string') fs.writeFileSync(p, spec);
    else fs.writeFileSync(p, spec.text, { mode: spec.mode });
  };
  // The package cache is the project's own (kiln clean --all empties it), hard links to the warm
  // one's files; the layers are the project's own too (the runs' XDG_CACHE_HOME).
  const cache = linkedPackageCache('kiln-faults-cache-');
  add('mkosi.conf', `${fs.readFileSync(path.join(root, 'mkosi.conf'), 'utf8')}[Build]\nIncremental=yes\nPackageCacheDirectory=${cache}\n`);
  add('mkosi.extra/etc/extra-file', 'from the extra tree\n');
  add('mkosi.postinst', hangingScript('fifo-postinst'));
  add('mkosi.finalize', hangingScript('fifo-finalize', 'echo finalized > "$BUILDROOT/etc/finalized"\n'));
  // Incremental=no: its prepare script runs in every build (a layer would skip it).
  add('mkosi.images/tree/mkosi.conf', '[Output]\nFormat=directory\n[Content]\nBaseTrees=%O/initrd\n');
  // Its prepare script runs only when its layer is built (a cold layer cache); its
  // post-installation script in every build.
  add('mkosi.images/tree/mkosi.prepare', hangingScript('fifo-prepare'));
  add('mkosi.images/tree/mkosi.postinst', hangingScript('fifo-tree'));
  return root;
}

/** sha256 of each output file; a tree by every entry's path, type, mode, size, mtime and link target. */
export function snapshot(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const name of fs.readdirSync(out).filter((n) => !n.startsWith('.')).sort()) {
    const p = path.join(out, name);
    const hash = createHash('sha256');
    if (fs.lstatSync(p).isDirectory()) {
      const walk = (rel: string) => {
        const st = fs.lstatSync(path.join(p, rel));
        hash.update(`${rel}\t${st.mode}\t${st.uid}:${st.gid}\t${st.size}\t${st.mtimeMs}\t${st.isSymbolicLink() ? fs.readlinkSync(path.join(p, rel)) : ''}\n`);
        if (st.isDirectory()) for (const e of fs.readdirSync(path.join(p, rel)).sort()) walk(rel ? `${rel}/${e}` : e);
      };
      walk('');
    } else hash.update(fs.readFileSync(p));
    r[name] = hash.digest('hex');
  }
  return r;
}

/** Mount points at or below `dir` in this (the host's) mount namespace. */
export function mountsUnder(dir: string): string[] {
  return fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4] ?? '')
    .filter((m) => m === dir || m.startsWith(`${dir}/`));
}

/** Opens a FIFO's writing end: resolves once the script opened it for reading (the script is there). */
export async function scriptReached(fifo: string, done: Promise<Result>): Promise<fs.promises.FileHandle> {
  let finished = false;
  const exited = done.then((r) => {
    finished = true;
    // Unblocks our pending open (a reader appears), so that the failure below is reported.
    if (fs.existsSync(fifo)) fs.closeSync(fs.openSync(fifo, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK));
    return r;
  });
  const handle = await fs.promises.open(fifo, 'w');
  if (finished) {
    await handle.close();
    const r = await exited;
    throw new Error(`kiln exited (${r.code}) before reaching ${path.basename(fifo)}:\n${r.stderr}`);
  }
  return handle;
}

