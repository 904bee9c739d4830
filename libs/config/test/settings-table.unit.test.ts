/**
 * kiln's settings table against mkosi 26's (test/data/mkosi26-settings.json, generated from
 * mkosi's SETTINGS: see test/data/README.md): every mkosi setting is there with mkosi's section,
 * scope, old names, default paths, specifier and list delimiter, and a cache role that keeps runtime-only
 * settings out of the cache key.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { findSetting, SETTINGS, SettingDef } from '../src/settings';
import { summaryText } from '../src/summary';
import { load } from './helpers';

interface MkosiSetting {
  name: string;
  section: string;
  scope: string;
  oldNames: string[];
  pathSuffixes: string[];
  specifier: string | null;
  match: boolean;
  /** A list's item separator besides newlines (mkosi's delimiter=), null for a single value. */
  delimiter: ',' | ' ' | null;
  /** Split with shell quoting (mkosi's unescape=True). */
  quoted: boolean;
}

const MKOSI: MkosiSetting[] = JSON.parse(fs.readFileSync(path.join(__dirname, 'data', 'mkosi26-settings.json'), 'utf8'));
const TABLE = SETTINGS as readonly SettingDef[];
const byName = new Map(TABLE.map((d) => [d.name, d]));

/** kiln's own settings (Gentoo, cache eviction): not in mkosi, and no mkosi setting's name. */
const KILN_ONLY = [
  'Binhosts', 'PortageProfile', 'PortageSnapshot', 'GentooInstaller', 'GentooKeyring', 'BinpkgSignatures',
  'AcceptKeywords', 'CollisionIgnore', 'ConfigProtect', 'ConfigProtectMask', 'CacheMaxSize', 'CacheMaxAge',
];

/** Default paths kiln reads beyond mkosi 26's, each deliberate: a script setting's NAME.d/ directory of scripts (scriptPaths in settings.ts). */
const KILN_EXTRA_PATHS = new Set(['mkosi.configure.d', 'mkosi.sync.d', 'mkosi.prepare.d', 'mkosi.build.d', 'mkosi.postinst.d', 'mkosi.finalize.d', 'mkosi.postoutput.d', 'mkosi.clean.d']);

describe("kiln's settings table against mkosi 26's", () => {
  it('the fact file is whole (179 settings of mkosi 26)', () => {
    expect(MKOSI).toHaveLength(179);
  });

  it.each(MKOSI.map((m) => [m.name, m] as const))('%s is in the table with mkosi\'s section, scope, old names and specifier', (name, m) => {
    const d = byName.get(name);
    expect(d).toBeDefined();
    expect({ section: d!.section, scope: d!.scope, aliases: [...(d!.aliases ?? [])].sort(), specifier: d!.specifier ?? null }).toEqual({
      section: m.section,
      scope: m.scope,
      aliases: [...m.oldNames].sort(),
      specifier: m.specifier,
    });
    // Its name and every old name are known: none is an "unknown setting" to kiln.
    for (const n of [name, ...m.oldNames]) expect(findSetting(n)?.name).toBe(name);
  });

  it.each(MKOSI.map((m) => [m.name, m] as const))("%s picks up mkosi's default paths (mkosi.<suffix>) and no others but kiln's deliberate extras", (name, m) => {
    const d = byName.get(name)!;
    const mine = d.defaultPaths ?? [];
    expect(mine.filter((p) => !KILN_EXTRA_PATHS.has(p)).sort()).toEqual(m.pathSuffixes.map((s) => `mkosi.${s}`).sort());
  });

  it.each(MKOSI.map((m) => [m.name, m] as const))("%s splits its items as mkosi 26 does (delimiter and quoting)", (name, m) => {
    const kind = byName.get(name)!.kind;
    // kiln reads a few of mkosi's single values as lists (KernelModulesInclude= filters); those
    // have no delimiter of mkosi's to follow and split on commas like the rest.
    const mine = { delimiter: kind.list ? (kind.delimiter ?? ',') : null, quoted: kind.quoted ?? false };
    if (m.delimiter === null && kind.list) expect(mine).toEqual({ delimiter: ',', quoted: false });
    else expect(mine).toEqual({ delimiter: m.delimiter, quoted: m.quoted });
  });

  it('every setting mkosi can [Match] on has a match key (the comparison rules are match.ts)', () => {
    const missing = MKOSI.filter((m) => m.match && !byName.get(m.name)!.match).map((m) => m.name);
    expect(missing).toEqual([]);
  });

  it("kiln's settings beyond mkosi's are only kiln's own", () => {
    const mkosi = new Set(MKOSI.map((m) => m.name));
    expect(TABLE.filter((d) => !mkosi.has(d.name)).map((d) => d.name)).toEqual(KILN_ONLY);
  });

  it('runtime-only settings never take part in the cache key', () => {
    const runtime = TABLE.filter((d) => d.section === 'Runtime' || ['RAM', 'CPUs', 'TPM', 'Ephemeral', 'Credentials', 'History', 'MinimumVersion', 'WorkspaceDirectory', 'BuildDirectory', 'CacheOnly', 'ProxyUrl', 'ProxyExclude', 'ProxyPeerCertificate', 'ProxyClientCertificate', 'ProxyClientKey'].includes(d.name));
    expect(runtime.filter((d) => d.cache !== 'none' || d.stage !== 'none').map((d) => d.name)).toEqual([]);
    expect(runtime.length).toBeGreaterThan(40);
  });

  it('settings that change the image take part in the cache key', () => {
    const imageSettings = ['Keymap', 'RootShell', 'MachineId', 'Autologin', 'Ssh', 'KernelModulesInclude', 'KernelModulesExclude', 'KernelModules', 'FirmwareInclude', 'FirmwareExclude', 'FirmwareFiles', 'Devicetrees', 'Splash', 'SecureBoot', 'SecureBootKey', 'UnifiedKernelImages', 'ManifestFormat', 'OutputExtension', 'VolatilePackages', 'PackageDirectories', 'Passphrase', 'SectorSize', 'OutputMode'];
    expect(imageSettings.filter((n) => byName.get(n)!.cache === 'none')).toEqual([]);
  });

  it('`kiln summary` shows every setting once, under its section, in table order', () => {
    const text = summaryText(load({ 'mkosi.conf': '[Output]\nFormat=tar\n[Runtime]\nTPM=yes\n' }));
    const lines = text.split('\n');
    const labelled = lines.map((l) => /^\s+([A-Za-z]+): /.exec(l)?.[1]).filter((n): n is string => !!n && n !== 'Lock');
    expect(labelled).toEqual(TABLE.map((d) => d.name));
    const at = (name: string) => lines.findIndex((l) => l.trimStart().startsWith(`${name}: `));
    expect(at('SecureBoot')).toBeGreaterThan(lines.indexOf('    VALIDATION:'));
    expect(at('SecureBoot')).toBeLessThan(lines.indexOf('    BUILD:'));
    expect(lines[at('TPM')].trim()).toBe('TPM: enabled');
    expect(at('TPM')).toBeGreaterThan(lines.indexOf('    RUNTIME:'));
  });

  it("each entry's help is one line", () => {
    expect(TABLE.filter((d) => !d.help || d.help.includes('\n')).map((d) => d.name)).toEqual([]);
  });

  it('an engine marker is one of: none, engine: false, or a supports() predicate', () => {
    expect(TABLE.filter((d) => d.engine === false && d.supports).map((d) => d.name)).toEqual([]);
  });
});
