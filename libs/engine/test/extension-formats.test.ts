/**
 * Format=sysext, confext and portable, built for real: extension presets on the shared bookworm
 * test base (test-base.ts, BaseTrees=) with an extra tree,
 * written by systemd-repart from the test tools tree (ToolsTree=PATH): a signed sysext and a
 * hash-only confext of what they add (Overlay=yes), a signed portable image of the whole tree;
 * and an unsigned, compressed sysext of a plain directory (no packages, seconds). Each is built
 * twice and compared byte for byte; the partitions are read back with the tools tree's sfdisk,
 * veritysetup, openssl, zstd and fsck.erofs.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { hostTools, sandboxCommand } from '../src/sandbox';
import { buildIn, failure, removeTempDirs, sha256, tempDir, tempProject } from './kiln';
import { testBase } from './test-base';
import { testToolsTree } from './tools-tree';

// Partition type GUIDs of the Discoverable Partitions Specification (x86-64).
const ROOT = '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709';
const ROOT_VERITY = '2C7357ED-EBD2-46D9-AEC1-23D437EC2BF5';
const ROOT_VERITY_SIG = '41092B05-9FC8-4523-994F-2DEF0408B176';

let tools: string;
let project: string;
let out: string;
let scratch: string;
const firstBuild: Record<string, string> = {};

/** Runs a tool of the tools tree (as the engine does), with `dirs` writable; returns its stdout. */
function inTools(command: string[], dirs: string[] = [scratch, project].filter(Boolean)): string {
  const { file, args } = sandboxCommand(hostTools({ PATH: '/usr/bin:/usr/sbin', LC_ALL: 'C.UTF-8' }, dirs, tools), command);
  return execFileSync(file, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

interface Part {
  start: number;
  size: number;
  type: string;
  uuid: string;
  name: string;
}

function partitions(image: string): Part[] {
  return JSON.parse(inTools(['sfdisk', '--json', image], [scratch, path.dirname(image)])).partitiontable.partitions;
}

/** Copies a partition out of the image into the scratch directory (dd's job, in node). */
function extract(image: string, p: Part, name: string): string {
  const file = path.join(scratch, name);
  const fd = fs.openSync(image, 'r');
  const buf = Buffer.alloc(p.size * 512);
  fs.readSync(fd, buf, 0, buf.length, p.start * 512);
  fs.closeSync(fd);
  fs.writeFileSync(file, buf);
  return file;
}

/** The erofs partition's files, unpacked with fsck.erofs --extract. */
function erofsTree(image: string, name: string): string {
  const part = partitions(image).find((p) => p.type === ROOT)!;
  const fsImage = extract(image, part, `${name}.erofs`);
  const dir = path.join(scratch, `${name}.tree`);
  inTools(['fsck.erofs', `--extract=${dir}`, fsImage]);
  return dir;
}

/** The verity root hash systemd-repart gave the partitions: their UUIDs are its two halves. */
const rootHash = (data: Part, hash: Part) => (data.uuid + hash.uuid).replace(/-/g, '').toLowerCase();

function verifyVerity(image: string, name: string): string {
  const parts = partitions(image);
  const data = parts.find((p) => p.type === ROOT)!;
  const hash = parts.find((p) => p.type === ROOT_VERITY)!;
  const roothash = rootHash(data, hash);
  // veritysetup exits non-zero when a block does not match the hash tree.
  inTools(['veritysetup', 'verify', extract(image, data, `${name}.data`), extract(image, hash, `${name}.hash`), roothash]);
  return roothash;
}

const CONF = {
  'mkosi.conf': [
    '[Distribution]', 'Distribution=debian', 'Release=bookworm',
    '[Output]', 'ImageId=exttest', 'Format=none',
    '[Content]', 'SourceDateEpoch=1700000000', 'WithDocs=no',
    '[Validation]', 'VerityKey=verity.key', 'VerityCertificate=verity.crt',
    '[Build]', 'ToolsTree=@TOOLS@', '',
  ].join('\n'),
  // Signed (Verity=auto with the key and certificate), only what it adds to the base. Without the
  // base's kernel (as the other two): what is removed is not in an overlay, and not compared.
  'mkosi.images/sysext/mkosi.conf': '[Output]\nFormat=sysext\nOverlay=yes\nSplitArtifacts=partitions,roothash\n[Content]\nBaseTrees=@BASE@\nRemoveFiles=@NOKERNEL@\n',
  'mkosi.images/sysext/mkosi.extra/usr/share/kiln-ext/hello': 'hello from a system extension\n',
  'mkosi.images/sysext/mkosi.extra/opt/kiln/tool': 'an /opt file\n',
  // A hash partition, no signature.
  'mkosi.images/confext/mkosi.conf': '[Output]\nFormat=confext\nOverlay=yes\n[Content]\nBaseTrees=@BASE@\nRemoveFiles=@NOKERNEL@\n[Validation]\nVerity=hash\n',
  'mkosi.images/confext/mkosi.extra/etc/kiln-ext.conf': 'setting=1\n',
  'mkosi.images/confext/mkosi.extra/usr/share/not-in-a-confext': 'x\n',
  // The whole tree, signed; without the base's kernel, which a portable service has no use for.
  'mkosi.images/portable/mkosi.conf': '[Output]\nFormat=portable\n[Content]\nBaseTrees=@BASE@\nRemoveFiles=@NOKERNEL@\n',
  'mkosi.images/portable/mkosi.extra/usr/lib/systemd/system/kiln-portable.service': '[Service]\nExecStart=/bin/true\n',
};
const IMAGES = ['sysext', 'confext', 'portable'];


afterAll(removeTempDirs);

describe('extension images', () => {
  beforeAll(async () => {
    tools = await testToolsTree();
    const base = (await testBase()).archive;
    const files = Object.fromEntries(Object.entries(CONF).map(([f, text]) => [f, text.replace('@TOOLS@', tools).replace('@BASE@', base).replace('@NOKERNEL@', '/usr/lib/modules /boot/*')]));
    project = tempProject(files, 'ext');
    scratch = tempDir('kiln-ext-scratch-');
    out = path.join(project, 'mkosi.output');
    // A throwaway signing key and certificate, made now with the tools tree's openssl.
    inTools(['openssl', 'req', '-new', '-x509', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=kiln extension test', '-days', '3650',
      '-keyout', path.join(project, 'verity.key'), '-out', path.join(project, 'verity.crt')], [project]);
    const run = await buildIn(project);
    if (run.error) throw new Error(`${failure(run)}\n${run.log}`);
    for (const name of IMAGES) firstBuild[name] = sha256(path.join(out, `${name}.raw`));
  }, 1_800_000);

  it('are NAME.raw, uncompressed, and bit-identical when built again', async () => {
    for (const name of IMAGES) {
      const run = await buildIn(project, { preset: name, force: true, noDeps: true });
      expect(failure(run)).toBe('');
      expect([name, sha256(path.join(out, `${name}.raw`))]).toEqual([name, firstBuild[name]]);
    }
  }, 600_000);

  it('a signed sysext has root, verity and signature partitions; the hash tree verifies and the signature is the certificate\'s', () => {
    const image = path.join(out, 'sysext.raw');
    const parts = partitions(image);
    expect(parts.map((p) => [p.type, p.name])).toEqual([[ROOT, 'root-x86-64'], [ROOT_VERITY, 'root-x86-64-verity'], [ROOT_VERITY_SIG, 'root-x86-64-verity-sig']]);
    const roothash = verifyVerity(image, 'sysext');
    const sig = JSON.parse(fs.readFileSync(extract(image, parts[2], 'sysext.sig'), 'utf8').replace(/\0+$/, ''));
    expect(sig.rootHash).toBe(roothash);
    fs.writeFileSync(path.join(scratch, 'roothash'), sig.rootHash);
    fs.writeFileSync(path.join(scratch, 'sig.p7s'), Buffer.from(sig.signature, 'base64'));
    // A detached PKCS#7 signature of the root hash's text, by the test's certificate.
    inTools(['openssl', 'smime', '-verify', '-binary', '-inform', 'DER', '-in', path.join(scratch, 'sig.p7s'), '-content', path.join(scratch, 'roothash'),
      '-CAfile', path.join(project, 'verity.crt'), '-purpose', 'any', '-out', '/dev/null'], [scratch, project]);
    // A corrupted data block no longer verifies: the check above can fail. (Block 0: an extension
    // of a few files may be a single erofs block.)
    const data = path.join(scratch, 'sysext.data');
    const fd = fs.openSync(data, 'r+');
    fs.writeSync(fd, Buffer.from('corrupt'), 0, 7, 100);
    fs.closeSync(fd);
    expect(() => inTools(['veritysetup', 'verify', data, path.join(scratch, 'sysext.hash'), roothash])).toThrow();
  });

  it('a sysext holds only /usr and /opt, what it adds to its base (Overlay=yes), and its extension-release', () => {
    const tree = erofsTree(path.join(out, 'sysext.raw'), 'sysext');
    expect(fs.readdirSync(tree).sort()).toEqual(['opt', 'usr']);
    expect(fs.readFileSync(path.join(tree, 'usr/share/kiln-ext/hello'), 'utf8')).toBe('hello from a system extension\n');
    expect(fs.readFileSync(path.join(tree, 'opt/kiln/tool'), 'utf8')).toBe('an /opt file\n');
    // The base's files stay in the base.
    expect(fs.existsSync(path.join(tree, 'usr/bin/bash'))).toBe(false);
    const release = fs.readFileSync(path.join(tree, 'usr/lib/extension-release.d/extension-release.sysext'), 'utf8');
    expect(release.split('\n')).toEqual(['ID=debian', 'VERSION_ID=12', 'SYSEXT_ID=exttest', 'SYSEXT_SCOPE=initrd system portable', 'ARCHITECTURE=x86-64', '']);
  });

  it('a sysext splits out its partitions and root hash (SplitArtifacts=partitions,roothash): the image\'s partitions byte for byte, verifying with that hash', () => {
    const image = path.join(out, 'sysext.raw');
    const parts = partitions(image);
    const names = ['root-x86-64', 'root-x86-64-verity', 'root-x86-64-verity-sig'];
    parts.forEach((p, i) => expect([names[i], sha256(path.join(out, `sysext.${names[i]}.raw`))]).toEqual([names[i], sha256(extract(image, p, `sysext.part${i}`))]));
    const roothash = fs.readFileSync(path.join(out, 'sysext.roothash'), 'utf8');
    expect(roothash).toBe(rootHash(parts[0], parts[1]));
    inTools(['veritysetup', 'verify', path.join(out, 'sysext.root-x86-64.raw'), path.join(out, 'sysext.root-x86-64-verity.raw'), roothash], [scratch, project]);
    // The confext asked for none.
    expect(fs.readdirSync(out).filter((f) => f.startsWith('confext.'))).toEqual(['confext.manifest.json', 'confext.raw']);
  });

  it('a confext with Verity=hash has a hash partition and no signature, it verifies, and it holds only /etc and its extension-release', () => {
    const image = path.join(out, 'confext.raw');
    expect(partitions(image).map((p) => p.type)).toEqual([ROOT, ROOT_VERITY]);
    verifyVerity(image, 'confext');
    const tree = erofsTree(image, 'confext');
    expect(fs.readdirSync(tree)).toEqual(['etc']);
    expect(fs.readFileSync(path.join(tree, 'etc/kiln-ext.conf'), 'utf8')).toBe('setting=1\n');
    expect(fs.readFileSync(path.join(tree, 'etc/extension-release.d/extension-release.confext'), 'utf8')).toContain('CONFEXT_SCOPE=initrd system portable\n');
  });

  it('a portable image is the whole tree with its os-release, signed', () => {
    const image = path.join(out, 'portable.raw');
    expect(partitions(image).map((p) => p.type)).toEqual([ROOT, ROOT_VERITY, ROOT_VERITY_SIG]);
    verifyVerity(image, 'portable');
    const tree = erofsTree(image, 'portable');
    expect(fs.existsSync(path.join(tree, 'usr/bin/bash'))).toBe(true);
    expect(fs.readFileSync(path.join(tree, 'usr/lib/os-release'), 'utf8')).toContain('ID=debian');
    expect(fs.existsSync(path.join(tree, 'usr/lib/systemd/system/kiln-portable.service'))).toBe(true);
    expect(fs.existsSync(path.join(tree, 'usr/lib/extension-release.d'))).toBe(false);
  });
});

describe('an unsigned, compressed sysext of a plain tree', () => {
  it('is NAME.raw.zst (CompressOutput=zstd), bit-identical when built again; unsigned (no key): the erofs partition alone', async () => {
    tools = await testToolsTree();
    scratch ??= tempDir('kiln-ext-scratch-');
    // No packages: the base tree is a directory of the project, so this builds in seconds.
    const dir = tempProject({
      'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=sysext\nOutput=tool\nCompressOutput=zstd\n[Content]\nSourceDateEpoch=1700000000\nBaseTrees=tree\n[Build]\nToolsTree=' + tools + '\n',
      'tree/usr/bin/kiln-tool': '#!/bin/sh\necho tool\n',
      'tree/etc/not-in-a-sysext': 'x\n',
    }, 'zst');
    const image = path.join(dir, 'mkosi.output', 'tool.raw.zst');
    const hashes: string[] = [];
    for (let i = 0; i < 2; i++) {
      const run = await buildIn(dir, { force: true });
      expect(failure(run)).toBe('');
      hashes.push(sha256(image));
    }
    expect(hashes[1]).toBe(hashes[0]);
    expect(fs.readdirSync(path.join(dir, 'mkosi.output')).filter((f) => !f.startsWith('.')).sort()).toEqual(['tool.manifest.json', 'tool.raw.zst']);
    const raw = path.join(scratch, 'tool.raw');
    inTools(['zstd', '-q', '-d', '-o', raw, image], [scratch, dir]);
    expect(partitions(raw).map((p) => p.type)).toEqual([ROOT]);
    const tree = erofsTree(raw, 'tool');
    expect(fs.readdirSync(tree)).toEqual(['usr']);
    expect(fs.readFileSync(path.join(tree, 'usr/lib/extension-release.d/extension-release.tool'), 'utf8')).toBe('ID=_any\nSYSEXT_SCOPE=initrd system portable\nARCHITECTURE=x86-64\n');
  }, 300_000);
});

describe('Verity=defer', () => {
  it('allocates the signature partition and leaves it unwritten, needing no key; the hash tree verifies', async () => {
    tools = await testToolsTree();
    scratch ??= tempDir('kiln-ext-scratch-');
    const dir = tempProject({
      'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=sysext\nOutput=later\n[Content]\nSourceDateEpoch=1700000000\nBaseTrees=tree\n[Validation]\nVerity=defer\n[Build]\nToolsTree=' + tools + '\n',
      'tree/usr/bin/kiln-tool': '#!/bin/sh\necho tool\n',
    }, 'defer');
    const run = await buildIn(dir);
    expect(failure(run)).toBe('');
    const image = path.join(dir, 'mkosi.output', 'later.raw');
    const parts = partitions(image);
    expect(parts.map((p) => p.type)).toEqual([ROOT, ROOT_VERITY, ROOT_VERITY_SIG]);
    verifyVerity(image, 'later');
    const sig = fs.readFileSync(extract(image, parts[2], 'later.sig'));
    expect(sig.length).toBe(16 * 1024);
    expect(sig.every((b) => b === 0)).toBe(true);
  }, 300_000);
});

describe('extension images: bad input', () => {
  /** A project whose main image is an extension of a plain directory (no packages, no mirror). */
  const bad = (conf: string, files: Record<string, string> = {}) =>
    tempProject({
      'mkosi.conf': `[Distribution]\nDistribution=debian\nRelease=bookworm\n[Content]\nSourceDateEpoch=1700000000\nBaseTrees=tree\n${conf}`,
      'tree/etc/hostname': 'x\n',
      ...files,
    }, 'bad');
  const failed = async (dir: string) => {
    const run = await buildIn(dir);
    const outputs = fs.existsSync(path.join(dir, 'mkosi.output')) ? fs.readdirSync(path.join(dir, 'mkosi.output')).filter((f) => !f.startsWith('.')) : [];
    return { message: failure(run), outputs };
  };

  it('a VerityKey= without VerityCertificate= is refused before anything is built, naming both', async () => {
    const r = await failed(bad('[Output]\nFormat=sysext\n[Validation]\nVerityKey=k.pem\n', { 'k.pem': 'not used\n' }));
    expect(r.message).toBe('bad: Format=sysext: VerityKey= is set but VerityCertificate= is not: the verity signature needs both (set VerityCertificate= to the key\'s X.509 certificate, or remove VerityKey= for an unsigned image)');
    expect(r.outputs).toEqual([]);
  });

  it('Verity=signed without a key says which settings to set', async () => {
    const r = await failed(bad('[Output]\nFormat=confext\n[Validation]\nVerity=signed\n'));
    expect(r.message).toMatch(/^bad: Format=confext: Verity=signed needs a key and its certificate, and VerityKey= and VerityCertificate= are not set: set them/);
    expect(r.outputs).toEqual([]);
  });

  it('a sysext with nothing in /usr names the format, the directory and the fix', async () => {
    const r = await failed(bad('[Output]\nFormat=sysext\n'));
    expect(r.message).toBe('bad: Format=sysext: the image has nothing in /usr, and a system extension carries /usr (and /opt): add files under usr/ (an extra tree, packages or a script), or choose another Format=');
    expect(r.outputs).toEqual([]);
  });

  it('Overlay= with a portable image, or without base trees, is refused', async () => {
    expect((await failed(bad('[Output]\nFormat=portable\nOverlay=yes\n'))).message).toBe(
      'bad: Overlay=yes cannot be used with Format=portable (a portable image is a whole OS tree): remove Overlay=',
    );
    const noBase = tempProject({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=sysext\nOverlay=yes\n' }, 'bad');
    expect((await failed(noBase)).message).toMatch(/^bad: Overlay=yes needs BaseTrees=/);
    // Other formats do not take it yet: an error rather than a whole image where a diff was asked for.
    expect((await failed(bad('[Output]\nFormat=tar\nOverlay=yes\n'))).message).toBe('bad: Overlay=yes is supported by kiln for Format=sysext and confext only, not Format=tar: remove Overlay=');
  });

  it('without a tools tree, a host systemd-repart without --offline (Debian 12 has 252) is named with the fix, before it runs', async () => {
    const r = await failed(bad('[Output]\nFormat=sysext\n', { 'tree/usr/share/x': 'x\n' }));
    expect(r.message).toMatch(/^bad: systemd-repart (\S+ on this host lacks --offline \(254\+\)|is not installed on this host): install (the Debian package )?systemd-repart 254 or later from bookworm-backports, or set ToolsTree=default/);
    expect(r.outputs).toEqual([]);
  });

  it('packages in a sysext without a base tree are refused, as mkosi does', async () => {
    const dir = tempProject({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=sysext\n[Content]\nPackages=hello\n' }, 'bad');
    expect((await failed(dir)).message).toBe('bad: Packages= in a Format=sysext image needs BaseTrees= (packages are installed on the image it extends): set BaseTrees=, e.g. %O/base, or remove Packages=');
  });
});
