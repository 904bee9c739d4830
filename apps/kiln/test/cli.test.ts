/**
 * The kiln binary as a user runs it (the compiled CLI, `npm test` builds it first): exit codes,
 * stdout, and errors as `file:line: message` without a stack trace.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { formatManifest } from '@kiln/config';

const repo = path.resolve(__dirname, '../../..');
const bin = path.join(repo, 'apps/kiln/dist/main.js');

function kiln(args: string[], cwd = repo) {
  const r = spawnSync(process.execPath, [bin, ...args], { cwd, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function tempProject(files: Record<string, string>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cli-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  }
  return root;
}

describe('kiln summary', () => {
  it('--json shows the demo\'s presets (and its generated tools tree) in dependency order with resolved settings', () => {
    const r = kiln(['summary', '--json', '-C', 'examples/system']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.order).toEqual(['tools', 'base', 'initrd', 'system']);
    expect(json.edges).toEqual([
      { from: 'base', to: 'tools', reason: 'ToolsTree=' },
      { from: 'initrd', to: 'tools', reason: 'ToolsTree=' },
      { from: 'system', to: 'base', reason: 'Dependencies=' },
      { from: 'system', to: 'initrd', reason: 'Dependencies=' },
      { from: 'system', to: 'tools', reason: 'ToolsTree=' },
    ]);
    const byName = Object.fromEntries(json.presets.map((p: { name: string }) => [p.name, p]));
    expect(byName.base.settings.Content.Packages).toEqual(['dbus', 'systemd', 'udev']);
    expect(byName.initrd.settings.Output).toMatchObject({ Format: 'cpio', CompressOutput: 'zstd', Output: 'initrd' });
    expect(byName.system.settings.Content).toMatchObject({ BaseTrees: ['mkosi.output/base'], ExtraTrees: [{ source: 'mkosi.extra', target: null }], Hostname: 'kiln-demo' });
    expect(byName.system.settings.Distribution).toMatchObject({ Distribution: 'debian', Release: 'bookworm' });
  });

  it("--json=mkosi prints mkosi 26's --json summary shape: Images with the main image last, Tools, mkosi's field names", () => {
    const r = kiln(['summary', '--json=mkosi', '-C', 'examples/system']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.Images.map((i: { Image: string }) => i.Image)).toEqual(['base', 'initrd', 'main']);
    expect(json.Tools.Image).toBe('tools');
    const main = json.Images[2];
    expect(main).toMatchObject({ Distribution: 'debian', Release: 'bookworm', Hostname: 'kiln-demo', Dependencies: ['base', 'initrd'] });
    expect(main.ExtraTrees).toEqual([{ Source: path.join(repo, 'examples/system/mkosi.extra'), Target: null }]);
    expect(main).not.toHaveProperty('Binhosts');
  });

  it('--json=FORM other than mkosi is refused', () => {
    const r = kiln(['summary', '--json=yaml', '-C', 'examples/system']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/argument 'yaml' is invalid\. Allowed choices are mkosi/);
  });

  it('prints settings grouped by section, like mkosi summary', () => {
    const r = kiln(['summary', '-C', 'examples/system']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^IMAGE: tools \(generated: the tools tree of ToolsTree=default\)\n {31}Lock: unlocked \(kiln lock pins exact package versions\)\n {4}INCLUDE:\n/);
    expect(r.stdout).toMatch(/\nIMAGE: base\n {31}Lock: unlocked \(kiln lock pins exact package versions\)\n {4}INCLUDE:\n/);
    expect(r.stdout).toContain('    DISTRIBUTION:\n                       Distribution: debian\n                            Release: bookworm\n');
    expect(r.stdout).toContain('DEPENDENCIES:\n    base -> tools (ToolsTree=)\n    initrd -> tools (ToolsTree=)\n    system -> base (Dependencies=)\n    system -> initrd (Dependencies=)\n    system -> tools (ToolsTree=)\n');
  });

  it('a configuration error exits 1 with file:line: message and no stack trace', () => {
    const root = tempProject({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.conf.d/10.conf': '[Output]\nCompressOutput=rar\n' });
    const r = kiln(['summary'], root);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('mkosi.conf.d/10.conf:2: CompressOutput=: "rar" is not a valid value (accepted: none, zstd, xz, bz2, gz, lz4, lzma)\n');
  });

  it('warnings go to stderr with file:line, and the summary still prints', () => {
    const root = tempProject({ 'mkosi.conf': '[Content]\nHostnme=x\n' });
    const r = kiln(['summary', '--json'], root);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('mkosi.conf:2: warning: unknown setting Hostnme= is ignored (did you mean Hostname=?)\n');
    expect(JSON.parse(r.stdout).order).toEqual([path.basename(root)]);
  });

  it('a directory without a project says so', () => {
    const r = kiln(['summary', '-C', os.tmpdir()]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no mkosi\.conf or kiln\.toml here \(run kiln in a project directory, or pass -C DIR\)/);
  });

  it('an unknown command is refused with usage help', () => {
    const r = kiln(['sumary']);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/unknown command 'sumary'/);
  });
});

describe('kiln schema', () => {
  it('prints the JSON Schema that is committed next to libs/config', () => {
    const r = kiln(['schema']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(fs.readFileSync(path.join(repo, 'libs/config/kiln.schema.json'), 'utf8')));
  });
});

describe('kiln digest', () => {
  it('an unknown preset exits 1 and names the presets there are', () => {
    const r = kiln(['digest', '-C', 'examples/system', '--preset', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('no preset named "nope" (accepted: tools, base, initrd, system)');
  });

  it('prints what the Nx target hashes: the runtime input of the plugin gives the same fingerprint', async () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { createNodes } = require('@kiln/nx') as typeof import('@kiln/nx');
    const results = await createNodes[1](['examples/system/mkosi.conf'], {}, { workspaceRoot: repo, nxJsonConfiguration: {} } as never);
    const projects = Object.assign({}, ...results.map(([, r]) => r.projects));
    for (const [root, preset] of [['examples/system', 'system'], ['examples/system/mkosi.images/base', 'base']]) {
      const inputs = projects[root].targets.image.inputs as { runtime?: string }[];
      const runtime = inputs.find((i) => i.runtime)!.runtime!;
      // As Nx runs it: a shell in the workspace root.
      const nx = spawnSync('sh', ['-c', runtime], { cwd: repo, encoding: 'utf8' });
      expect(nx.status).toBe(0);
      const cli = kiln(['digest', '-C', 'examples/system', '--preset', preset]);
      expect(cli.stdout).toBe(nx.stdout);
      expect(cli.stdout).toMatch(/^[0-9a-f]{64}\n$/);
      // --list shows the lines the fingerprint is made of, kiln's identity first, then the tools:
      // the demo's tools tree (ToolsTree=default), which its install and output steps run from.
      expect(kiln(['digest', '-C', 'examples/system', '--preset', preset, '--list']).stdout).toMatch(/^kiln 0\.1\.0\+[0-9a-f]{16}\nsettings [0-9a-f]{32}\ntool ToolsTree preset tools\n/);
    }
  });
});

describe('kiln explain', () => {
  const conf = '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=demo\nFormat=tar\n[Content]\nHostname=one\n';
  const project = () => {
    const root = tempProject({
      'mkosi.conf': conf,
      'mkosi.extra/etc/motd': 'hello\n',
      'mkosi.images/base/mkosi.conf': '[Output]\nFormat=directory\n',
      'mkosi.images/notes.conf': '[Output]\nFormat=none\n',
    });
    return { root, name: path.basename(root), manifest: path.join(root, 'mkosi.output/demo.manifest.json') };
  };
  /** The "previous build": the manifest of the inputs as they are, as the CLI computes it (its identity, the host's tools). */
  const recordBuild = (root: string, file: string) => {
    const json = JSON.parse(kiln(['explain', '--json', '-C', root]).stdout);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, formatManifest(json.current));
  };

  it('a project never built says so (exit 0), in text and JSON', () => {
    const { root, name } = project();
    const r = kiln(['explain', '-C', root]);
    expect([r.code, r.stderr]).toEqual([0, '']);
    expect(r.stdout).toBe(`${name}: no previous build (no manifest at mkosi.output/demo.manifest.json)\n`);
    const j = kiln(['explain', '--json', '-C', root]);
    expect(j.code).toBe(0);
    const json = JSON.parse(j.stdout);
    expect(json).toMatchObject({ preset: name, manifest: 'mkosi.output/demo.manifest.json', previous: 'missing', problem: null, changed: null, diff: null });
    expect(json.current).toMatchObject({ manifestVersion: 1, preset: name, kiln: expect.stringMatching(/^0\.1\.0\+[0-9a-f]{16}$/), packages: null });
    expect(Object.keys(json.current.files)).toEqual(['mkosi.conf', 'mkosi.extra', 'mkosi.extra/etc', 'mkosi.extra/etc/motd']);
  });

  it('nothing changed since the recorded build', () => {
    const { root, name, manifest } = project();
    recordBuild(root, manifest);
    const r = kiln(['explain', '-C', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      `${name}: changes since the last build (mkosi.output/demo.manifest.json)\nNothing changed\n` +
        'packages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here\n',
    );
    expect(JSON.parse(kiln(['explain', '--json', '-C', root]).stdout)).toMatchObject({ previous: 'found', changed: false });
  });

  it('a setting, a file\'s content, a mode and a new directory, grouped; --json gives the same as data', () => {
    const { root, name, manifest } = project();
    recordBuild(root, manifest);
    fs.writeFileSync(path.join(root, 'mkosi.conf'), conf.replace('Hostname=one', 'Hostname=two'));
    fs.writeFileSync(path.join(root, 'mkosi.extra/etc/motd'), 'changed\n');
    fs.chmodSync(path.join(root, 'mkosi.extra/etc'), 0o700);
    fs.mkdirSync(path.join(root, 'mkosi.extra/srv'));
    const r = kiln(['explain', '-C', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        `${name}: changes since the last build (mkosi.output/demo.manifest.json)`,
        'settings:',
        '  Hostname: "one" -> "two"',
        'files:',
        '  mkosi.conf changed (content)',
        '  mkosi.extra/etc changed (mode 755 -> 700 only)',
        '  mkosi.extra/etc/motd changed (content)',
        '  mkosi.extra/srv added (directory)',
        'packages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here',
        '',
      ].join('\n'),
    );
    const json = JSON.parse(kiln(['explain', '--json', '-C', root]).stdout);
    expect(json).toMatchObject({ previous: 'found', changed: true });
    expect(json.diff.settings).toEqual([{ name: 'Hostname', old: 'one', new: 'two' }]);
    expect(json.diff.files.map((f: { path: string; change: string; kinds: string[] }) => [f.path, f.change, f.kinds])).toEqual([
      ['mkosi.conf', 'changed', ['content']],
      ['mkosi.extra/etc', 'changed', ['mode']],
      ['mkosi.extra/etc/motd', 'changed', ['content']],
      ['mkosi.extra/srv', 'added', []],
    ]);
  });

  it('a manifest written by another kiln: its identity changed', () => {
    const { root, manifest } = project();
    recordBuild(root, manifest);
    const m = JSON.parse(fs.readFileSync(manifest, 'utf8'));
    fs.writeFileSync(manifest, formatManifest({ ...m, kiln: '0.0.9+0000000000000000' }));
    const r = kiln(['explain', '-C', root]);
    expect(r.stdout).toMatch(/\nkiln:\n {2}0\.0\.9\+0000000000000000 -> 0\.1\.0\+[0-9a-f]{16}\n/);
  });

  it('--preset: another preset\'s manifest; a preset without outputs has none', () => {
    const { root } = project();
    const base = path.join(root, 'mkosi.output/base.manifest.json');
    expect(kiln(['explain', '-C', root, '--preset', 'base']).stdout).toBe('base: no previous build (no manifest at mkosi.output/base.manifest.json)\n');
    const j = JSON.parse(kiln(['explain', '--json', '-C', root, '--preset', 'base']).stdout);
    fs.mkdirSync(path.dirname(base), { recursive: true });
    fs.writeFileSync(base, formatManifest(j.current));
    fs.writeFileSync(path.join(root, 'mkosi.images/base/mkosi.conf'), '[Output]\nFormat=directory\n[Content]\nPackages=systemd\n');
    expect(kiln(['explain', '-C', root, '--preset', 'base']).stdout).toContain('settings:\n  Packages: [] -> ["systemd"]\n');
    const none = kiln(['explain', '-C', root, '--preset', 'notes']);
    expect([none.code, none.stdout]).toEqual([0, 'notes: Format=none writes no outputs, so no build of it is recorded\n']);
  });

  it('a damaged manifest: cannot compare, treated as no previous build (exit 0)', () => {
    const { root, name, manifest } = project();
    fs.mkdirSync(path.dirname(manifest), { recursive: true });
    fs.writeFileSync(manifest, '{"manifestVersion": 1, "preset"');
    const r = kiln(['explain', '-C', root]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^cannot compare: mkosi\\.output/demo\\.manifest\\.json is not a kiln manifest \\(invalid JSON: [^\\n]*\\)\\n${name}: no previous build to compare with\\n$`));
    fs.writeFileSync(manifest, '{"name": "not-kiln"}');
    const j = JSON.parse(kiln(['explain', '--json', '-C', root]).stdout);
    expect(j).toMatchObject({ previous: 'invalid', changed: null, diff: null, problem: expect.stringMatching(/^cannot compare: mkosi\.output\/demo\.manifest\.json is not a kiln manifest \(manifestVersion: /) });
  });

  it('an unknown preset or a configuration error exits 1', () => {
    const { root } = project();
    const r = kiln(['explain', '-C', root, '--preset', 'nope']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^kiln: no preset named "nope" \(accepted: /);
    fs.writeFileSync(path.join(root, 'mkosi.conf'), '[Output]\nFormat=tarball\n');
    const bad = kiln(['explain'], root);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^mkosi\.conf:2: Format=: "tarball" is not a valid value/);
  });
});
