/**
 * Engine units that need no Debian mirror: unpacking archives safely, and the apt sources kiln
 * generates for Debian and Ubuntu (no Ubuntu mirror is reachable here, so Ubuntu is checked at
 * the level of its configuration).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProject } from '@kiln/config';
import { BuildError } from '../src/errors';
import type { BuildContext } from '../src/context';
import { sourceLines } from '../src/installers/apt/debian';
import { copyTree } from '../src/trees';

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-units-'));
const ctx = { log: () => undefined, label: 'test' };

describe('copying trees from archives', () => {
  it('unpacks a tar at its TARGET', async () => {
    const src = tmp();
    fs.mkdirSync(path.join(src, 'a'));
    fs.writeFileSync(path.join(src, 'a/f'), 'x');
    const archive = path.join(tmp(), 'tree.tar');
    spawnSync('tar', ['-C', src, '-cf', archive, '.']);
    const root = tmp();
    await copyTree(ctx, { source: archive, target: '/opt/t' }, root, { rootOwned: true, what: 'extra tree' });
    expect(fs.readFileSync(path.join(root, 'opt/t/a/f'), 'utf8')).toBe('x');
  });

  it('refuses an archive with a member escaping the image, before unpacking anything', async () => {
    const dir = tmp();
    fs.mkdirSync(path.join(dir, 'inner'));
    fs.writeFileSync(path.join(dir, 'evil'), 'pwned');
    fs.writeFileSync(path.join(dir, 'inner/ok'), 'ok');
    const archive = path.join(tmp(), 'evil.tar');
    // GNU tar stores "../evil" as given with --absolute-names.
    spawnSync('tar', ['-C', path.join(dir, 'inner'), '--absolute-names', '-cf', archive, 'ok', '../evil']);
    const root = path.join(tmp(), 'root');
    fs.mkdirSync(root);
    await expect(copyTree(ctx, { source: archive, target: null }, root, { rootOwned: true, what: 'extra tree' })).rejects.toThrow(
      new BuildError(`extra tree ${archive}: member "../evil" escapes the image (an absolute name or ".."): refusing to unpack it`, 'test'),
    );
    expect(fs.readdirSync(root)).toEqual([]);
    expect(fs.existsSync(path.join(path.dirname(root), 'evil'))).toBe(false);
  });

  it('refuses something that is neither a directory nor an archive', async () => {
    const f = path.join(tmp(), 'notes.txt');
    fs.writeFileSync(f, 'x');
    await expect(copyTree(ctx, { source: f, target: null }, tmp(), { rootOwned: true, what: 'extra tree' })).rejects.toThrow(/is neither a directory nor an archive/);
  });
});

describe('apt sources', () => {
  const context = (conf: string): BuildContext => {
    const dir = tmp();
    fs.writeFileSync(path.join(dir, 'mkosi.conf'), conf);
    const project = loadProject(dir, { env: {} });
    return { preset: project.main, project } as unknown as BuildContext;
  };

  it('Debian: the mirror, the release and its -updates suite, main plus Repositories=', () => {
    expect(sourceLines(context('[Distribution]\nDistribution=debian\nRelease=bookworm\nRepositories=contrib,non-free-firmware\n'))).toEqual([
      'deb http://deb.debian.org/debian bookworm main contrib non-free-firmware',
      'deb http://deb.debian.org/debian bookworm-updates main contrib non-free-firmware',
    ]);
  });

  it('Ubuntu: its own default mirror and components', () => {
    expect(sourceLines(context('[Distribution]\nDistribution=ubuntu\nRelease=noble\nRepositories=universe\n'))).toEqual([
      'deb http://archive.ubuntu.com/ubuntu noble main universe',
    ]);
  });

  it('Mirror=, LocalMirror= and RepositoryKeyCheck=no', () => {
    expect(sourceLines(context('[Distribution]\nRelease=trixie\nMirror=http://mirror.example/debian/\n'))).toEqual([
      'deb http://mirror.example/debian trixie main',
      'deb http://mirror.example/debian trixie-updates main',
    ]);
    expect(sourceLines(context('[Distribution]\nRelease=bookworm\nLocalMirror=http://127.0.0.1:8080/debian\nRepositoryKeyCheck=no\n'))).toEqual([
      'deb [trusted=yes] http://127.0.0.1:8080/debian bookworm main',
    ]);
  });
});
