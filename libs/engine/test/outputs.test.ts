/**
 * Output writers: one per buildable format of @kiln/config's registry, and compressors whose bytes
 * do not depend on the machine (no mirror needed).
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildableFormats } from '@kiln/config';
import type { BuildContext } from '../src/context';
import { WRITERS, writeOutputs } from '../src/outputs';
import { compressor } from '../src/outputs/tar';

describe('output writers', () => {
  it('cover exactly the formats the registry can build', () => {
    expect(Object.keys(WRITERS).sort()).toEqual(buildableFormats().sort());
  });

  it('a format the registry plans but kiln cannot build yet is refused, naming those it can', async () => {
    const ctx = { preset: { name: 'img', config: { Format: 'oci', Output: 'img', CompressOutput: 'none' } } } as unknown as BuildContext;
    await expect(writeOutputs(ctx, '/nonexistent')).rejects.toThrow('Format=oci cannot be built yet (supported: directory, tar, cpio, disk, uki, esp, sysext, confext, portable, none)');
  });
});

describe('zstd with several workers', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-zstd-'));
    // 48 MB of text-like data: at level 3 a job is 8 MB, so the workers really split the input.
    const words = Array.from({ length: 4096 }, (_, i) => `w${(i * 2654435761) % 1000003}`);
    let x = 12345;
    const chunks: string[] = [];
    for (let size = 0; size < 48 << 20; ) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const w = words[x % words.length] + (x % 7 === 0 ? '\n' : ' ');
      chunks.push(w);
      size += w.length;
    }
    fs.writeFileSync(path.join(dir, 'input'), chunks.join(''));
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  const sha = (command: string) => execFileSync('bash', ['-o', 'pipefail', '-c', `${command} < input | sha256sum`], { cwd: dir, encoding: 'utf8' }).split(' ')[0];

  it.each([1, 3])('gives the same bytes with 1, 2, 4 or the default number of workers (level %i)', (level) => {
    const command = compressor('zstd', level);
    expect(command).toMatch(/ -T\d+ /);
    const expected = sha(command.replace(/ -T\d+ /, ' ')); // the CLI's default, what kiln used before
    for (const threads of [1, 2, 4]) expect([threads, sha(command.replace(/ -T\d+ /, ` -T${threads} `))]).toEqual([threads, expected]);
    expect(sha(command)).toBe(expected);
    // The check can fail: zstd's other mode, --single-thread, gives other bytes for this input.
    expect(sha(command.replace(/ -T\d+ /, ' --single-thread '))).not.toBe(expected);
  });
});
