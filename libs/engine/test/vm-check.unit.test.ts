/**
 * kiln vm checks the restored outputs it uses before it uses them (vm.ts checkUsedOutputs): the
 * image it boots and the tools tree it runs programs from (a disk copy), as a build checks the
 * outputs it reads. On files written here: nothing is built or booted (the check comes first).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { baseTreeFile, formatManifest, loadProject, manifestPath, recordOutputs, type Preset, type Project } from '@kiln/config';
import { inputsManifest } from '../src/build-manifest';
import { toolsPresetOf } from '../src/tools-tree';
import { runVm } from '../src/vm';
import { removeTempDirs, tempProject } from './kiln';

afterAll(removeTempDirs);

/** Writes `preset`'s output `file` with `text` and the manifest recording it, as a build would. */
function built(project: Project, preset: Preset, file: string, text: string): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, text);
  const m = { ...inputsManifest(project, preset, { env: {} })!, outputs: recordOutputs([[file, path.basename(file)]]) };
  fs.writeFileSync(manifestPath(preset)!, formatManifest(m));
}

describe('kiln vm: the outputs it uses are checked first', () => {
  const root = tempProject({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=disk\nOutput=system\n[Build]\nToolsTree=default\n' });
  const project = loadProject(root, { env: {} });
  const tools = toolsPresetOf(project, project.main)!;
  const image = path.join(project.main.config.OutputDirectory, 'system.raw.zst');
  built(project, project.main, image, 'disk');
  built(project, tools, baseTreeFile(tools.config)!, 'tools');
  const vm = () => runVm(project.main, { project, env: { PATH: process.env.PATH }, log: () => {} });

  it('a tampered tools archive (whose programs would copy the disk) is refused, naming the rebuild', async () => {
    fs.writeFileSync(baseTreeFile(tools.config)!, 'TOOLS');
    await expect(vm()).rejects.toThrow(new RegExp(`the output of preset ${tools.name} failed the check against .*: expected sha256 .*, found sha256 .* \\(rebuild it: kiln build --preset ${tools.name} --force\\)$`));
    fs.writeFileSync(baseTreeFile(tools.config)!, 'tools');
  });

  it('a tampered image is refused', async () => {
    fs.writeFileSync(image, 'DISK');
    await expect(vm()).rejects.toThrow(`the output of preset ${project.main.name} failed the check against mkosi.output/system.manifest.json, not to be used: mkosi.output/system.raw.zst: expected sha256 `);
  });

  it('an image with no manifest (put there by hand): booted unchecked without KILN_ALLOWED_SIGNERS, refused with it', async () => {
    const hand = loadProject(tempProject({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Output]\nFormat=uki\nOutput=uki\n' }), { env: {} });
    fs.mkdirSync(hand.main.config.OutputDirectory, { recursive: true });
    fs.writeFileSync(path.join(hand.main.config.OutputDirectory, 'uki.efi'), 'uki');
    // Past the check: what stops it here is qemu or OVMF, or a boot of a UKI that is not one.
    await expect(runVm(hand.main, { project: hand, env: { PATH: '/nonexistent' }, log: () => {} })).rejects.toThrow('qemu-system-x86_64 is not installed');
    const allowed = path.join(hand.root, 'allowed_signers');
    fs.writeFileSync(allowed, '');
    await expect(runVm(hand.main, { project: hand, env: { PATH: process.env.PATH, KILN_ALLOWED_SIGNERS: allowed }, log: () => {} })).rejects.toThrow('expected a build manifest beside the outputs');
  });
});
