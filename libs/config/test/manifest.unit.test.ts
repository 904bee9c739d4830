/**
 * Build manifests and their comparison (what `kiln explain` and a rebuild's log say): real
 * projects on disk, one mutation of each kind, the exact structured diff and its text.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  cachedOutputNames,
  compareDebianVersions,
  currentManifest,
  diffIsEmpty,
  diffManifests,
  formatExplanation,
  formatLockfile,
  formatManifest,
  loadProject,
  manifestPath,
  outputNames,
  presetInputs,
  presetSettings,
  readManifest,
  rebuildReason,
  type Lock,
  type LockedPackage,
  type Manifest,
  type ManifestDiff,
  type Project,
} from '../src';
import { makeProject, preset } from './helpers';

const TOOLS = { 'apt-get': 'apt 2.6.1 (amd64)', dpkg: "Debian 'dpkg' package management program version 1.21.22 (amd64).", mmdebstrap: 'mmdebstrap 1.3.5' };
const IDENTITY = '0.1.0+0123456789abcdef';

const FILES = {
  'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=tar\n[Content]\nHostname=one\n[Build]\nEnvironment=STAGE=1\n',
  'mkosi.extra/etc/motd': 'hello\n',
  'mkosi.extra/usr/bin/tool': '#!/bin/sh\n',
  'mkosi.postinst': '#!/bin/sh\necho one\n',
  'mkosi.images/base/mkosi.conf': '[Output]\nFormat=directory\n',
};

const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const fileEntry = (text: string, mode = '644') => ({ type: 'file', mode, size: Buffer.byteLength(text), sha256: sha(text) });

interface Options {
  env?: Record<string, string>;
  identity?: string;
  tools?: Record<string, string>;
  preset?: string;
}

function manifestOf(root: string, o: Options = {}): Manifest {
  const project = loadProject(root, { env: o.env ?? {} });
  const p = o.preset ? preset(project, o.preset) : project.main;
  return currentManifest(project, p, { identity: o.identity ?? IDENTITY, tools: o.tools ?? TOOLS, env: o.env ?? {} });
}

const NO_CHANGE: ManifestDiff = { settings: [], files: [], lock: null, packages: [], readOutputs: [], environment: [], tools: [], kiln: null, unlocked: true };

/** A project, its manifest, a mutation, and the diff of the manifests before and after. */
function change(mutate: (root: string) => void, o: { files?: Record<string, string>; setup?: (root: string) => void; before?: Options; after?: Options } = {}) {
  const root = makeProject(o.files ?? FILES);
  fs.chmodSync(path.join(root, 'mkosi.postinst'), 0o755);
  o.setup?.(root);
  const before = manifestOf(root, o.before);
  mutate(root);
  const after = manifestOf(root, o.after ?? o.before);
  const diff = diffManifests(before, after);
  return { root, before, after, diff, text: formatExplanation(diff) };
}

const edit = (root: string, rel: string, from: string, to: string) => {
  const f = path.join(root, rel);
  fs.writeFileSync(f, fs.readFileSync(f, 'utf8').replace(from, to));
};

describe('manifest contents', () => {
  it('records settings, input files, environment, tools and kiln, relative to the project', () => {
    const root = makeProject(FILES);
    fs.symlinkSync('/etc/hostname', path.join(root, 'mkosi.extra/etc/link'));
    const m = manifestOf(root, { env: { SOURCE_DATE_EPOCH: '1700000000' } });
    expect(m.manifestVersion).toBe(1);
    expect(m.preset).toBe('proj');
    expect(m.kiln).toBe(IDENTITY);
    expect(m.tools).toEqual(TOOLS);
    expect(m.settings).toMatchObject({ Hostname: 'one', Format: 'tar', Environment: { STAGE: '1' }, PostInstallationScripts: ['mkosi.postinst'], ExtraTrees: [{ source: 'mkosi.extra', target: null }] });
    expect(m.files).toEqual({
      'mkosi.conf': fileEntry(FILES['mkosi.conf']),
      'mkosi.extra': { type: 'dir', mode: '755' },
      'mkosi.extra/etc': { type: 'dir', mode: '755' },
      'mkosi.extra/etc/link': { type: 'link', target: '/etc/hostname' },
      'mkosi.extra/etc/motd': fileEntry('hello\n'),
      'mkosi.extra/usr': { type: 'dir', mode: '755' },
      'mkosi.extra/usr/bin': { type: 'dir', mode: '755' },
      'mkosi.extra/usr/bin/tool': fileEntry('#!/bin/sh\n'),
      'mkosi.postinst': fileEntry(FILES['mkosi.postinst']),
    });
    expect(m.environment).toEqual({ SOURCE_DATE_EPOCH: sha('1700000000') });
    expect(m.packages).toBeNull();
    expect(m.buildPackages).toBeNull();
    expect(m.readOutputs).toEqual({});
  });

  it('is deterministic: the same bytes for two computations and for two checkouts at different paths', () => {
    const a = makeProject(FILES);
    const b = makeProject(FILES);
    for (const r of [a, b]) fs.chmodSync(path.join(r, 'mkosi.postinst'), 0o755);
    const m1 = manifestOf(a);
    const m2 = manifestOf(a);
    expect(m2).toEqual(m1);
    expect(formatManifest(m2)).toBe(formatManifest(m1));
    expect(formatManifest(manifestOf(b))).toBe(formatManifest(m1));
    const text = formatManifest(m1);
    expect(text).not.toContain(a);
    expect(text).not.toContain(os.tmpdir());
    // Sorted keys at every level, so that the text is canonical.
    const keys = (v: unknown): void => {
      if (!v || typeof v !== 'object' || Array.isArray(v)) return;
      expect(Object.keys(v)).toEqual(Object.keys(v).sort());
      Object.values(v).forEach(keys);
    };
    keys(JSON.parse(text));
  });

  it('reads back what it writes', () => {
    const root = makeProject(FILES);
    const m = manifestOf(root);
    const file = path.join(root, 'm.json');
    fs.writeFileSync(file, formatManifest(m));
    expect(readManifest(file)).toEqual({ status: 'found', manifest: m });
  });

  it('keeps secrets out: passed-through variables and RootPassword= only as hashes', () => {
    const files = { ...FILES, 'mkosi.conf': `${FILES['mkosi.conf']}Environment=TOKEN\n[Content]\nRootPassword=hunter2\n` };
    const r = change(() => undefined, { files, before: { env: { TOKEN: 's3cret-value' } }, after: { env: { TOKEN: 'other-value' } } });
    const text = formatManifest(r.before);
    expect(text).not.toContain('s3cret-value');
    expect(text).not.toContain('hunter2');
    expect(r.before.settings.Environment).toEqual({ STAGE: '1', TOKEN: '(from the environment)' });
    expect(r.before.environment).toEqual({ SOURCE_DATE_EPOCH: null, TOKEN: sha('s3cret-value') });
    expect(r.diff).toEqual({ ...NO_CHANGE, environment: [{ name: 'TOKEN', change: 'changed' }] });
    const pw = change((root) => edit(root, 'mkosi.conf', 'hunter2', 'hunter3'), { files });
    expect(pw.diff.settings).toEqual([{ name: 'RootPassword', old: `sha256:${sha('"hunter2"')}`, new: `sha256:${sha('"hunter3"')}` }]);
    expect(pw.text).toContain('  RootPassword: changed (the value is not shown)\n');
    expect(pw.text).not.toContain('hunter');
  });

  it('the settings hash is the hash of the same settings record', () => {
    const project = loadProject(makeProject(FILES), { env: {} });
    const hash = createHash('sha256').update(JSON.stringify(presetSettings(project, project.main))).digest('hex').slice(0, 32);
    expect(presetInputs(project, project.main).settingsHash).toBe(hash);
  });

  it('lives beside the outputs as OUTPUT.manifest.json, among the cached outputs; none for Format=none', () => {
    expect(outputNames({ Format: 'tar', Output: 'system', CompressOutput: 'zstd' })).toEqual(['system.tar.zst', 'system.manifest.json.sig', 'system.manifest.json']);
    expect(outputNames({ Format: 'directory', Output: 'base', CompressOutput: 'none' })).toEqual(['base', 'base.tar.zst', 'base.manifest.json.sig', 'base.manifest.json']);
    expect(cachedOutputNames({ Format: 'directory', Output: 'base', CompressOutput: 'none' })).toEqual(['base.tar.zst', 'base.manifest.json.sig', 'base.manifest.json']);
    expect(outputNames({ Format: 'none', Output: 'n', CompressOutput: 'none' })).toEqual([]);
    const project = loadProject(makeProject({ ...FILES, 'mkosi.images/nothing.conf': '[Output]\nFormat=none\n' }), { env: {} });
    expect(path.relative(project.root, manifestPath(project.main)!)).toBe('mkosi.output/image.manifest.json');
    expect(manifestPath(preset(project, 'nothing'))).toBeNull();
  });

  it('leaves a ToolsTree= to the tools identity instead of listing its files', () => {
    const root = makeProject({ ...FILES, 'mkosi.conf': `${FILES['mkosi.conf']}ToolsTree=mkosi.tools\n`, 'mkosi.tools/usr/bin/apt': 'apt\n' });
    const m = manifestOf(root);
    expect(m.settings.ToolsTree).toBe('mkosi.tools');
    expect(Object.keys(m.files).filter((f) => f.startsWith('mkosi.tools'))).toEqual([]);
  });
});

describe('diffManifests and formatExplanation: one mutation of each kind', () => {
  it('nothing changed', () => {
    const r = change(() => undefined);
    expect(r.diff).toEqual(NO_CHANGE);
    expect(diffIsEmpty(r.diff)).toBe(true);
    expect(r.text).toBe('Nothing changed\npackages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here\n');
  });

  it('a config line: the setting old -> new (and the config file\'s content)', () => {
    const r = change((root) => edit(root, 'mkosi.conf', 'Hostname=one', 'Hostname=two'));
    expect(r.diff).toEqual({
      ...NO_CHANGE,
      settings: [{ name: 'Hostname', old: 'one', new: 'two' }],
      files: [{ path: 'mkosi.conf', change: 'changed', kinds: ['content'], old: fileEntry(FILES['mkosi.conf']), new: fileEntry(FILES['mkosi.conf'].replace('one', 'two')) }],
    });
    expect(r.text).toMatch(/^settings:\n {2}Hostname: "one" -> "two"\nfiles:\n {2}mkosi\.conf changed \(content\)\n/);
  });

  it('a comment changes the file only, no setting', () => {
    const r = change((root) => fs.appendFileSync(path.join(root, 'mkosi.conf'), '# a comment\n'));
    expect(r.diff.settings).toEqual([]);
    expect(r.diff.files.map((f) => [f.path, f.change, f.kinds])).toEqual([['mkosi.conf', 'changed', ['content']]]);
  });

  it('a drop-in added', () => {
    const dropin = '[Content]\nLocale=C.UTF-8\n';
    const r = change((root) => {
      fs.mkdirSync(path.join(root, 'mkosi.conf.d'));
      fs.writeFileSync(path.join(root, 'mkosi.conf.d/10-locale.conf'), dropin);
    });
    expect(r.diff).toEqual({
      ...NO_CHANGE,
      settings: [{ name: 'Locale', old: null, new: 'C.UTF-8' }],
      files: [{ path: 'mkosi.conf.d/10-locale.conf', change: 'added', kinds: [], old: null, new: fileEntry(dropin) }],
    });
    expect(r.text).toBe('settings:\n  Locale: (unset) -> "C.UTF-8"\nfiles:\n  mkosi.conf.d/10-locale.conf added\npackages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here\n');
  });

  it('an extra tree file\'s content', () => {
    const r = change((root) => fs.writeFileSync(path.join(root, 'mkosi.extra/etc/motd'), 'hello, world\n'));
    expect(r.diff).toEqual({
      ...NO_CHANGE,
      files: [{ path: 'mkosi.extra/etc/motd', change: 'changed', kinds: ['content'], old: fileEntry('hello\n'), new: fileEntry('hello, world\n') }],
    });
    expect(r.text).toContain('files:\n  mkosi.extra/etc/motd changed (content)\n');
  });

  it('a file\'s mode only', () => {
    const r = change((root) => fs.chmodSync(path.join(root, 'mkosi.extra/usr/bin/tool'), 0o755));
    expect(r.diff).toEqual({
      ...NO_CHANGE,
      files: [{ path: 'mkosi.extra/usr/bin/tool', change: 'changed', kinds: ['mode'], old: fileEntry('#!/bin/sh\n'), new: fileEntry('#!/bin/sh\n', '755') }],
    });
    expect(r.text).toContain('  mkosi.extra/usr/bin/tool changed (mode 644 -> 755 only)\n');
  });

  it('a symlink\'s target', () => {
    const link = (target: string) => (root: string) => {
      fs.rmSync(path.join(root, 'mkosi.extra/etc/link'), { force: true });
      fs.symlinkSync(target, path.join(root, 'mkosi.extra/etc/link'));
    };
    const r = change(link('/etc/os-release'), { setup: link('/etc/hostname') });
    expect(r.diff).toEqual({
      ...NO_CHANGE,
      files: [{ path: 'mkosi.extra/etc/link', change: 'changed', kinds: ['target'], old: { type: 'link', target: '/etc/hostname' }, new: { type: 'link', target: '/etc/os-release' } }],
    });
    expect(r.text).toContain('  mkosi.extra/etc/link changed (symlink target /etc/hostname -> /etc/os-release)\n');
  });

  it('a file replaced by a symlink: its type', () => {
    const r = change((root) => {
      fs.rmSync(path.join(root, 'mkosi.extra/etc/motd'));
      fs.symlinkSync('/etc/issue', path.join(root, 'mkosi.extra/etc/motd'));
    });
    expect(r.diff.files).toEqual([{ path: 'mkosi.extra/etc/motd', change: 'changed', kinds: ['type'], old: fileEntry('hello\n'), new: { type: 'link', target: '/etc/issue' } }]);
    expect(r.text).toContain('  mkosi.extra/etc/motd changed (type file -> symlink)\n');
  });

  it('a new empty directory', () => {
    const r = change((root) => fs.mkdirSync(path.join(root, 'mkosi.extra/var/empty'), { recursive: true }));
    expect(r.diff).toEqual({
      ...NO_CHANGE,
      files: [
        { path: 'mkosi.extra/var', change: 'added', kinds: [], old: null, new: { type: 'dir', mode: '755' } },
        { path: 'mkosi.extra/var/empty', change: 'added', kinds: [], old: null, new: { type: 'dir', mode: '755' } },
      ],
    });
    expect(r.text).toContain('  mkosi.extra/var/empty added (directory)\n');
  });

  it('a removed file', () => {
    const r = change((root) => fs.rmSync(path.join(root, 'mkosi.extra/etc/motd')));
    expect(r.diff.files).toEqual([{ path: 'mkosi.extra/etc/motd', change: 'removed', kinds: [], old: fileEntry('hello\n'), new: null }]);
    expect(r.text).toContain('  mkosi.extra/etc/motd removed\n');
  });

  it('a script\'s content', () => {
    const r = change((root) => edit(root, 'mkosi.postinst', 'one', 'two'));
    expect(r.diff).toEqual({
      ...NO_CHANGE,
      files: [{ path: 'mkosi.postinst', change: 'changed', kinds: ['content'], old: fileEntry(FILES['mkosi.postinst'], '755'), new: fileEntry('#!/bin/sh\necho two\n', '755') }],
    });
  });

  it('a new script: the setting and the file', () => {
    const r = change((root) => fs.writeFileSync(path.join(root, 'mkosi.finalize'), '#!/bin/sh\n', { mode: 0o755 }));
    expect(r.diff).toEqual({
      ...NO_CHANGE,
      settings: [{ name: 'FinalizeScripts', old: [], new: ['mkosi.finalize'] }],
      files: [{ path: 'mkosi.finalize', change: 'added', kinds: [], old: null, new: fileEntry('#!/bin/sh\n', '755') }],
    });
    expect(r.text).toContain('settings:\n  FinalizeScripts: [] -> ["mkosi.finalize"]\n');
  });

  it('an Environment= value: a setting change', () => {
    const r = change((root) => edit(root, 'mkosi.conf', 'STAGE=1', 'STAGE=2'));
    expect(r.diff.settings).toEqual([{ name: 'Environment', old: { STAGE: '1' }, new: { STAGE: '2' } }]);
    expect(r.diff.environment).toEqual([]);
    expect(r.text).toContain('  Environment: {"STAGE":"1"} -> {"STAGE":"2"}\n');
  });

  it('SOURCE_DATE_EPOCH in the environment: set, changed, unset', () => {
    const set = change(() => undefined, { before: { env: {} }, after: { env: { SOURCE_DATE_EPOCH: '1700000000' } } });
    expect(set.diff).toEqual({ ...NO_CHANGE, environment: [{ name: 'SOURCE_DATE_EPOCH', change: 'set' }] });
    expect(set.text).toContain('environment:\n  SOURCE_DATE_EPOCH changed (set now, was unset)\n');
    const changed = change(() => undefined, { before: { env: { SOURCE_DATE_EPOCH: '1' } }, after: { env: { SOURCE_DATE_EPOCH: '2' } } });
    expect(changed.diff).toEqual({ ...NO_CHANGE, environment: [{ name: 'SOURCE_DATE_EPOCH', change: 'changed' }] });
    expect(rebuildReason({ status: 'found', manifest: changed.before }, changed.after, 'x')).toEqual(['rebuilding because:', '  environment SOURCE_DATE_EPOCH changed']);
    const unset = change(() => undefined, { before: { env: { SOURCE_DATE_EPOCH: '1' } }, after: { env: {} } });
    expect(unset.diff.environment).toEqual([{ name: 'SOURCE_DATE_EPOCH', change: 'unset' }]);
  });

  describe('the lockfile\'s packages', () => {
    const pkg = (name: string, version: string): LockedPackage => ({
      name, version, architecture: 'amd64', repository: 'http://deb.debian.org/debian bookworm main', size: 1000, sha256: sha(`${name} ${version}`),
    });
    const lock = (packages: LockedPackage[], build: LockedPackage[] = []): Lock => ({
      'lock-version': 1,
      request: { distribution: 'debian', release: 'bookworm', architecture: 'x86-64', mirror: ['http://deb.debian.org/debian'], repositories: ['main'], packages: [], 'build-packages': [], base: [] },
      package: packages,
      'build-package': build,
    });
    const writeLock = (l: Lock) => (root: string) => fs.writeFileSync(path.join(root, 'kiln.lock'), formatLockfile(l, 'proj'));

    it('one upgraded, one added, one build package downgraded', () => {
      const r = change(writeLock(lock([pkg('hello', '2.10-3'), pkg('libc6', '2.36-9'), pkg('less', '590-2')], [pkg('gcc', '4:12.2.0-3')])), {
        setup: writeLock(lock([pkg('libc6', '2.36-9'), pkg('hello', '2.10-2')], [pkg('gcc', '4:12.2.0-14')])),
      });
      expect(r.before.packages!.map((p) => `${p.name} ${p.version}`)).toEqual(['hello 2.10-2', 'libc6 2.36-9']);
      expect(r.diff).toEqual({
        ...NO_CHANGE,
        unlocked: false,
        files: [{ path: 'kiln.lock', change: 'changed', kinds: ['content'], old: expect.objectContaining({ type: 'file' }), new: expect.objectContaining({ type: 'file' }) }],
        packages: [
          { name: 'hello', architecture: 'amd64', build: false, change: 'upgraded', old: '2.10-2', new: '2.10-3' },
          { name: 'less', architecture: 'amd64', build: false, change: 'added', old: null, new: '590-2' },
          { name: 'gcc', architecture: 'amd64', build: true, change: 'downgraded', old: '4:12.2.0-14', new: '4:12.2.0-3' },
        ],
      });
      expect(r.text).toBe(
        'files:\n  kiln.lock changed (content)\npackages:\n  hello:amd64 upgraded 2.10-2 -> 2.10-3\n  less:amd64 added (590-2)\nbuild packages:\n  gcc:amd64 downgraded 4:12.2.0-14 -> 4:12.2.0-3\n',
      );
    });

    it('unlocked, then locked; and unlocked again', () => {
      const locked = change(writeLock(lock([pkg('hello', '2.10-3')])));
      expect(locked.diff).toEqual({
        ...NO_CHANGE,
        unlocked: false,
        files: [{ path: 'kiln.lock', change: 'added', kinds: [], old: null, new: expect.objectContaining({ type: 'file' }) }],
        lock: { change: 'locked', packages: 1 },
      });
      expect(locked.text).toBe('files:\n  kiln.lock added\npackages:\n  kiln.lock added: 1 packages locked\n');
      const unlocked = change((root) => fs.rmSync(path.join(root, 'kiln.lock')), { setup: writeLock(lock([pkg('hello', '2.10-3')])) });
      expect(unlocked.diff).toEqual({
        ...NO_CHANGE,
        files: [{ path: 'kiln.lock', change: 'removed', kinds: [], old: expect.objectContaining({ type: 'file' }), new: null }],
        lock: { change: 'unlocked', packages: 1 },
      });
      expect(unlocked.text).toBe('files:\n  kiln.lock removed\npackages:\n  kiln.lock removed: packages are unlocked\n');
    });

    it('a comment in the lock: the file changed, no package', () => {
      const l = lock([pkg('hello', '2.10-3')]);
      const r = change((root) => fs.appendFileSync(path.join(root, 'kiln.lock'), '# reviewed\n'), { setup: writeLock(l) });
      expect(r.diff.packages).toEqual([]);
      expect(r.diff.files.map((f) => [f.path, f.change, f.kinds])).toEqual([['kiln.lock', 'changed', ['content']]]);
    });

    it('Gentoo packages are ordered as portage orders them: 1.0_rc1 -> 1.0 is an upgrade', () => {
      const gentoo = (name: string, version: string): LockedPackage => ({
        name, version, architecture: 'amd64', repository: 'http://binhost.example', size: 1000, path: `${name}-${version}.gpkg.tar`, sha1: sha(`${name} ${version}`).slice(0, 40),
      });
      const gentooLock = (packages: LockedPackage[]): Lock => ({
        'lock-version': 1,
        request: { distribution: 'gentoo', release: '23.0', architecture: 'x86-64', mirror: ['http://binhost.example'], repositories: [], packages: [], 'build-packages': [], base: [] },
        package: packages,
        'build-package': [],
      });
      const files = { ...FILES, 'mkosi.conf': FILES['mkosi.conf'].replace('Distribution=debian\nRelease=bookworm', 'Distribution=gentoo\nBinhosts=http://binhost.example') };
      const r = change(writeLock(gentooLock([gentoo('app-misc/hello', '1.0'), gentoo('sys-libs/glibc', '2.40-r5'), gentoo('dev-lang/perl', '5.40.0')])), {
        files,
        setup: writeLock(gentooLock([gentoo('app-misc/hello', '1.0_rc1'), gentoo('sys-libs/glibc', '2.40-r10'), gentoo('dev-lang/perl', '5.40.0_p1')])),
      });
      expect(r.diff.packages.map((p) => `${p.name} ${p.change} ${p.old} -> ${p.new}`)).toEqual([
        'app-misc/hello upgraded 1.0_rc1 -> 1.0',
        'dev-lang/perl downgraded 5.40.0_p1 -> 5.40.0',
        'sys-libs/glibc downgraded 2.40-r10 -> 2.40-r5',
      ]);
      expect(r.text).toContain('packages:\n  app-misc/hello:amd64 upgraded 1.0_rc1 -> 1.0\n');
    });

    it('dpkg\'s version order', () => {
      const sorted = ['1.0~rc1', '1.0', '1.0-1', '1.0-1+b1', '1.0a', '1.2', '1.10', '2:0.1'];
      for (let i = 0; i < sorted.length - 1; i++) {
        expect([sorted[i], compareDebianVersions(sorted[i], sorted[i + 1])]).toEqual([sorted[i], -1]);
        expect(compareDebianVersions(sorted[i + 1], sorted[i])).toBe(1);
      }
      expect(compareDebianVersions('1.0-1', '1.0-1')).toBe(0);
      expect(compareDebianVersions('1.001', '1.1')).toBe(0);
    });
  });

  it('kiln\'s identity and the tools', () => {
    const r = change(() => undefined, { after: { identity: '0.2.0+fedcba9876543210', tools: { ...TOOLS, mmdebstrap: 'mmdebstrap 1.4.0' } } });
    expect(r.diff).toEqual({
      ...NO_CHANGE,
      tools: [{ name: 'mmdebstrap', old: 'mmdebstrap 1.3.5', new: 'mmdebstrap 1.4.0' }],
      kiln: { old: IDENTITY, new: '0.2.0+fedcba9876543210' },
    });
    expect(r.text).toBe(
      'tools:\n  mmdebstrap: mmdebstrap 1.3.5 -> mmdebstrap 1.4.0\nkiln:\n  0.1.0+0123456789abcdef -> 0.2.0+fedcba9876543210\n' +
        'packages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here\n',
    );
  });

  it('the output of a preset it reads (BaseTrees=%O/base)', () => {
    const files = { ...FILES, 'mkosi.conf': `${FILES['mkosi.conf']}[Content]\nBaseTrees=%O/base\n` };
    const out = (root: string) => path.join(root, 'mkosi.output');
    const write = (text: string) => (root: string) => {
      fs.mkdirSync(out(root), { recursive: true });
      fs.writeFileSync(path.join(out(root), 'base.tar.zst'), text);
      fs.writeFileSync(path.join(out(root), 'base.manifest.json'), text); // not part of it
      fs.writeFileSync(path.join(out(root), 'base.manifest.json.sig'), text); // nor its signature
    };
    const r = change(write('v2'), { files, setup: write('v1') });
    expect(r.before.readOutputs).toEqual({ base: { 'base.tar.zst': sha('v1') } });
    expect(r.before.files['mkosi.output/base']).toBeUndefined();
    expect(r.diff).toEqual({ ...NO_CHANGE, readOutputs: [{ preset: 'base', change: 'changed' }] });
    expect(r.text).toContain('outputs of other presets:\n  the output of preset base changed\n');
    const gone = change((root) => fs.rmSync(path.join(out(root), 'base.tar.zst')), { files, setup: write('v1') });
    expect(gone.diff.readOutputs).toEqual([{ preset: 'base', change: 'missing' }]);
  });

  it('several changes are grouped: settings, files, environment', () => {
    const r = change(
      (root) => {
        edit(root, 'mkosi.conf', 'Hostname=one', 'Hostname=two');
        fs.writeFileSync(path.join(root, 'mkosi.extra/etc/motd'), 'bye\n');
      },
      { after: { env: { SOURCE_DATE_EPOCH: '5' } } },
    );
    expect(r.text).toBe(
      [
        'settings:',
        '  Hostname: "one" -> "two"',
        'files:',
        '  mkosi.conf changed (content)',
        '  mkosi.extra/etc/motd changed (content)',
        'environment:',
        '  SOURCE_DATE_EPOCH changed (set now, was unset)',
        'packages: unlocked (no kiln.lock), so a new package version in the mirror is not seen here',
        '',
      ].join('\n'),
    );
  });
});

describe('manifests from disk', () => {
  let project: Project;
  let file: string;
  beforeEach(() => {
    const root = makeProject(FILES);
    project = loadProject(root, { env: {} });
    file = manifestPath(project.main)!;
    fs.mkdirSync(path.dirname(file), { recursive: true });
  });
  const current = () => currentManifest(project, project.main, { identity: IDENTITY, tools: TOOLS, env: {} });

  it('missing: no previous build', () => {
    expect(readManifest(file)).toEqual({ status: 'missing' });
    expect(rebuildReason(readManifest(file), current(), 'mkosi.output/image.manifest.json')).toEqual(['no previous build (no manifest)']);
  });

  it('damaged or foreign: a clear reason, never an exception', () => {
    fs.writeFileSync(file, '{"manifestVersion": 1, "preset": "proj"');
    const damaged = readManifest(file);
    expect(damaged).toEqual({ status: 'invalid', reason: expect.stringMatching(/^invalid JSON: /) });
    expect(rebuildReason(damaged, current(), 'mkosi.output/image.manifest.json')).toEqual([
      expect.stringMatching(/^cannot compare: mkosi\.output\/image\.manifest\.json is not a kiln manifest \(invalid JSON: .*\): building as if there was no previous build$/),
    ]);
    fs.writeFileSync(file, '{"name": "some-package", "version": "1.0.0"}\n');
    expect(readManifest(file)).toEqual({ status: 'invalid', reason: expect.stringMatching(/^manifestVersion: /) });
    const m = JSON.parse(formatManifest(current()));
    fs.writeFileSync(file, JSON.stringify({ ...m, manifestVersion: 2 }));
    expect(readManifest(file)).toEqual({ status: 'invalid', reason: 'manifest version 2, this kiln reads version 1' });
    fs.writeFileSync(file, JSON.stringify({ ...m, files: { x: { type: 'file', mode: '644' } } }));
    expect(readManifest(file)).toEqual({ status: 'invalid', reason: expect.stringMatching(/^files\.x\.size: /) });
  });

  it('the rebuild reason: nothing changed, or the changes (at most `max` lines)', () => {
    fs.writeFileSync(file, formatManifest(current()));
    expect(rebuildReason(readManifest(file), current(), 'x')).toEqual(['rebuilding, but nothing changed since the last build']);
    for (let i = 0; i < 30; i++) fs.writeFileSync(path.join(project.root, `mkosi.extra/f${String(i).padStart(2, '0')}`), `${i}`);
    const lines = rebuildReason(readManifest(file), current(), 'x', 5);
    expect(lines).toEqual(['rebuilding because:', '  file mkosi.extra/f00 added', '  file mkosi.extra/f01 added', '  file mkosi.extra/f02 added', '  file mkosi.extra/f03 added', '  ... and 26 more changes']);
  });
});
