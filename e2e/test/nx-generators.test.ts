/**
 * The generators as a user runs them: real `nx g` in a temp workspace that has never seen kiln,
 * then the new projects in `nx show projects` and a real build of a scaffolded preset.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nxBin, nxEnv, repo } from './workspace';

jest.setTimeout(600_000);

const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-gen-e2e-'));
const env = nxEnv(ws);

function nx(...args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [nxBin, ...args], { cwd: ws, env, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}\n${r.stderr}` };
}
/** The files `nx g` reports it wrote (its CREATE/UPDATE/DELETE lines), without colours. */
function written(out: string): string[] {
  // eslint-disable-next-line no-control-regex
  return [...out.replace(/\x1b\[[0-9;]*m/g, '').matchAll(/^(CREATE|UPDATE|DELETE) (.+)$/gm)].map((m) => `${m[1]} ${m[2].trim()}`);
}
function ok(...args: string[]): string {
  const r = nx(...args);
  if (r.status !== 0) throw new Error(`nx ${args.join(' ')} failed (${r.status}):\n${r.out}`);
  return r.out;
}

beforeAll(() => {
  fs.symlinkSync(path.join(repo, 'node_modules'), path.join(ws, 'node_modules'));
  fs.writeFileSync(path.join(ws, 'package.json'), '{ "name": "gen-e2e", "private": true, "devDependencies": { "@kiln/nx": "*" } }\n');
  fs.writeFileSync(path.join(ws, 'nx.json'), '{}\n');
  fs.writeFileSync(path.join(ws, '.gitignore'), 'node_modules\n.nx-cache/\n.nx-data/\n');
  spawnSync('git', ['init', '-q'], { cwd: ws });
});

afterAll(() => fs.rmSync(ws, { recursive: true, force: true }));

it('nx g @kiln/nx:init registers the plugin', () => {
  ok('g', '@kiln/nx:init', '--no-interactive');
  expect(JSON.parse(fs.readFileSync(path.join(ws, 'nx.json'), 'utf8')).plugins).toEqual(['@kiln/nx']);
  expect(fs.readFileSync(path.join(ws, '.gitignore'), 'utf8')).toContain('mkosi.output/');
});

it('nx g @kiln/nx:image scaffolds a project and presets that Nx sees at once, writing only their configs', () => {
  const outs = [
    ok('g', '@kiln/nx:image', 'appliance', '--directory=images/appliance', '--release=bookworm', '--no-interactive'),
    ok('g', '@kiln/nx:image', 'rootfs', '--project=appliance', '--format=directory', '--no-interactive'),
    ok('g', '@kiln/nx:image', 'app', '--project=appliance', '--baseTree=rootfs', '--packages=hello', '--no-interactive'),
  ];
  // Nx writes apps/.gitkeep and libs/.gitkeep for a generator named `preset`; this one is not.
  expect(outs.map(written)).toEqual([
    ['CREATE images/appliance/mkosi.conf'],
    ['CREATE images/appliance/mkosi.images/rootfs/mkosi.conf'],
    ['CREATE images/appliance/mkosi.images/app/mkosi.conf'],
  ]);
  expect(fs.existsSync(path.join(ws, 'apps/.gitkeep'))).toBe(false);
  expect(fs.existsSync(path.join(ws, 'libs/.gitkeep'))).toBe(false);
  const app = fs.readFileSync(path.join(ws, 'images/appliance/mkosi.images/app/mkosi.conf'), 'utf8');
  expect(app.match(/^\[Content\]$/gm)).toHaveLength(1);
  const projects = ok('show', 'projects', '--json');
  expect(JSON.parse(projects.slice(projects.indexOf('['), projects.lastIndexOf(']') + 1)).sort()).toEqual(['appliance', 'appliance-app', 'appliance-rootfs']);
  const shown = JSON.parse(ok('show', 'project', 'appliance-app', '--json').replace(/^[^{]*/, '').replace(/[^}]*$/, ''));
  expect(shown.root).toBe('images/appliance/mkosi.images/app');
  expect(shown.targets.image.cache).toBe(true);
});

it('a scaffolded preset builds: nx run appliance-app:image builds its base first', () => {
  const out = ok('run', 'appliance-app:image', '--outputStyle=static');
  expect(out).toMatch(/appliance-rootfs:image/);
  const output = path.join(ws, 'images/appliance/mkosi.output');
  expect(fs.existsSync(path.join(output, 'rootfs.tar.zst'))).toBe(true);
  const archive = fs.readdirSync(output).find((f) => f.startsWith('app.tar')) as string;
  const list = spawnSync('tar', ['-tf', path.join(output, archive)], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
  expect(list).toMatch(/^(\.\/)?usr\/bin\/hello$/m);
  expect(list).toMatch(/^(\.\/)?usr\/bin\/dpkg$/m);
});

it('a bad option is refused with the fix, and nothing is written', () => {
  const r = nx('g', '@kiln/nx:image', 'other', '--directory=images/elsewhere', '--no-interactive');
  expect(r.status).not.toBe(0);
  expect(r.out).toContain('use --directory images/other, or name the image elsewhere');
  expect(fs.existsSync(path.join(ws, 'images/elsewhere'))).toBe(false);
});
