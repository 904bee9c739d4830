/**
 * "Not supported by kiln yet" (unsupported.ts): settings that would change an image but that the
 * engine ignores are named, with the line that set them; everything else is accepted.
 */
import * as path from 'node:path';
import { checkSupported, ConfigError, formatOrigin, ignoredRuntimeSettings, Project, SETTINGS, unsupportedSettings } from '../src';
import { load, preset } from './helpers';

const DEBIAN = '[Distribution]\nDistribution=debian\nRelease=bookworm\nArchitecture=x86-64\n[Output]\nFormat=directory\n';

/** The main image's unsupported settings as `name=value@file:line`, file relative to the project. */
function found(p: Project, name = p.main.name): string[] {
  const pr = preset(p, name);
  return unsupportedSettings(pr, p.root).map((u) => `${u.name}=${u.value}@${path.relative(p.root, u.origin.file)}:${u.origin.line}`);
}

const ORDER = (SETTINGS as readonly { name: string }[]).map((d) => d.name);
const byTable = (a: string, b: string) => ORDER.indexOf(a.split('=')[0]) - ORDER.indexOf(b.split('=')[0]);

/** The one-line error the build gives (file relative to the project), or null when the preset is accepted. */
function refusal(p: Project, name = p.main.name): string | null {
  try {
    checkSupported(preset(p, name), p.root);
    return null;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    return `${formatOrigin({ ...e.origin!, file: path.relative(p.root, e.origin!.file) })}: ${e.reason}`;
  }
}

describe('settings kiln reads but does not act on', () => {
  it('accepts a preset that sets only what the engine does, and mkosi settings left at their defaults', () => {
    const p = load({ 'mkosi.conf': `${DEBIAN}[Content]\nHostname=particle-????-????\nBootable=enabled\nSsh=auto\nSecureBoot=no\nAutologin=no\nManifestFormat=\n[Validation]\nSignExpectedPcr=auto\n` });
    expect(found(p)).toEqual([]);
    expect(refusal(p)).toBeNull();
    expect(p.main.config.Hostname).toBe('particle-????-????');
    expect(p.main.config.Bootable).toBe('enabled');
  });

  it('reads a value mkosi reads as any string (Hostname=a_b), warns at its line, and refuses to build it there', () => {
    const p = load({ 'mkosi.conf': `${DEBIAN}[Content]\nTimezone=Europe/Berlin\nHostname=my_host\n` });
    expect(p.main.config.Hostname).toBe('my_host');
    expect(p.warnings.map((w) => `${path.relative(p.root, w.origin.file)}:${w.origin.line}: ${w.message}`)).toContain(
      'mkosi.conf:9: Hostname=: "my_host" is not valid (accepted: a valid hostname, "?" standing for a machine ID digit); mkosi reads it, but kiln refuses to build it',
    );
    expect(refusal(p)).toBe('mkosi.conf:9: Hostname=: "my_host" is not valid (accepted: a valid hostname, "?" standing for a machine ID digit)');
  });

  it('accepts runtime-only and cache-location settings whatever their value (they cannot change the image)', () => {
    const p = load({
      'mkosi.conf': `${DEBIAN}[Build]\nHistory=yes\nCacheOnly=metadata\nWorkspaceDirectory=/tmp\nProxyUrl=http://proxy.example:3128\n[Runtime]\nTPM=yes\nEphemeral=yes\nVSock=no\nRuntimeNetwork=none\nVirtualMachineMonitor=vmspawn\nConsole=gui\nFirmware=bios\n`,
    });
    expect(p.main.config.TPM).toBe('enabled');
    expect(p.main.config.VirtualMachineMonitor).toBe('vmspawn');
    expect(found(p)).toEqual([]);
    expect(refusal(p)).toBeNull();
    // kiln vm notes the ones it does not act on (RAM=, CPUs=, Firmware=uefi, ... it does).
    expect(ignoredRuntimeSettings(p.main, p.root).map((u) => `${u.name}=${u.value}@${u.origin.line}`)).toEqual(['Ephemeral=yes@14', 'RuntimeNetwork=none@16', 'VirtualMachineMonitor=vmspawn@17', 'Console=gui@18', 'VSock=disabled@15', 'TPM=enabled@13', 'Firmware=bios@19'].sort(byTable));
  });

  it('refuses a value the engine ignores, naming the setting at its file:line and the default to set instead', () => {
    const p = load({ 'mkosi.conf': `${DEBIAN}[Content]\nKeymap=de-latin1\nPackages=bash\n` });
    expect(found(p)).toEqual(['Keymap=de-latin1@mkosi.conf:8']);
    expect(refusal(p)).toBe('mkosi.conf:8: Keymap=de-latin1: not supported by kiln yet (remove it)');
  });

  it('refuses the values a partly supported setting cannot take, and offers the default', () => {
    const p = load({ 'mkosi.conf': `${DEBIAN}`, 'mkosi.conf.d/10-secure.conf': '[Validation]\nSecureBoot=yes\n', 'mkosi.conf.d/20-uki.conf': '[Content]\nUnifiedKernelImages=none\n' });
    // The first is named, the others listed; SecureBoot*= settings left at their defaults are not.
    expect(found(p)).toEqual(['UnifiedKernelImages=none@mkosi.conf.d/20-uki.conf:2', 'SecureBoot=yes@mkosi.conf.d/10-secure.conf:2']);
    expect(refusal(p)).toBe('mkosi.conf.d/20-uki.conf:2: UnifiedKernelImages=none: not supported by kiln yet (remove it, or set it to auto); also SecureBoot=');
  });

  it('a setting that only matters with another one counts when that one is on (SecureBootKey= with SecureBoot=yes)', () => {
    const base = { 'mkosi.conf': `${DEBIAN}[Validation]\nSecureBootKey=db.key\nSecureBootSignTool=sbsign\n`, 'db.key': 'k' };
    expect(found(load(base))).toEqual([]);
    expect(found(load({ ...base, 'mkosi.conf.d/sb.conf': '[Validation]\nSecureBoot=yes\n' }))).toEqual(['SecureBoot=yes@mkosi.conf.d/sb.conf:2', 'SecureBootKey=db.key@mkosi.conf:8', 'SecureBootSignTool=sbsign@mkosi.conf:9']);
  });

  it('refuses a Format= kiln cannot write yet and a Bootloader= it cannot install, but not a bootloader of a directory image', () => {
    expect(refusal(load({ 'mkosi.conf': `${DEBIAN}[Output]\nFormat=oci\n` }))).toBe('mkosi.conf:8: Format=oci: not supported by kiln yet (remove it, or set it to disk)');
    expect(found(load({ 'mkosi.conf': `${DEBIAN}[Output]\nFormat=disk\n[Content]\nBootloader=grub\n` }))).toEqual(['Bootloader=grub@mkosi.conf:10']);
    expect(found(load({ 'mkosi.conf': `${DEBIAN}[Content]\nBootloader=grub\n` }))).toEqual([]);
    expect(found(load({ 'mkosi.conf': `${DEBIAN}[Output]\nFormat=disk\n[Content]\nBootable=no\nBootloader=grub\n` }))).toEqual([]);
    expect(found(load({ 'mkosi.conf': `${DEBIAN}[Output]\nFormat=uki\n[Content]\nBootable=no\nBootloader=grub-signed\n` }))).toEqual(['Bootloader=grub-signed@mkosi.conf:11']);
  });

  it('refuses a distribution no installer of kiln installs yet', () => {
    expect(refusal(load({ 'mkosi.conf': '[Distribution]\nDistribution=mageia\n' }))).toBe('mkosi.conf:2: Distribution=mageia: not supported by kiln yet (remove it, or set it to debian)');
    expect(found(load({ 'mkosi.conf': '[Distribution]\nDistribution=fedora\n' }))).toEqual([]);
    expect(found(load({ 'mkosi.conf': '[Distribution]\nDistribution=ubuntu\n' }))).toEqual([]);
  });

  it('a default file counts as a setting: mkosi.machine-id is refused at the file itself', () => {
    const p = load({ 'mkosi.conf': DEBIAN, 'mkosi.machine-id': 'B07A2F4E0D2A4A3B8C1E2D3F4A5B6C7D\n' });
    expect(p.main.config.MachineId).toBe('b07a2f4e-0d2a-4a3b-8c1e-2d3f4a5b6c7d');
    expect(refusal(p)).toBe('mkosi.machine-id: MachineId=b07a2f4e-0d2a-4a3b-8c1e-2d3f4a5b6c7d: not supported by kiln yet (remove it)');
  });

  it('a setting that reaches the image only through scripts counts only when the preset runs scripts', () => {
    const files = { 'mkosi.conf': `${DEBIAN}[Build]\nBuildSourcesEphemeral=yes\nWithTests=no\n` };
    expect(found(load(files))).toEqual([]);
    // WithTests= is acted on ($WITH_TESTS), BuildSourcesEphemeral= not yet.
    expect(found(load({ ...files, 'mkosi.build': '#!/bin/sh\n' }))).toEqual(['BuildSourcesEphemeral=yes@mkosi.conf:8']);
  });

  it('BuildSources= at its default (the project directory) is accepted, another tree is not', () => {
    expect(found(load({ 'mkosi.conf': `${DEBIAN}[Build]\nBuildSources=.\n`, 'mkosi.build': '#!/bin/sh\n' }))).toEqual([]);
    expect(found(load({ 'mkosi.conf': `${DEBIAN}[Build]\nBuildSources=src:/work/other\n`, 'src/x': '', 'mkosi.build': '#!/bin/sh\n' }))).toEqual(['BuildSources=src:/work/other@mkosi.conf:8']);
  });

  it("the default initrd's settings (InitrdPackages=) are refused while kiln's default initrd does not take them", () => {
    expect(refusal(load({ 'mkosi.conf': `${DEBIAN}[Content]\nInitrdPackages=lvm2\n` }))).toBe('mkosi.conf:8: InitrdPackages=lvm2: not supported by kiln yet (remove it)');
  });

  it("a generated preset's refusal names the main image's line its value came from (PackageDirectories= forced on the default initrd)", () => {
    const p = load({ 'mkosi.conf': `${DEBIAN}[Output]\nFormat=disk\n[Content]\nBootable=yes\nPackageDirectories=pk\n`, 'pk/x.deb': '' });
    const initrd = preset(p, 'default-initrd');
    expect(unsupportedSettings(initrd, p.root, p.main).map((u) => `${u.name}@${path.relative(p.root, u.origin.file)}:${u.origin.line}`)).toEqual(['PackageDirectories@mkosi.conf:11']);
  });

  it('a preset inherits the check: its own lines are named', () => {
    const p = load({ 'mkosi.conf': DEBIAN, 'mkosi.images/app.conf': '[Content]\nRootShell=/bin/zsh\n' });
    expect(found(p, 'app')).toEqual(['RootShell=/bin/zsh@mkosi.images/app.conf:2']);
    expect(found(p)).toEqual([]);
  });
});
