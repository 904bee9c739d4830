/**
 * The project facts cache (facts.ts) and the fingerprint (fingerprint.ts): reused only while
 * every file and directory the read probed is unchanged; comments and list order change no
 * fingerprint, resolved values and tree modes do; modes in a git checkout follow git's rule.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fingerprint, fingerprintLines, projectFacts, type ProjectFacts } from '../src';

function project(files: Record<string, string>, opts: { git?: boolean } = {}): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-facts-'));
  for (const [rel, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), text);
  }
  if (opts.git) execFileSync('git', ['init', '-q', dir]);
  return dir;
}

/** Every file and directory dated an hour back: out of the racy window, so the cache is trusted. */
function age(dir: string): void {
  const t = Date.now() / 1000 - 3600;
  const walk = (p: string) => {
    if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) walk(path.join(p, e));
    fs.utimesSync(p, t, t);
  };
  walk(dir);
}

const opts = (cacheDir: string) => ({ identity: 'test', cacheDir, env: {} });

describe('project facts', () => {
  let cache: string;
  beforeEach(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-facts-cache-'));
  });

  it('are reused from the cache while nothing probed changed', () => {
    const dir = project({ 'mkosi.conf': '[Output]\nFormat=tar\n' });
    age(dir);
    const first = projectFacts(dir, { cacheDir: cache }) as ProjectFacts;
    // Poison the cached facts: a trusted cache is what the next call returns.
    const file = path.join(cache, fs.readdirSync(cache).find((f) => f.startsWith('facts-'))!);
    const cached = JSON.parse(fs.readFileSync(file, 'utf8'));
    cached.facts.presets[0].format = 'from-cache';
    fs.writeFileSync(file, JSON.stringify(cached));
    expect((projectFacts(dir, { cacheDir: cache }) as ProjectFacts).presets[0].format).toBe('from-cache');
    expect(first.presets[0].format).toBe('tar');
  });

  it.each([
    ['a new gitignored-style local file', (d: string) => fs.writeFileSync(path.join(d, 'mkosi.local.conf'), '[Output]\nFormat=cpio\n'), 'cpio'],
    ['a new drop-in', (d: string) => {
      fs.mkdirSync(path.join(d, 'mkosi.conf.d'));
      fs.writeFileSync(path.join(d, 'mkosi.conf.d/10.conf'), '[Output]\nFormat=directory\n');
    }, 'directory'],
    ['an edited config file', (d: string) => fs.writeFileSync(path.join(d, 'mkosi.conf'), '[Output]\nFormat=none\n'), 'none'],
  ])('are read again after %s', (_what, change, format) => {
    const dir = project({ 'mkosi.conf': '[Output]\nFormat=tar\n' });
    age(dir);
    expect((projectFacts(dir, { cacheDir: cache }) as ProjectFacts).presets[0].format).toBe('tar');
    change(dir);
    expect((projectFacts(dir, { cacheDir: cache }) as ProjectFacts).presets[0].format).toBe(format);
  });

  it('are read again when a variable a path or Environment= took changes, and the fingerprint follows', () => {
    const dir = project({
      'mkosi.conf': '[Output]\nFormat=tar\n[Content]\nExtraTrees=$KILN_FACTS_TREE\nEnvironment=KILN_FACTS_PASSED\n',
      'mkosi.conf.d/10.conf': '[Match]\nEnvironment=KILN_FACTS_PASSED=yes\n[Output]\nFormat=cpio\n',
      'a/file': 'a',
      'b/file': 'b',
    });
    age(dir);
    const saved = { tree: process.env.KILN_FACTS_TREE, passed: process.env.KILN_FACTS_PASSED };
    const read = () => projectFacts(dir, { cacheDir: cache }) as ProjectFacts;
    try {
      process.env.KILN_FACTS_TREE = 'a';
      process.env.KILN_FACTS_PASSED = 'no';
      expect([read().presets[0].paths, read().presets[0].format]).toEqual([[path.join(dir, 'a')], 'tar']);
      const before = fingerprint(dir, undefined, opts(cache));
      process.env.KILN_FACTS_TREE = 'b';
      expect(read().presets[0].paths).toEqual([path.join(dir, 'b')]);
      expect(fingerprint(dir, undefined, opts(cache))).not.toBe(before);
      // A pass-through variable that a [Match] reads decides which drop-ins apply.
      process.env.KILN_FACTS_PASSED = 'yes';
      expect(read().presets[0].format).toBe('cpio');
      // The cache file keeps a hash of each variable, never its value.
      for (const f of fs.readdirSync(cache)) expect(fs.readFileSync(path.join(cache, f), 'utf8')).not.toContain('"yes"');
    } finally {
      for (const [k, v] of [['KILN_FACTS_TREE', saved.tree], ['KILN_FACTS_PASSED', saved.passed]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('see a new preset directory', () => {
    const dir = project({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.images/a/mkosi.conf': '[Output]\nFormat=tar\n' });
    age(dir);
    expect((projectFacts(dir, { cacheDir: cache }) as ProjectFacts).presets.map((p) => p.name).sort()).toEqual(['a', path.basename(dir)].sort());
    fs.mkdirSync(path.join(dir, 'mkosi.images/b'));
    fs.writeFileSync(path.join(dir, 'mkosi.images/b/mkosi.conf'), '[Output]\nFormat=tar\n');
    expect((projectFacts(dir, { cacheDir: cache }) as ProjectFacts).presets.map((p) => p.name)).toContain('b');
  });

  it('keep a configuration error with its file and line', () => {
    const dir = project({ 'mkosi.conf': '[Output]\nFormat=cpoi\n' });
    expect(projectFacts(dir, { cacheDir: cache })).toEqual({ error: expect.objectContaining({ file: path.join(dir, 'mkosi.conf'), line: 2 }) });
  });
});

describe('fingerprint', () => {
  const base = { 'mkosi.conf': '[Output]\nFormat=tar\n[Content]\nPackages=\n  vim\n  less\nRemoveFiles=/usr/share/man\n', 'mkosi.extra/etc/motd': 'hi\n' };
  let cache: string;
  beforeEach(() => {
    cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-fp-cache-'));
  });

  it('does not change with a comment, a blank line or the order of Packages=', () => {
    const dir = project(base);
    const before = fingerprint(dir, undefined, opts(cache));
    fs.writeFileSync(path.join(dir, 'mkosi.conf'), '# a comment\n[Output]\nFormat=tar\n\n[Content]\nPackages=\n  less\n  vim\nRemoveFiles=/usr/share/man\n');
    expect(fingerprint(dir, undefined, opts(cache))).toBe(before);
  });

  it('changes with a resolved value, a mode, and a variable the build reads', () => {
    const dir = project(base);
    const before = fingerprint(dir, undefined, opts(cache));
    fs.appendFileSync(path.join(dir, 'mkosi.conf'), 'Hostname=x\n');
    const edited = fingerprint(dir, undefined, opts(cache));
    expect(edited).not.toBe(before);
    fs.chmodSync(path.join(dir, 'mkosi.extra/etc/motd'), 0o600);
    expect(fingerprint(dir, undefined, opts(cache))).not.toBe(edited);
    const env = fingerprint(dir, undefined, { ...opts(cache), env: { SOURCE_DATE_EPOCH: '5' } });
    expect(env).not.toBe(fingerprint(dir, undefined, opts(cache)));
  });

  it('is the same for two copies at different places and depths', () => {
    const a = project(base, { git: true });
    const b = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-fp-deep-')), 'x', 'y', path.basename(a));
    fs.cpSync(a, b, { recursive: true });
    expect(fingerprintLines(b, undefined, opts(cache))).toEqual(fingerprintLines(a, undefined, opts(cache)));
  });

  it('takes git\'s modes inside a checkout (umask-independent), exact modes outside', () => {
    const inGit = project(base, { git: true });
    const lines = () => fingerprintLines(inGit, undefined, opts(cache)).filter((l) => l.includes('mkosi.extra'));
    const before = lines();
    fs.chmodSync(path.join(inGit, 'mkosi.extra/etc'), 0o775);
    fs.chmodSync(path.join(inGit, 'mkosi.extra/etc/motd'), 0o664);
    expect(lines()).toEqual(before);
    expect(before).toContain('file mkosi.extra/etc/motd 644 3 98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4');
    fs.chmodSync(path.join(inGit, 'mkosi.extra/etc/motd'), 0o700);
    expect(lines()).toContain('file mkosi.extra/etc/motd 755 3 98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4');

    const outside = project(base);
    fs.chmodSync(path.join(outside, 'mkosi.extra/etc/motd'), 0o664);
    expect(fingerprintLines(outside, undefined, opts(cache))).toContain('file mkosi.extra/etc/motd 664 3 98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4');
  });

  it('records hard links and follows a tree that is a symlink to a directory', () => {
    const dir = project(base);
    fs.linkSync(path.join(dir, 'mkosi.extra/etc/motd'), path.join(dir, 'mkosi.extra/etc/issue'));
    expect(fingerprintLines(dir, undefined, opts(cache))).toContain('file mkosi.extra/etc/motd 644 3 98ea6e4f216f2fb4b69fff9b3a44842c38686ca685f3f55dc48c5d3fb1107be4 = mkosi.extra/etc/issue');
    const real = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-fp-real-'));
    fs.cpSync(path.join(dir, 'mkosi.extra'), real, { recursive: true });
    fs.rmSync(path.join(dir, 'mkosi.extra'), { recursive: true });
    fs.symlinkSync(real, path.join(dir, 'mkosi.extra'));
    const before = fingerprintLines(dir, undefined, opts(cache));
    expect(before).toContain('dir mkosi.extra/etc 755');
    fs.chmodSync(path.join(real, 'etc/motd'), 0o600);
    expect(fingerprintLines(dir, undefined, opts(cache))).not.toEqual(before);
  });

  it('keeps RemoveFiles= as the image path it is, and reads $SOURCE_DATE_EPOCH only without SourceDateEpoch=', () => {
    const dir = project({ ...base, 'mkosi.conf': `${base['mkosi.conf']}SourceDateEpoch=100\n` });
    const a = fingerprint(dir, undefined, { ...opts(cache), env: { SOURCE_DATE_EPOCH: '1' } });
    expect(fingerprint(dir, undefined, { ...opts(cache), env: { SOURCE_DATE_EPOCH: '2' } })).toBe(a);
    expect(fingerprintLines(dir, undefined, opts(cache)).some((l) => l.startsWith('env SOURCE_DATE_EPOCH'))).toBe(false);
  });
});
