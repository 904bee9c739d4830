/**
 * The kiln binary as a user runs it (the compiled CLI, `npm test` builds it first): exit codes,
 * stdout, and errors as `file:line: message` without a stack trace.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

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
  it('--json shows the demo\'s three presets in dependency order with resolved settings', () => {
    const r = kiln(['summary', '--json', '-C', 'examples/system']);
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    expect(json.order).toEqual(['base', 'initrd', 'system']);
    expect(json.edges).toEqual([
      { from: 'system', to: 'base', reason: 'Dependencies=' },
      { from: 'system', to: 'initrd', reason: 'Dependencies=' },
    ]);
    const byName = Object.fromEntries(json.presets.map((p: { name: string }) => [p.name, p]));
    expect(byName.base.settings.Content.Packages).toEqual(['dbus', 'systemd', 'udev']);
    expect(byName.initrd.settings.Output).toMatchObject({ Format: 'cpio', CompressOutput: 'zstd', Output: 'initrd' });
    expect(byName.system.settings.Content).toMatchObject({ BaseTrees: ['mkosi.output/base'], ExtraTrees: [{ source: 'mkosi.extra', target: null }], Hostname: 'kiln-demo' });
    expect(byName.system.settings.Distribution).toMatchObject({ Distribution: 'debian', Release: 'bookworm' });
  });

  it('prints settings grouped by section, like mkosi summary', () => {
    const r = kiln(['summary', '-C', 'examples/system']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^IMAGE: base\n {4}INCLUDE:\n/);
    expect(r.stdout).toContain('    DISTRIBUTION:\n                       Distribution: debian\n                            Release: bookworm\n');
    expect(r.stdout).toContain('DEPENDENCIES:\n    system -> base (Dependencies=)\n    system -> initrd (Dependencies=)\n');
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
