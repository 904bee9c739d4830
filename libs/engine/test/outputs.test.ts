/**
 * Output writers: one per buildable format of @kiln/config's registry (no mirror needed).
 */
import { buildableFormats } from '@kiln/config';
import type { BuildContext } from '../src/context';
import { WRITERS, writeOutputs } from '../src/outputs';

describe('output writers', () => {
  it('cover exactly the formats the registry can build', () => {
    expect(Object.keys(WRITERS).sort()).toEqual(buildableFormats().sort());
  });

  it('a format the registry plans but kiln cannot build yet is refused, naming those it can', async () => {
    const ctx = { preset: { name: 'img', config: { Format: 'disk', Output: 'img', CompressOutput: 'none' } } } as unknown as BuildContext;
    await expect(writeOutputs(ctx, '/nonexistent')).rejects.toThrow('Format=disk cannot be built yet (supported: directory, tar, cpio, none)');
  });
});
