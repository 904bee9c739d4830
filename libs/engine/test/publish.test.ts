/**
 * Publishing an output set (publish.ts): whole or not at all across a SIGKILL at every rename
 * (a real process killed while it waits at the KILN_TEST_PUBLISH_PAUSE FIFO, then the next run's
 * roll-forward), names that cannot leave the output directory, and a replaced tree removed off the
 * build's path by the detached remover.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadProject } from '@kiln/config';
import { inputsManifest, writeManifest } from '../src/build-manifest';
import { build, clean } from '../src/build';
import { processAlive, REPLACED, removeDetached } from '../src/fsutil';
import { checkOutputName, committed, JOURNAL, publishSet, rollForward } from '../src/publish';
import { tempProject } from './kiln';

jest.setTimeout(120_000);

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

/** Polls until `check` holds, with no deadline of its own (the jest timeout is the limit). */
async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((r) => setTimeout(r, 50));
}

/** The contents of an output directory: file -> text, tree -> its files' texts joined. */
function contents(out: string): Record<string, string> {
  const r: Record<string, string> = {};
  for (const name of fs.readdirSync(out).filter((n) => !n.startsWith('.')).sort()) {
    const p = path.join(out, name);
    r[name] = fs.statSync(p).isDirectory() ? fs.readdirSync(path.join(p, 'sub')).sort().map((f) => fs.readFileSync(path.join(p, 'sub', f), 'utf8')).join(',') : fs.readFileSync(p, 'utf8');
  }
  return r;
}

/**
 * An output directory with a previous set (tree `image`, archive, manifest) and a work directory
 * holding the next one, as a build leaves them just before publishing.
 */
function previousAndNext(): { out: string; work: string; files: [string, string][] } {
  const out = tmp();
  tree(path.join(out, 'image'), 'old');
  fs.writeFileSync(path.join(out, 'image.tar.zst'), 'old archive');
  fs.writeFileSync(path.join(out, 'image.manifest.json'), 'old manifest');
  const work = path.join(out, '.kiln-work', `proj.${process.pid}`);
  fs.mkdirSync(path.join(work, 'out'), { recursive: true });
  tree(path.join(work, 'root'), 'new');
  fs.writeFileSync(path.join(work, 'out/image.tar.zst'), 'new archive');
  fs.writeFileSync(path.join(work, 'image.manifest.json'), 'new manifest');
  const files: [string, string][] = [
    [path.join(work, 'out/image.tar.zst'), 'image.tar.zst'],
    [path.join(work, 'root'), 'image'],
    [path.join(work, 'image.manifest.json'), 'image.manifest.json'],
  ];
  return { out, work, files };
}

const OLD = { image: 'old,old,old', 'image.manifest.json': 'old manifest', 'image.tar.zst': 'old archive' };
const NEW = { image: 'new,new,new', 'image.manifest.json': 'new manifest', 'image.tar.zst': 'new archive' };

describe('publishing an output set', () => {
  it('replaces files and a tree, the manifest last; the old tree is left in the work directory for the remover', async () => {
    const { out, work, files } = previousAndNext();
    const old = await publishSet(work, out, files);
    expect(contents(out)).toEqual(NEW);
    expect(old).toBe(path.join(work, 'old'));
    expect(fs.readFileSync(path.join(old!, 'image/sub/f0'), 'utf8')).toBe('old');
    expect(committed(work)).toBe(true);
  });

  // The publishing process is killed at each of its renames (the archive, the old tree aside, the
  // new tree, the manifest); the next run rolls the committed set forward. (Killed before the
  // commit, the previous set was never touched: the kill suite in apps/kiln/test.)
  for (const at of [1, 2, 3, 4]) {
    it(`killed at rename ${at} of 4, it leaves the new set after the roll-forward`, async () => {
      const { out, work, files } = previousAndNext();
      const fifo = path.join(tmp(), 'pause');
      execFileSync('mkfifo', [fifo]);
      const script = `require(${JSON.stringify(path.resolve(__dirname, '../dist/publish.js'))}).publishSet(...JSON.parse(process.argv[1]))`;
      const child = spawn(process.execPath, ['-e', script, JSON.stringify([work, out, files, { env: { KILN_TEST_PUBLISH_PAUSE: fifo } }])], { stdio: 'inherit' });
      const exited = new Promise((r) => child.on('close', r));
      // Each open of the FIFO's writing end returns once the publisher waits at a rename; it goes
      // on when the end is closed, so it is killed before the close at rename `at`.
      for (let i = 1; i <= at; i++) {
        const w = await fs.promises.open(fifo, 'w');
        if (i === at) child.kill('SIGKILL');
        await w.close();
      }
      await exited;
      if (at === 1) expect(contents(out)).toEqual(OLD);
      else expect(contents(out)).not.toEqual(NEW);
      expect(committed(work)).toBe(true);
      rollForward(work, out, {});
      expect(contents(out)).toEqual(NEW);
      // Idempotent: a roll-forward killed and run again changes nothing more.
      rollForward(work, out, {});
      expect(contents(out)).toEqual(NEW);
    });
  }

  it('refuses output names that would leave the output directory, before renaming anything', async () => {
    const { out, work, files } = previousAndNext();
    for (const name of ['../escape', '..', '.', '', 'a/b', '.kiln-work', `/etc/passwd`]) {
      expect(() => checkOutputName(out, name, 'proj')).toThrow(/^proj: refusing output name .*: outputs are plain file names inside OutputDirectory=/);
    }
    await expect(publishSet(work, out, [files[0], [files[2][0], '../image.manifest.json']])).rejects.toThrow(/refusing output name "\.\.\/image\.manifest\.json"/);
    expect(contents(out)).toEqual(OLD);
    expect(fs.existsSync(path.join(work, JOURNAL))).toBe(false);
    expect(fs.readdirSync(path.dirname(out)).filter((n) => n === 'image.manifest.json')).toEqual([]);
  });

  it('the detached remover removes a replaced tree, then the empty work base', async () => {
    const d = tmp();
    const workBase = path.join(d, '.kiln-work');
    tree(path.join(workBase, 'proj.1', 'old', 'image'), 'old', 2000);
    removeDetached(path.join(workBase, 'proj.1', 'old'), workBase);
    expect(fs.readdirSync(workBase).filter((e) => e.startsWith(REPLACED))).toHaveLength(1);
    fs.rmSync(path.join(workBase, 'proj.1'), { recursive: true });
    await until(() => !fs.existsSync(workBase));
    expect(fs.readdirSync(d)).toEqual([]);
  });

  it('the remover leaves a replaced tree with a mount below it (the stale-work sweep unmounts first)', async () => {
    const d = tmp();
    const workBase = path.join(d, '.kiln-work');
    tree(path.join(d, 'old'), 'old');
    execFileSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(d, 'old/sub')]);
    fs.writeFileSync(path.join(d, 'old/sub/host-file'), 'keep');
    fs.mkdirSync(workBase);
    try {
      removeDetached(path.join(d, 'old'), workBase);
      // Renamed to the remover's pid, which then refuses and exits.
      let left = '';
      await until(() => !!(left = fs.readdirSync(workBase).find((e) => e.startsWith(REPLACED) && !e.endsWith(`.${process.pid}`)) ?? ''));
      const pid = Number(left.split('.').pop());
      await until(() => !processAlive(pid));
      expect(fs.readFileSync(path.join(workBase, left, 'sub/host-file'), 'utf8')).toBe('keep');
    } finally {
      for (const e of fs.readdirSync(workBase)) execFileSync('umount', [path.join(workBase, e, 'sub')]);
    }
  });

  it('the engine refuses a crafted config whose output names leave the output directory: build and clean write and remove nothing outside', async () => {
    const root = tempProject({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=small\nFormat=tar\n' });
    const project = loadProject(root);
    // What the config validation refuses, set behind its back: the engine checks anyway.
    project.main.config.Output = '../escape';
    for (const f of ['escape.tar.zst', 'escape.manifest.json']) fs.writeFileSync(path.join(root, f), 'not kiln\'s');
    const before = fs.readdirSync(root).sort();
    const message = /^proj: refusing output name "\.\.\/escape\.tar\.zst": outputs are plain file names inside OutputDirectory= \(.*\/mkosi\.output\); check Output= and ImageVersion=$/;
    await expect(build(project, { force: true, env: {} })).rejects.toThrow(message);
    await expect(clean(project, undefined, { env: {} })).rejects.toThrow(message);
    expect(fs.readdirSync(root).sort()).toEqual(before);
    for (const f of ['escape.tar.zst', 'escape.manifest.json']) expect(fs.readFileSync(path.join(root, f), 'utf8')).toBe("not kiln's");
  });

  it('a full disk while writing the manifest is one clear error naming it', async () => {
    const root = tempProject({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=small\nFormat=tar\n' });
    const project = loadProject(root);
    const work = tmp();
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', work]);
    try {
      execFileSync('sh', ['-c', 'cat /dev/zero > "$1/fill" 2>/dev/null; true', 'sh', work]);
      const manifest = inputsManifest(project, project.main, { env: {} });
      await expect(writeManifest(project.main, manifest, work, [], {})).rejects.toThrow(
        `proj: writing the build manifest small.manifest.json: no space left on device in ${work}: free space there or set OutputDirectory= to a larger file system; the previous outputs are unchanged`,
      );
    } finally {
      execFileSync('umount', [work]);
    }
  });
});
