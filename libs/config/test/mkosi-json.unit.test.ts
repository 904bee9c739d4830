/**
 * `kiln summary --json=mkosi` (mkosi-json.ts): the parts of mkosi's shape the oracle cases do not
 * pin down on their own. The field-by-field comparison with mkosi 26 is oracle.unit.test.ts.
 */
import { mkosiField, mkosiSummaryJson, SETTINGS, SettingDef } from '../src';
import { MKOSI_FIELDS } from '../src/mkosi-fields';
import { load } from './helpers';

const def = (name: string) => (SETTINGS as readonly SettingDef[]).find((d) => d.name === name)!;

describe('kiln summary --json=mkosi', () => {
  it("leaves kiln-only settings and the ToolsTreeX= settings out, and names settings as mkosi's JSON does", () => {
    for (const name of ['Binhosts', 'PortageProfile', 'GentooInstaller', 'CacheMaxSize', 'ToolsTreeRelease', 'ToolsTreePackages', 'Include']) expect([name, mkosiField(def(name))]).toEqual([name, undefined]);
    expect(mkosiField(def('KernelModulesInitrdInclude'))).toBe('KernelInitrdModules');
    expect(mkosiField(def('Packages'))).toBe('Packages');
    const p = load({ 'mkosi.conf': '[Distribution]\nDistribution=gentoo\n[Output]\nFormat=directory\n' });
    const main = mkosiSummaryJson(p).Images[0];
    expect(Object.keys(main).every((k) => MKOSI_FIELDS.includes(k))).toBe(true);
    expect(Object.keys(main)).toEqual([...Object.keys(main)].sort());
  });

  it('prints the generated tools tree as Tools, its path as ToolsTree=, and the main image last as "main"', () => {
    const p = load({
      'mkosi.conf': '[Output]\nFormat=directory\n[Build]\nToolsTree=default\n[Content]\nExtraTrees=x:/opt\n[Build]\nEnvironment=A=1 b=2\n',
      'x/f': 'f',
      'mkosi.images/z.conf': '[Output]\nFormat=tar\n',
      'mkosi.images/a.conf': '[Output]\nFormat=tar\n',
    });
    const s = mkosiSummaryJson(p);
    expect(s.Images.map((i) => i.Image)).toEqual(['a', 'z', 'main']);
    expect(s.Tools?.Image).toBe('tools');
    const main = s.Images[2];
    expect(main.ToolsTree).toBe(`${p.root}/mkosi.output/mkosi.tools`);
    expect(main.ExtraTrees).toEqual([{ Source: `${p.root}/x`, Target: '/opt' }]);
    // Environment= keys are names, not fields: kept as written.
    expect(main.Environment).toEqual({ A: '1', b: '2' });
    expect(main.Files).toEqual([`${p.root}/mkosi.conf`]);
  });
});

describe('kiln summary --json=mkosi: value forms mkosi holds as structures', () => {
  it('Credentials= NAME=VALUE words as a map (Drives= is compared by the many-settings oracle case)', () => {
    const p = load({ 'mkosi.conf': '[Output]\nFormat=directory\n[Runtime]\nCredentials=a=1 b="two words"\n' });
    const main = mkosiSummaryJson(p).Images[0];
    expect(main.Credentials).toEqual({ a: '1', b: 'two words' });
  });
});
