/**
 * The qemu command line of `kiln vm`, as pure logic (vm.ts finds the files, probes KVM and runs
 * it). The machine follows mkosi 26's `vm` verb (mkosi/qemu.py): q35, virtio rng, user-mode
 * virtio networking, the disk as a virtio-blk device, OVMF from pflash with a private copy of its
 * variables, direct kernel boot for cpio and directory images, credentials and the extra kernel
 * command line as SMBIOS type 11 OEM strings. One difference: the console is the first serial port
 * (ttyS0) on the terminal rather than a virtio console behind systemd-pty-forward, so that an
 * initrd without virtio drivers (or a plain busybox) is seen from its first line, and Ctrl-C ends
 * qemu (signal=on) as it ends any other command.
 */
import type { Config } from '@kiln/config';

/** How the guest starts: OVMF (uefi) or qemu's own loader (linux: kernel and initrd given to qemu). */
export type Boot = 'uefi' | 'linux' | 'linux-noinitrd';
export type Accel = 'kvm' | 'tcg';

export interface QemuPlan {
  qemu: string;
  boot: Boot;
  accel: Accel;
  /** Bytes. */
  ram: number;
  cpus: number;
  /** OVMF's code (read-only) and this run's copy of its variables (uefi only). */
  ovmf?: { code: string; vars: string };
  /** A disk image (disk, esp) attached as the boot disk. */
  disk?: string;
  /** Given to qemu's -kernel: a kernel (linux, or uefi where OVMF runs its EFI stub) or a UKI. */
  kernel?: string;
  /** Whether `kernel` is a UKI (its command line is its own: extra words go through SMBIOS). */
  uki?: boolean;
  initrd?: string;
  /** KernelCommandLine= of the preset: the command line of a direct kernel boot. */
  kernelCommandLine: string[];
  /** KernelCommandLineExtra= and kiln's console word. */
  kernelCommandLineExtra: string[];
  /** Credentials: text (NAME=VALUE words) or bytes (from files). */
  credentials: [string, string | Buffer][];
  /** QemuArgs=, then the arguments after `--`. */
  extraArgs: string[];
}

/** qemu's -smbios and -drive values are comma-separated: a comma in a value is written twice. */
export const escapeComma = (s: string): string => s.replace(/,/g, ',,');

/**
 * The console word kiln adds: the serial port, unless the user chose a console
 * (KernelCommandLineExtra=console=...).
 */
export function consoleWords(extra: readonly string[]): string[] {
  return extra.some((w) => w.startsWith('console=')) ? [...extra] : ['console=ttyS0', ...extra];
}

/** Credentials= (NAME=VALUE words) as pairs; a word without "=" or with a bad name is an error message. */
export function parseCredentials(words: readonly string[]): [string, string][] | string {
  const out: [string, string][] = [];
  for (const w of words) {
    const eq = w.indexOf('=');
    const name = eq > 0 ? w.slice(0, eq) : '';
    // systemd's credential names: file names (credential_name_valid()).
    if (!name || name === '.' || name === '..' || name.includes('/')) {
      return `Credentials=: ${JSON.stringify(w)} is not NAME=VALUE (kiln vm passes credentials as NAME=VALUE, NAME a file name)`;
    }
    out.push([name, w.slice(eq + 1)]);
  }
  return out;
}

export function qemuCommand(p: QemuPlan): string[] {
  const machine = ['type=q35', ...(p.boot === 'uefi' ? ['smm=off'] : []), 'hpet=off'].join(',');
  const args: string[] = [
    p.qemu,
    '-machine', machine,
    '-accel', p.accel,
    // KVM runs the host's CPU; TCG emulates the most it can (x86-64-v2 and more, as a distribution kernel wants).
    '-cpu', p.accel === 'kvm' ? 'host' : 'max',
    '-smp', String(p.cpus),
    '-m', `${Math.floor(p.ram / 1024 ** 2)}M`,
    '-no-user-config',
    '-nodefaults',
    '-nographic',
    // The terminal: the serial port and qemu's monitor (Ctrl-A c) on one stdio character device.
    '-chardev', 'stdio,mux=on,id=console,signal=on',
    '-serial', 'chardev:console',
    '-mon', 'chardev=console',
    '-object', 'rng-random,filename=/dev/urandom,id=rng0',
    '-device', 'virtio-rng-pci,rng=rng0',
    '-nic', 'user,model=virtio-net-pci',
    // A guest that reboots (a kernel panic with panic=N, `reboot`) ends the run instead of looping.
    '-no-reboot',
  ];
  if (p.boot === 'uefi') {
    if (!p.ovmf) throw new Error('qemuCommand: uefi boot without OVMF');
    args.push('-drive', `if=pflash,format=raw,readonly=on,file=${escapeComma(p.ovmf.code)}`);
    args.push('-drive', `if=pflash,format=raw,file=${escapeComma(p.ovmf.vars)}`);
  }
  if (p.disk) {
    args.push('-blockdev', `driver=raw,node-name=kiln,discard=unmap,file.driver=file,file.filename=${escapeComma(p.disk)}`);
    args.push('-device', 'virtio-blk-pci,drive=kiln,bootindex=1');
  }
  if (p.kernel) args.push('-kernel', p.kernel);
  if (p.initrd && p.boot !== 'linux-noinitrd') args.push('-initrd', p.initrd);
  for (const [name, value] of p.credentials) {
    // Bytes go base64-encoded (systemd decodes io.systemd.credential.binary), so any file passes.
    const oem = typeof value === 'string' ? `io.systemd.credential:${name}=${value}` : `io.systemd.credential.binary:${name}=${value.toString('base64')}`;
    args.push('-smbios', `type=11,value=${escapeComma(oem)}`);
  }
  if (p.kernel && !p.uki) {
    // Direct kernel boot (qemu's loader or OVMF running the EFI stub): the whole command line.
    args.push('-append', [...p.kernelCommandLine, ...p.kernelCommandLineExtra].join(' '));
  } else if (p.kernelCommandLineExtra.length) {
    // A UKI or a disk: systemd-stub (and systemd-boot) add these words to the image's own command line.
    const words = escapeComma(p.kernelCommandLineExtra.join(' '));
    args.push('-smbios', `type=11,value=io.systemd.stub.kernel-cmdline-extra=${words}`);
    args.push('-smbios', `type=11,value=io.systemd.boot.kernel-cmdline-extra=${words}`);
  }
  args.push(...p.extraArgs);
  return args;
}

/** Firmware= resolved for a format: auto is OVMF for what holds an EFI binary, direct boot otherwise (mkosi). */
export function resolveBoot(format: string, firmware: Config['Firmware']): Boot | string {
  const efi = format === 'disk' || format === 'esp' || format === 'uki';
  if (firmware === 'auto') return efi ? 'uefi' : 'linux';
  // mkosi 26's other values, which kiln reads but cannot boot with yet.
  if (firmware === 'bios' || firmware === 'uefi-secure-boot') return `Firmware=${firmware} is not supported by kiln vm yet (use Firmware=uefi, linux, linux-noinitrd or auto)`;
  if (efi && firmware !== 'uefi') return `Format=${format} boots through UEFI: Firmware=${firmware} cannot boot it (use Firmware=uefi or auto)`;
  return firmware;
}
