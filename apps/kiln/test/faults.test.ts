/**
 * Faults, as a user meets them with the built CLI: `kiln build` killed (SIGKILL to its process
 * group, SIGTERM or SIGINT to kiln) at ten points spread over a build leaves the previous outputs
 * bit-identical, no mounts under the project, no work directories piling up, and the next build
 * succeeds. Each point is reached by an event, never a clock: kiln's progress lines on stderr, a
 * script blocking on a FIFO the test opens, and inside the (synchronous) publish the
 * KILN_TEST_PUBLISH_PAUSE FIFO (publish.ts), where only SIGKILL can land.
 *
 * One warm small project (smallProject) with Incremental=yes, so that the essential set is
 * installed once (in the baseline build) and again only for the point that kills the install;
 * plus a Format=directory preset on the initrd's cpio, quick to build, for the tree replacement
 * and the prepare script (which runs when a layer is built: that point has a cold layer cache).
 * Then: two builds of a preset at once, `kiln clean --all` during a build, a full disk, and the
 * user's ~/.bashrc.
 */
import { execFileSync, spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { removeTempDirs, tempDir, waitForLine } from '../../../libs/engine/test/kiln';
import { faultsProject, mountsUnder, scriptReached, snapshot } from './faults';
import { kiln, startKiln } from './run-kiln';

jest.setTimeout(900_000);
afterAll(removeTempDirs);

async function mkfifo(fifo: string): Promise<void> {
  fs.rmSync(fifo, { force: true });
  execFileSync('mkfifo', [fifo]);
}

describe('kiln build killed at ten points', () => {
  let root: string;
  let out: string;
  let xdg: string;
  let baseline: Record<string, string>;
  let env: Record<string, string>;

  beforeAll(async () => {
    root = faultsProject();
    out = path.join(root, 'mkosi.output');
    xdg = tempDir('kiln-faults-xdg-');
    env = { XDG_CACHE_HOME: xdg, KILN_PROGRESS_INTERVAL: '1' };
    const r = await kiln(['build', '-C', root], { env });
    if (r.code !== 0) throw new Error(`baseline build failed:\n${r.stderr}`);
    baseline = snapshot(out);
  });

  it('builds the baseline: a tar, a cpio, a directory tree with its archive, their manifests', () => {
    expect(Object.keys(baseline)).toEqual(['initrd.cpio.zst', 'initrd.manifest.json', 'small.manifest.json', 'small.tar.zst', 'tree', 'tree.manifest.json', 'tree.tar.zst']);
  });

  /**
   * Each point: the build to start, how to reach the point, the signal. SIGTERM and SIGINT go to
   * kiln (which stops its tools and cleans up), SIGKILL to its whole process group (nothing runs
   * after it: the next build cleans up and rolls a committed publish forward).
   */
  type Reach = { line: RegExp } | { fifo: string } | { publishRename: number };
  const points: { name: string; args: string[]; reach: Reach; signal: NodeJS.Signals; env?: Record<string, string> }[] = [
    { name: 'while the essential set installs (dpkg configuring)', args: ['--preset', 'initrd', '-v'], reach: { line: /^ {2}Setting up / }, signal: 'SIGKILL', env: { XDG_CACHE_HOME: 'cold' } },
    { name: 'in a prepare script', args: ['--preset', 'tree'], reach: { fifo: 'fifo-prepare' }, signal: 'SIGTERM', env: { XDG_CACHE_HOME: 'cold' } },
    { name: 'copying an extra tree', args: [], reach: { line: /^proj: extra tree mkosi\.extra$/ }, signal: 'SIGINT' },
    { name: 'in a post-installation script', args: [], reach: { fifo: 'fifo-postinst' }, signal: 'SIGKILL' },
    { name: 'in a finalize script', args: [], reach: { fifo: 'fifo-finalize' }, signal: 'SIGINT' },
    { name: 'while writing the tar', args: [], reach: { line: /^proj: writing tar output$/ }, signal: 'SIGTERM' },
    { name: 'while unpacking a base tree (no layer yet)', args: ['--preset', 'tree'], reach: { line: /^tree: base tree / }, signal: 'SIGTERM', env: { XDG_CACHE_HOME: 'cold' } },
    { name: 'publishing, before its first rename', args: [], reach: { publishRename: 1 }, signal: 'SIGKILL' },
    // The next run on the preset rolls the publish the last point killed forward first (under the
    // preset's lock, before building): killed again there, after the archive and before the manifest.
    { name: 'rolling the killed publish forward, the archive renamed and not the manifest', args: [], reach: { publishRename: 2 }, signal: 'SIGKILL' },
    { name: 'replacing a Format=directory tree (the old one moved aside, the new one not in)', args: ['--preset', 'tree'], reach: { publishRename: 3 }, signal: 'SIGKILL' },
  ];

  for (const point of points) {
    it(`${point.signal} ${point.name}`, async () => {
      const pointEnv = { ...env, ...point.env };
      if (point.env?.XDG_CACHE_HOME) pointEnv.XDG_CACHE_HOME = tempDir('kiln-faults-cold-'); // no layer: the packages are installed
      let fifo: string | undefined;
      if ('fifo' in point.reach) fifo = path.join(root, point.reach.fifo);
      if ('publishRename' in point.reach) fifo = path.join(tempDir('kiln-faults-pause-'), 'pause');
      if (fifo) fs.rmSync(fifo, { force: true });
      if (fifo) await mkfifo(fifo);
      if ('publishRename' in point.reach) pointEnv.KILN_TEST_PUBLISH_PAUSE = fifo!;

      const { child, done } = startKiln(['build', '-C', root, '--force', ...point.args], root, pointEnv);
      const writers: fs.promises.FileHandle[] = [];
      try {
        if ('line' in point.reach) await waitForLine(child.stderr!, point.reach.line);
        else if ('fifo' in point.reach) writers.push(await scriptReached(fifo!, done));
        else {
          // Each open returns when publish waits before a rename; closing lets it do the rename.
          for (let i = 1; i < point.reach.publishRename; i++) await (await scriptReached(fifo!, done)).close();
          writers.push(await scriptReached(fifo!, done));
        }
        if (point.signal === 'SIGKILL') process.kill(-child.pid!, 'SIGKILL');
        else child.kill(point.signal);
      } finally {
        for (const w of writers) await w.close();
        if (fifo) fs.rmSync(fifo, { force: true });
      }
      const r = await done;
      const preset = point.args[0] === '--preset' ? point.args[1] : 'proj';
      const work = () => (fs.existsSync(path.join(out, '.kiln-work')) ? fs.readdirSync(path.join(out, '.kiln-work')) : []);
      if (point.signal !== 'SIGKILL') {
        expect(r.stderr).toContain(`kiln: ${point.signal}: stopping the build`);
        expect(r.stderr).toMatch(/kiln: interrupted; previous outputs are unchanged\n$/);
        expect(r.code).toBe(130);
        // kiln cleaned up after itself: no mounts, no work files of the preset.
        expect(mountsUnder(root)).toEqual([]);
        expect(work().filter((e) => e.startsWith(`${preset}.`))).toEqual([]);
      } else {
        // At most one dead work directory per preset (and its unheld lock file): a killed build's
        // leftovers are removed by the next build of its preset.
        const dead = work().filter((e) => !e.endsWith('.lock')).map((e) => e.replace(/\.\d+$/, ''));
        expect(dead.length).toBe(new Set(dead).size);
      }
      // Killed after its commit, a publish leaves a mix until the next run completes it (the next
      // point, and the last test); before its first rename, the previous set.
      if (!('publishRename' in point.reach) || point.reach.publishRename === 1) expect(snapshot(out)).toEqual(baseline);
    });
  }

  it('the next build rolls a killed publish forward and succeeds; outputs, mounts and work files are as after the baseline', async () => {
    // Not forced: the outputs are there (a killed publish is completed first, under the lock).
    const up = await kiln(['build', '-C', root], { env });
    expect(up.stderr).not.toMatch(/^kiln: /m);
    expect(up.code).toBe(0);
    expect(snapshot(out)).toEqual(baseline);
    const r = await kiln(['build', '-C', root, '--force', '--preset', 'tree'], { env });
    expect(r.stderr).not.toMatch(/^kiln: /m);
    expect(r.code).toBe(0);
    expect(snapshot(out)).toEqual(baseline);
    expect(mountsUnder(root)).toEqual([]);
    // The replaced tree's detached remover removes it, then the empty work base.
    while (fs.existsSync(path.join(out, '.kiln-work'))) await new Promise((res) => setTimeout(res, 100));
    expect(fs.readdirSync(path.join(xdg, 'kiln/layers')).filter((e) => e.startsWith('.'))).toEqual([]);
  });

  it('two builds of one preset at once serialise: the second waits for the first, naming it, and both succeed', async () => {
    const fifo = path.join(root, 'fifo-tree');
    await mkfifo(fifo);
    const a = startKiln(['build', '-C', root, '--force', '--preset', 'tree'], root, env);
    const writer = await scriptReached(fifo, a.done);
    const b = startKiln(['build', '-C', root, '--force', '--preset', 'tree'], root, env);
    const waiting = await waitForLine(b.child.stderr!, /^tree: waiting for /);
    expect(waiting).toBe(`tree: waiting for process ${a.child.pid} (kiln build of tree) to finish with this preset (its lock: ${out}/.kiln-work/tree.lock)`);
    await writer.close();
    fs.rmSync(fifo);
    const [ra, rb] = await Promise.all([a.done, b.done]);
    expect(ra.stderr).not.toMatch(/^kiln: /m);
    expect(rb.stderr).not.toMatch(/^kiln: /m);
    expect([ra.code, rb.code]).toEqual([0, 0]);
    expect(snapshot(out)).toEqual(baseline);
  });

  it('no step reads the start-up files of the home bash would read (~/.bashrc, ~/.profile)', async () => {
    // In a mount namespace of its own, root's .bashrc and .profile are files that leave a marker
    // and sleep; the builder's HOME holds the same. A bash with a socket as stdin (as execa's
    // pipes are) reads them: the marker shows the trap works.
    const home = tempDir('kiln-faults-home-');
    const marker = path.join(home, 'marker');
    const rc = `touch ${marker}; sleep 1\n`;
    for (const f of ['.bashrc', '.profile']) fs.writeFileSync(path.join(home, f), rc);
    const inNamespace = (cmd: string[], stdin: 'pipe' | 'ignore') =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind "$1" /root/.bashrc && mount --bind "$2" /root/.profile && shift 2 && exec "$@"', 'sh', path.join(home, '.bashrc'), path.join(home, '.profile'), ...cmd], {
          // SHLVL unset, as in the environment kiln gives its tools: bash reads ~/.bashrc for a
          // socket on stdin only when it is not the child of another shell.
          env: { ...process.env, ...env, HOME: home, SHLVL: undefined },
          stdio: [stdin, 'ignore', 'pipe'],
        });
        let stderr = '';
        child.stderr!.on('data', (d) => (stderr += d));
        child.on('close', (code) => resolve({ code, stderr }));
      });
    await inNamespace(['bash', '-c', 'true'], 'pipe');
    expect(fs.existsSync(marker)).toBe(true);
    fs.rmSync(marker);
    const r = await inNamespace([process.execPath, path.resolve(__dirname, '../dist/main.js'), 'build', '-C', root, '--force', '--preset', 'tree'], 'pipe');
    expect(r.stderr).not.toMatch(/^kiln: /m);
    expect(r.code).toBe(0);
    expect(fs.existsSync(marker)).toBe(false);
  });

  it('a full disk gives one clear error naming what was written where, and loses nothing', async () => {
    // The main image alone, its output directory on a small tmpfs (its layer is the one above).
    const copy = tempDir('kiln-faults-full-');
    const proj = path.join(copy, path.basename(root));
    // Not its outputs: a tree the last build replaced may still be being removed in .kiln-work/.
    fs.cpSync(root, proj, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true, filter: (p) => p !== path.join(root, 'mkosi.output') });
    const full = path.join(copy, 'out');
    fs.mkdirSync(full);
    fs.writeFileSync(path.join(proj, 'mkosi.conf'), fs.readFileSync(path.join(proj, 'mkosi.conf'), 'utf8').replace('[Output]\n', `[Output]\nOutputDirectory=${full}\n`));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=400m', 'tmpfs', full]);
    try {
      const first = await kiln(['build', '-C', proj, '--no-deps'], { env });
      expect(first.stderr).not.toMatch(/^kiln: /m);
      expect(first.code).toBe(0);
      const before = snapshot(full);
      // Room for what the build writes before its archive, not for the archive.
      const used = Number(execFileSync('df', ['--output=used', '-B1', full], { encoding: 'utf8' }).split('\n')[1]);
      execFileSync('mount', ['-o', `remount,size=${used + 8 * 1024 * 1024}`, full]);
      const r = await kiln(['build', '-C', proj, '--no-deps', '--force'], { env });
      expect(r.code).toBe(1);
      const errors = r.stderr.split('\n').filter((l) => /^kiln: |^\s+at /.test(l));
      expect(errors).toEqual([expect.stringMatching(new RegExp(`^kiln: proj: writing small\\.tar\\.zst: no space left on device in ${full}/\\.kiln-work/proj\\.\\d+: free space there or set OutputDirectory= to a larger file system; the previous outputs are unchanged$`))]);
      expect(snapshot(full)).toEqual(before);
      expect(fs.readdirSync(full).sort()).toEqual(['small.manifest.json', 'small.tar.zst']);
    } finally {
      execFileSync('umount', [full]);
    }
  });

  it('kiln clean --all during a build waits for it (naming why) instead of pulling the package cache from under it', async () => {
    const fifo = path.join(root, 'fifo-tree');
    await mkfifo(fifo);
    const build = startKiln(['build', '-C', root, '--force', '--preset', 'tree'], root, env);
    const writer = await scriptReached(fifo, build.done);
    const clean = startKiln(['clean', '-C', root, '--all', '--preset', 'initrd'], root, env);
    const waiting = await waitForLine(clean.child.stderr!, /^waiting for /);
    expect(waiting).toMatch(/^waiting for the builds using the package cache \S+ to end$/);
    await writer.close();
    fs.rmSync(fifo);
    const [b, c] = await Promise.all([build.done, clean.done]);
    expect(b.stderr).not.toMatch(/^kiln: /m);
    expect(b.code).toBe(0);
    expect(c.code).toBe(0);
    expect(c.stdout).toMatch(/^removed package cache /m);
    expect(c.stdout).toMatch(/^removed mkosi\.output\/initrd\.cpio\.zst$/m);
    const { ['initrd.cpio.zst']: _cpio, ['initrd.manifest.json']: _manifest, ...rest } = baseline;
    expect(snapshot(out)).toEqual(rest);
  });
});
