import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'smol-toml';
import { loadProject, summaryJson, tomlJsonSchema } from '../src';
import { tomlSchema } from '../src/json-schema';
import { configError, load, main } from './helpers';

const repo = path.resolve(__dirname, '../../..');
const twin = path.join(__dirname, 'fixtures/toml/system');

describe('kiln.toml', () => {
  it('the TOML twin of examples/system gives the same summary JSON', () => {
    const ini = summaryJson(loadProject(path.join(repo, 'examples/system')));
    const toml = summaryJson(loadProject(twin));
    expect(toml).toEqual(ini);
    expect(ini.order).toEqual(['tools', 'base', 'initrd', 'system']);
  });

  it('maps TOML types onto the same settings: arrays, booleans, integers, tables', () => {
    const c = main({
      'kiln.toml': '[Content]\nPackages = ["b", "a"]\nWithDocs = false\nSourceDateEpoch = 5\nKernelCommandLine = ["a=1,2", "quiet"]\n[Build]\nEnvironment = { A = "x y", B = "2" }\n',
    });
    expect([c.Packages, c.WithDocs, c.SourceDateEpoch, c.KernelCommandLine, c.Environment]).toEqual([['a', 'b'], false, 5, ['a=1,2', 'quiet'], { A: 'x y', B: '2' }]);
  });

  it("takes mkosi 26's settings that kiln added, in their TOML types (features as booleans or words, [Validation], [Runtime])", () => {
    const c = main({
      'kiln.toml': '[Content]\nBootable = "enabled"\nAutologin = false\nSsh = "never"\n[Validation]\nSignExpectedPcr = false\nSecureBootKeySource = "engine:pkcs11"\n[Output]\nManifestFormat = ["json"]\nSectorSize = 4096\n[Runtime]\nTPM = true\nDrives = ["data:1G"]\n',
    });
    expect([c.Bootable, c.Autologin, c.Ssh, c.SignExpectedPcr, c.SecureBootKeySource, c.ManifestFormat, c.SectorSize, c.TPM, c.Drives]).toEqual(['enabled', false, 'never', 'disabled', 'engine:pkcs11', ['json'], 4096, 'enabled', ['data:1G']]);
    expect(tomlSchema().safeParse(parse('[Runtime]\nTPM = true\nVSockCID = 42\n[Validation]\nSecureBoot = false\n')).success).toBe(true);
  });

  it('array items are not split on whitespace (a path with a space stays one path)', () => {
    const c = main({ 'kiln.toml': '[Content]\nRemoveFiles = ["/a b", "/c"]\n' });
    expect(c.RemoveFiles).toEqual(['/a b', '/c']);
  });

  it('reads drop-ins, kiln.local.toml and presets in the same order as mkosi projects', () => {
    const p = load({
      'kiln.toml': '[Content]\nHostname = "main"\n',
      'kiln.conf.d/10.toml': '[Match]\nDistribution = "debian"\n[Content]\nLocale = "C"\n',
      'kiln.local.toml': '[Content]\nHostname = "local"\n',
      'kiln.images/a.toml': '[Output]\nFormat = "tar"\n',
    });
    expect([p.main.config.Hostname, p.main.config.Locale, p.syntax]).toEqual(['local', 'C', 'toml']);
    expect(p.presets.map((x) => x.name)).toEqual(['a', 'proj']);
  });

  it('gives the same message as mkosi.conf for a bad value, with the TOML line', () => {
    const ini = configError({ 'mkosi.conf': '[Output]\nFormat=tarball\n' });
    const toml = configError({ 'kiln.toml': '# comment\n[Output]\nFormat = "tarball"\n' });
    expect(toml.message).toBe(ini.message);
    expect(toml).toMatchObject({ file: 'kiln.toml', line: 3 });
  });

  it('reports TOML syntax errors with their line', () => {
    expect(configError({ 'kiln.toml': '[Content]\nPackages = [\n' })).toMatchObject({ file: 'kiln.toml', line: expect.any(Number) });
    expect(configError({ 'kiln.toml': '[Content]\nPackages = [\n' }).message).toMatch(/^invalid TOML/);
  });

  it('refuses top-level keys that are not section tables, and a list for a single value', () => {
    expect(configError({ 'kiln.toml': 'Packages = ["a"]\n' }).message).toMatch(/"Packages" must be a table of settings/);
    expect(configError({ 'kiln.toml': '[Content]\nHostname = ["a", "b"]\n' }).message).toMatch(/^Hostname= takes a string, not an array of strings$/);
  });

  it('a project with both mkosi.conf and kiln.toml is refused', () => {
    expect(configError({ 'mkosi.conf': '', 'kiln.toml': '' }).message).toMatch(/both mkosi\.conf and kiln\.toml are here: keep one/);
  });
});

describe('the JSON Schema of kiln.toml', () => {
  it('is committed and up to date with the settings table (regenerate: kiln schema > libs/config/kiln.schema.json)', () => {
    const committed = JSON.parse(fs.readFileSync(path.join(__dirname, '../kiln.schema.json'), 'utf8'));
    expect(committed).toEqual(tomlJsonSchema());
  });

  it('describes every section and setting, with types and defaults', () => {
    const s = tomlJsonSchema() as { properties: Record<string, { properties: Record<string, { description?: string; default?: unknown }> }> };
    expect(Object.keys(s.properties)).toEqual(expect.arrayContaining(['Distribution', 'Output', 'Content', 'Build', 'Match']));
    expect(s.properties.Content.properties.WithDocs.default).toBe(true);
    expect(s.properties.Content.properties.Packages.description).toMatch(/^Packages to install/);
  });

  it('accepts the demo twin and rejects an unknown key', () => {
    for (const f of ['kiln.toml', 'kiln.images/base.toml', 'kiln.images/initrd/kiln.toml']) {
      expect(tomlSchema().safeParse(parse(fs.readFileSync(path.join(twin, f), 'utf8'))).success).toBe(true);
    }
    expect(tomlSchema().safeParse({ Content: { Pakages: ['x'] } }).success).toBe(false);
  });
});
