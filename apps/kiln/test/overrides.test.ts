/**
 * mkosi's configuration options on the kiln command line (--profile, -d/-r, -E, --image-version,
 * --Setting=value): what `kiln summary` shows and what `kiln digest` hashes. The expected
 * summaries were compared by hand with `mkosi --json summary` of mkosi 26 given the same options.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '../../..');
const bin = path.join(repo, 'apps/kiln/dist/main.js');

function kiln(args: string[]) {
  // A digest cache of this suite's own: the facts of each set of overrides are cached apart.
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, KILN_DIGEST_CACHE: cache } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-overrides-cache-'));
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-overrides-'));
const files: Record<string, string> = {
  'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=tar\n[Content]\nPackages=a\nHostname=conf\n[Build]\nEnvironment=A=1\n',
  'mkosi.profiles/dev.conf': '[Content]\nPackages=dev-tools\n',
  'mkosi.conf.d/10-trixie.conf': '[Match]\nRelease=trixie\n[Content]\nPackages=trixie-only\n',
};
for (const [rel, text] of Object.entries(files)) {
  fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
  fs.writeFileSync(path.join(root, rel), text);
}

/** The main image's settings from `kiln summary --json` with `args`. */
function mainSettings(args: string[]): Record<string, unknown> {
  const r = kiln(['summary', '--json', '-C', root, ...args]);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const summary = JSON.parse(r.stdout) as { main: string; presets: { name: string; settings: Record<string, Record<string, unknown>> }[] };
  const main = summary.presets.find((p) => p.name === summary.main)!;
  return Object.assign({}, ...Object.values(main.settings));
}

describe('kiln summary with settings on the command line', () => {
  it('--profile reads the profile, -r selects [Match] sections, -E adds to Environment=, -d sets Distribution=', () => {
    const s = mainSettings(['--profile', 'dev', '-r', 'trixie', '-E', 'B=2', '-d', 'debian']);
    expect(s).toMatchObject({ Profiles: ['dev'], Release: 'trixie', Distribution: 'debian', Environment: { A: '1', B: '2' } });
    expect(s.Packages).toEqual(['a', 'dev-tools', 'trixie-only']);
  });

  it('--Setting=value and --setting value in mkosi\'s kebab-case, --image-version; single values win, lists add, an empty value resets', () => {
    const s = mainSettings(['--Hostname=cli', '--package', 'vim', '--image-id=guest', '--image-version', '1.2', '--release=trixie']);
    expect(s).toMatchObject({ Hostname: 'cli', ImageId: 'guest', ImageVersion: '1.2', Release: 'trixie' });
    expect(s.Packages).toEqual(['a', 'trixie-only', 'vim']);
    expect(mainSettings(['--Packages=']).Packages).toEqual([]);
    expect(mainSettings(['--with-docs', 'no']).WithDocs).toBe(false);
  });

  it('a bad name or value is one line naming the option, exit code 1', () => {
    const unknown = kiln(['summary', '-C', root, '--Pakages=vim']);
    expect([unknown.stderr, unknown.code]).toEqual(['kiln: --Pakages: no such setting (did you mean --Packages=?)\n', 1]);
    const bad = kiln(['summary', '-C', root, '--format', 'floppy']);
    expect(bad.stderr).toMatch(/^--Format=floppy: "floppy" is not a valid value \(accepted: [^\n]*\)\n$/);
    expect(bad.code).toBe(1);
    const missing = kiln(['summary', '-C', root, '--release']);
    expect([missing.stderr, missing.code]).toEqual(['kiln: --release needs a value (--release=VALUE; an empty value resets Release=)\n', 1]);
  });
});

describe('kiln digest with settings on the command line', () => {
  const digest = (args: string[]) => {
    const r = kiln(['digest', '-C', root, ...args]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout.trim();
  };

  it('differs per override that changes the image, and is the same for the same overrides', () => {
    const plain = digest([]);
    const dev = digest(['--profile', 'dev']);
    expect(dev).toMatch(/^[0-9a-f]{64}$/);
    expect(dev).not.toBe(plain);
    expect(digest(['--profile', 'dev'])).toBe(dev);
    expect(digest(['-r', 'trixie'])).not.toBe(plain);
    expect(digest(['--Hostname=cli'])).not.toBe(plain);
    // The cached facts of one set of overrides are not another's.
    expect(digest([])).toBe(plain);
  });
});

describe('kiln-digest (the Nx runtime input) with settings', () => {
  const digestBin = path.join(repo, 'apps/kiln/dist/digest.js');
  const kilnDigest = (args: string[]) => {
    const r = spawnSync(process.execPath, [digestBin, '-C', root, ...args], { cwd: repo, encoding: 'utf8', env: { ...process.env, KILN_DIGEST_CACHE: cache } });
    return { code: r.status, stdout: r.stdout.trim(), stderr: r.stderr };
  };

  it("prints kiln digest's line for the same settings, in the plugin's --Name=value form or as kiln build takes them", () => {
    const dev = kiln(['digest', '-C', root, '--profile', 'dev', '-r', 'trixie']).stdout.trim();
    expect(kilnDigest(['--Profiles=dev', '--Release=trixie'])).toEqual({ code: 0, stdout: dev, stderr: '' });
    expect(kilnDigest(['--profile', 'dev', '-r', 'trixie'])).toEqual({ code: 0, stdout: dev, stderr: '' });
    expect(kilnDigest([]).stdout).toBe(kiln(['digest', '-C', root]).stdout.trim());
  });

  it('refuses what is not a setting, and names a bad setting', () => {
    expect(kilnDigest(['--force'])).toMatchObject({ code: 2, stderr: expect.stringContaining('kiln-digest: unknown argument "--force"') });
    expect(kilnDigest(['--Pakages=x'])).toEqual({ code: 1, stdout: '', stderr: 'kiln: --Pakages: no such setting (did you mean --Packages=?)\n' });
  });
});
