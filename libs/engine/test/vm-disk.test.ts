/**
 * The disk `kiln vm` boots (vm.ts diskCopy): a private copy of the preset's disk image,
 * decompressed when the cached image is zstd-compressed, grown to RuntimeSize= with the GPT's
 * backup header moved to the new end by the tools tree's systemd-repart (what a guest's kernel and
 * OVMF expect), and the output itself untouched. Real tools from the test tools tree, no boot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Preset } from '@kiln/config';
import { toolEnv } from '../src/exec';
import { hostTools, runIn } from '../src/sandbox';
import { diskCopy } from '../src/vm';
import { removeTempDirs, sha256, tempDir } from './kiln';
import { testToolsTree } from './tools-tree';

jest.setTimeout(600_000);
afterAll(removeTempDirs);

describe('the disk kiln vm boots', () => {
  let tools: string;
  let out: string;
  const run = (args: string[], inputs: string[] = []) => {
    const box = hostTools({ ...toolEnv(), TMPDIR: out }, [out], tools);
    box.mounts = [...(box.mounts ?? []), ...inputs.map((f) => ({ type: 'ro-bind' as const, source: f, target: f }))];
    return runIn({ log: () => {} }, box, args, { step: args[0] });
  };

  beforeAll(async () => {
    tools = await testToolsTree();
    out = tempDir('kiln-vm-disk-');
    const defs = tempDir('kiln-vm-defs-');
    fs.writeFileSync(path.join(defs, '10-root.conf'), '[Partition]\nType=root\nFormat=ext4\nSizeMinBytes=64M\n');
    await run(['systemd-repart', '--offline=yes', '--empty=create', '--size=auto', '--dry-run=no', `--definitions=${defs}`, '--seed=0e9a6fe0-68f6-408c-bbeb-136054d20445', path.join(out, 'img.raw')], [defs]);
    await run(['zstd', '-q', '-k', path.join(out, 'img.raw')]);
  });

  const preset = (config: Record<string, unknown>) => ({ name: 'img', config: { ToolsTree: tools, RuntimeSize: null, ...config } }) as unknown as Preset;

  it('decompresses a zstd image and grows it to RuntimeSize=, moving the backup GPT header to the end', async () => {
    const image = path.join(out, 'img.raw.zst');
    const before = sha256(image);
    const tmp = tempDir('kiln-vm-tmp-');
    const disk = await diskCopy({ log: () => {} }, preset({ RuntimeSize: 300 * 1024 ** 2 + 1 }), image, tmp, process.env);
    // Rounded up to a page, as qemu's direct I/O wants.
    expect(fs.statSync(disk).size).toBe(300 * 1024 ** 2 + 4096);
    // The backup GPT header is in the new last sector, and the table's usable space reaches it.
    const size = fs.statSync(disk).size;
    const fd = fs.openSync(disk, 'r');
    const last = Buffer.alloc(512);
    fs.readSync(fd, last, 0, 512, size - 512);
    fs.closeSync(fd);
    expect(last.subarray(0, 8).toString('latin1')).toBe('EFI PART');
    const box = hostTools(toolEnv(), [tmp], tools);
    const table = JSON.parse(await runIn({ log: () => {} }, box, ['sfdisk', '--json', disk], { step: 'sfdisk' }));
    expect(table.partitiontable.lastlba).toBe(size / 512 - 34);
    expect(sha256(image)).toBe(before);
  });

  it('copies an uncompressed image as it is without RuntimeSize=', async () => {
    const image = path.join(out, 'img.raw');
    const tmp = tempDir('kiln-vm-tmp-');
    const disk = await diskCopy({ log: () => {} }, preset({}), image, tmp, process.env);
    expect(disk).not.toBe(image);
    expect(sha256(disk)).toBe(sha256(image));
  });

  it('without a tools tree, grows the copy by extending the file (the host\'s repart may lack --offline)', async () => {
    const image = path.join(out, 'img.raw');
    const disk = await diskCopy({ log: () => {} }, preset({ ToolsTree: null, RuntimeSize: 200 * 1024 ** 2 }), image, tempDir('kiln-vm-tmp-'), process.env);
    expect(fs.statSync(disk).size).toBe(200 * 1024 ** 2);
    // The table and its data are the image's, unchanged.
    const head = (f: string) => {
      const fd = fs.openSync(f, 'r');
      const b = Buffer.alloc(1 << 20);
      fs.readSync(fd, b, 0, b.length, 0);
      fs.closeSync(fd);
      return b;
    };
    expect(head(disk).equals(head(image))).toBe(true);
  });
});
