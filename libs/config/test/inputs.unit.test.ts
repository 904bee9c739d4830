import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describeInputs, digestInputs, presetInputs } from '../src';
import { load, makeProject, preset } from './helpers';

describe('the input fingerprint (kiln-digest)', () => {
  const tree = () => makeProject({ 'extra/etc/motd': 'hi\n', 'extra/usr/bin/tool': '#!/bin/sh\n' });
  const digest = (root: string, cacheFile?: string) => digestInputs([path.join(root, 'extra')], { root, cacheFile });

  it('is the same for the same tree anywhere on disk (paths are relative)', () => {
    expect(digest(tree())).toBe(digest(tree()));
  });

  it('changes with a file\'s content, a mode, a symlink target, a new empty directory', () => {
    const root = tree();
    const seen = new Set([digest(root)]);
    fs.writeFileSync(path.join(root, 'extra/etc/motd'), 'hello\n');
    seen.add(digest(root));
    fs.chmodSync(path.join(root, 'extra/usr/bin/tool'), 0o755);
    seen.add(digest(root));
    fs.symlinkSync('/etc/motd', path.join(root, 'extra/etc/link'));
    seen.add(digest(root));
    fs.rmSync(path.join(root, 'extra/etc/link'));
    fs.symlinkSync('/etc/other', path.join(root, 'extra/etc/link'));
    seen.add(digest(root));
    fs.mkdirSync(path.join(root, 'extra/var/empty'), { recursive: true });
    seen.add(digest(root));
    expect(seen.size).toBe(6);
  });

  it('gives the same answer from its stat cache as from hashing, and notices a same-size rewrite', () => {
    const root = tree();
    const cache = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-dc-')), 'cache.json');
    expect(digest(root, cache)).toBe(digest(root));
    expect(digest(root, cache)).toBe(digest(root));
    fs.writeFileSync(path.join(root, 'extra/etc/motd'), 'ho\n'); // same size
    expect(digest(root, cache)).toBe(digest(root));
  });

  it('takes paths relative to the working directory, as Nx runs it from the workspace root', () => {
    const root = tree();
    const cwd = process.cwd();
    try {
      process.chdir(path.dirname(root));
      const rel = path.basename(root);
      expect(digestInputs([`${rel}/extra`], { root: rel })).toBe(digest(root));
      expect(describeInputs([`${rel}/extra`], { root: rel })[0]).toBe('dir extra 755');
    } finally {
      process.chdir(cwd);
    }
  });

  it('lists what it covers, and notes missing paths', () => {
    const root = tree();
    expect(describeInputs([path.join(root, 'extra'), path.join(root, 'nope')], { root, extra: ['settings x'] })).toEqual([
      'settings x',
      'dir extra 755',
      'dir extra/etc 755',
      expect.stringMatching(/^file extra\/etc\/motd 644 3 [0-9a-f]{64}$/),
      'dir extra/usr 755',
      'dir extra/usr/bin 755',
      expect.stringMatching(/^file extra\/usr\/bin\/tool 644 10 [0-9a-f]{64}$/),
      'missing nope',
    ]);
  });
});

describe('presetInputs', () => {
  const files = {
    'mkosi.conf': '[Output]\nFormat=tar\n[Content]\nHostname=h\nBaseTrees=%O/base\n',
    'mkosi.extra/x': 'x',
    'mkosi.postinst': '#!/bin/sh\n',
    'mkosi.images/base/mkosi.conf': '[Output]\nFormat=directory\n[Build]\nEnvironment=PASSED\n',
    'mkosi.images/base/mkosi.skeleton/y': 'y',
  };

  it('lists config files, trees and scripts, and the presets whose outputs it reads', () => {
    const p = load(files);
    const main = presetInputs(p, p.main);
    expect(main.configFiles.map((f) => path.relative(p.root, f))).toEqual(['mkosi.conf']);
    expect(path.relative(p.root, main.lockfile)).toBe('kiln.lock');
    expect(main.paths.map((f) => path.relative(p.root, f))).toEqual(['mkosi.extra', 'mkosi.postinst']);
    expect(main.readsOutputsOf).toEqual(['base']);
    const base = presetInputs(p, preset(p, 'base'));
    expect(base.paths.map((f) => path.relative(p.root, f))).toEqual(['mkosi.images/base/mkosi.skeleton']);
    expect(base.environment).toEqual(['PASSED', 'SOURCE_DATE_EPOCH']);
    expect(path.relative(p.root, base.lockfile)).toBe('mkosi.images/base/kiln.lock');
  });

  it('finds the outputs it reads in any OutputDirectory=, as a tree, an archive or a file inside', () => {
    const p = load({
      'mkosi.conf': '[Output]\nFormat=tar\nOutputDirectory=out/\n[Content]\nBaseTrees=out/base.tar.zst\nExtraTrees=out/tools/usr:/usr\nSkeletonTrees=outside\n',
      'outside/x': 'x',
      'mkosi.images/base/mkosi.conf': '[Output]\nFormat=directory\n',
      'mkosi.images/tools/mkosi.conf': '[Output]\nFormat=directory\n',
    });
    const main = presetInputs(p, p.main);
    expect(main.readsOutputsOf).toEqual(['base', 'tools']);
    expect(main.paths.map((f) => path.relative(p.root, f))).toEqual(['outside']);
  });

  it('puts the lock of a NAME.conf preset beside it', () => {
    const p = load({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.images/tools.conf': '[Output]\nFormat=tar\n' });
    expect(path.relative(p.root, presetInputs(p, preset(p, 'tools')).lockfile)).toBe('mkosi.images/tools.lock');
  });

  it('settings hash: the same for a comment or another preset\'s change, different for a value', () => {
    const hashes = (f: Record<string, string>) => {
      const p = load(f);
      return [presetInputs(p, p.main).settingsHash, presetInputs(p, preset(p, 'base')).settingsHash];
    };
    const [main0, base0] = hashes(files);
    const [main1, base1] = hashes({ ...files, 'mkosi.conf': `# a comment\n${files['mkosi.conf']}` });
    expect([main1, base1]).toEqual([main0, base0]);
    const [main2, base2] = hashes({ ...files, 'mkosi.conf': files['mkosi.conf'].replace('Hostname=h', 'Hostname=other') });
    expect(main2).not.toBe(main0);
    expect(base2).toBe(base0);
  });

  it('settings hash: ImageVersion= and ImageId= count without scripts (a sysext\'s extension-release holds them, whatever Output= says)', () => {
    const hash = (version: string) => {
      const p = load({ 'mkosi.conf': `[Output]\nFormat=sysext\nOutput=fixed\nImageId=ext\nImageVersion=${version}\n` });
      return presetInputs(p, p.main).settingsHash;
    };
    expect(hash('2')).not.toBe(hash('1'));
  });
});
