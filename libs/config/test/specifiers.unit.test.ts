/**
 * Specifiers that expand to nothing, as mkosi 26 expands them (ParseContext.expand_specifiers):
 * a setting's specifier while the setting is unset, and an unknown specifier, each with a warning.
 * mkosi 26 on the first project below gives Output "img_" and Hostname "host-", and warns
 * "Setting ImageVersion specified by specifier '%v' in img_%v is not yet set, ignoring" and
 * "Unknown specifier '%q' found in host-%q, ignoring".
 */
import * as path from 'node:path';
import { expandSpecifiers } from '../src/specifiers';
import { load } from './helpers';

describe('specifiers while unset', () => {
  it('%v before ImageVersion= expands to nothing with a warning at its file:line; an unknown specifier is dropped', () => {
    const p = load({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nOutput=img_%v\nFormat=tar\n[Content]\nHostname=host-%q\n' });
    expect([p.main.config.Output, p.main.config.Hostname]).toEqual(['img_', 'host-']);
    const conf = path.join(p.root, 'mkosi.conf');
    expect(p.warnings).toEqual([
      { origin: { file: conf, line: 5 }, message: expect.stringMatching(/^ImageVersion is not yet set where "%v" in "img_%v" is read: it expands to nothing, as in mkosi \(set ImageVersion= earlier/) },
      { origin: { file: conf, line: 8 }, message: expect.stringMatching(/^unknown specifier "%q" in "host-%q" is dropped/) },
    ]);
  });

  it('%v after ImageVersion= (here from mkosi.version) expands without a warning', () => {
    const p = load({ 'mkosi.conf': '[Output]\nOutput=img_%v\nFormat=tar\n', 'mkosi.version': '1.2\n' });
    expect(p.main.config.Output).toBe('img_1.2');
    expect(p.warnings).toEqual([]);
  });

  it('every setting specifier that is unset warns once and leaves nothing', () => {
    const text = '%d %r %a %t %o %i %v';
    const warnings: string[] = [];
    const get = (n: string) => ({ Distribution: 'debian', Release: null, Architecture: 'x86-64', Format: 'disk', Output: null, ImageId: null, ImageVersion: null })[n] ?? null;
    const out = expandSpecifiers(text, { get, image: 'main', configFileDir: '/p', configDir: '/p', root: '/p', warn: (m) => warnings.push(m) });
    expect(out).toBe('debian  x86-64 disk   ');
    expect(warnings.map((w) => w.split(' ')[0])).toEqual(['Release', 'Output', 'ImageId', 'ImageVersion']);
  });

  it('a value is expanded whole before it is parsed, as mkosi: one that expands to nothing is empty (a reset)', () => {
    const p = load({ 'mkosi.conf': '[Output]\nImageId=first\nImageId=%z\n[Content]\nPackages=vim %y\nExtraTrees=%q\n' });
    // mkosi 26 on this project: ImageId null, Packages ["vim "] (it keeps the blank before the dropped specifier), ExtraTrees [].
    expect([p.main.config.ImageId, p.main.config.Packages, p.main.config.ExtraTrees]).toEqual([null, ['vim'], []]);
    expect(p.warnings).toHaveLength(3);
  });

  it('a condition whose value expands to nothing matches only an empty value (no crash)', () => {
    const p = load({ 'mkosi.conf': '[Output]\nFormat=tar\n', 'mkosi.conf.d/10.conf': '[Match]\nImage=%z\n[Content]\nPackages=never\n' });
    expect(p.main.config.Packages).toEqual([]);
    expect(p.warnings.map((w) => w.message)).toEqual([expect.stringMatching(/^unknown specifier "%z"/)]);
  });

  it('"%%" is "%", and a "%" ending the value stays, as in mkosi', () => {
    const warnings: string[] = [];
    const out = expandSpecifiers('100%% of 50%', { get: () => null, image: 'main', configFileDir: '/', configDir: '/', root: '/', warn: (m) => warnings.push(m) });
    expect(out).toBe('100% of 50%');
    expect(warnings).toEqual([]);
  });
});
