/**
 * `nx g @kiln/nx:turbo` and `kiln turbo`: the same files from the same project (the generator
 * through Nx's tree on disk, the CLI directly), and the CLI's guards: `kiln turbo digests` stops
 * when a gitignored mkosi.local.conf changed what turbo must know (the outputs), and `kiln turbo
 * check` when kiln.digest is not the fingerprint now. No image is built (e2e/test/turbo.test.ts
 * builds with the real turbo).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { flushChanges, FsTree } from 'nx/src/generators/tree';
import { turboGenerator } from '../src/generators/turbo/generator';

const repo = path.resolve(__dirname, '../../..');
const kilnBin = path.join(repo, 'apps/kiln/dist/main.js');

function workspace(): string {
  const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-turbo-gen-'));
  fs.cpSync(path.join(repo, 'examples/system'), path.join(ws, 'system'), { recursive: true, filter: (s) => !s.includes('mkosi.output') });
  fs.writeFileSync(path.join(ws, 'package.json'), '{ "name": "w", "private": true, "workspaces": ["libs/*"] }\n');
  return ws;
}

const kiln = (cwd: string, args: string[]) => spawnSync(process.execPath, [kilnBin, ...args], { cwd, encoding: 'utf8' });

/** Every file under `dir` but the project itself, with its content. */
function files(dir: string): Record<string, string> {
  return Object.fromEntries(
    (fs.readdirSync(dir, { recursive: true }) as string[])
      .filter((f) => !/^(system|node_modules|nx\.json|\.nx-)/.test(f) && fs.statSync(path.join(dir, f)).isFile())
      .sort()
      .map((f) => [f, fs.readFileSync(path.join(dir, f), 'utf8')]),
  );
}

describe('Turborepo packages', () => {
  const made: string[] = [];
  afterAll(() => made.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

  it('nx g @kiln/nx:turbo writes what kiln turbo -C DIR writes; again, nothing changes', async () => {
    const [byNx, byCli] = [workspace(), workspace()];
    made.push(byNx, byCli);
    const tree = new FsTree(byNx, false);
    await turboGenerator(tree, { directory: 'system' });
    flushChanges(byNx, tree.listChanges());
    const r = kiln(byCli, ['turbo', '-C', 'system']);
    expect(r.status).toBe(0);
    expect(files(byNx)).toEqual(files(byCli));
    expect(Object.keys(files(byNx))).toEqual(expect.arrayContaining(['kiln.turbo/system-base/turbo.json', 'kiln.turbo/system-tools/package.json', 'turbo.json']));
    // In an Nx workspace the packages are projects too (Nx's package.json plugin), beside the
    // kiln plugin's preset projects: their scoped names keep both.
    fs.symlinkSync(path.join(repo, 'node_modules'), path.join(byNx, 'node_modules'));
    fs.writeFileSync(path.join(byNx, 'nx.json'), '{ "plugins": ["@kiln/nx"] }\n');
    const nxEnv = { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_INTERACTIVE: 'false', NX_CACHE_DIRECTORY: path.join(byNx, '.nx-cache'), NX_WORKSPACE_DATA_DIRECTORY: path.join(byNx, '.nx-data') };
    const shown = spawnSync(process.execPath, [path.join(repo, 'node_modules/nx/dist/bin/nx.js'), 'show', 'projects'], { cwd: byNx, env: nxEnv, encoding: 'utf8' });
    expect(shown.stderr).toBe('');
    expect(shown.stdout.split('\n')).toEqual(expect.arrayContaining(['system', 'system-base', '@kiln-turbo/system', '@kiln-turbo/system-base']));
    const again = new FsTree(byNx, false);
    await turboGenerator(again, { directory: 'system' });
    expect(again.listChanges()).toEqual([]);
    expect(kiln(byCli, ['turbo', '-C', 'system']).stdout).toBe('');
  });

  it('kiln turbo digests stops when a gitignored mkosi.local.conf changed a preset\'s outputs; kiln turbo check when a digest is stale', () => {
    const ws = workspace();
    made.push(ws);
    expect(kiln(ws, ['turbo', '-C', 'system']).status).toBe(0);
    expect(kiln(ws, ['turbo', 'digests']).status).toBe(0);
    const pkg = path.join(ws, 'kiln.turbo/system-base');
    expect(kiln(pkg, ['turbo', 'check']).status).toBe(0);
    const digest = fs.readFileSync(path.join(pkg, 'kiln.digest'), 'utf8');

    fs.writeFileSync(path.join(ws, 'system/mkosi.images/base/mkosi.local.conf'), '[Content]\nHostname=changed\n');
    const stale = kiln(pkg, ['turbo', 'check']);
    expect(stale.status).toBe(1);
    expect(stale.stderr).toBe('kiln: kiln.turbo/system-base/kiln.digest: not the fingerprint of the inputs now: turbo hashed a stale fingerprint; run `kiln turbo digests` before `turbo run` (the root script `npm run image` does)\n');

    fs.rmSync(path.join(ws, 'system/mkosi.images/base/mkosi.local.conf'));
    fs.writeFileSync(path.join(ws, 'system/mkosi.local.conf'), '[Output]\nFormat=tar\n');
    const moved = kiln(ws, ['turbo', 'digests']);
    expect(moved.status).toBe(1);
    expect(moved.stderr).toBe('kiln: kiln.turbo/system/turbo.json:1: out of date with the configuration of system; run `kiln turbo -C system` and commit what it writes\n');
    expect(fs.readFileSync(path.join(pkg, 'kiln.digest'), 'utf8')).toBe(digest); // nothing written
    expect(kiln(ws, ['turbo', '-C', 'system']).status).toBe(0);
    expect(JSON.parse(fs.readFileSync(path.join(ws, 'kiln.turbo/system/turbo.json'), 'utf8')).tasks.image.outputs).toContain('$TURBO_ROOT$/system/mkosi.output/system.tar.zst');
    expect(kiln(ws, ['turbo', 'digests']).status).toBe(0);
    expect(kiln(path.join(ws, 'kiln.turbo/system'), ['turbo', 'check']).status).toBe(0);
  });
});
