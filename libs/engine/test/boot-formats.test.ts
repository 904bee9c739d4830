/**
 * The bootable formats, built for real: uki, esp and disk presets on the shared bookworm test base
 * (test-base.ts: linux-image-cloud-amd64, systemd, systemd-boot-efi; BaseTrees=), their tools run
 * from the test tools tree (tools-tree.ts), named by the project's ToolsTree=. Each format is
 * built twice and compared byte for byte (builtTwice); the outputs are inspected with the tools tree's own ukify, sfdisk, mtools, cpio and
 * veritysetup. The disk also splits out its partitions, tar and os-release (SplitArtifacts=).
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { bwrapArgs, hostTools } from '../src/sandbox';
import { toolEnv } from '../src/exec';
import { buildIn, failure, removeTempDirs, sha256, tempDir, tempProject } from './kiln';
import { testBase, type TestBase } from './test-base';
import { testToolsTree } from './tools-tree';

const ESP_TYPE = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
const ROOT_X86_64_TYPE = '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709';

let tools: string;
let base: TestBase;
let project: string;
let out: string;
let scratch: string;
/** The main image's configuration, with its tools tree (ToolsTree= is the main image's alone). */
const mainConf = (toolsTree: string) => `[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=none\n[Content]\nSourceDateEpoch=1700000000\n[Build]\nToolsTree=${toolsTree}\n`;

/** Runs a command of the tools tree (ukify, sfdisk, mdir, cpio) with `dirs` readable and writable. */
function inTools(command: string[], dirs: string[] = [scratch, out]): string {
  const box = hostTools(toolEnv(), dirs, tools);
  return execFileSync('bwrap', [...bwrapArgs(box), '--', ...command], { encoding: 'utf8', maxBuffer: 64 << 20 });
}

/** The sections of a UKI as `ukify inspect --json=short` reports them. */
function sections(efi: string): Record<string, { size: number; text?: string }> {
  const s: Record<string, { size: number; text?: string }> = JSON.parse(inTools(['ukify', '--json=short', 'inspect', efi]));
  // The command line is NUL-terminated in the file (for older stubs).
  for (const v of Object.values(s)) if (v.text !== undefined) v.text = v.text.replace(/\0+$/, '');
  return s;
}

function decompress(file: string): string {
  const raw = path.join(scratch, path.basename(file).replace(/\.zst$/, ''));
  inTools(['bash', '-c', 'zstd -q -d -f -o "$2" "$1"', 'unzstd', file, raw]);
  return raw;
}

const hashes = (names: string[]) => Object.fromEntries(names.map((n) => [n, sha256(path.join(out, n))]));

/** The SHA-256 of `length` bytes of `file` from `offset` (a partition of a disk image), streamed. */
function sliceHash(file: string, offset: number, length: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = crypto.createHash('sha256');
    fs.createReadStream(file, { start: offset, end: offset + length - 1 })
      .on('data', (d) => hash.update(d))
      .on('end', () => resolve(hash.digest('hex')))
      .on('error', reject);
  });
}

type Table = { sectorsize: number; partitions: { start: number; size: number; type: string; uuid: string }[] };

/**
 * Each split-out partition file (decompressed) is the partition of the disk at its offset, byte
 * for byte, in partition table order.
 */
async function expectSplitPartitions(raw: string, table: Table, names: string[]): Promise<void> {
  expect(names.length).toBe(table.partitions.length);
  for (const [i, p] of table.partitions.entries()) {
    // The same hash as the partition's exact bytes: the same length and content.
    const file = path.join(out, names[i]);
    const hash = inTools(['bash', '-o', 'pipefail', '-c', `${names[i].endsWith('.zst') ? 'zstd -dc' : 'cat'} "$1" | sha256sum`, 'hash', file]).split(' ')[0];
    expect(hash).toBe(await sliceHash(raw, p.start * table.sectorsize, p.size * table.sectorsize));
  }
}

// The image as the UKI's initrd (uki, esp) without its kernel modules: a smaller cpio, the same
// code (the test base has no Debian initrd and no translations already).
const SLIM = 'RemoveFiles=/usr/lib/modules/*/kernel\n';

/** A preset's first build (the hashes of its files) and how to build it again (the new hashes). */
interface Built {
  first: Record<string, string>;
  again: () => Promise<Record<string, string>>;
}

/**
 * Builds `preset` and hashes `files`; `again()` builds it once more from scratch and returns the
 * new hashes, which a "bit-identical when built again" test compares with `first`.
 */
async function builtTwice(preset: string, files: string[]): Promise<Built> {
  const run = await buildIn(project, { preset, noDeps: true });
  if (run.error) throw new Error(`${failure(run)}\n${run.log}`);
  return {
    first: hashes(files),
    again: async () => {
      const rerun = await buildIn(project, { preset, noDeps: true, force: true });
      expect(failure(rerun)).toBe('');
      return hashes(files);
    },
  };
}

beforeAll(async () => {
  tools = await testToolsTree();
  base = await testBase();
  scratch = tempDir('kiln-boot-');
  project = tempProject({
    'mkosi.conf': mainConf(tools),
    'mkosi.images/uki/mkosi.conf': `[Output]\nFormat=uki\n[Content]\nBaseTrees=${base.archive}\nKernelCommandLine=console=ttyS0 quiet\n${SLIM}`,
    'mkosi.images/esp/mkosi.conf': `[Output]\nFormat=esp\n[Content]\nBaseTrees=${base.archive}\nBootloader=uki\n${SLIM}`,
    // Initrds=: a stand-in for another preset's initrd (ukify checks no contents), 5 bytes so that
    // joining it with the kernel-modules initrd needs padding.
    'extra.initrd': 'hello',
    'mkosi.images/disk/mkosi.conf':
      `[Output]\nFormat=disk\nSplitArtifacts=uki,kernel,initrd,kernel-modules-initrd,partitions,roothash,tar,os-release\n[Content]\nBaseTrees=${base.archive}\nInitrds=%D/extra.initrd\nKernelCommandLine=console=ttyS0\n`,
  });
  out = path.join(project, 'mkosi.output');
}, 1_800_000); // the test base, when this suite is the first to ask for it

afterAll(removeTempDirs);

describe('Format=uki', () => {
  let built: Built;

  beforeAll(async () => {
    built = await builtTwice('uki', ['uki.efi', 'uki.vmlinuz', 'uki.initrd']);
  }, 300_000);

  it("is a UKI of the image's kernel, the image as its initrd, KernelCommandLine= and the image's os-release", () => {
    const s = sections(path.join(out, 'uki.efi'));
    const { kver } = base;
    expect(s['.uname'].text).toBe(kver);
    expect(s['.cmdline'].text).toBe('console=ttyS0 quiet');
    expect(s['.osrel'].text).toContain('VERSION_CODENAME=bookworm');
    // SplitArtifacts= (mkosi's default: uki, kernel, initrd): the kernel and the initrd beside it.
    expect(s['.linux'].size).toBe(fs.statSync(path.join(out, 'uki.vmlinuz')).size);
    expect(sha256(path.join(out, 'uki.vmlinuz'))).toBe(sha256(path.join(base.root, `boot/vmlinuz-${kver}`)));
    expect(s['.initrd'].size).toBe(fs.statSync(path.join(out, 'uki.initrd')).size);
    const members = inTools(['bash', '-c', 'zstd -dc "$1" | cpio -t --quiet', 'list', path.join(out, 'uki.initrd')]).split('\n');
    expect(members).toEqual(expect.arrayContaining(['usr/lib/systemd/systemd', 'etc/os-release']));
  });

  it('is bit-identical when built again', async () => {
    expect(await built.again()).toEqual(built.first);
  }, 300_000);
});

describe('Format=esp', () => {
  let built: Built;

  beforeAll(async () => {
    built = await builtTwice('esp', ['esp.raw.zst', 'esp.efi']);
  }, 300_000);

  it('is an ESP (GPT, one vfat partition) holding the UKI as EFI/BOOT/BOOTX64.EFI (Bootloader=uki)', () => {
    const raw = decompress(path.join(out, 'esp.raw.zst'));
    const table = JSON.parse(inTools(['sfdisk', '--json', raw])).partitiontable;
    expect(table.partitions.map((p: { type: string }) => p.type)).toEqual([ESP_TYPE]);
    const offset = table.partitions[0].start * table.sectorsize;
    const copy = path.join(scratch, 'BOOTX64.EFI');
    inTools(['mcopy', '-n', '-i', `${raw}@@${offset}`, '::/EFI/BOOT/BOOTX64.EFI', copy]);
    expect(sha256(copy)).toBe(sha256(path.join(out, 'esp.efi')));
  });

  it('is bit-identical when built again', async () => {
    expect(await built.again()).toEqual(built.first);
  }, 300_000);
});

describe('Format=disk', () => {
  const parts = ['disk.esp.raw.zst', 'disk.root-x86-64.raw.zst'];
  let built: Built;
  let raw: string;
  let table: Table;

  beforeAll(async () => {
    built = await builtTwice('disk', ['disk.raw.zst', ...parts, 'disk.efi', 'disk.vmlinuz', 'disk.initrd', 'disk.kernel-modules-initrd', 'disk.tar.zst', 'disk.osrelease']);
    raw = decompress(path.join(out, 'disk.raw.zst'));
    table = JSON.parse(inTools(['sfdisk', '--json', raw])).partitiontable;
  }, 300_000);

  it("has mkosi's default partitions, an ESP and a root partition, and the UKI boots that root", () => {
    expect(table.partitions.map((p) => p.type)).toEqual([ESP_TYPE, ROOT_X86_64_TYPE]);
    const cmdline = sections(path.join(out, 'disk.efi'))['.cmdline'].text!.split(' ');
    expect(cmdline).toEqual([`root=PARTUUID=${table.partitions[1].uuid.toLowerCase()}`, 'console=ttyS0']);
  });

  it('has systemd-boot and the UKI in its ESP', () => {
    const image = `${raw}@@${table.partitions[0].start * table.sectorsize}`;
    const { kver } = base;
    const listing = inTools(['mdir', '-/', '-b', '-i', image, '::/EFI']).split('\n');
    expect(listing).toEqual(expect.arrayContaining(['::/EFI/BOOT/BOOTX64.EFI', '::/EFI/systemd/systemd-bootx64.efi', `::/EFI/Linux/debian-${kver}.efi`]));
    const copy = path.join(scratch, 'disk-uki.efi');
    inTools(['mcopy', '-n', '-i', image, `::/EFI/Linux/debian-${kver}.efi`, copy]);
    expect(sha256(copy)).toBe(sha256(path.join(out, 'disk.efi')));
  });

  it("appends the kernel-modules initrd after Initrds=: a VM root's modules, their dependencies, and depmod's index of just those", () => {
    const s = sections(path.join(out, 'disk.efi'));
    const kmods = fs.readFileSync(path.join(out, 'disk.kernel-modules-initrd'));
    // NAME.initrd is what the UKI holds: Initrds=, then the modules, each padded to 4 bytes as ukify joins them.
    const padded = Buffer.concat([kmods, Buffer.alloc((4 - (kmods.length % 4)) % 4)]);
    expect(fs.readFileSync(path.join(out, 'disk.initrd')).equals(Buffer.concat([Buffer.from('hello\0\0\0'), padded]))).toBe(true);
    expect(s['.initrd'].size).toBe(fs.statSync(path.join(out, 'disk.initrd')).size);
    const list = (cmd: string) => inTools(['bash', '-c', `zstd -dc "$1" | ${cmd}`, 'list', path.join(out, 'disk.kernel-modules-initrd')]);
    const members = list('cpio -t --quiet').split('\n').filter(Boolean);
    const { kver } = base;
    const mod = (rel: string) => `usr/lib/modules/${kver}/kernel/${rel}`;
    expect(members).toEqual(expect.arrayContaining([mod('drivers/block/virtio_blk.ko'), mod('drivers/virtio/virtio_pci.ko'), mod('drivers/virtio/virtio_ring.ko'), mod('fs/fat/vfat.ko'), mod('fs/fat/fat.ko')]));
    // Nothing but modules under usr/lib/modules, no /lib link that would replace the main initrd's.
    expect(members.filter((m) => !m.startsWith('usr'))).toEqual([]);
    expect(members.some((m) => m.includes('/net/'))).toBe(false);
    const dep = list(`cpio -i --quiet --to-stdout usr/lib/modules/${kver}/modules.dep`);
    expect(dep).toContain('kernel/drivers/virtio/virtio_pci.ko: ');
    expect(dep.split('\n').filter(Boolean).length).toBe(members.filter((m) => m.endsWith('.ko')).length);
  });

  it('splits out its partitions as systemd-repart names them (SplitArtifacts=partitions), compressed as the disk, each the partition byte for byte', async () => {
    await expectSplitPartitions(raw, table, parts);
  }, 120_000);

  it('writes the tree as a tar and the os-release beside it; no root hash without a verity partition', () => {
    const { kver } = base;
    const members = inTools(['bash', '-c', 'zstd -dc "$1" | tar -t', 'list', path.join(out, 'disk.tar.zst')]).split('\n');
    // The tree as it went into the disk: the boot loader and the UKI staged in /efi too.
    expect(members).toEqual(expect.arrayContaining(['./usr/lib/os-release', `./boot/vmlinuz-${kver}`, `./efi/EFI/Linux/debian-${kver}.efi`]));
    expect(fs.readFileSync(path.join(out, 'disk.osrelease'), 'utf8')).toContain('VERSION_CODENAME=bookworm');
    expect(fs.existsSync(path.join(out, 'disk.roothash'))).toBe(false);
  });

  it('is bit-identical when built again', async () => {
    expect(await built.again()).toEqual(built.first);
  }, 300_000);
});

describe('bad input', () => {
  /**
   * A preset beside the others, built from a small tree of the project (what each case needs and
   * no more, so that it fails in seconds); its error, and what it left in the outputs.
   */
  async function fails(name: string, conf: string, tree: Record<string, string | Buffer>, toolsTree = tools): Promise<{ message: string; left: string[] }> {
    fs.writeFileSync(path.join(project, 'mkosi.conf'), mainConf(toolsTree));
    const dir = path.join(project, 'mkosi.images', name);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'mkosi.conf'), `${conf}\n[Content]\nBaseTrees=%D/${name}.tree\n`);
    for (const [rel, data] of Object.entries(tree)) {
      fs.mkdirSync(path.dirname(path.join(project, `${name}.tree`, rel)), { recursive: true });
      fs.writeFileSync(path.join(project, `${name}.tree`, rel), data);
    }
    try {
      const run = await buildIn(project, { preset: name, noDeps: true });
      return { message: failure(run), left: fs.readdirSync(out).filter((f) => f.startsWith(`${name}.`)) };
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.writeFileSync(path.join(project, 'mkosi.conf'), mainConf(tools));
    }
  }
  const OS_RELEASE = { 'usr/lib/os-release': 'ID=debian\nVERSION_CODENAME=bookworm\n' };
  const KERNEL = { 'usr/lib/modules/6.1.0-9-amd64/modules.dep': '', 'boot/vmlinuz-6.1.0-9-amd64': 'not a kernel' };

  it('Bootable=yes without a kernel names the preset and the fix, and leaves nothing', async () => {
    const r = await fails('nokernel', '[Output]\nFormat=disk\n[Content]\nBootable=yes', OS_RELEASE);
    expect(r.message).toMatch(/^nokernel: Bootable=yes: the image has no kernel .*add one to Packages= .*or set Bootable=no$/);
    expect(r.left).toEqual([]);
  }, 120_000);

  it("a UKI without a stub in the image (kiln takes the image's, as mkosi) names the fix", async () => {
    const bare = tempDir('kiln-no-stub-');
    fs.mkdirSync(path.join(bare, 'usr'));
    const r = await fails('nostub', '[Output]\nFormat=uki', { ...OS_RELEASE, ...KERNEL }, bare);
    expect(r.message).toMatch(/^nostub: Format=uki: no UKI stub: .*add systemd-boot-efi to Packages=/);
    expect(r.left).toEqual([]);
  }, 120_000);

  it('a repart definition too small for what it holds names the definitions and the fix', async () => {
    fs.mkdirSync(path.join(project, 'tight.repart'), { recursive: true });
    fs.writeFileSync(path.join(project, 'tight.repart/10-root.conf'), '[Partition]\nType=root\nFormat=ext4\nCopyFiles=/\nSizeMaxBytes=16M\n');
    // 40 MB that do not compress into the partition (16 MB asked; repart's smallest ext4 is 32 MB).
    const r = await fails('tight', '[Output]\nFormat=disk\nRepartDirectories=%D/tight.repart\n[Content]\nBootable=no', { ...OS_RELEASE, 'srv/data': crypto.randomBytes(40 << 20) });
    expect(r.message).toContain('tight: writing the disk image (systemd-repart, ESP deferred) failed');
    expect(r.message).toMatch(/a partition of tight\.repart is too small for what it holds: raise its SizeMaxBytes=/);
    expect(r.left).toEqual([]);
  }, 120_000);

  it('SplitArtifacts=pcrs (a signed UKI\'s PCR signatures) is an error naming the setting, before anything is written', async () => {
    const stub = { 'usr/lib/systemd/boot/efi/linuxx64.efi.stub': 'not a stub' };
    const r = await fails('pcrs', '[Output]\nFormat=uki\nSplitArtifacts=uki,pcrs', { ...OS_RELEASE, ...KERNEL, ...stub });
    expect(r.message).toMatch(/^pcrs: SplitArtifacts=pcrs: .*not supported by kiln.*: remove pcrs from SplitArtifacts=$/);
    expect(r.left).toEqual([]);
  }, 120_000);

  it('an unknown Bootloader= is a configuration error at its line', async () => {
    const r = await fails('typo', '[Output]\nFormat=disk\n[Content]\nBootloader=sd-boot', {});
    expect(r.message).toMatch(/mkosi\.images\/typo\/mkosi\.conf:4: .*Bootloader=.*sd-boot/);
    expect(r.left).toEqual([]);
  });
});

describe('split artifacts', () => {
  it("a disk of the project's verity definitions splits out data and hash partitions and writes the root hash they verify with, the same on a second build", async () => {
    fs.mkdirSync(path.join(project, 'mkosi.images/verity'), { recursive: true });
    fs.writeFileSync(
      path.join(project, 'mkosi.images/verity/mkosi.conf'),
      '[Output]\nFormat=disk\nCompressOutput=no\nSplitArtifacts=partitions,roothash\nRepartDirectories=%D/verity.repart\n[Content]\nBootable=no\nBaseTrees=%D/plain.tree\n',
    );
    fs.mkdirSync(path.join(project, 'verity.repart'), { recursive: true });
    fs.writeFileSync(path.join(project, 'verity.repart/10-root.conf'), '[Partition]\nType=root\nFormat=erofs\nCopyFiles=/\nVerity=data\nVerityMatchKey=root\nMinimize=best\n');
    fs.writeFileSync(path.join(project, 'verity.repart/20-root-verity.conf'), '[Partition]\nType=root-verity\nVerity=hash\nVerityMatchKey=root\nMinimize=best\n');
    fs.mkdirSync(path.join(project, 'plain.tree/usr/lib'), { recursive: true });
    fs.writeFileSync(path.join(project, 'plain.tree/usr/lib/os-release'), 'ID=debian\n');
    const names = ['verity.root-x86-64.raw', 'verity.root-x86-64-verity.raw'];
    const all = ['verity.raw', ...names, 'verity.roothash'];
    const built = await builtTwice('verity', all);
    const table: Table = JSON.parse(inTools(['sfdisk', '--json', path.join(out, 'verity.raw')])).partitiontable;
    await expectSplitPartitions(path.join(out, 'verity.raw'), table, names);
    const roothash = fs.readFileSync(path.join(out, 'verity.roothash'), 'utf8');
    expect(roothash).toMatch(/^[0-9a-f]{64}$/);
    // veritysetup checks the data partition's blocks against the hash partition and that root hash.
    inTools(['veritysetup', 'verify', ...names.map((n) => path.join(out, n)), roothash]);
    expect(await built.again()).toEqual(built.first);
  }, 180_000);

  it('a disk that is not bootable has none, and a split-out UKI of an earlier build does not stay beside it', async () => {
    fs.mkdirSync(path.join(project, 'mkosi.images/plain'), { recursive: true });
    fs.writeFileSync(path.join(project, 'mkosi.images/plain/mkosi.conf'), '[Output]\nFormat=disk\n[Content]\nBaseTrees=%D/plain.tree\n');
    fs.mkdirSync(path.join(project, 'plain.tree/usr/lib'), { recursive: true });
    fs.writeFileSync(path.join(project, 'plain.tree/usr/lib/os-release'), 'ID=debian\n');
    fs.writeFileSync(path.join(out, 'plain.efi'), 'from an earlier build');
    const run = await buildIn(project, { preset: 'plain', noDeps: true });
    expect(failure(run)).toBe('');
    expect(fs.readdirSync(out).filter((f) => f.startsWith('plain.')).sort()).toEqual(['plain.manifest.json', 'plain.raw.zst']);
  }, 120_000);
});
