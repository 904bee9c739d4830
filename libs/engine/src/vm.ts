/**
 * `kiln vm`: boots a built preset in qemu, as mkosi's `vm` verb. What it boots, by Format=:
 * - disk, esp: OVMF booting a copy of the disk image (NAME.raw, or NAME.raw.zst decompressed: a
 *   cached disk image is compressed), grown to RuntimeSize=; the output itself is never written,
 *   since it is a cache's file.
 * - uki: OVMF running NAME.efi given to qemu's -kernel.
 * - cpio, directory: direct kernel boot (qemu's loader; OVMF and the kernel's EFI stub with
 *   Firmware=uefi) of the kernel named by Linux= (a kernel image, or a tree whose newest kernel is
 *   taken) or the image's split kernel NAME.vmlinuz, with the cpio as the initrd. A directory image
 *   has no archive qemu can load: kiln packs its tree into a temporary cpio.
 * Runtime settings ([Runtime]: RAM=, CPUs=, KVM=, Firmware=, Linux=, Credentials= (vm-credentials.ts),
 * KernelCommandLineExtra=, QemuArgs=, RuntimeSize=) never reach the image or its cache key.
 *
 * KVM: a /dev/kvm that opens is not enough (a paravirtual KVM may refuse the host CPU model and
 * abort qemu, or stop the guest on its first real-mode instruction). So with KVM=auto a tiny
 * guest runs first under KVM with the same machine and CPU model: a 64 KiB firmware whose reset
 * vector writes one byte to qemu's isa-debug-exit port, which ends qemu with a known status. That
 * status is the event that says KVM runs guests; anything else (an abort, an error, no exit)
 * means TCG, and the log says which and why.
 *
 * Everything temporary (the disk copy, OVMF's variables, the probe) lives in one directory that is
 * removed when qemu ends, fails to start, or kiln is interrupted (SIGINT, SIGTERM, SIGHUP: qemu is
 * ended first).
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, formatProblem, ignoredRuntimeSettings, imageFiles, type Preset, type Project } from '@kiln/config';
import { BuildError } from './errors';
import type { RunContext } from './exec';
import { BASH, run, toolEnv } from './exec';
import { exists, glob, hostPath } from './image-fs';
import { hostTools, runIn } from './sandbox';
import { resolveTools, toolsPresetOf } from './tools-tree';
import { verifyPresetOutputs } from './check-outputs';
import { type Credential, readCredentials } from './vm-credentials';
import { consoleWords, qemuCommand, resolveBoot, type Accel, type Boot, type QemuPlan } from './vm-command';

export const OVMF_CODE = '/usr/share/OVMF/OVMF_CODE_4M.fd';
export const OVMF_VARS = '/usr/share/OVMF/OVMF_VARS_4M.fd';
export const QEMU = 'qemu-system-x86_64';

/** Formats `kiln vm` boots (mkosi's list); the Nx plugin gives these a `vm` target. */
export const VM_FORMATS: readonly string[] = ['disk', 'esp', 'uki', 'cpio', 'directory'];

export interface VmOptions {
  /** Arguments after `--`, appended to qemu's command line. */
  extraArgs?: string[];
  /** kiln's own lines ("kiln vm: ..."). */
  log: (line: string) => void;
  env?: Record<string, string | undefined>;
  /** Where the temporary directory goes (default: $TMPDIR or /var/tmp: a disk copy can be large). */
  tmp?: string;
  /**
   * The preset's project: ToolsTree=default names its generated tools preset (tools-tree.ts), and
   * the outputs used (the image, the tools tree) are checked before use (check-outputs.ts).
   */
  project?: Project;
  /** kiln's build identity, as builds record it (compared with signed manifests). */
  identity?: string;
  /**
   * Where the serial console goes instead of the terminal (a test reading it): qemu's output,
   * chunk by chunk, with no input. Without it, qemu has the terminal (`kiln vm`).
   */
  console?: (chunk: Buffer) => void;
}

/**
 * The outputs kiln vm uses, checked as a build checks the outputs it reads: the image it boots
 * and the tools tree whose programs it runs (to copy a disk), which under Nx were restored from a
 * cache with no kiln build to check them (the vm target's image is a cache hit). Refused with the
 * lines of kiln verify, and how to rebuild.
 */
function checkUsedOutputs(project: Project, preset: Preset, usesTools: boolean, opts: VmOptions, env: Record<string, string | undefined>): void {
  const own = project.presets.find((p) => p.name === preset.name) ?? preset;
  const tools = usesTools ? toolsPresetOf(project, own) : undefined;
  for (const p of tools ? [tools, own] : [own]) {
    const check = verifyPresetOutputs(project, p, { env, identity: opts.identity });
    if (check.status !== 'refused') continue;
    const show = (f: string) => path.relative(project.root, f);
    // An image put there by hand (not built by kiln) has no manifest: booted as it is when no
    // signature is asked for, since without KILN_ALLOWED_SIGNERS a manifest is anyone's to write
    // and its absence hides nothing a present one would show.
    if (!env.KILN_ALLOWED_SIGNERS && !fs.existsSync(check.manifest)) continue;
    const lines = check.problems.map((x) => formatProblem(x, show)).join('; ');
    throw new BuildError(`the output of preset ${p.name} failed the check against ${show(check.manifest)}, not to be used: ${lines} (rebuild it: kiln build --preset ${p.name} --force)`, preset.name);
  }
}

/** What is booted, found in OutputDirectory=. */
interface Artifacts {
  /** The image file or tree (disk image, possibly compressed; UKI; cpio; directory). */
  image: string;
  kernel: string | null;
}

const tmpBase = (env: Record<string, string | undefined>) => env.TMPDIR || '/var/tmp';

/** Boots the preset; resolves to qemu's exit status (a guest that powers off: 0). */
export async function runVm(preset: Preset, opts: VmOptions): Promise<number> {
  const config = preset.config;
  const env = opts.env ?? process.env;
  const fail = (message: string) => new BuildError(message, preset.name);
  const format = config.Format;
  if (!VM_FORMATS.includes(format)) throw fail(`Format=${format} images cannot be booted by kiln vm (bootable formats: ${VM_FORMATS.join(', ')})`);
  const boot = resolveBoot(format, config.Firmware);
  if (boot !== 'uefi' && boot !== 'linux' && boot !== 'linux-noinitrd') throw new ConfigError(`${preset.name}: ${boot}`, preset.origins.Firmware);
  // Runtime settings kiln vm does not act on yet cannot change the image: a note, not an error.
  for (const u of ignoredRuntimeSettings(preset, opts.project?.root ?? path.dirname(preset.source))) opts.log(`kiln vm: ${u.name}=${u.value} is not supported by kiln vm yet; ignored`);
  let credentials: Credential[];
  try {
    credentials = await readCredentials(config.Credentials, env);
  } catch (e) {
    throw new ConfigError(`${preset.name}: ${(e as Error).message}`, preset.origins.Credentials);
  }
  const found = await findArtifacts(preset, boot, opts.log);
  if (opts.project) checkUsedOutputs(opts.project, preset, format === 'disk' || format === 'esp', opts, env);
  if (!which(QEMU, env)) throw fail(`${QEMU} is not installed (install the Debian package qemu-system-x86: tools/setup.sh does)`);
  if (boot === 'uefi') {
    for (const f of [OVMF_CODE, OVMF_VARS]) if (!fs.existsSync(f)) throw fail(`${f} does not exist (install the Debian package ovmf: tools/setup.sh does)`);
  }

  const tmp = fs.mkdtempSync(path.join(opts.tmp ?? tmpBase(env), 'kiln-vm-'));
  const cleanup = () => fs.rmSync(tmp, { recursive: true, force: true });
  const aborter = new AbortController();
  let child: ReturnType<typeof spawn> | null = null;
  let interrupted: NodeJS.Signals | null = null;
  const onSignal = (sig: NodeJS.Signals) => {
    interrupted ??= sig;
    aborter.abort();
    child?.kill('SIGTERM');
  };
  const signals: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
  for (const s of signals) process.on(s, onSignal);
  try {
    const ctx: RunContext = { log: () => {}, signal: aborter.signal, label: preset.name };
    const accel = await chooseAccel(config.KVM, tmp, env, opts.log, aborter.signal);
    const plan: QemuPlan = {
      qemu: QEMU,
      boot,
      accel,
      ram: config.RAM,
      cpus: config.CPUs || os.availableParallelism(),
      kernelCommandLine: config.KernelCommandLine,
      kernelCommandLineExtra: consoleWords(config.KernelCommandLineExtra),
      credentials,
      extraArgs: [...config.QemuArgs, ...(opts.extraArgs ?? [])],
    };
    if (boot === 'uefi') {
      plan.ovmf = { code: OVMF_CODE, vars: path.join(tmp, 'OVMF_VARS.fd') };
      fs.copyFileSync(OVMF_VARS, plan.ovmf.vars);
    }
    if (format === 'disk' || format === 'esp') {
      const tools = opts.project ? await resolveTools(opts.project, preset, ctx, env) : toolsOf(preset);
      plan.disk = await diskCopy(ctx, preset, found.image, tmp, env, tools);
    } else if (format === 'uki') {
      plan.kernel = found.image;
      plan.uki = true;
    } else {
      plan.kernel = found.kernel!;
      plan.initrd = format === 'cpio' ? found.image : await packTree(ctx, found.image, tmp);
      // A system tree has no /init, where the kernel starts an initrd's init: start its own.
      if (format === 'directory' && !exists(found.image, 'init') && exists(found.image, 'sbin/init')) plan.kernelCommandLine = [...plan.kernelCommandLine, 'rdinit=/sbin/init'];
    }
    if (interrupted) return signalStatus(interrupted);
    const argv = qemuCommand(plan);
    opts.log(`kiln vm: booting ${preset.name} (${format}, ${boot === 'uefi' ? 'OVMF' : 'direct kernel boot'}, ${accel.toUpperCase()})`);
    if (env.KILN_VERBOSE === '1') opts.log(`kiln vm: ${argv.join(' ')}`);
    const status = await new Promise<number>((resolve, reject) => {
      child = spawn(argv[0], argv.slice(1), { stdio: opts.console ? ['ignore', 'pipe', 'pipe'] : 'inherit', env: toolEnv(env) });
      if (opts.console) for (const stream of [child.stdout, child.stderr]) stream?.on('data', opts.console);
      child.on('error', (e) => reject(fail(`cannot run ${QEMU}: ${e.message}`)));
      child.on('exit', (code, sig) => resolve(code ?? signalStatus(sig ?? 'SIGKILL')));
    });
    return interrupted ? signalStatus(interrupted) : status;
  } catch (e) {
    // Interrupted while preparing (the probe, decompressing): the signal's status, not the aborted step's error.
    if (interrupted) return signalStatus(interrupted);
    throw e;
  } finally {
    for (const s of signals) process.off(s, onSignal);
    cleanup();
  }
}

/** The shell's status for a signal (130 for SIGINT). */
function signalStatus(sig: NodeJS.Signals): number {
  return 128 + (os.constants.signals[sig] ?? 9);
}

function which(program: string, env: Record<string, string | undefined>): boolean {
  return (env.PATH ?? '/usr/bin:/bin').split(':').some((d) => d && fs.existsSync(path.join(d, program)));
}

/**
 * The image file and kernel of a preset in OutputDirectory=, as the format registry names them.
 */
async function findArtifacts(preset: Preset, boot: Boot, log: (line: string) => void): Promise<Artifacts> {
  const config = preset.config;
  const out = config.OutputDirectory;
  const output = config.Output;
  const format = config.Format;
  const candidates = imageFiles(config).filter((f) => !f.optional).map((f) => path.join(out, f.name));
  const image = candidates.find((c) => fs.existsSync(c));
  if (!image) {
    throw new BuildError(`no image to boot: ${candidates[0] ?? path.join(out, output)} does not exist (build it first: kiln build --preset ${preset.name})`, preset.name);
  }
  if (format === 'uki' || format === 'disk' || format === 'esp') {
    // As mkosi: a warning, since Linux= is inherited from the main image by every preset.
    if (config.Linux) log(`kiln vm: Linux= is not used: a Format=${format} image boots its own kernel`);
    return { image, kernel: null };
  }
  return { image, kernel: await findKernel(preset, image, boot) };
}

/** The kernel of a direct boot: Linux=, the image's split kernel (NAME.vmlinuz), or the directory image's own. */
async function findKernel(preset: Preset, image: string, boot: Boot): Promise<string> {
  const config = preset.config;
  const where = (what: string) => `${what} (set Linux= to a kernel image or to a tree with a kernel installed, e.g. another preset's directory output)`;
  if (config.Linux) {
    const st = fs.statSync(config.Linux, { throwIfNoEntry: false });
    if (!st) throw new ConfigError(`${preset.name}: Linux=${config.Linux} does not exist (build the preset that installs it, or fix the path)`, preset.origins.Linux);
    if (st.isFile()) return config.Linux;
    const kernel = await newestKernel(config.Linux);
    if (!kernel) throw new ConfigError(`${preset.name}: Linux=${config.Linux} is a tree with no kernel in usr/lib/modules/*/vmlinuz or boot/vmlinuz-* (install a kernel package there)`, preset.origins.Linux);
    return kernel;
  }
  const split = path.join(config.OutputDirectory, `${config.Output}.vmlinuz`);
  if (fs.existsSync(split)) return split;
  if (config.Format === 'directory') {
    const kernel = await newestKernel(image);
    if (kernel) return kernel;
  }
  throw new BuildError(where(`Format=${config.Format} boots by direct kernel boot${boot === 'uefi' ? ' under OVMF' : ''}, and there is no kernel: no Linux=, no ${path.basename(split)}`), preset.name);
}

/** The newest kernel installed in a tree (its paths resolved inside the tree), or null. */
export async function newestKernel(root: string): Promise<string | null> {
  const found = [
    ...(await glob(root, ['usr/lib/modules/*/vmlinuz'], { onlyFiles: true })).map((p) => [p.split('/')[3], p] as const),
    ...(await glob(root, ['boot/vmlinuz-*'], { onlyFiles: true })).map((p) => [p.slice('boot/vmlinuz-'.length), p] as const),
  ].filter(([, p]) => exists(root, p));
  if (!found.length) return null;
  found.sort(([a], [b]) => a.localeCompare(b, 'en', { numeric: true }));
  return hostPath(root, found[found.length - 1][1], { follow: true });
}

/** The tools tree of a preset when ToolsTree= names one (a path); the host's tools otherwise. */
/** Without the project, only a ToolsTree=PATH can be resolved. */
function toolsOf(preset: Preset): string | null {
  const t = preset.config.ToolsTree;
  return t && path.isAbsolute(t) ? t : null;
}

/** A private copy of the disk image (decompressed), grown to RuntimeSize=. */
export async function diskCopy(ctx: RunContext, preset: Preset, image: string, tmp: string, env: Record<string, string | undefined>, tools = toolsOf(preset)): Promise<string> {
  const disk = path.join(tmp, 'disk.raw');
  // The sandbox shows the host read-only with its own /tmp: the image is bound in, only `tmp` is writable (and TMPDIR).
  const box = hostTools({ ...toolEnv(env), TMPDIR: tmp }, [tmp], tools);
  box.mounts = [...(box.mounts ?? []), { type: 'ro-bind', source: image, target: image }];
  if (image.endsWith('.zst')) {
    await runIn(ctx, box, ['zstd', '-q', '-d', '--sparse', '-o', disk, image], { step: `decompressing ${path.basename(image)}` });
  } else {
    // Sparse and, where the file system can, a reflink: a 2 GB image with 300 MB in it copies as 300 MB.
    await run(ctx, 'cp', ['--sparse=always', '--reflink=auto', image, disk], { step: `copying ${path.basename(image)}` });
  }
  const size = preset.config.RuntimeSize;
  if (size) {
    // A multiple of the page size, as qemu wants for direct I/O (mkosi rounds up too).
    const page = 4096;
    const want = Math.ceil(size / page) * page;
    if (want > fs.statSync(disk).size) {
      if (tools) {
        // repart grows the file and moves the GPT's backup header to the new end (no definitions:
        // nothing else changes). It must do the growing itself: on a file already that large it
        // sees nothing to do.
        await runIn(ctx, box, ['systemd-repart', '--definitions=/', '--no-pager', '--pretty=no', '--offline=yes', '--dry-run=no', `--size=${want}`, disk], { step: 'growing the disk image to RuntimeSize=' });
      } else {
        // The host's repart may lack --offline: the guest's kernel reads a table whose backup
        // header is not at the end with a warning, and systemd-repart in the guest moves it.
        fs.truncateSync(disk, want);
      }
    }
  }
  return disk;
}

/** A directory image as an uncompressed newc cpio qemu loads as the initrd. */
async function packTree(ctx: RunContext, tree: string, tmp: string): Promise<string> {
  const file = path.join(tmp, 'root.cpio');
  const script = 'cd "$1" && find . -mindepth 1 -printf "%P\\0" | cpio --quiet --null --create --format=newc > "$2"';
  await run(ctx, 'bash', [...BASH, '-o', 'pipefail', '-c', script, 'cpio', tree, file], { step: `packing ${path.basename(tree)} into an initrd` });
  return file;
}

/** The byte the probe's firmware writes to isa-debug-exit; qemu exits with (byte << 1) | 1. */
const PROBE_BYTE = 0x2a;
export const PROBE_STATUS = (PROBE_BYTE << 1) | 1;

/**
 * A 64 KiB "BIOS" whose reset vector (0xFFFF0: the last 16 bytes) is `mov al, 0x2a; out 0xf4, al`
 * and then halts: the smallest guest that proves the CPU ran an instruction and did I/O.
 */
export function probeFirmware(): Buffer {
  const bios = Buffer.alloc(65536, 0xf4); // hlt
  Buffer.from([0xb0, PROBE_BYTE, 0xe6, 0xf4, 0xf4, 0xeb, 0xfd]).copy(bios, 0xfff0); // mov al; out; hlt; jmp $-1
  return bios;
}

/** The probe's command line: the machine and CPU model of a KVM boot, the firmware above, no devices. */
export function probeCommand(firmware: string): string[] {
  return [QEMU, '-machine', 'type=q35', '-accel', 'kvm', '-cpu', 'host', '-m', '16', '-no-user-config', '-nodefaults', '-display', 'none', '-bios', firmware, '-device', 'isa-debug-exit,iobase=0xf4,iosize=1'];
}

/** KVM or TCG, per KVM= and the probe; the choice and its reason are logged. */
async function chooseAccel(kvm: string, tmp: string, env: Record<string, string | undefined>, log: (l: string) => void, signal: AbortSignal): Promise<Accel> {
  if (kvm === 'disabled') {
    log('kiln vm: KVM=no, using TCG (slow)');
    return 'tcg';
  }
  const why = await kvmProblem(tmp, env, signal);
  if (why === null) return 'kvm';
  if (kvm === 'enabled') throw new BuildError(`KVM=yes, but KVM is unusable here (${why}): set KVM=auto or no to use TCG`);
  log(`kiln vm: KVM unusable (${why}), using TCG (slow)`);
  return 'tcg';
}

/** Why KVM cannot run a guest here, or null when the probe guest ran. */
export async function kvmProblem(tmp: string, env: Record<string, string | undefined>, signal?: AbortSignal): Promise<string | null> {
  try {
    fs.closeSync(fs.openSync('/dev/kvm', 'r+'));
  } catch (e) {
    return `cannot open /dev/kvm: ${(e as NodeJS.ErrnoException).code}`;
  }
  const firmware = path.join(tmp, 'kvm-probe.bin');
  fs.writeFileSync(firmware, probeFirmware());
  const argv = probeCommand(firmware);
  // The probe guest exits in milliseconds; the limit only stops a guest KVM paused on an
  // internal error (qemu then waits for a monitor command that never comes).
  const r = await new Promise<{ status: number | null; signal: string | null; stderr: string }>((resolve) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'], env: toolEnv(env), signal, timeout: 20_000 });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (e) => resolve({ status: null, signal: null, stderr: e.message }));
    child.on('close', (status, sig) => resolve({ status, signal: sig, stderr }));
  });
  if (r.status === PROBE_STATUS) return null;
  const line = r.stderr.split('\n').map((l) => l.replace(/^qemu-system-x86_64: /, '').trim()).find((l) => l && !l.startsWith('warning:'));
  return line ? `a probe guest failed: ${line}` : r.signal ? `a probe guest did not finish (${r.signal})` : `a probe guest exited with status ${r.status}`;
}
