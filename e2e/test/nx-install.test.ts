/**
 * kiln as a user installs it: the four packages packed with `npm pack` (tools/pack.js), installed
 * with npm into a brand-new Nx workspace in a temp directory that has no path back to this
 * repository (no symlinked node_modules, the repository's bin directories out of PATH), then
 * `nx g @kiln/nx:init`, `nx g @kiln/nx:image`, and a real build with `nx run` whose second run
 * is restored from Nx's cache. The targets must not name an absolute path or the place the
 * packages live: the same workspace at another path hits the same cache.
 *
 * The build is Debian bookworm's essential set from the mirror; downloads go to the shared
 * package cache (~/.cache/kiln/packages), so only the first run on a machine downloads.
 */
import { spawnSync, type SpawnSyncOptions } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { nxEnv, repo } from './workspace';

jest.setTimeout(1_200_000);

const nxVersion: string = JSON.parse(fs.readFileSync(path.join(repo, 'node_modules/nx/package.json'), 'utf8')).version;

const ws = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-install-e2e-'));
const packDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-pack-'));
/** The same workspace copied elsewhere (last test). */
const moved = `${ws}-moved`;
const output = path.join(ws, 'images/appliance/mkosi.output');

/**
 * Nx's environment for the temp workspace, minus anything that leads back to the repository:
 * npm's variables from `npx jest` (npm_config_local_prefix, npm_package_*, INIT_CWD) and the
 * repository's node_modules/.bin directories that npx put on PATH.
 */
function cleanEnv(dir: string): Record<string, string | undefined> {
  const env = nxEnv(dir);
  for (const k of Object.keys(env)) if (/^npm_/i.test(k) || k === 'INIT_CWD' || k === 'NODE_PATH') delete env[k];
  delete env.SOURCE_DATE_EPOCH;
  env.PATH = (env.PATH ?? '')
    .split(path.delimiter)
    .filter((p) => p && !path.resolve(p).startsWith(repo + path.sep) && path.resolve(p) !== repo)
    .join(path.delimiter);
  return env;
}

function sh(cmd: string, args: string[], opts: SpawnSyncOptions & { cwd?: string } = {}): string {
  const cwd = opts.cwd ?? ws;
  const r = spawnSync(cmd, args, { cwd, env: cleanEnv(cwd), encoding: 'utf8', maxBuffer: 1 << 28, ...opts });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
  return `${r.stdout}\n${r.stderr}`;
}

/**
 * A bin of the workspace through npx, as a user runs it: --no never downloads one, and `--` keeps
 * npx from taking the command's options (`npx kiln --version` prints npm's version).
 */
const npx = (bin: string, args: string[], cwd = ws) => sh('npx', ['--no', '--', bin, ...args], { cwd });
const nx = (args: string[], cwd = ws) => npx('nx', args, cwd);

/** The JSON document in nx's output (it may print warnings around it). */
function json<T>(out: string): T {
  return JSON.parse(out.slice(out.indexOf('{'), out.lastIndexOf('}') + 1)) as T;
}

type RunJson = { tasks: { taskId: string; hash: string; projectName: string; target: string; cacheStatus: string; status: number }[] };
const runJson = (dir = ws): RunJson => JSON.parse(fs.readFileSync(path.join(dir, '.nx-cache', 'run.json'), 'utf8'));

const sha256 = (file: string) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');
type Target = { command?: string; options?: { command?: string }; inputs?: unknown[]; outputs?: string[]; metadata?: unknown };
/** `nx show project appliance --json`, read once the image is scaffolded. */
let project: { root: string; targets: Record<string, Target> };

/** The image target's cached outputs (the image, its manifest and the manifest's signature), as absolute paths. */
const outputs = () => (project.targets.image.outputs ?? []).map((o) => path.join(ws, o.replace('{workspaceRoot}', '').replace('{projectRoot}', project.root)));
/** The image file, not its manifest or the manifest's signature. */
const imageFile = () => {
  const files = outputs().filter((f) => !f.endsWith('.manifest.json') && !f.endsWith('.manifest.json.sig'));
  expect(files).toHaveLength(1);
  return files[0];
};

let tarballs: string[] = [];

beforeAll(() => {
  // Pack exactly what npm would publish.
  const packed = sh(process.execPath, [path.join(repo, 'tools/pack.js'), packDir], { cwd: repo });
  tarballs = packed.split('\n').filter((l) => l.endsWith('.tgz'));
  expect(tarballs.map((t) => path.basename(t)).sort()).toEqual(['kiln-cli-0.1.0.tgz', 'kiln-config-0.1.0.tgz', 'kiln-engine-0.1.0.tgz', 'kiln-nx-0.1.0.tgz']);

  sh('git', ['init', '-q']);
  fs.writeFileSync(path.join(ws, 'package.json'), `${JSON.stringify({ name: 'kiln-install-e2e', version: '0.0.0', private: true }, null, 2)}\n`);
  fs.writeFileSync(path.join(ws, '.gitignore'), 'node_modules/\n.nx-cache/\n.nx-data/\n.nx/\n');
  sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=error', `nx@${nxVersion}`, ...tarballs]);
  if (!fs.existsSync(path.join(ws, 'nx.json'))) fs.writeFileSync(path.join(ws, 'nx.json'), '{}\n');
}, 1_200_000);

afterAll(() => {
  for (const d of [ws, moved, packDir]) fs.rmSync(d, { recursive: true, force: true });
});

describe('the packed packages', () => {
  it('are installed from the tarballs, into the workspace, with no link back to the repository', () => {
    for (const name of ['config', 'engine', 'cli', 'nx']) {
      const dir = path.join(ws, 'node_modules/@kiln', name);
      expect(fs.lstatSync(dir).isSymbolicLink()).toBe(false);
      expect(fs.realpathSync(dir).startsWith(fs.realpathSync(ws) + path.sep)).toBe(true);
    }
    const links: string[] = [];
    const nm = path.join(ws, 'node_modules');
    for (const e of fs.readdirSync(nm, { recursive: true, withFileTypes: true })) {
      if (!e.isSymbolicLink()) continue;
      const file = path.join(e.parentPath ?? (e as unknown as { path: string }).path, e.name);
      const target = path.resolve(path.dirname(file), fs.readlinkSync(file));
      if (!target.startsWith(fs.realpathSync(ws) + path.sep) && !target.startsWith(ws + path.sep)) links.push(`${file} -> ${target}`);
    }
    expect(links).toEqual([]);
    expect(fs.readFileSync(path.join(ws, 'package-lock.json'), 'utf8')).not.toContain(repo);
  });

  it('hold the built code and the files Nx reads, and no sources, tests or build info', () => {
    const files = (name: string) => fs.readdirSync(path.join(ws, 'node_modules/@kiln', name), { recursive: true, encoding: 'utf8' });
    for (const name of ['config', 'engine', 'cli', 'nx']) {
      const list = files(name);
      expect(list.filter((f) => /tsbuildinfo$|\.test\.[jt]s$|(^|\/)test\/|(^|\/)tsconfig\.json$|(?<!\.d)\.ts$/.test(f))).toEqual([]);
      expect(list).toContain(name === 'cli' ? 'dist/main.js' : 'dist/index.js');
    }
    expect(files('config')).toContain('kiln.schema.json');
    // Every generator and executor @kiln/nx declares, with its schema and code.
    const nxDir = path.join(ws, 'node_modules/@kiln/nx');
    const pkg = JSON.parse(fs.readFileSync(path.join(nxDir, 'package.json'), 'utf8')) as Record<string, string | undefined>;
    expect(pkg.generators).toBeDefined();
    const missing: string[] = [];
    for (const [field, kind, code] of [['generators', 'generators', 'factory'], ['executors', 'executors', 'implementation']] as const) {
      if (!pkg[field]) continue;
      const collectionFile = path.join(nxDir, pkg[field] as string);
      if (!fs.existsSync(collectionFile)) {
        missing.push(`${field}: ${pkg[field]}`);
        continue;
      }
      const collection = JSON.parse(fs.readFileSync(collectionFile, 'utf8'))[kind] as Record<string, Record<string, string>>;
      for (const [name, entry] of Object.entries(collection)) {
        const schema = path.join(path.dirname(collectionFile), entry.schema);
        if (!fs.existsSync(schema)) missing.push(`${kind} ${name}: ${entry.schema}`);
        const impl = path.join(path.dirname(collectionFile), entry[code].split('#')[0]);
        if (![impl, `${impl}.js`].some((p) => fs.existsSync(p) && fs.statSync(p).isFile())) missing.push(`${kind} ${name}: ${entry[code]}`);
      }
    }
    expect(missing).toEqual([]);
    expect(files('nx')).toEqual(expect.arrayContaining(['generators.json', 'src/generators/init/schema.json', 'src/generators/image/schema.json']));
    // The kiln bin works from the install.
    expect(npx('kiln', ['--version'])).toContain('0.1.0');
  });
});

describe('a new Nx workspace', () => {
  it('nx g @kiln/nx:init registers the plugin', () => {
    nx(['g', '@kiln/nx:init', '--no-interactive']);
    const plugins = (JSON.parse(fs.readFileSync(path.join(ws, 'nx.json'), 'utf8')) as { plugins?: unknown[] }).plugins ?? [];
    expect(plugins.map((p) => (typeof p === 'string' ? p : (p as { plugin: string }).plugin))).toContain('@kiln/nx');
    expect(fs.readFileSync(path.join(ws, '.gitignore'), 'utf8')).toContain('mkosi.output/');
  });

  it('nx g @kiln/nx:image scaffolds a small Debian image that Nx sees at once', () => {
    nx(['g', '@kiln/nx:image', 'appliance', '--directory=images/appliance', '--release=bookworm', '--format=tar', '--no-interactive']);
    expect(fs.existsSync(path.join(ws, 'images/appliance/mkosi.conf'))).toBe(true);
    const projects = nx(['show', 'projects', '--json']);
    expect(JSON.parse(projects.slice(projects.indexOf('['), projects.lastIndexOf(']') + 1))).toContain('appliance');
    project = json(nx(['show', 'project', 'appliance', '--json']));
    expect(project.root).toBe('images/appliance');
    expect(project.targets.image).toMatchObject({ cache: true });
  });

  it('no target holds an absolute path, the workspace path or the repository path', () => {
    const bad: string[] = [];
    const forbidden = [ws, fs.realpathSync(ws), repo];
    const walk = (v: unknown, where: string): void => {
      if (typeof v === 'string') {
        // Each word of a command too: `node /abs/digest.js --cache /tmp/...` hides paths mid-string.
        const words = v.split(/\s+/).map((w) => w.replace(/^['"]|['"]$/g, ''));
        if (v.startsWith('/') || words.some((w) => w.startsWith('/')) || forbidden.some((f) => v.includes(f))) bad.push(`${where}: ${v}`);
      } else if (Array.isArray(v)) v.forEach((x, i) => walk(x, `${where}[${i}]`));
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, `${where}.${k}`);
    };
    for (const [name, t] of Object.entries(project.targets)) walk({ command: t.command, options: t.options, inputs: t.inputs, outputs: t.outputs, metadata: t.metadata }, name);
    expect(bad).toEqual([]);
  });

  it('no command or runtime input names a file inside node_modules', () => {
    // Where npm (or pnpm, or a hoisting change) puts @kiln/cli must not change a target's command
    // or inputs, which are part of every task's hash.
    const found = Object.entries(project.targets).flatMap(([name, t]) =>
      [t.options?.command, ...(t.inputs ?? []).map((i) => (i as { runtime?: string }).runtime)].filter((c): c is string => typeof c === 'string' && c.includes('node_modules')).map((c) => `${name}: ${c}`),
    );
    expect(found).toEqual([]);
  });

  let built = '';
  let hash = '';
  it('nx run appliance:image builds the image', () => {
    const out = nx(['run', 'appliance:image', '--outputStyle=static']);
    // Every output but the manifest's signature (this build is not signed: no KILN_SIGNING_KEY).
    for (const f of outputs().filter((o) => !o.endsWith('.sig'))) expect(fs.existsSync(f) ? f : `missing: ${f}`).toBe(f);
    built = sha256(imageFile());
    expect(runJson().tasks).toEqual([expect.objectContaining({ taskId: 'appliance:image', cacheStatus: 'cache-miss', status: 0 })]);
    hash = runJson().tasks[0].hash;
    // A tar of a Debian root.
    const list = spawnSync('tar', ['-taf', imageFile()], { encoding: 'utf8', maxBuffer: 1 << 28 }).stdout;
    expect(list).toMatch(/^(\.\/)?usr\/bin\/dpkg$/m);
    expect(out).toContain('appliance:image');
  });

  it('the second run is a local cache hit and restores the same image', () => {
    // Without its outputs, so that Nx restores them (with them it would keep the existing ones).
    fs.rmSync(output, { recursive: true, force: true });
    const out = nx(['run', 'appliance:image', '--outputStyle=static']);
    expect(runJson().tasks).toEqual([expect.objectContaining({ taskId: 'appliance:image', hash, cacheStatus: 'local-cache-hit', status: 0 })]);
    expect(out).toMatch(/cache/i);
    expect(sha256(imageFile())).toBe(built);
  });

  it('the same workspace at another path has the same task hash and hits the same cache', () => {
    // Everything but the outputs and Nx's data; the first workspace's cache directory, and of its
    // workspace data only the database that records the cache entries (Nx 24 ignores entries it
    // has no record of), not the cached project graph: the moved workspace computes its own.
    fs.cpSync(ws, moved, { recursive: true, verbatimSymlinks: true, filter: (s) => !/\/(mkosi\.output|\.nx-data|\.nx-cache)(\/|$)/.test(s) });
    fs.mkdirSync(path.join(moved, '.nx-data'));
    for (const f of fs.readdirSync(path.join(ws, '.nx-data')).filter((f) => f.endsWith('.db'))) fs.copyFileSync(path.join(ws, '.nx-data', f), path.join(moved, '.nx-data', f));
    const env = { ...cleanEnv(moved), NX_CACHE_DIRECTORY: path.join(ws, '.nx-cache') };
    const r = spawnSync('npx', ['--no', '--', 'nx', 'run', 'appliance:image', '--outputStyle=static'], { cwd: moved, env, encoding: 'utf8', maxBuffer: 1 << 28 });
    expect({ status: r.status, out: r.status === 0 ? '' : `${r.stdout}\n${r.stderr}` }).toEqual({ status: 0, out: '' });
    expect(runJson(ws).tasks).toEqual([expect.objectContaining({ taskId: 'appliance:image', hash, cacheStatus: 'local-cache-hit' })]);
    expect(sha256(imageFile().replace(ws, moved))).toBe(built);
  });
});
