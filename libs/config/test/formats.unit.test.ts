import {
  baseTreeFile,
  buildableFormats,
  cachedOutputNames,
  COMPRESSIONS,
  defaultCompression,
  FORMATS,
  imageOutputNames,
  manifestName,
  OUTPUT_FORMATS,
  outputNames,
  publishesRoot,
  unwrittenArtifacts,
  writesImage,
} from '../src';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { main } from './helpers';

/**
 * The naming code the registry replaced (libs/config/src/outputs.ts and settings.ts at 602f66c),
 * kept verbatim here: the registry must give the same names and defaults for every combination;
 * plus the bootable formats (issue 15): disk and esp as NAME.raw compressed (zstd by default, a
 * deviation from mkosi), uki as NAME.efi, with the default SplitArtifacts= files beside them.
 */
const OLD = {
  suffix: (c: string) => ({ none: '', zstd: '.zst', xz: '.xz', gz: '.gz', bz2: '.bz2', lz4: '.lz4', lzma: '.lzma' })[c] ?? '',
  image(config: Record<string, unknown>): string[] {
    const name = config.Output as string;
    const suffix = OLD.suffix(config.CompressOutput as string);
    switch (config.Format) {
      case 'directory':
        return [name, `${name}.tar.zst`];
      case 'tar':
        return [`${name}.tar${suffix}`];
      case 'cpio':
        return [`${name}.cpio${suffix}`];
      case 'disk':
      case 'esp':
        return [`${name}.raw${suffix}`, `${name}.efi`, `${name}.vmlinuz`, `${name}.initrd`];
      case 'uki':
        return [`${name}.efi`, `${name}.vmlinuz`, `${name}.initrd`];
      default:
        return [];
    }
  },
  outputs(config: Record<string, unknown>): string[] {
    const image = OLD.image(config);
    // The manifest's signature (when a signing key is set) came later, before the manifest.
    return image.length ? [...image, `${config.Output as string}.manifest.json.sig`, `${config.Output as string}.manifest.json`] : [];
  },
  cached(config: Record<string, unknown>): string[] {
    const names = OLD.outputs(config);
    return config.Format === 'directory' ? names.slice(1) : names;
  },
  compression: (format: string) => (['tar', 'cpio', 'disk', 'uki', 'esp', 'addon'].includes(format) ? 'zstd' : format === 'oci' ? 'gz' : 'none'),
};

/** Formats built since the registry replaced the old code (which named no file for them). */
const EXTENSIONS = ['sysext', 'confext', 'portable'];
const combinations = FORMATS.filter((f) => !EXTENSIONS.includes(f)).flatMap((Format) => COMPRESSIONS.map((CompressOutput) => ({ Format, CompressOutput, Output: 'img_1.2', SplitArtifacts: ['uki', 'kernel', 'initrd'] })));

describe('the format registry', () => {
  it('has one entry per Format= value, in FORMATS order', () => {
    expect(Object.keys(OUTPUT_FORMATS)).toEqual([...FORMATS]);
    for (const [name, f] of Object.entries(OUTPUT_FORMATS)) expect(f.name).toBe(name);
  });

  it.each(combinations)('Format=$Format CompressOutput=$CompressOutput names the files the old code named', (config) => {
    expect(imageOutputNames(config)).toEqual(OLD.image(config));
    expect(outputNames(config)).toEqual(OLD.outputs(config));
    expect(cachedOutputNames(config)).toEqual(OLD.cached(config));
    expect(manifestName(config)).toBe(OLD.image(config).length ? 'img_1.2.manifest.json' : null);
  });

  it("gives CompressOutput='s defaults as before, read from a configuration too", () => {
    for (const format of FORMATS) expect([format, defaultCompression(format)]).toEqual([format, OLD.compression(format)]);
    for (const format of FORMATS) expect([format, main({ 'mkosi.conf': `[Output]\nFormat=${format}\n` }).CompressOutput]).toEqual([format, OLD.compression(format)]);
  });

  it('builds directory, tar, cpio, disk, uki, esp, sysext, confext, portable and none; the other mkosi formats are planned', () => {
    expect(buildableFormats()).toEqual(['directory', 'tar', 'cpio', 'disk', 'uki', 'esp', 'sysext', 'confext', 'portable', 'none']);
  });

  it.each(EXTENSIONS)('Format=%s writes NAME.raw (uncompressed by default, as mkosi), which the cache keeps', (Format) => {
    const config = { Format, CompressOutput: defaultCompression(Format), Output: 'img_1.2' };
    expect(config.CompressOutput).toBe('none');
    expect(imageOutputNames(config)).toEqual(['img_1.2.raw']);
    expect(outputNames(config)).toEqual(['img_1.2.raw', 'img_1.2.manifest.json.sig', 'img_1.2.manifest.json']);
    expect(cachedOutputNames(config)).toEqual(['img_1.2.raw', 'img_1.2.manifest.json.sig', 'img_1.2.manifest.json']);
    expect(imageOutputNames({ ...config, CompressOutput: 'zstd' })).toEqual(['img_1.2.raw.zst']);
    // An extension image is not a tree another preset can start from.
    expect(baseTreeFile({ ...config, OutputDirectory: '/out' })).toBeNull();
  });

  it('knows what each format needs: a plain root, an image to read, a file standing for a base tree', () => {
    const of = (Format: string, CompressOutput = 'zstd') => ({ Format, CompressOutput, Output: 'base', OutputDirectory: '/out' });
    expect(FORMATS.filter((f) => publishesRoot(of(f)))).toEqual(['directory']);
    expect(FORMATS.filter((f) => !writesImage(of(f)))).toEqual(['none']);
    expect(baseTreeFile(of('directory', 'xz'))).toBe('/out/base.tar.zst');
    expect(baseTreeFile(of('tar', 'xz'))).toBe('/out/base.tar.xz');
    expect(baseTreeFile(of('cpio', 'none'))).toBe('/out/base.cpio');
    expect(baseTreeFile(of('none'))).toBeNull();
    expect(baseTreeFile(of('disk'))).toBeNull();
  });

  it('a cache keeps regular files only: every tree has a file kept in its place', () => {
    for (const f of Object.values(OUTPUT_FORMATS)) {
      const files = f.files('x', 'zstd', { Output: 'x', SplitArtifacts: ['uki', 'kernel', 'initrd'] });
      if (files.some((o) => o.kind === 'tree')) expect(files.some((o) => o.kind === 'file')).toBe(true);
    }
  });
});

describe('SplitArtifacts= of the bootable formats', () => {
  const names = (Format: string, SplitArtifacts: string[], CompressOutput = 'zstd') => imageOutputNames({ Format, Output: 'img', CompressOutput, SplitArtifacts });

  it("names the files as mkosi 26 does, beside the image, optional (an image without a kernel has none)", () => {
    expect(names('disk', ['uki', 'kernel', 'initrd', 'kernel-modules-initrd', 'os-release'], 'none')).toEqual(['img.raw', 'img.efi', 'img.vmlinuz', 'img.initrd', 'img.kernel-modules-initrd', 'img.osrelease']);
    expect(OUTPUT_FORMATS.disk.files('img', 'zstd', { Output: 'img', SplitArtifacts: ['kernel'] }).map((f) => [f.name, !!f.optional])).toEqual([['img.raw.zst', false], ['img.vmlinuz', true]]);
    expect(names('esp', [])).toEqual(['img.raw.zst']);
  });

  it('for Format=uki, uki is the image itself', () => {
    expect(names('uki', ['uki', 'initrd'])).toEqual(['img.efi', 'img.initrd']);
  });

  it("reads a boolean as mkosi's compatibility sets, and says which artifacts kiln does not write", () => {
    const disk = (SplitArtifacts: string[], extra: Record<string, unknown> = {}) =>
      imageOutputNames({ Format: 'disk', Output: 'img', CompressOutput: 'zstd', Architecture: 'x86-64', Bootable: 'auto', SplitArtifacts, ...extra });
    expect(disk(['yes'])).toEqual(['img.raw.zst', 'img.esp.raw.zst', 'img.root-x86-64.raw.zst', 'img.efi', 'img.vmlinuz', 'img.initrd']);
    expect(disk(['no'])).toEqual(['img.raw.zst', 'img.efi', 'img.vmlinuz', 'img.initrd']);
    expect(unwrittenArtifacts({ SplitArtifacts: ['yes'] })).toEqual([]);
    expect(unwrittenArtifacts({ SplitArtifacts: ['uki', 'pcrs', 'repart-definitions', 'tar'] }).map((u) => u.artifact)).toEqual(['pcrs', 'repart-definitions']);
  });

  it('names tar and roothash as mkosi 26 does; no partitions or root hash for an ESP image or a UKI', () => {
    const split = ['roothash', 'tar', 'partitions'];
    expect(imageOutputNames({ Format: 'disk', Output: 'img', CompressOutput: 'xz', Architecture: 'arm64', Bootable: 'disabled', SplitArtifacts: split })).toEqual([
      'img.raw.xz', 'img.root-arm64.raw.xz', 'img.roothash', 'img.tar.xz',
    ]);
    expect(names('esp', split)).toEqual(['img.raw.zst', 'img.tar.zst']);
    expect(names('uki', split)).toEqual(['img.efi', 'img.tar.zst']);
  });

  it("names an extension image's partitions and root hash from its Verity= (a deferred signature partition optional), and no tar", () => {
    const ext = (extra: Record<string, unknown>) =>
      OUTPUT_FORMATS.sysext.files('img', 'none', { Format: 'sysext', Output: 'img', Architecture: 'x86-64', SplitArtifacts: ['partitions', 'roothash', 'tar'], ...extra }).map((f) => `${f.name}${f.optional ? '?' : ''}`);
    expect(ext({ VerityKey: '/k', VerityCertificate: '/c' })).toEqual(['img.raw', 'img.root-x86-64.raw', 'img.root-x86-64-verity.raw', 'img.root-x86-64-verity-sig.raw', 'img.roothash']);
    expect(ext({ Verity: 'hash' })).toEqual(['img.raw', 'img.root-x86-64.raw', 'img.root-x86-64-verity.raw', 'img.roothash']);
    expect(ext({ Verity: 'defer' })).toEqual(['img.raw', 'img.root-x86-64.raw', 'img.root-x86-64-verity.raw', 'img.root-x86-64-verity-sig.raw?', 'img.roothash']);
    expect(ext({})).toEqual(['img.raw', 'img.root-x86-64.raw']);
  });

  it("names a disk's partition files from the project's definitions (%t resolved, SplitName=- without one)", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-split-'));
    try {
      fs.writeFileSync(path.join(dir, '00-esp.conf'), '[Partition]\nType=esp\nFormat=vfat\n');
      fs.writeFileSync(path.join(dir, '10-usr.conf'), '[Partition]\nType=usr\nSplitName=%t.v1\n');
      fs.writeFileSync(path.join(dir, '20-usr-verity.conf'), '# hash\n[Partition]\nType=usr-verity\n');
      fs.writeFileSync(path.join(dir, '30-home.conf'), '[Partition]\nType=home\nSplitName=-\n');
      fs.writeFileSync(path.join(dir, 'README'), 'not a definition');
      const config = { Format: 'disk', Output: 'img', CompressOutput: 'none', Architecture: 'x86-64', RepartDirectories: [dir], SplitArtifacts: ['partitions'] };
      expect(imageOutputNames(config)).toEqual(['img.raw', 'img.esp.raw', 'img.usr-x86-64.v1.raw', 'img.usr-x86-64-verity.raw']);
      expect(OUTPUT_FORMATS.disk.files('img', 'none', config).every((f) => !f.optional)).toBe(true);
      // A name kiln cannot know before the build (%U: the partition's UUID) has no output here: the build says why.
      fs.writeFileSync(path.join(dir, '10-usr.conf'), '[Partition]\nType=usr\nSplitName=%U\n');
      expect(imageOutputNames(config)).toEqual(['img.raw', 'img.esp.raw', 'img.usr-x86-64-verity.raw']);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reads SplitArtifacts= from a configuration, mkosi\'s default being uki, kernel and initrd', () => {
    expect(main({ 'mkosi.conf': '[Output]\nFormat=disk\n' }).SplitArtifacts).toEqual(['uki', 'kernel', 'initrd']);
    expect(main({ 'mkosi.conf': '[Output]\nFormat=disk\nSplitArtifacts=kernel,os-release\n' }).SplitArtifacts).toEqual(['kernel', 'os-release']);
  });
});
