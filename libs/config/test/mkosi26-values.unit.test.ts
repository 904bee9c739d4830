/**
 * The value kinds of the settings mkosi 26 has and kiln added (values.ts), read through real
 * mkosi.conf files: each accepts what mkosi's parser accepts and refuses what it refuses, in one
 * `file:line` error naming the setting.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { configError, load, main, makeProject } from './helpers';
import { loadProject } from '../src';

const conf = (section: string, body: string) => ({ 'mkosi.conf': `[${section}]\n${body}\n` });

describe('mkosi 26 value kinds', () => {
  it('UUIDs: canonical form, any case, with or without dashes; random where mkosi takes it', () => {
    expect(main(conf('Content', 'MachineId=0123456789ABCDEF0123456789abcdef')).MachineId).toBe('01234567-89ab-cdef-0123-456789abcdef');
    expect(main(conf('Content', 'MachineId=random')).MachineId).toBe('random');
    expect(configError(conf('Content', 'MachineId=0123'))).toMatchObject({ file: 'mkosi.conf', line: 2, message: expect.stringMatching(/^MachineId=: "0123" is not valid \(accepted: a UUID/) });
  });

  it('key sources: file, engine:NAME, provider:NAME; certificate sources have no engine', () => {
    expect(main(conf('Validation', 'SecureBootKeySource=engine:pkcs11')).SecureBootKeySource).toBe('engine:pkcs11');
    expect(main(conf('Validation', 'VerityKeySource=provider:tpm2')).VerityKeySource).toBe('provider:tpm2');
    expect(main(conf('Validation', 'SecureBootKeySource=')).SecureBootKeySource).toBe('file');
    expect(configError(conf('Validation', 'SecureBootCertificateSource=engine:pkcs11')).message).toMatch(/^SecureBootCertificateSource=: "engine:pkcs11" is not a valid source \(accepted: file, provider:NAME\)/);
    expect(configError(conf('Validation', 'SignExpectedPcrKeySource=tpm')).message).toMatch(/is not a valid source/);
  });

  it('keys: a path when the file exists, the text as written otherwise (a PKCS#11 URI)', () => {
    const root = makeProject({ 'mkosi.conf': '[Validation]\nSecureBootKey=keys/db.key\nSecureBootCertificate=pkcs11:object=db;type=cert\n', 'keys/db.key': 'k' });
    const c = loadProject(root).main.config;
    expect(c.SecureBootKey).toBe(path.join(root, 'keys/db.key'));
    expect(c.SecureBootCertificate).toBe('pkcs11:object=db;type=cert');
    // VerityKey= too: mkosi.key kept out of git is read, not refused (the signing step says it is missing).
    const verity = loadProject(makeProject({ 'mkosi.conf': '[Validation]\nVerityKey=mkosi.key\nVerityCertificate=mkosi.crt\n' })).main.config;
    expect([verity.VerityKey, verity.VerityCertificate]).toEqual(['mkosi.key', 'mkosi.crt']);
  });

  it('mkosi.key and mkosi.crt are the default of every key setting that has them', () => {
    const root = makeProject({ 'mkosi.conf': '', 'mkosi.key': 'k', 'mkosi.crt': 'c' });
    const c = loadProject(root).main.config;
    for (const k of ['SecureBootKey', 'SignExpectedPcrKey', 'VerityKey', 'SshKey'] as const) expect(c[k]).toBe(path.join(root, 'mkosi.key'));
    for (const k of ['SecureBootCertificate', 'SignExpectedPcrCertificate', 'VerityCertificate', 'SshCertificate'] as const) expect(c[k]).toBe(path.join(root, 'mkosi.crt'));
  });

  it('access modes in octal up to 1777; sector sizes are powers of two from 512 to 4096', () => {
    expect(main(conf('Output', 'OutputMode=0644')).OutputMode).toBe(0o644);
    expect(configError(conf('Output', 'OutputMode=2000')).message).toMatch(/^OutputMode=: "2000" is not valid \(accepted: an octal access mode/);
    expect(configError(conf('Output', 'OutputMode=9')).message).toMatch(/is not valid/);
    expect(main(conf('Output', 'SectorSize=4096')).SectorSize).toBe(4096);
    expect(configError(conf('Output', 'SectorSize=1000')).message).toMatch(/^SectorSize=: "1000" is not valid \(accepted: 512, 1024, 2048 or 4096\)/);
  });

  it("enumerations take mkosi's words, and booleans where mkosi's parser does", () => {
    expect(main(conf('Content', 'Ssh=yes')).Ssh).toBe('always');
    expect(main(conf('Content', 'Ssh=runtime')).Ssh).toBe('runtime');
    expect(main(conf('Content', 'UnifiedKernelImages=no')).UnifiedKernelImages).toBe('none');
    expect(main(conf('Content', 'UnifiedKernelImages=yes')).UnifiedKernelImages).toBe('signed');
    expect(main(conf('Build', 'CacheOnly=yes')).CacheOnly).toBe('always');
    expect(main(conf('Build', 'CacheOnly=none')).CacheOnly).toBe('auto');
    expect(main(conf('Build', 'BuildSourcesEphemeral=buildcache')).BuildSourcesEphemeral).toBe('buildcache');
    expect(main(conf('Validation', 'SecureBootSignTool=systemd-sbsign')).SecureBootSignTool).toBe('systemd-sbsign');
    expect(main(conf('Runtime', 'Console=read-only')).Console).toBe('read-only');
    expect(main(conf('Runtime', 'RuntimeNetwork=interface')).RuntimeNetwork).toBe('interface');
    // mkosi's plain enum parsers take no boolean.
    expect(configError(conf('Content', 'BiosBootloader=yes')).message).toMatch(/^BiosBootloader=: "yes" is not a valid value \(accepted: none, grub\)/);
    expect(configError(conf('Content', 'ShimBootloader=maybe')).message).toMatch(/accepted: none, signed, unsigned/);
  });

  it('lists of enumeration values: ManifestFormat=; ToolsTreeProfiles= and InitrdProfiles= take any profile name (mkosi checks them on its command line only)', () => {
    expect(main(conf('Output', 'ManifestFormat=json,changelog')).ManifestFormat).toEqual(['json', 'changelog']);
    expect(main(conf('Build', 'ToolsTreeProfiles=devel')).ToolsTreeProfiles).toEqual(['devel']);
    expect(main(conf('Build', '')).ToolsTreeProfiles).toEqual(['misc', 'package-manager', 'runtime']);
    expect(main(conf('Build', 'ToolsTreeProfiles=gui')).ToolsTreeProfiles).toEqual(['gui']);
    expect(main(conf('Content', 'InitrdProfiles=lvm,zfs')).InitrdProfiles).toEqual(['lvm', 'zfs']);
  });

  it('feature settings take enabled, disabled, auto and boolean words (Bootable=enabled, TPM=yes)', () => {
    expect(main(conf('Content', 'Bootable=enabled')).Bootable).toBe('enabled');
    expect(main(conf('Validation', 'SignExpectedPcr=disabled')).SignExpectedPcr).toBe('disabled');
    expect(main(conf('Runtime', 'TPM=yes')).TPM).toBe('enabled');
    expect(main(conf('Runtime', 'QemuSwtpm=no')).TPM).toBe('disabled');
  });

  it("Hostname= takes systemd's ? wildcards (filled from the machine ID); what is no hostname is read, as mkosi reads it (the build refuses it: unsupported.unit.test.ts)", () => {
    expect(main(conf('Content', 'Hostname=particle-????-????')).Hostname).toBe('particle-????-????');
    expect(main(conf('Content', 'Hostname=a b')).Hostname).toBe('a b');
  });

  it('sizes, drives, vsock connection IDs of [Runtime]', () => {
    expect(main(conf('Runtime', 'MaxMem=8G')).MaxMem).toBe(8 * 1024 ** 3);
    expect(main(conf('Runtime', 'Drives=data:10G scratch:1G::cache=unsafe')).Drives).toEqual(['data:10G', 'scratch:1G::cache=unsafe']);
    expect(configError(conf('Runtime', 'Drives=data')).message).toMatch(/^Drives=: "data" is not a drive/);
    expect(main(conf('Runtime', 'VSockCID=hash')).VSockCID).toBe('hash');
    expect(main(conf('Runtime', 'QemuVsockConnectionId=42')).VSockCID).toBe('42');
    expect(configError(conf('Runtime', 'VSockCID=2')).message).toMatch(/^VSockCID=: "2" is not valid \(accepted: auto, hash/);
  });

  it('trees SOURCE[:TARGET] (RuntimeTrees=, BuildSources=) and KEY=VALUE credentials', () => {
    const root = makeProject({ 'mkosi.conf': '[Runtime]\nRuntimeTrees=share:/srv/share\nCredentials=a=1 b=2\n[Build]\nBuildSources=src:/work/other\n', 'share/x': '', 'src/y': '' });
    const c = loadProject(root).main.config;
    expect(c.RuntimeTrees).toEqual([{ source: path.join(root, 'share'), target: '/srv/share' }]);
    expect(c.BuildSources).toEqual([{ source: path.join(root, 'src'), target: '/work/other' }]);
    expect(c.Credentials).toEqual(['a=1', 'b=2']);
    expect(loadProject(makeProject({ 'mkosi.conf': '' })).main.config.BuildSources).toHaveLength(1);
  });

  it('QemuArgs= and UnitProperties= split on spaces with quotes, as mkosi (shlex)', () => {
    const c = main(conf('Runtime', `QemuArgs=-device "virtio-rng-pci,id=r x" -m 1G\nUnitProperties=CPUQuota=50%% 'Description=a b'`));
    expect(c.QemuArgs).toEqual(['-device', 'virtio-rng-pci,id=r x', '-m', '1G']);
    expect(c.UnitProperties).toEqual(['CPUQuota=50%', 'Description=a b']);
  });

  it('module filters are regular expressions (or default, host): an invalid one is an error', () => {
    expect(main(conf('Content', 'KernelModulesInclude=default,drivers/net/.*')).KernelModulesInclude).toEqual(['default', 'drivers/net/.*']);
    expect(configError(conf('Content', 'FirmwareExclude=(')).message).toMatch(/^FirmwareExclude=: "\(" is not a valid regular expression/);
  });

  it('file-text defaults: mkosi.rootpw, mkosi.snapshot and mkosi.machine-id hold the value', () => {
    const p = load({ 'mkosi.conf': '', 'mkosi.rootpw': 'hashed:$6$x\n', 'mkosi.snapshot': '20260101T000000Z\n' });
    expect(p.main.config.RootPassword).toBe('hashed:$6$x');
    expect(p.main.config.Snapshot).toBe('20260101T000000Z');
    expect(fs.existsSync(path.join(p.root, 'mkosi.rootpw'))).toBe(true);
  });

  it('the old names of [Runtime] settings are read, with a warning', () => {
    const p = load(conf('Runtime', 'QemuRemovable=yes\nQemuDrives=d:1G\nQemuFirmwareVariables=microsoft'));
    expect(p.main.config).toMatchObject({ Removable: true, Drives: ['d:1G'], FirmwareVariables: 'microsoft' });
    expect(p.warnings.map((w) => w.message)).toEqual(expect.arrayContaining([expect.stringMatching(/^QemuRemovable= is an old name: write Removable= instead/)]));
  });

  it('names mkosi 26 does not know stay unknown, warned where mkosi warns (OutputSize=)', () => {
    const p = load(conf('Output', 'OutputSize=2G'));
    expect(p.warnings.map((w) => `${w.origin.line}: ${w.message}`)).toEqual(['2: unknown setting OutputSize= is ignored']);
  });
});
