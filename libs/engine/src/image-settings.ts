/**
 * Hostname=, Locale=, Timezone=, RootPassword= and MakeInitrd=, written the way systemd (and Debian's tools)
 * read them, after the post-installation scripts as mkosi does. Every path is resolved inside the
 * image (image-fs.ts): a link in the image never leads these writes onto the host.
 */
import { createHash } from 'node:crypto';
import { BuildError } from './errors';
import { cfg, type BuildContext } from './context';
import { run } from './exec';
import * as img from './image-fs';

/** Replaces, never writes through, a symlink the image may have there (as mkosi). */
function write(root: string, rel: string, text: string, mode = 0o644): void {
  img.writeFile(root, rel, text, { mode });
}

export async function applyImageSettings(ctx: BuildContext): Promise<void> {
  const root = ctx.root;
  const hostname = cfg(ctx, 'Hostname');
  if (hostname) write(root, 'etc/hostname', `${hostname}\n`);

  const locale = cfg(ctx, 'Locale');
  if (locale) {
    write(root, 'etc/locale.conf', `LANG=${locale}\n`);
    if (img.exists(root, 'etc/default')) write(root, 'etc/default/locale', `LANG=${locale}\n`);
  }

  const timezone = cfg(ctx, 'Timezone');
  if (timezone) {
    if (!img.exists(root, `usr/share/zoneinfo/${timezone}`) && timezone !== 'UTC') {
      throw new BuildError(`Timezone=${timezone}: /usr/share/zoneinfo/${timezone} is not in the image (add tzdata to Packages=, or check the zone name)`, ctx.preset.name);
    }
    img.symlink(root, 'etc/localtime', `../usr/share/zoneinfo/${timezone}`);
    if (img.exists(root, 'etc/timezone')) write(root, 'etc/timezone', `${timezone}\n`);
  }

  const password = cfg(ctx, 'RootPassword');
  if (password) await setRootPassword(ctx, password);
  configureInitrd(ctx);
}

/** Formats that hold part of a system, never a root the kernel or systemd starts from. */
const PARTIAL_FORMATS = new Set(['sysext', 'confext', 'portable', 'addon']);

/**
 * As mkosi: every image with systemd gets /init -> systemd, so that its cpio boots as an initrd
 * (the kernel runs /init); MakeInitrd=yes adds /etc/initrd-release, which tells systemd it runs in
 * an initrd (initrd.target, then switch-root into the root the command line names). Neither
 * replaces what the image already has there.
 */
function configureInitrd(ctx: BuildContext): void {
  const root = ctx.root;
  if (PARTIAL_FORMATS.has(cfg(ctx, 'Format'))) return;
  if (!img.lexists(root, 'init') && img.exists(root, 'usr/lib/systemd/systemd')) img.symlink(root, 'init', '/usr/lib/systemd/systemd');
  if (cfg(ctx, 'MakeInitrd') && !img.lexists(root, 'etc/initrd-release')) img.symlink(root, 'etc/initrd-release', '/etc/os-release');
}

/**
 * Puts root's password hash into /etc/shadow. A plain password is hashed with SHA-512 crypt and a
 * salt derived from the image and the password, so that the build stays reproducible.
 */
async function setRootPassword(ctx: BuildContext, password: string): Promise<void> {
  const root = ctx.root;
  if (!img.exists(root, 'etc/passwd')) {
    throw new BuildError('RootPassword= needs /etc/passwd in the image (the base-passwd package provides it)', ctx.preset.name);
  }
  // Minimal images (the essential set) have no shadow file yet: glibc reads one if it exists.
  // /etc/shadow is edited where the image has it (a link is followed inside the image, as passwd
  // run in the image would).
  if (!img.exists(root, 'etc/shadow')) img.writeFile(root, 'etc/shadow', 'root:*:0:0:99999:7:::\n', { mode: 0o600, follow: true });
  let hash: string;
  if (password.startsWith('hashed:')) {
    hash = password.slice('hashed:'.length);
  } else {
    const salt = createHash('sha256').update(`${ctx.preset.name}\0${password}`).digest('base64').replace(/[^A-Za-z0-9./]/g, '').slice(0, 16);
    hash = await run({ ...ctx, log: () => undefined }, 'openssl', ['passwd', '-6', '-salt', salt, '-stdin'], { input: password, step: 'hashing RootPassword=' });
  }
  const days = Math.floor(ctx.sourceDateEpoch / 86400);
  const lines = img.readFile(root, 'etc/shadow').split('\n').map((l) => {
    const f = l.split(':');
    if (f[0] !== 'root') return l;
    f[1] = hash.trim();
    f[2] = String(days);
    return f.join(':');
  });
  if (!lines.some((l) => l.startsWith('root:'))) lines.unshift(`root:${hash.trim()}:${days}:0:99999:7:::`);
  img.writeFile(root, 'etc/shadow', lines.join('\n'), { follow: true });
}
