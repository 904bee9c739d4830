/**
 * The Debian package cache is checked against the signed repository index before apt or
 * mmdebstrap use it, locked or not: a damaged .deb (same size, other bytes) is removed, fetched
 * again and the build succeeds; a same-size repacked .deb whose postinst would leave a mark is
 * never installed. The cache's path holds a quote and `$(touch ...)`: it reaches mmdebstrap's
 * hooks as a value, never as shell code. Real builds from the Debian mirror (essential set), on a
 * private copy of the shared package cache (its .debs are damaged here).
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildIn, failure, lockIn, removeTempDirs, sha256, tempDir, tempProject, unpack } from './kiln';

const SHARED = path.join(os.homedir(), '.cache/kiln/packages/debian~bookworm~x86-64');
const MARKER = `kiln-injected-${process.pid}`;
const base = tempDir('kiln-debcache-');
const cache = path.join(base, `c"a $(touch ${MARKER})che`);
const project = tempProject({
  'mkosi.conf': `[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nImageId=dc\nFormat=tar\n[Content]\nSourceDateEpoch=1700000000\nWithDocs=no\n[Build]\nPackageCacheDirectory=${cache}\n`,
});
const out = path.join(project, 'mkosi.output');
const archives = path.join(cache, 'archives');
const baseFiles = () => fs.readdirSync(archives).find((f) => f.startsWith('base-files_')) as string;

/** Where `$(touch MARKER)` would have run: the test's and the build's directories, the root. */
const injected = () => [process.cwd(), '/', base, project, out, os.homedir()].filter((d) => fs.existsSync(path.join(d, MARKER)));

beforeAll(async () => {
  fs.mkdirSync(cache, { recursive: true });
  // A copy, never links: the .debs are damaged in place.
  if (fs.existsSync(SHARED)) expect(spawnSync('cp', ['-a', `${SHARED}/.`, cache]).status).toBe(0);
  if (!fs.existsSync(archives) || !baseFiles()) {
    const first = await buildIn(project);
    expect(failure(first)).toBe('');
  }
}, 600_000);
afterAll(removeTempDirs);

describe('a damaged .deb in the package cache', () => {
  it('is removed and fetched again by an unlocked build, which succeeds and says so', async () => {
    const name = baseFiles();
    const deb = path.join(archives, name);
    const good = sha256(deb);
    const bytes = fs.readFileSync(deb);
    for (let i = 1000; i < 1100; i++) bytes[i] ^= 0x55;
    fs.writeFileSync(deb, bytes);
    expect(sha256(deb)).not.toBe(good);
    const run = await buildIn(project, { force: true });
    expect(failure(run)).toBe('');
    expect(run.log).toMatch(new RegExp(`proj: package cache: ${name.replace(/[.+]/g, '\\$&')} is damaged \\(SHA256 [0-9a-f]{64}, the signed index says ${good}\\): removed, apt fetches it again`));
    expect(sha256(deb)).toBe(good);
    expect(fs.existsSync(path.join(unpack(path.join(out, 'dc.tar.zst')), 'etc/debian_version'))).toBe(true);
    expect(injected()).toEqual([]);
    // Good now, and recorded as checked (by inode, size and mtime): the next build does not hash it again.
    const record = JSON.parse(fs.readFileSync(path.join(cache, 'verified-debs.json'), 'utf8'));
    const st = fs.statSync(deb);
    expect(record[name]).toEqual({ id: `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`, sha256: good });
  }, 600_000);

  it('a same-size repacked .deb never reaches dpkg in a locked build: its postinst never runs', async () => {
    expect(failure(await lockIn(project))).toBe('');
    const name = baseFiles();
    const deb = path.join(archives, name);
    const good = sha256(deb);
    // Repacked with a postinst that leaves /kiln-repacked-ran in the image, smaller (a licence
    // text dropped), then padded to the same size with an "_pad" member, which dpkg ignores.
    const work = tempDir('kiln-repack-');
    const script = [
      'set -e',
      'dpkg-deb -R "$1" "$2/d"',
      "sed -i '1a touch /kiln-repacked-ran' \"$2/d/DEBIAN/postinst\"",
      'rm -f "$2/d/usr/share/common-licenses/GPL-3"',
      'dpkg-deb --root-owner-group -Zxz -z9 -b "$2/d" "$2/new.deb" >/dev/null',
      'k=$(( $(stat -c %s "$1") - $(stat -c %s "$2/new.deb") - 60 )); k=$(( k - k % 2 ))',
      'head -c "$k" /dev/zero > "$2/_pad"',
      '(cd "$2" && ar q new.deb _pad)',
      'cp "$2/new.deb" "$1"',
    ].join('\n');
    const size = fs.statSync(deb).size;
    const r = spawnSync('bash', ['-c', script, 'repack', deb, work], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(fs.statSync(deb).size).toBe(size);
    expect(sha256(deb)).not.toBe(good);
    const run = await buildIn(project, { force: true });
    expect(failure(run)).toBe('');
    expect(run.log).toContain(`proj: package cache: ${name} is damaged (SHA256 `);
    expect(sha256(deb)).toBe(good);
    const tree = unpack(path.join(out, 'dc.tar.zst'));
    expect(fs.existsSync(path.join(tree, 'kiln-repacked-ran'))).toBe(false);
    expect(fs.existsSync(path.join(tree, 'usr/share/common-licenses/GPL-3'))).toBe(true);
    expect(injected()).toEqual([]);
  }, 600_000);
});
