/**
 * `kiln build` refuses a preset that sets what kiln cannot do yet (libs/config/src/unsupported.ts)
 * before any work: one `file:line:` line naming the setting, exit 1, nothing written, nothing
 * downloaded (the refusal comes before the tools, the packages and the work directory).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { kiln } from './run-kiln';

/** Every file and directory under `dir`, relative, sorted. */
function tree(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).map((f) => f.split(path.sep).join('/')).sort();
}

describe('kiln build and settings kiln does not support yet', () => {
  it('refuses before any work: file:line, the setting and its fix, exit 1, nothing written', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-unsupported-'));
    fs.writeFileSync(path.join(root, 'mkosi.conf'), '[Distribution]\nDistribution=debian\nRelease=bookworm\n\n[Output]\nFormat=tar\n\n[Content]\nPackages=bash\n\n[Validation]\nSecureBoot=yes\n');
    const before = tree(root);
    const r = await kiln(['build', '-C', root], { cwd: root });
    expect(r.stderr.trim().split('\n')).toEqual(['mkosi.conf:12: SecureBoot=yes: not supported by kiln yet (remove it, or set it to no)']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(tree(root)).toEqual(before);
    fs.rmSync(root, { recursive: true, force: true });
  });

  it('runtime-only settings are accepted: kiln summary reads the project without a word about them', async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-unsupported-'));
    fs.writeFileSync(path.join(root, 'mkosi.conf'), '[Output]\nFormat=tar\n\n[Runtime]\nTPM=yes\nEphemeral=yes\nRuntimeNetwork=none\n');
    const r = await kiln(['summary', '-C', root], { cwd: root });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/\n\s+TPM: enabled\n/);
    fs.rmSync(root, { recursive: true, force: true });
  });
});
