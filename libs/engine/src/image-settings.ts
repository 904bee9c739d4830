/**
 * Hostname=, Locale=, Timezone= and RootPassword=, written the way systemd (and Debian's tools)
 * read them, after the post-installation scripts as mkosi does.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BuildError } from './errors';
import { cfg, type BuildContext } from './context';
import { run } from './exec';

function write(root: string, rel: string, text: string, mode = 0o644): void {
  const p = path.join(root, rel);
  fs.mkdirSync(path.dirname(p), { recursive: true });
  // Replace, never write through, a symlink the image may have there.
  fs.rmSync(p, { force: true });
  fs.writeFileSync(p, text, { mode });
}

export async function applyImageSettings(ctx: BuildContext): Promise<void> {
  const root = ctx.root;
  const hostname = cfg(ctx, 'Hostname');
  if (hostname) write(root, 'etc/hostname', `${hostname}\n`);

  const locale = cfg(ctx, 'Locale');
  if (locale) {
    write(root, 'etc/locale.conf', `LANG=${locale}\n`);
    if (fs.existsSync(path.join(root, 'etc/default'))) write(root, 'etc/default/locale', `LANG=${locale}\n`);
  }

  const timezone = cfg(ctx, 'Timezone');
  if (timezone) {
    const zone = path.join(root, 'usr/share/zoneinfo', timezone);
    if (!fs.existsSync(zone) && timezone !== 'UTC') {
      throw new BuildError(`Timezone=${timezone}: /usr/share/zoneinfo/${timezone} is not in the image (add tzdata to Packages=, or check the zone name)`, ctx.preset.name);
    }
    const localtime = path.join(root, 'etc/localtime');
    fs.rmSync(localtime, { force: true });
    fs.symlinkSync(`../usr/share/zoneinfo/${timezone}`, localtime);
    if (fs.existsSync(path.join(root, 'etc/timezone'))) write(root, 'etc/timezone', `${timezone}\n`);
  }

  const password = cfg(ctx, 'RootPassword');
  if (password) await setRootPassword(ctx, password);
}

/**
 * Puts root's password hash into /etc/shadow. A plain password is hashed with SHA-512 crypt and a
 * salt derived from the image and the password, so that the build stays reproducible.
 */
async function setRootPassword(ctx: BuildContext, password: string): Promise<void> {
  const shadow = path.join(ctx.root, 'etc/shadow');
  if (!fs.existsSync(path.join(ctx.root, 'etc/passwd'))) {
    throw new BuildError('RootPassword= needs /etc/passwd in the image (the base-passwd package provides it)', ctx.preset.name);
  }
  // Minimal images (the essential set) have no shadow file yet: glibc reads one if it exists.
  if (!fs.existsSync(shadow)) fs.writeFileSync(shadow, 'root:*:0:0:99999:7:::\n', { mode: 0o600 });
  let hash: string;
  if (password.startsWith('hashed:')) {
    hash = password.slice('hashed:'.length);
  } else {
    const salt = createHash('sha256').update(`${ctx.preset.name}\0${password}`).digest('base64').replace(/[^A-Za-z0-9./]/g, '').slice(0, 16);
    hash = await run({ ...ctx, log: () => undefined }, 'openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: password, step: 'hashing RootPassword=' });
  }
  const days = Math.floor(ctx.sourceDateEpoch / 86400);
  const lines = fs.readFileSync(shadow, 'utf8').split('\n').map((l) => {
    const f = l.split(':');
    if (f[0] !== 'root') return l;
    f[1] = hash.trim();
    f[2] = String(days);
    return f.join(':');
  });
  if (!lines.some((l) => l.startsWith('root:'))) lines.unshift(`root:${hash.trim()}:${days}:0:99999:7:::`);
  fs.writeFileSync(shadow, lines.join('\n'));
}
