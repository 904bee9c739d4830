/**
 * Portage's masking rules for binary packages (masks.ts), case by case as KeywordsManager.py and
 * getmaskingstatus.py decide them, and the CONFIG_PROTECT / COLLISION_IGNORE matching rules.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fnmatch } from '../src/installers/portage/collisions';
import { ConfigProtect, protectedName } from '../src/installers/portage/config-protect';
import { acceptedKeywords, maskReasons, profileChost, type MaskPolicy } from '../src/installers/portage/masks';
import { parsePackagesIndex, type BinPackage } from '../src/installers/portage/packages-index';

const bin = (fields: Record<string, string>): BinPackage =>
  parsePackagesIndex(`ARCH: amd64\n\n${Object.entries({ CPV: 'app-misc/x-1.0', PATH: 'app-misc/x/x-1.0.gpkg.tar', SIZE: '1', SHA1: '0'.repeat(40), ...fields }).map(([k, v]) => `${k}: ${v}`).join('\n')}\n`, 'file:///h', 'test').packages[0];
const policy = (accept: string[] = [], chost = 'x86_64-pc-linux-gnu'): MaskPolicy => ({ arch: 'amd64', acceptKeywords: accept, chost });
const reasons = (fields: Record<string, string>, accept: string[] = []) => maskReasons(bin({ EAPI: '8', ...fields }), policy(accept)).map((r) => r.reason);

describe('KEYWORDS against ACCEPT_KEYWORDS', () => {
  it.each([
    // [KEYWORDS, AcceptKeywords=, masked by]
    ['amd64', [], []],
    ['~amd64', [], ['~amd64 keyword']],
    ['~amd64', ['~amd64'], []],
    ['amd64', ['-*', '~amd64'], ['missing keyword']],
    ['~arm64', ['~amd64'], ['missing keyword']],
    ['~arm64', ['~*'], []],
    ['arm64', ['*'], []],
    ['~arm64', ['*'], ['missing keyword']],
    ['', ['~amd64'], ['missing keyword']],
    ['', ['**'], []],
    ['-amd64 ~arm64', [], ['-amd64 keyword']],
    ['*', [], []],
    ['~*', ['~amd64'], []],
    ['~*', [], ['missing keyword']],
    ['amd64', ['-amd64'], ['missing keyword']],
  ] as [string, string[], string[]][])('KEYWORDS="%s" with AcceptKeywords=%j: %j', (keywords, accept, want) => {
    expect(reasons(keywords ? { KEYWORDS: keywords } : {}, accept)).toEqual(want);
  });

  it('stacks incrementally on the profile\'s keyword', () => {
    expect([...acceptedKeywords(policy(['~amd64']))]).toEqual(['amd64', '~amd64']);
    expect([...acceptedKeywords(policy(['-*', '~amd64']))]).toEqual(['~amd64']);
    expect([...acceptedKeywords(policy(['-amd64', 'x86']))]).toEqual(['x86']);
  });
});

describe('EAPI and CHOST', () => {
  it('masks EAPIs portage does not support and the deprecated drafts, and says nothing else then', () => {
    for (const e of ['0', '5', '8', '9']) expect(reasons({ EAPI: e, KEYWORDS: 'amd64' })).toEqual([]);
    expect(reasons({ EAPI: '10', KEYWORDS: '~amd64' })).toEqual(['EAPI 10']);
    expect(reasons({ EAPI: '5_pre1', KEYWORDS: 'amd64' })).toEqual(['EAPI 5_pre1']);
    expect(reasons({ EAPI: 'eight', KEYWORDS: 'amd64' })).toEqual(['EAPI eight']);
  });

  it('masks another CHOST than the profile\'s, alongside the keyword mask', () => {
    expect(reasons({ KEYWORDS: '~amd64', CHOST: 'x86_64-pc-linux-musl' })).toEqual(['CHOST: x86_64-pc-linux-musl', '~amd64 keyword']);
    expect(reasons({ KEYWORDS: 'amd64', CHOST: 'x86_64-pc-linux-gnu' })).toEqual([]);
  });

  it("knows the profiles' CHOSTs", () => {
    expect(profileChost('amd64', 'default/linux/amd64/23.0/systemd')).toBe('x86_64-pc-linux-gnu');
    expect(profileChost('amd64', 'default/linux/amd64/23.0/musl')).toBe('x86_64-pc-linux-musl');
    expect(profileChost('amd64', 'default/linux/amd64/23.0/x32/systemd')).toBe('x86_64-pc-linux-gnux32');
    expect(profileChost('arm64', 'default/linux/arm64/23.0/systemd')).toBe('aarch64-unknown-linux-gnu');
  });
});

describe('COLLISION_IGNORE patterns (Python fnmatch) and CONFIG_PROTECT paths', () => {
  it('fnmatch: * crosses "/", [..] and [!..] classes', () => {
    expect(fnmatch('/lib/modules/*', '/lib/modules/6.1/kernel/x.ko')).toBe(true);
    expect(fnmatch('*.py[co]', '/usr/lib/python3/x.pyc')).toBe(true);
    expect(fnmatch('*.py[!co]', '/usr/lib/python3/x.pyc')).toBe(false);
    expect(fnmatch('*$py.class', '/usr/share/jython/a$py.class')).toBe(true);
    expect(fnmatch('/usr/bin/hello', '/usr/bin/hello-again')).toBe(false);
  });

  it('a directory protects what is under it (not a sibling with the same prefix); the longest mask wins; a file entry is exact', () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-protect-'));
    try {
      for (const d of ['etc/env.d', 'etc/foo', 'usr/share/gnupg']) fs.mkdirSync(path.join(root, d), { recursive: true });
      const cp = new ConfigProtect(root, ['/etc', '/usr/share/gnupg/qualified.txt', '/etc/env.d/keep'], ['/etc/env.d']);
      expect(cp.isProtected('/etc/foo.conf')).toBe(true);
      expect(cp.isProtected('/etcetera/foo')).toBe(false);
      expect(cp.isProtected('/etc/env.d/50x')).toBe(false);
      expect(cp.isProtected('/usr/share/gnupg/qualified.txt')).toBe(true);
      expect(cp.isProtected('/usr/share/gnupg/other.txt')).toBe(false);
      // A longer CONFIG_PROTECT entry under a mask does not beat the mask (portage: mask length >= protect length).
      expect(cp.isProtected('/etc/env.d/keep')).toBe(true);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('._cfgNNNN_ names: the next number, or the last one when it already has the contents', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cfg-'));
    try {
      const real = path.join(dir, 'foo.conf');
      fs.writeFileSync(real, 'mine\n');
      expect(protectedName(real, 'x', null)).toBe(path.join(dir, '._cfg0000_foo.conf'));
      fs.writeFileSync(path.join(dir, '._cfg0003_foo.conf'), 'update\n');
      fs.writeFileSync(path.join(dir, '._cfg0001_bar.conf'), 'other file\n');
      expect(protectedName(real, 'x', null)).toBe(path.join(dir, '._cfg0004_foo.conf'));
      expect(protectedName(real, 'b5e8a2ba5c4c0ab5ed1da2e3a9c1b3b3', null)).toBe(path.join(dir, '._cfg0004_foo.conf'));
      const md5 = createHash('md5').update('update\n').digest('hex');
      expect(protectedName(real, md5, null)).toBe(path.join(dir, '._cfg0003_foo.conf'));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
