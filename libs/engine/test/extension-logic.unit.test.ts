/**
 * The logic of extension images that needs no build: the extension-release text (mkosi 26's
 * rules), the repart definitions per format and verity plan, Verity='s plan from the settings,
 * and the repart seed.
 */
import type { BuildContext } from '../src/context';
import { checkExtension, extensionDefinitions, EXTENSION_DIRS } from '../src/outputs/extension';
import { extensionPartitionTypes, extensionVerity } from '@kiln/config';
import { extensionRelease, extensionReleasePath, parseEnvFile } from '../src/outputs/extension-release';
import { verityPlan } from '../src/outputs/extension-verity';
import { repartSeed } from '../src/outputs/seed';

const ctx = (config: Record<string, unknown>, name = 'ext') =>
  ({ preset: { name, config: { Verity: 'auto', VerityKey: null, VerityCertificate: null, Seed: null, Output: name, ...config } } }) as unknown as BuildContext;

describe('extension-release', () => {
  const settings = { imageId: null, imageVersion: null, architecture: 'x86-64' };

  it('takes ID and VERSION_ID from os-release, and _any without one', () => {
    const os = parseEnvFile('PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n# a comment\n');
    expect(extensionRelease('sysext', [], os, settings)).toBe('ID=debian\nVERSION_ID=12\nSYSEXT_SCOPE=initrd system portable\nARCHITECTURE=x86-64\n');
    expect(extensionRelease('sysext', [], [], settings)).toBe('ID=_any\nSYSEXT_SCOPE=initrd system portable\nARCHITECTURE=x86-64\n');
  });

  it('keeps what a tree already wrote, and adds the CONFEXT_ keys of a confext with ImageId=/ImageVersion=', () => {
    const existing = parseEnvFile('ID=fedora\nCONFEXT_SCOPE=system\n');
    const os = parseEnvFile('ID=debian\nVERSION_ID=12\nCONFEXT_LEVEL=3\n');
    expect(extensionRelease('confext', existing, os, { imageId: 'app', imageVersion: '1.2', architecture: 'arm64' })).toBe(
      'ID=fedora\nCONFEXT_SCOPE=system\nCONFEXT_LEVEL=3\nVERSION_ID=12\nCONFEXT_ID=app\nCONFEXT_VERSION_ID=1.2\nARCHITECTURE=arm64\n',
    );
  });

  it('lives in /usr/lib for a sysext, /etc for a confext, nowhere for a portable image', () => {
    expect(extensionReleasePath('sysext', 'foo')).toBe('/usr/lib/extension-release.d/extension-release.foo');
    expect(extensionReleasePath('confext', 'foo')).toBe('/etc/extension-release.d/extension-release.foo');
    expect(extensionReleasePath('portable', 'foo')).toBeNull();
  });
});

describe('repart definitions of extension images', () => {
  it('copy only the directories of the format into an erofs root', () => {
    expect(EXTENSION_DIRS).toEqual({ sysext: ['usr', 'opt'], confext: ['etc'], portable: [''] });
    expect(extensionDefinitions(['usr'], 'none')).toEqual([['10-root.conf', '[Partition]\nType=root\nFormat=erofs\nCopyFiles=/usr/\nMinimize=best\n']]);
    expect(extensionDefinitions([''], 'none')[0][1]).toContain('CopyFiles=/\n');
  });

  it('add a verity hash partition, and a signature partition when signed', () => {
    const hash = extensionDefinitions(['usr', 'opt'], 'hash');
    expect(hash.map(([f]) => f)).toEqual(['10-root.conf', '20-root-verity.conf']);
    expect(hash[0][1]).toBe('[Partition]\nType=root\nFormat=erofs\nCopyFiles=/usr/\nCopyFiles=/opt/\nVerity=data\nVerityMatchKey=root\nMinimize=best\n');
    expect(hash[1][1]).toBe('[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=root\nMinimize=best\n');
    const signed = extensionDefinitions(['etc'], 'signed');
    expect(signed.map(([f]) => f)).toEqual(['10-root.conf', '20-root-verity.conf', '30-root-verity-sig.conf']);
    expect(signed[2][1]).toBe('[Partition]\nType=root-verity-sig\nVerity=signature\nVerityMatchKey=root\n');
  });
});

describe('Verity=', () => {
  const both = { VerityKey: '/k.pem', VerityCertificate: '/c.crt' };
  it('a key or certificate that does not exist is read (as mkosi), and refused before the build that signs with it', () => {
    const c = ctx({ Format: 'sysext', Packages: [], BaseTrees: [], Overlay: false, VerityKey: 'mkosi.key', VerityCertificate: 'mkosi.crt' });
    expect(() => checkExtension(c)).toThrow(/^ext: VerityKey=mkosi\.key: no such file, and the signed verity partition needs it/);
    expect(() => checkExtension(ctx({ Format: 'sysext', Packages: [], BaseTrees: [], Overlay: false, VerityKey: 'mkosi.key', VerityCertificate: 'mkosi.crt', Verity: 'hash' }))).not.toThrow();
  });
  it('auto signs with a key and certificate, and is unsigned (no verity) with neither', () => {
    expect(verityPlan(ctx(both))).toEqual({ kind: 'signed', key: '/k.pem', certificate: '/c.crt' });
    expect(verityPlan(ctx({}))).toEqual({ kind: 'none' });
  });
  it('hash, disabled and defer ignore the key; the registry decides as the engine does (it names the split partitions)', () => {
    expect(verityPlan(ctx({ ...both, Verity: 'hash' }))).toEqual({ kind: 'hash' });
    expect(verityPlan(ctx({ ...both, Verity: 'disabled' }))).toEqual({ kind: 'none' });
    expect(verityPlan(ctx({ Verity: 'defer' }))).toEqual({ kind: 'defer' });
    for (const c of [both, {}, { ...both, Verity: 'hash' }, { ...both, Verity: 'disabled' }, { Verity: 'defer' }, { ...both, Verity: 'signed' }]) {
      expect(extensionVerity(c as Record<string, unknown>)).toBe((verityPlan(ctx(c)) as { kind: string }).kind);
    }
    expect(extensionPartitionTypes('defer')).toEqual(['root', 'root-verity', 'root-verity-sig']);
    const defer = extensionDefinitions(['usr'], 'defer');
    expect(defer.map(([f]) => f)).toEqual(['10-root.conf', '20-root-verity.conf', '30-root-verity-sig.conf']);
    expect(defer[2][1]).toBe('[Partition]\nType=root-verity-sig\nSizeMinBytes=16K\nSizeMaxBytes=16K\n');
  });
  it('one of the key and certificate without the other, and signed without them, are errors naming the settings', () => {
    expect(verityPlan(ctx({ VerityKey: '/k.pem' }))).toEqual({ error: expect.stringMatching(/^VerityKey= is set but VerityCertificate= is not/) });
    expect(verityPlan(ctx({ VerityCertificate: '/c.crt' }))).toEqual({ error: expect.stringMatching(/^VerityCertificate= is set but VerityKey= is not/) });
    expect(verityPlan(ctx({ Verity: 'signed', VerityKey: '/k.pem' }))).toEqual({ error: expect.stringMatching(/and VerityCertificate= is not set: set them/) });
  });
});

describe('the repart seed', () => {
  it('is Seed= when set, else a fixed UUID of the preset and its output', () => {
    expect(repartSeed(ctx({ Seed: '0e9a6fe0-68f6-408c-bbeb-136054d20445' }))).toBe('0e9a6fe0-68f6-408c-bbeb-136054d20445');
    expect(repartSeed(ctx({ Seed: 'random' }))).toBe('random');
    const a = repartSeed(ctx({}, 'a'));
    expect(a).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(repartSeed(ctx({}, 'a'))).toBe(a);
    expect(repartSeed(ctx({}, 'b'))).not.toBe(a);
  });
});
