/**
 * The bookworm base the boot, extension and vm suites build on, so that each builds only the
 * format it tests: a small directory image (WithDocs=no, Bootable=no) with Debian's cloud kernel,
 * systemd, systemd-boot's EFI stubs and busybox-static (without Debian's initrd and the
 * translations), built once per machine with kiln's own
 * engine and shared (cached-tree.ts: where it is kept, its key, concurrent builds). A preset takes
 * it with BaseTrees=<testBase().archive> (the tar.zst kiln writes beside a directory image: what a
 * base tree's cache key hashes fastest); tests read its files in testBase().root.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { cachedTree } from './cached-tree';

export const TEST_BASE_CONFIG = [
  '[Distribution]',
  'Distribution=debian',
  'Release=bookworm',
  '[Output]',
  'Format=directory',
  'Output=base',
  '[Content]',
  'SourceDateEpoch=1700000000',
  'Bootable=no',
  'WithDocs=no',
  'Packages=linux-image-cloud-amd64,systemd,systemd-boot-efi,busybox-static',
  // What no suite reads, a fifth of the tree that every preset on it copies: initramfs-tools'
  // initrd (kiln's boot formats make their own) and the translations.
  'RemoveFiles=/boot/initrd.img-*,/usr/share/locale,/usr/share/i18n',
  '',
].join('\n');

export interface TestBase {
  /** The tree (a directory). */
  root: string;
  /** Its archive, root + '.tar.zst': what presets name in BaseTrees=. */
  archive: string;
  /** The kernel version installed (usr/lib/modules/KVER). */
  kver: string;
}

export async function testBase(): Promise<TestBase> {
  const root = await cachedTree({ kind: 'test-base', config: TEST_BASE_CONFIG, marker: 'usr/lib/systemd/boot/efi/linuxx64.efi.stub' });
  return { root, archive: `${root}.tar.zst`, kver: fs.readdirSync(path.join(root, 'usr/lib/modules'))[0] };
}
