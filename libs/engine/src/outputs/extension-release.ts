/**
 * The extension-release file systemd-sysext/-confext match an extension against the host with:
 * /usr/lib/extension-release.d/extension-release.NAME (sysext) or
 * /etc/extension-release.d/extension-release.NAME (confext), NAME being Output=. As mkosi 26
 * writes it: keys a tree already put there stay; ID= from the image's /usr/lib/os-release, or
 * _any (matches every host) when it has none; SYSEXT_LEVEL=/CONFEXT_LEVEL= and VERSION_ID= from
 * os-release when it has them; SYSEXT_ID=/SYSEXT_VERSION_ID= from ImageId=/ImageVersion=;
 * SYSEXT_SCOPE= "initrd system portable"; ARCHITECTURE= from Architecture=.
 * A portable image keeps its os-release and gets no extension-release.
 */
import * as fs from 'node:fs';
import { cfg, type BuildContext } from '../context';
import * as imageFs from '../image-fs';

/** KEY=VALUE lines of an os-release style file, in order (quotes removed; comments and blanks skipped). */
export function parseEnvFile(text: string): [string, string][] {
  const out: [string, string][] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    out.push([m[1], m[2].replace(/^"(.*)"$/, '$1').replace(/^'(.*)'$/, '$1')]);
  }
  return out;
}

/** The file's image path for a format, or null for one that has none (portable). */
export function extensionReleasePath(format: string, output: string): string | null {
  if (format === 'sysext') return `/usr/lib/extension-release.d/extension-release.${output}`;
  if (format === 'confext') return `/etc/extension-release.d/extension-release.${output}`;
  return null;
}

/** The file's text, from what the image already has and the preset's settings. */
export function extensionRelease(format: 'sysext' | 'confext', existing: [string, string][], osRelease: [string, string][], settings: { imageId: string | null; imageVersion: string | null; architecture: string }): string {
  const prefix = format === 'sysext' ? 'SYSEXT' : 'CONFEXT';
  const has = new Set(existing.map(([k]) => k));
  const os = new Map(osRelease);
  const lines = existing.map(([k, v]) => `${k}=${v}`);
  const add = (key: string, value: string | null | undefined) => {
    if (!has.has(key) && value) lines.push(`${key}=${value}`);
  };
  add('ID', os.get('ID') ?? '_any');
  add(`${prefix}_LEVEL`, os.get(`${prefix}_LEVEL`));
  add('VERSION_ID', os.get('VERSION_ID'));
  add(`${prefix}_ID`, settings.imageId);
  add(`${prefix}_VERSION_ID`, settings.imageVersion);
  add(`${prefix}_SCOPE`, 'initrd system portable');
  add('ARCHITECTURE', settings.architecture);
  return lines.join('\n') + '\n';
}

/**
 * The preset's extension-release: its image path and text, or null for a portable image. Read
 * before Overlay= prunes the root, which takes the base's os-release away (mkosi reads it
 * through the overlay, where the base is still seen).
 */
export function extensionReleaseOf(ctx: BuildContext): { file: string; text: string } | null {
  const format = cfg(ctx, 'Format');
  const file = extensionReleasePath(format, cfg(ctx, 'Output'));
  if (!file || (format !== 'sysext' && format !== 'confext')) return null;
  const read = (rel: string) => (imageFs.exists(ctx.root, rel) ? parseEnvFile(imageFs.readFile(ctx.root, rel)) : []);
  const text = extensionRelease(format, read(file), read('/usr/lib/os-release'), {
    imageId: cfg(ctx, 'ImageId'),
    imageVersion: cfg(ctx, 'ImageVersion'),
    architecture: cfg(ctx, 'Architecture'),
  });
  return { file, text };
}

/** Writes it into the image root (mtime SOURCE_DATE_EPOCH, as every other file). */
export function writeExtensionRelease(ctx: BuildContext, release: { file: string; text: string } | null): void {
  if (!release) return;
  imageFs.writeFile(ctx.root, release.file, release.text, { mode: 0o644 });
  const t = new Date(ctx.sourceDateEpoch * 1000);
  fs.utimesSync(imageFs.hostPath(ctx.root, release.file), t, t);
}
