/**
 * List items written with spaces where mkosi 26 wants commas (list-items.ts): mkosi 26 reads
 * `Packages=vim less` as one item "vim less" and fails only when it builds. kiln reads it the same
 * way (a summary works), warns at the line with the fix, and refuses it before a build or a lock
 * does anything; a path may hold a space, so a path list warns only for a path that is not there.
 */
import * as path from 'node:path';
import { checkBuildValues, ConfigError, Project, summaryText } from '../src';
import { configError, load } from './helpers';

const DEBIAN = '[Distribution]\nDistribution=debian\nRelease=bookworm\n';

/** The warnings of a project as `file:line: message`, relative to its root. */
const warnings = (p: Project) => p.warnings.map((w) => `${path.relative(p.root, w.origin.file)}:${w.origin.line}: ${w.message}`);

/** The error a build (or lock) of the main image refuses with, as the CLI prints it. */
function buildRefusal(p: Project): string {
  try {
    checkBuildValues(p.main, p.root);
  } catch (e) {
    if (e instanceof ConfigError) return `${path.relative(p.root, e.origin!.file)}:${e.origin!.line}: ${e.reason}`;
    throw e;
  }
  return 'accepted';
}

describe('a package list item holding a space (Packages=vim less)', () => {
  const p = load({ 'mkosi.conf': `${DEBIAN}[Content]\nPackages=curl\nPackages=vim less\n` });

  it('is read as mkosi 26 reads it, one item, and the summary shows it', () => {
    expect(p.main.config.Packages).toEqual(['curl', 'vim less']);
    expect(summaryText(p)).toContain('vim less');
  });

  it('is warned about at its line, with the fix', () => {
    expect(warnings(p)).toEqual([
      'mkosi.conf:6: Packages=: "vim less" is one item, as mkosi 26 reads it, and a build refuses it (mkosi 26 separates list items with commas or newlines, not spaces: write Packages=vim,less)',
    ]);
  });

  it('is refused before a build or a lock, at the line that set the list', () => {
    expect(buildRefusal(p)).toBe(
      'mkosi.conf:6: Packages=: "vim less" is one item holding a space, which kiln cannot build (mkosi 26 separates list items with commas or newlines, not spaces: write Packages=vim,less)',
    );
  });

  it('is refused at the line that wrote the item, not at the last line setting the list (another file)', () => {
    const more = load({ 'mkosi.conf': `${DEBIAN}[Content]\nPackages=vim less\n`, 'mkosi.conf.d/10-more.conf': '[Content]\nPackages=curl\n' });
    expect(warnings(more)).toEqual([expect.stringMatching(/^mkosi\.conf:5: Packages=: "vim less" is one item/)]);
    expect(buildRefusal(more)).toMatch(/^mkosi\.conf:5: Packages=: "vim less" is one item holding a space/);
  });

  it('written with commas or one per line, it is two items, no warning, and builds', () => {
    for (const text of ['Packages=vim,less\n', 'Packages=vim, less\n', 'Packages=\n  vim\n  less\n']) {
      const q = load({ 'mkosi.conf': `${DEBIAN}[Content]\n${text}` });
      expect([q.main.config.Packages, q.warnings, buildRefusal(q)]).toEqual([['less', 'vim'], [], 'accepted']);
    }
  });

  it('an rpm rich dependency keeps its spaces without a warning', () => {
    const q = load({ 'mkosi.conf': `${DEBIAN}[Content]\nPackages=(foo if bar)\n` });
    expect([q.main.config.Packages, q.warnings, buildRefusal(q)]).toEqual([['(foo if bar)'], [], 'accepted']);
  });

  it('a word of it that no package name can be is still an error at read', () => {
    expect(configError({ 'mkosi.conf': `${DEBIAN}[Content]\nPackages=hello -oAPT::Get::Simulate=true\n` }).message).toMatch(/^Packages=: "-oAPT::Get::Simulate=true" starts with "-"/);
  });
});

describe('other kinds', () => {
  it('names (Repositories=, KernelModulesInclude=) warn and are refused at build like packages', () => {
    const p = load({ 'mkosi.conf': `${DEBIAN}Repositories=contrib non-free\n[Content]\nKernelModulesInclude=virtio ext4\n` });
    expect(p.main.config.Repositories).toEqual(['contrib non-free']);
    expect(warnings(p).map((w) => w.replace(/ \(.*/, ''))).toEqual([
      'mkosi.conf:4: Repositories=: "contrib non-free" is one item, as mkosi 26 reads it, and a build refuses it',
      'mkosi.conf:6: KernelModulesInclude=: "virtio ext4" is one item, as mkosi 26 reads it, and a build refuses it',
    ]);
    expect(buildRefusal(p)).toMatch(/^mkosi.conf:4: Repositories=: .*write Repositories=contrib,non-free\)$/);
  });

  it('RemoveFiles= warns but a build goes on: an image path may hold a space, and a glob that matches nothing removes nothing (as mkosi)', () => {
    const p = load({ 'mkosi.conf': `${DEBIAN}[Content]\nRemoveFiles=/usr/share/doc /var/cache\n` });
    expect(p.main.config.RemoveFiles).toEqual(['/usr/share/doc /var/cache']);
    expect(warnings(p)).toEqual([
      'mkosi.conf:5: RemoveFiles=: "/usr/share/doc /var/cache" is one item, as mkosi 26 reads it, which matches nothing unless a name holds that space (mkosi 26 separates list items with commas or newlines, not spaces: write RemoveFiles=/usr/share/doc,/var/cache)',
    ]);
    expect(buildRefusal(p)).toBe('accepted');
  });

  it('a path with a space is fine when it exists; a missing one warns (not required) or is an error naming the fix (required)', () => {
    const there = load({ 'mkosi.conf': `${DEBIAN}[Content]\nBaseTrees=my tree\n`, 'my tree/x': '' });
    expect([there.warnings, buildRefusal(there)]).toEqual([[], 'accepted']);
    const missing = load({ 'mkosi.conf': `${DEBIAN}[Content]\nBaseTrees=a b\n`, 'a/x': '', 'b/x': '' });
    expect(warnings(missing)).toEqual([expect.stringMatching(/^mkosi.conf:5: BaseTrees=: "a b" is one item, .*write BaseTrees=a,b\)$/)]);
    expect(buildRefusal(missing)).toMatch(/^mkosi.conf:5: BaseTrees=: "a b" is one item holding a space/);
    expect(configError({ 'mkosi.conf': `${DEBIAN}[Content]\nSkeletonTrees=a b\n`, 'a/x': '', 'b/x': '' }).message).toMatch(
      /^SkeletonTrees=: .*\/a b does not exist .* \(mkosi 26 separates list items with commas or newlines, not spaces: write SkeletonTrees=a,b\)$/,
    );
  });

  it('lists of values mkosi checks at read (ManifestFormat=) are errors there too, with the fix', () => {
    expect(configError({ 'mkosi.conf': `${DEBIAN}[Output]\nManifestFormat=json changelog\n` }).message).toMatch(
      /^ManifestFormat=: "json changelog" is not a valid value .*\(mkosi 26 separates list items with commas or newlines, not spaces: write ManifestFormat=json,changelog\)$/,
    );
  });

  it('space lists are not touched: KernelCommandLine= splits on spaces', () => {
    const p = load({ 'mkosi.conf': `${DEBIAN}[Content]\nKernelCommandLine=console=ttyS0,115200 quiet\n` });
    expect([p.main.config.KernelCommandLine, p.warnings]).toEqual([['console=ttyS0,115200', 'quiet'], []]);
  });
});

describe('kiln.toml', () => {
  it('a string follows the INI rule: split on commas, an item with a space warned about', () => {
    const p = load({ 'kiln.toml': '[Distribution]\nDistribution = "debian"\nRelease = "bookworm"\n[Content]\nPackages = "curl,vim less"\n' });
    expect(p.main.config.Packages).toEqual(['curl', 'vim less']);
    expect(warnings(p)).toEqual([
      'kiln.toml:5: Packages=: "vim less" is one item and a build refuses it (in kiln.toml each item is a string of its own: write Packages = ["vim", "less"])',
    ]);
  });

  it('an array says where items end: a name with a space is an error at read, a path with one is meant', () => {
    expect(configError({ 'kiln.toml': '[Content]\nPackages = ["vim less"]\n' })).toMatchObject({
      message: 'Packages=: "vim less" holds a space, which no item of Packages= does (in kiln.toml each item is a string of its own: write Packages = ["vim", "less"])',
      line: 2,
    });
    const p = load({ 'kiln.toml': '[Content]\nRemoveFiles = ["/a b", "/c"]\n' });
    expect([p.main.config.RemoveFiles, p.warnings]).toEqual([['/a b', '/c'], []]);
  });
});
