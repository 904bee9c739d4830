/**
 * The test lanes (jest.config.js) hold what they promise: every test file is in a lane (under a
 * test/ directory, where jest looks), and no *.unit.test.ts builds images, runs the built CLI or
 * serves fixture repositories, which is the build lane's work.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

const repo = path.resolve(__dirname, '../../..');

function testFiles(dir: string): string[] {
  const found: string[] = [];
  for (const e of fs.existsSync(dir) ? fs.readdirSync(dir, { withFileTypes: true }) : []) {
    if (['node_modules', 'dist', 'fixtures', '.git'].includes(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) found.push(...testFiles(p));
    else if (/\.test\.[cm]?[jt]s$/.test(e.name)) found.push(path.relative(repo, p));
  }
  return found;
}

const all = ['libs', 'apps', 'plugins', 'e2e', 'tools'].flatMap((d) => testFiles(path.join(repo, d)));

/** What only the build lane may do, by the helpers and tools that do it. */
const BUILD_LANE: [RegExp, string][] = [
  [/\b(buildIn|lockIn)\(/, 'builds or locks a real image (buildIn/lockIn)'],
  [/\b(kiln|startKiln|kilnIn)\(|run-kiln/, 'runs the built kiln CLI'],
  [/(gentoo|pacman)-fixtures\/(build|serve)|pacmanFixtures\(/, 'builds or serves fixture repositories'],
];

describe('test lanes', () => {
  it('finds the test files', () => {
    expect(all).toContain('libs/engine/test/lanes.unit.test.ts');
  });

  it('every test file is where jest looks for it: a .test.ts under a package\'s test/ or under e2e/test/', () => {
    const lost = all.filter((f) => !/^(libs|apps|plugins)\/[^/]+\/test\/.+\.test\.ts$|^e2e\/test\/.+\.test\.ts$/.test(f));
    expect(lost).toEqual([]);
  });

  it('no *.unit.test.ts does the build lane\'s work (drop ".unit" from its name to move it there)', () => {
    const wrong = all
      // (This file names the helpers without calling them.)
      .filter((f) => f.endsWith('.unit.test.ts') && f !== 'libs/engine/test/lanes.unit.test.ts')
      .flatMap((f) => {
        const text = fs.readFileSync(path.join(repo, f), 'utf8');
        return BUILD_LANE.filter(([re]) => re.test(text)).map(([, what]) => `${f} ${what}`);
      });
    expect(wrong).toEqual([]);
  });
});
