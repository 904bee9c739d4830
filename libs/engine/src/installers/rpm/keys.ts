/**
 * The RPM family's signing keys, looked up where mkosi looks (distribution-gpg-keys,
 * /etc/pki/rpm-gpg) in the sandbox trees, then the tools tree or the host; and the architecture's
 * rpm name.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { architectureName } from '@kiln/config';
import { cfg, type BuildContext } from '../../context';
import { BuildError } from '../../errors';

export function rpmArch(ctx: BuildContext): string {
  const arch = cfg(ctx, 'Architecture');
  const a = architectureName(cfg(ctx, 'Distribution'), arch);
  if (!a) throw new BuildError(`Architecture=${arch} is not one ${cfg(ctx, 'Distribution')} is built for`, ctx.preset.name);
  return a;
}

/** A path inside the sandbox's view: the laid sandbox trees' (sandbox-trees.ts) when there are any, then the tools tree's or the host's (always last). */
export function sandboxCandidates(ctx: BuildContext, rel: string): string[] {
  return [...(ctx.sandboxTree ? [path.join(ctx.sandboxTree, rel)] : []), path.join(ctx.tools ?? '/', rel)];
}

/** The first file named NAME* in distribution-gpg-keys/<any>/ or /etc/pki/rpm-gpg/ of the sandbox's view. */
export function findKey(ctx: BuildContext, names: string[]): string | null {
  for (const name of names) {
    for (const base of ['usr/share/distribution-gpg-keys', 'etc/pki/rpm-gpg']) {
      for (const dir of sandboxCandidates(ctx, base)) {
        if (!fs.existsSync(dir)) continue;
        const dirs = base.startsWith('usr') ? fs.readdirSync(dir).map((d) => path.join(dir, d)).filter((d) => fs.statSync(d).isDirectory()) : [dir];
        for (const d of dirs.sort()) {
          const hit = fs.readdirSync(d).sort().find((f) => f.startsWith(name));
          if (hit) return path.join(d, hit);
        }
      }
    }
  }
  return null;
}

/** The key files of the layout, copied into `keysdir`: each found one's path there, or its URL with RepositoryKeyFetch=yes; else a BuildError saying where to put it. */
export function layoutKeys(ctx: BuildContext, keys: { names: string[]; url: string; optional?: boolean }[], keysdir: string): { file?: string; url: string }[] {
  const out: { file?: string; url: string }[] = [];
  for (const k of keys) {
    const found = findKey(ctx, k.names);
    if (found) {
      const copy = path.join(keysdir, path.basename(found));
      fs.copyFileSync(found, copy);
      // Names are prefixes (mkosi's NAME* too): RPM-GPG-KEY-openSUSE can find the -Tumbleweed key already taken.
      if (!out.some((o) => o.file === copy)) out.push({ file: copy, url: `file://${copy}` });
      continue;
    }
    if (k.optional) continue;
    if (cfg(ctx, 'RepositoryKeyFetch')) {
      out.push({ url: k.url });
      continue;
    }
    throw new BuildError(
      `${k.names[0]} is not in /usr/share/distribution-gpg-keys or /etc/pki/rpm-gpg of the sandbox trees or ${ctx.tools ? 'the tools tree' : 'this host'}: ` +
        'add the key with SandboxTrees= (at usr/share/distribution-gpg-keys/<distribution>/), install distribution-gpg-keys, or set RepositoryKeyFetch=yes to download it',
      ctx.preset.name,
    );
  }
  return out;
}
