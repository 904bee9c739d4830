/** Publishing outputs: whole or absent, and a replaced tree removed off the build's path. */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { publish, REPLACED } from '../src/fsutil';

const dirs: string[] = [];
const tmp = () => {
  dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-publish-')));
  return dirs[dirs.length - 1];
};
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

/** A tree with `n` files holding `text`. */
function tree(dir: string, text: string, n = 3): string {
  fs.mkdirSync(path.join(dir, 'sub'), { recursive: true });
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(dir, 'sub', `f${i}`), text);
  return dir;
}

async function until(check: () => boolean, ms = 4_000): Promise<void> {
  for (const start = Date.now(); !check(); ) {
    if (Date.now() - start > ms) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('publish', () => {
  it('renames a file over the old one', async () => {
    const d = tmp();
    fs.writeFileSync(path.join(d, 'out'), 'old');
    fs.writeFileSync(path.join(d, 'new'), 'new');
    await publish(path.join(d, 'new'), path.join(d, 'out'));
    expect(fs.readdirSync(d)).toEqual(['out']);
    expect(fs.readFileSync(path.join(d, 'out'), 'utf8')).toBe('new');
  });

  it('replaces a tree at once; the old one is moved into the work base and removed by a detached process, then the empty work base', async () => {
    const d = tmp();
    const aside = path.join(d, '.kiln-work');
    tree(path.join(d, 'image'), 'old', 2000);
    tree(path.join(aside, 'build', 'root'), 'new');
    await publish(path.join(aside, 'build', 'root'), path.join(d, 'image'), aside);
    // publish did not wait for the removal: the old tree is still there, aside.
    expect(fs.readdirSync(aside).filter((e) => e.startsWith(REPLACED))).toHaveLength(1);
    expect(fs.readFileSync(path.join(d, 'image/sub/f0'), 'utf8')).toBe('new');
    expect(fs.readdirSync(path.join(d, 'image/sub'))).toHaveLength(3);
    // What the build leaves in the work base until its own cleanup, then the remover's leftovers.
    fs.rmSync(path.join(aside, 'build'), { recursive: true });
    await until(() => !fs.existsSync(aside));
    expect(fs.readdirSync(d)).toEqual(['image']);
  });

  it('the remover leaves a replaced tree with a mount below it (the stale-work sweep unmounts first)', async () => {
    const d = tmp();
    const aside = fs.mkdirSync(path.join(d, '.kiln-work'), { recursive: true })!;
    tree(path.join(d, 'image'), 'old');
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(d, 'image/sub')]);
    fs.writeFileSync(path.join(d, 'image/sub/host-file'), 'keep');
    try {
      await publish(tree(path.join(d, 'new'), 'new'), path.join(d, 'image'), aside);
      // Renamed to the remover's pid, which then refuses and exits.
      await until(() => fs.readdirSync(aside).some((e) => e.startsWith(REPLACED) && !e.endsWith(`.${process.pid}`)));
      const [left] = fs.readdirSync(aside);
      await new Promise((r) => setTimeout(r, 1000));
      expect(fs.readFileSync(path.join(aside, left, 'sub/host-file'), 'utf8')).toBe('keep');
    } finally {
      for (const e of fs.readdirSync(aside)) execFileSync('umount', [path.join(aside, e, 'sub')]);
    }
  });

  it('a tree replacing none is renamed; the work base stays as it was', async () => {
    const d = tmp();
    const aside = fs.mkdirSync(path.join(d, '.kiln-work'), { recursive: true })!;
    await publish(tree(path.join(d, 'new'), 'x'), path.join(d, 'image'), aside);
    expect(fs.readdirSync(d).sort()).toEqual(['.kiln-work', 'image']);
    expect(fs.readdirSync(aside)).toEqual([]);
  });

  it('puts the old tree back when the new one cannot be renamed into place', async () => {
    const d = tmp();
    const aside = fs.mkdirSync(path.join(d, '.kiln-work'), { recursive: true })!;
    // A directory cannot be renamed into itself (EINVAL): the second rename fails.
    tree(path.join(d, 'image'), 'old');
    await expect(publish(d, path.join(d, 'image'), aside)).rejects.toThrow(/EINVAL/);
    expect(fs.readFileSync(path.join(d, 'image/sub/f0'), 'utf8')).toBe('old');
    expect(fs.readdirSync(aside).filter((e) => e.startsWith(REPLACED))).toEqual([]);
  });
});
