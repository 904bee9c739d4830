/** The qemu command line of `kiln vm` (vm-command.ts) and the KVM probe's firmware, as pure logic. */
import { consoleWords, escapeComma, parseCredentials, qemuCommand, resolveBoot, type QemuPlan } from '../src/vm-command';
import { PROBE_STATUS, probeCommand, probeFirmware } from '../src/vm';
import { readCredentials } from '../src/vm-credentials';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const base: QemuPlan = {
  qemu: 'qemu-system-x86_64',
  boot: 'linux',
  accel: 'tcg',
  ram: 2 * 1024 ** 3,
  cpus: 2,
  kernelCommandLine: [],
  kernelCommandLineExtra: ['console=ttyS0'],
  credentials: [],
  extraArgs: [],
};

/** The values of every occurrence of an option. */
const values = (argv: string[], option: string) => argv.flatMap((a, i) => (a === option ? [argv[i + 1]] : []));

describe('qemuCommand', () => {
  it('direct kernel boot of a cpio: the kernel, the cpio as initrd, the whole command line with -append, no firmware drives', () => {
    const argv = qemuCommand({ ...base, kernel: '/out/vmlinuz', initrd: '/out/guest.cpio.zst', kernelCommandLine: ['quiet'], kernelCommandLineExtra: ['console=ttyS0', 'x=1'] });
    expect(values(argv, '-kernel')).toEqual(['/out/vmlinuz']);
    expect(values(argv, '-initrd')).toEqual(['/out/guest.cpio.zst']);
    expect(values(argv, '-append')).toEqual(['quiet console=ttyS0 x=1']);
    expect(values(argv, '-drive')).toEqual([]);
    expect(values(argv, '-smbios')).toEqual([]);
    expect(values(argv, '-machine')).toEqual(['type=q35,hpet=off']);
    expect(values(argv, '-m')).toEqual(['2048M']);
    expect(values(argv, '-smp')).toEqual(['2']);
  });

  it('linux-noinitrd leaves the initrd out', () => {
    expect(values(qemuCommand({ ...base, boot: 'linux-noinitrd', kernel: '/k', initrd: '/i' }), '-initrd')).toEqual([]);
  });

  it('TCG emulates the "max" CPU, KVM runs the host\'s', () => {
    expect([values(qemuCommand(base), '-accel'), values(qemuCommand(base), '-cpu')]).toEqual([['tcg'], ['max']]);
    const kvm = qemuCommand({ ...base, accel: 'kvm' });
    expect([values(kvm, '-accel'), values(kvm, '-cpu')]).toEqual([['kvm'], ['host']]);
  });

  it('a UKI under OVMF: code read-only, the private variables writable, the extra words and credentials as SMBIOS type 11 strings (commas doubled)', () => {
    const argv = qemuCommand({
      ...base,
      boot: 'uefi',
      ovmf: { code: '/usr/share/OVMF/OVMF_CODE_4M.fd', vars: '/tmp/kiln-vm-x/OVMF_VARS.fd' },
      kernel: '/out/img.efi',
      uki: true,
      kernelCommandLine: ['ignored=because-the-uki-has-its-own'],
      kernelCommandLineExtra: ['console=ttyS0', 'a=b,c'],
      credentials: [['passwd.hashed-password.root', 'x,y'], ['firstboot.locale', 'C.UTF-8'], ['key', Buffer.from([0, 1, 255])]],
    });
    expect(values(argv, '-machine')).toEqual(['type=q35,smm=off,hpet=off']);
    expect(values(argv, '-drive')).toEqual(['if=pflash,format=raw,readonly=on,file=/usr/share/OVMF/OVMF_CODE_4M.fd', 'if=pflash,format=raw,file=/tmp/kiln-vm-x/OVMF_VARS.fd']);
    expect(values(argv, '-kernel')).toEqual(['/out/img.efi']);
    expect(values(argv, '-append')).toEqual([]);
    expect(values(argv, '-smbios')).toEqual([
      'type=11,value=io.systemd.credential:passwd.hashed-password.root=x,,y',
      'type=11,value=io.systemd.credential:firstboot.locale=C.UTF-8',
      // A file's bytes, base64 (commas cannot occur).
      'type=11,value=io.systemd.credential.binary:key=AAH/',
      'type=11,value=io.systemd.stub.kernel-cmdline-extra=console=ttyS0 a=b,,c',
      'type=11,value=io.systemd.boot.kernel-cmdline-extra=console=ttyS0 a=b,,c',
    ]);
  });

  it('a disk image: a virtio-blk boot disk, no -kernel; QemuArgs= and the arguments after -- last', () => {
    const argv = qemuCommand({ ...base, boot: 'uefi', ovmf: { code: '/c', vars: '/v' }, disk: '/tmp/d,1/disk.raw', extraArgs: ['-device', 'virtio-gpu'] });
    expect(values(argv, '-blockdev')).toEqual(['driver=raw,node-name=kiln,discard=unmap,file.driver=file,file.filename=/tmp/d,,1/disk.raw']);
    expect(values(argv, '-device')).toContain('virtio-blk-pci,drive=kiln,bootindex=1');
    expect(values(argv, '-kernel')).toEqual([]);
    expect(argv.slice(-2)).toEqual(['-device', 'virtio-gpu']);
  });

  it('the console: the serial port and the monitor on the terminal, user-mode virtio networking, no reboot loop', () => {
    const argv = qemuCommand(base);
    expect(argv).toEqual(expect.arrayContaining(['-nographic', '-nodefaults', '-no-reboot']));
    expect(values(argv, '-chardev')).toEqual(['stdio,mux=on,id=console,signal=on']);
    expect(values(argv, '-serial')).toEqual(['chardev:console']);
    expect(values(argv, '-nic')).toEqual(['user,model=virtio-net-pci']);
  });

  it('uefi without OVMF files is a programming error', () => {
    expect(() => qemuCommand({ ...base, boot: 'uefi' })).toThrow('uefi boot without OVMF');
  });
});

describe('runtime settings', () => {
  it('the serial console is added unless KernelCommandLineExtra= names a console', () => {
    expect(consoleWords([])).toEqual(['console=ttyS0']);
    expect(consoleWords(['quiet'])).toEqual(['console=ttyS0', 'quiet']);
    expect(consoleWords(['console=hvc0'])).toEqual(['console=hvc0']);
  });

  it('Credentials= are NAME=VALUE, the value may hold "="; anything else is an error naming the word', () => {
    expect(parseCredentials(['a=b', 'c=d=e', 'empty='])).toEqual([['a', 'b'], ['c', 'd=e'], ['empty', '']]);
    expect(parseCredentials(['novalue'])).toBe('Credentials=: "novalue" is not NAME=VALUE (kiln vm passes credentials as NAME=VALUE, NAME a file name)');
    expect(parseCredentials(['=x'])).toMatch(/^Credentials=: "=x" is not NAME=VALUE/);
    expect(parseCredentials(['a/b=x'])).toMatch(/^Credentials=: "a\/b=x" is not NAME=VALUE/);
  });

  it("readCredentials: words as text, a file's bytes, an executable's output (run in its directory), a directory's files; the last of a name wins", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-cred-'));
    try {
      const creds = path.join(dir, 'mkosi.credentials');
      fs.mkdirSync(path.join(creds, 'sub'), { recursive: true });
      fs.writeFileSync(path.join(creds, 'b.file'), Buffer.from([0, 10, 255]));
      fs.writeFileSync(path.join(creds, 'a.run'), '#!/bin/sh\necho err >&2\nprintf %s "$(basename "$PWD")"\n', { mode: 0o755 });
      fs.writeFileSync(path.join(creds, 'same'), 'from the directory');
      fs.writeFileSync(path.join(dir, 'one'), 'single');
      const got = await readCredentials([creds, 'same=from the word', 'w=x=y', path.join(dir, 'one')], process.env);
      expect(got.map(([n, v]) => [n, typeof v === 'string' ? v : [...v]])).toEqual([
        ['a.run', [...Buffer.from('mkosi.credentials')]],
        ['b.file', [0, 10, 255]],
        ['same', 'from the word'],
        ['w', 'x=y'],
        ['one', [...Buffer.from('single')]],
      ]);
      fs.writeFileSync(path.join(dir, 'bad'), '#!/bin/sh\nexit 3\n', { mode: 0o755 });
      await expect(readCredentials([path.join(dir, 'bad')], process.env)).rejects.toThrow(`Credentials=: ${dir}/bad failed (Command failed: ${dir}/bad); it is run because it is executable: fix it, or chmod -x it to pass its contents`);
      await expect(readCredentials([path.join(dir, 'gone')], process.env)).rejects.toThrow(`Credentials=: ${dir}/gone does not exist`);
      await expect(readCredentials(['a/b=x'], process.env)).rejects.toThrow('"a/b=x" is not NAME=VALUE');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('Firmware=auto: OVMF for disk, esp and uki, direct kernel boot for cpio and directory; a UKI or disk cannot boot directly', () => {
    expect(['disk', 'esp', 'uki', 'cpio', 'directory'].map((f) => resolveBoot(f, 'auto'))).toEqual(['uefi', 'uefi', 'uefi', 'linux', 'linux']);
    expect(resolveBoot('cpio', 'uefi')).toBe('uefi');
    expect(resolveBoot('cpio', 'linux-noinitrd')).toBe('linux-noinitrd');
    expect(resolveBoot('uki', 'linux')).toBe('Format=uki boots through UEFI: Firmware=linux cannot boot it (use Firmware=uefi or auto)');
    expect(resolveBoot('directory', 'bios')).toBe('Firmware=bios is not supported by kiln vm yet (use Firmware=uefi, linux, linux-noinitrd or auto)');
    expect(resolveBoot('disk', 'uefi-secure-boot')).toBe('Firmware=uefi-secure-boot is not supported by kiln vm yet (use Firmware=uefi, linux, linux-noinitrd or auto)');
  });

  it('escapeComma doubles commas only', () => {
    expect(escapeComma('a,b,,c')).toBe('a,,b,,,,c');
  });
});

describe('the KVM probe', () => {
  it('is a 64 KiB firmware whose reset vector writes the probe byte to port 0xf4 (isa-debug-exit)', () => {
    const bios = probeFirmware();
    expect(bios.length).toBe(65536);
    // mov al, imm8; out 0xf4, al
    expect([...bios.subarray(0xfff0, 0xfff4)]).toEqual([0xb0, (PROBE_STATUS - 1) / 2, 0xe6, 0xf4]);
  });

  it('runs with the machine and CPU model a KVM boot uses, and the exit device on that port', () => {
    const argv = probeCommand('/tmp/p.bin');
    expect(values(argv, '-accel')).toEqual(['kvm']);
    expect(values(argv, '-cpu')).toEqual(['host']);
    expect(values(argv, '-bios')).toEqual(['/tmp/p.bin']);
    expect(values(argv, '-device')).toEqual(['isa-debug-exit,iobase=0xf4,iosize=1']);
  });
});
