/**
 * The environment of scripts (scripts.ts contract): what mkosi 26 gives prepare and build scripts
 * about the build (WITH_NETWORK=, WITH_TESTS=, WITH_DOCS=), computed from the preset's settings.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProject } from '@kiln/config';
import type { BuildContext } from '../src/context';
import { contract } from '../src/scripts';

function context(conf: string): BuildContext {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-script-env-'));
  fs.writeFileSync(path.join(root, 'mkosi.conf'), conf);
  const project = loadProject(root, { env: {} });
  return { project, preset: project.main, root: '/image', work: '/work', packageCache: '/cache', sourceDateEpoch: 0, env: {}, log: () => {} } as unknown as BuildContext;
}

describe('the script environment', () => {
  it('WITH_TESTS=1 by default and 0 with WithTests=no (WITH_DOCS likewise), for prepare and build scripts only (as mkosi)', () => {
    const on = context('[Build]\nWithNetwork=yes\n');
    expect(['prepare', 'build', 'postinst', 'finalize'].map((k) => contract(on, k as never, false, { outputdir: '/out' }).WITH_TESTS)).toEqual(['1', '1', undefined, undefined]);
    const off = context('[Build]\nWithTests=no\n[Content]\nWithDocs=no\n');
    expect(contract(off, 'build', false, { outputdir: '/out' })).toMatchObject({ WITH_TESTS: '0', WITH_NETWORK: '0', WITH_DOCS: '0' });
    expect(contract(on, 'prepare', true, { outputdir: '/out' })).toMatchObject({ WITH_TESTS: '1', WITH_NETWORK: '1', WITH_DOCS: '1' });
  });
});
