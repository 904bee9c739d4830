/**
 * The pacman installer's facts, without building: the repositories mkosi would use for each
 * setting (order matters: pacman installs a name from the first repository listing it), the
 * architecture names, and pacman's sync database reader on a database of repo-add's format.
 */
import { gzipSync } from 'node:zlib';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pack } from 'tar-stream';
import type { BuildContext } from '../src/context';
import { BuildError } from '../src/errors';
import { pacmanArch, repositories } from '../src/installers/pacman';
import { parseDesc, readSyncDb } from '../src/installers/pacman/alpm-db';

const ctx = (config: Record<string, unknown>): BuildContext =>
  ({ preset: { name: 'p', config: { Distribution: 'arch', Architecture: 'x86-64', Mirror: null, LocalMirror: null, Repositories: [], ...config } } }) as unknown as BuildContext;

describe('pacman repositories', () => {
  it('core and extra from the default mirror, as mkosi', () => {
    expect(repositories(ctx({}))).toEqual([
      { name: 'core', server: 'https://fastly.mirror.pkgbuild.com/$repo/os/$arch' },
      { name: 'extra', server: 'https://fastly.mirror.pkgbuild.com/$repo/os/$arch' },
    ]);
  });

  it('Repositories= adds testing and multilib repositories before core, in mkosi\'s order; unknown names are not repositories', () => {
    const r = repositories(ctx({ Mirror: 'http://m/arch/', Repositories: ['multilib', 'core-testing', 'nonsense'] }));
    expect(r.map((x) => x.name)).toEqual(['core-testing', 'multilib', 'core', 'extra']);
    expect(r[0].server).toBe('http://m/arch/$repo/os/$arch');
  });

  it('LocalMirror= is the only repository; ARM has its own layout, mirror and alarm', () => {
    expect(repositories(ctx({ LocalMirror: 'file:///srv/repo/', Mirror: 'http://ignored' }))).toEqual([{ name: 'core', server: 'file:///srv/repo' }]);
    expect(repositories(ctx({ Architecture: 'arm64' }))).toEqual(['core', 'extra', 'alarm'].map((name) => ({ name, server: 'http://mirror.archlinuxarm.org/$arch/$repo' })));
  });

  it('architecture names are Arch\'s; others are a clear error', () => {
    expect(['x86-64', 'arm64', 'arm'].map((a) => pacmanArch(ctx({ Architecture: a })))).toEqual(['x86_64', 'aarch64', 'armv7h']);
    expect(() => pacmanArch(ctx({ Architecture: 'riscv64' }))).toThrow(BuildError);
    expect(() => pacmanArch(ctx({ Architecture: 'riscv64' }))).toThrow('Architecture=riscv64 is not built by Arch Linux');
  });
});

describe('sync databases', () => {
  it('parses desc files, and reads NAME-VERSION/desc entries of a gzip\'d tar', async () => {
    const desc = '%FILENAME%\nhello-1:1.0-1-x86_64.pkg.tar.zst\n\n%NAME%\nhello\n\n%VERSION%\n1:1.0-1\n\n%CSIZE%\n123\n\n%SHA256SUM%\n' + 'a'.repeat(64) + '\n\n%ARCH%\nx86_64\n\n%PROVIDES%\nsh=1\ngreeter\n\n%GROUPS%\nbase\n\n%DEPENDS%\nlibhello\nbusybox>=1\n\n';
    expect(parseDesc(desc).DEPENDS).toEqual(['libhello', 'busybox>=1']);
    const p = pack();
    p.entry({ name: 'hello-1:1.0-1/', type: 'directory' });
    p.entry({ name: 'hello-1:1.0-1/desc' }, desc);
    p.finalize();
    const chunks: Buffer[] = [];
    for await (const c of p) chunks.push(c as Buffer);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-alpm-')), 'core.db');
    fs.writeFileSync(file, gzipSync(Buffer.concat(chunks)));
    const [h, ...rest] = await readSyncDb(file, 'core');
    expect(rest).toEqual([]);
    expect({ ...h, desc: undefined }).toEqual({
      repository: 'core', name: 'hello', version: '1:1.0-1', architecture: 'x86_64', filename: 'hello-1:1.0-1-x86_64.pkg.tar.zst',
      csize: 123, sha256: 'a'.repeat(64), provides: ['sh', 'greeter'], groups: ['base'], desc: undefined,
    });
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });
});
