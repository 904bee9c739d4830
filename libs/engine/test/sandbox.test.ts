/**
 * sandbox.ts: the description of a tool's namespace becomes a bwrap (or unshare) command line,
 * and the tool sees exactly that: the host read-only but for what is declared writable, its whole
 * environment, its working directory, only the capabilities named.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { toolEnv } from '../src/exec';
import { bwrapArgs, hostTools, identityMap, ROOT_IN_IMAGE, runIn, sandboxCommand, type Sandbox } from '../src/sandbox';

const temps: string[] = [];
const temp = () => {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-sandbox-'));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

const ctx = { log: () => undefined, label: 'test' };
const sh = (box: Sandbox, script: string) => runIn(ctx, box, ['sh', '-c', script], { step: 'test' });

/** The capability mask of a list of CAP_ names, as /proc/PID/status prints it. */
const CAP_BITS: Record<string, number> = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8,
  CAP_NET_BIND_SERVICE: 10, CAP_NET_RAW: 13, CAP_SYS_CHROOT: 18, CAP_MKNOD: 27, CAP_AUDIT_WRITE: 29, CAP_SETFCAP: 31,
};
const mask = (caps: readonly string[]) => caps.reduce((m, c) => m | (1n << BigInt(CAP_BITS[c])), 0n).toString(16).padStart(16, '0');

describe('the command line', () => {
  it('describes an image root as /, with binds, the environment, the working directory and the capabilities', () => {
    const box: Sandbox = { root: '/img', dev: 'minimal', env: { A: '1' }, cwd: '/work', caps: ['CAP_CHOWN'], mounts: [{ type: 'ro-bind', source: '/src', target: '/work', optional: true }] };
    expect(sandboxCommand(box, ['tool', 'x'])).toEqual({
      file: 'bwrap',
      args: ['--die-with-parent', '--unshare-pid', '--unshare-ipc', '--bind', '/img', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--ro-bind-try', '/src', '/work', '--chdir', '/work', '--cap-drop', 'ALL', '--cap-add', 'CAP_CHOWN', '--clearenv', '--setenv', 'A', '1', '--', 'tool', 'x'],
    });
  });

  it('shows the host read-only, or a tools tree\'s /usr over it', () => {
    expect(bwrapArgs({ root: 'host', env: {}, proc: false, tmp: false, unshare: [] })).toEqual(['--die-with-parent', '--ro-bind', '/', '/', '--clearenv']);
    const tools = bwrapArgs({ root: 'host', tools: '/tools', env: {}, proc: false, tmp: false, unshare: [] });
    expect(tools.slice(0, 7)).toEqual(['--die-with-parent', '--ro-bind', '/', '/', '--ro-bind', '/tools/usr', '/usr']);
    expect(tools).toContain('/tools/etc/ld.so.cache');
  });

  it('asks bwrap for a user namespace whose id map kiln writes, and for a network namespace', () => {
    const args = bwrapArgs({ root: 'host', env: {}, proc: false, tmp: false, unshare: [], userns: 'identity', net: false });
    expect(args).toEqual(['--die-with-parent', '--unshare-net', '--unshare-user', '--uid', '0', '--gid', '0', '--userns-block-fd', '3', '--info-fd', '4', '--ro-bind', '/', '/', '--clearenv']);
    // Identity over 0-65535 of what kiln's own namespace maps: all of it as root on the host, the subordinate range when rootless.
    expect(identityMap('         0          0 4294967295\n')).toBe('0 0 65536\n');
    expect(identityMap('0 1000 1\n1 100000 65536\n')).toBe('0 0 1\n1 1 65535\n');
    expect(identityMap('0 1000 1\n')).toBe('0 0 1\n');
  });

  it('enters a user namespace for a tool that mounts only after the binds, over the host, with every capability over it', () => {
    const { file, args } = sandboxCommand({ root: 'host', userns: 'identity-mounting', env: {}, proc: false, tmp: false, unshare: [] }, ['mmdebstrap', 'x']);
    expect(file).toBe('bwrap');
    expect(args.slice(0, 4)).toEqual(['--die-with-parent', '--ro-bind', '/', '/']);
    expect(args).not.toContain('--unshare-user');
    expect(args.slice(-7, -2)).toEqual(['--', 'sh', '-c', expect.stringContaining('unshare --user --mount --keep-caps'), 'sh']);
    expect(args.slice(-2)).toEqual(['mmdebstrap', 'x']);
    expect(() => sandboxCommand({ root: 'host', userns: 'identity-mounting', env: {}, caps: [] }, ['x'])).toThrow(/keeps no capability list/);
  });
});

describe('a tool in the sandbox', () => {
  it('writes only where a bind is read-write; sees its environment, working directory and capabilities only', async () => {
    const rw = temp();
    const ro = temp();
    const box: Sandbox = { root: 'host', dev: 'host', caps: ROOT_IN_IMAGE, env: { ...toolEnv(), ONLY: 'this' }, cwd: rw, mounts: [{ type: 'bind', source: rw, target: rw }] };
    const out = await sh(box, `touch ok && (touch ${ro}/no 2>/dev/null && echo wrote || echo read-only) && echo "$ONLY|\${TAR_OPTIONS-unset}|$PATH" && grep ^CapEff /proc/self/status && echo $$`);
    const [written, env, caps, pid] = out.split('\n');
    expect(written).toBe('read-only');
    expect(fs.existsSync(path.join(rw, 'ok'))).toBe(true);
    expect(fs.readdirSync(ro)).toEqual([]);
    expect(env).toBe('this|unset|/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin');
    expect(caps).toBe(`CapEff:\t${mask(ROOT_IN_IMAGE)}`);
    // Its own PID namespace: nothing it starts outlives it.
    expect(Number(pid)).toBeLessThan(10);
  });

  it('runs in an image root, the image as /', async () => {
    const root = temp();
    fs.mkdirSync(path.join(root, 'etc'));
    fs.writeFileSync(path.join(root, 'etc/marker'), 'image\n');
    for (const d of ['bin', 'lib', 'lib64', 'sbin']) if (fs.lstatSync(`/${d}`, { throwIfNoEntry: false })?.isSymbolicLink()) fs.symlinkSync(fs.readlinkSync(`/${d}`), path.join(root, d));
    const box: Sandbox = { root, dev: 'minimal', env: toolEnv(), caps: ROOT_IN_IMAGE, mounts: [{ type: 'ro-bind', source: '/usr', target: '/usr' }] };
    expect(await sh(box, 'cat /etc/marker && touch /etc/new')).toBe('image');
    expect(fs.existsSync(path.join(root, 'etc/new'))).toBe(true);
  });

  it('in a user namespace of its own: the same ids, no remounting the binds, no device nodes, no network', async () => {
    const rw = temp();
    const box: Sandbox = { root: 'host', dev: 'minimal', caps: ROOT_IN_IMAGE, userns: 'identity', net: false, env: toolEnv(), mounts: [{ type: 'bind', source: rw, target: rw }] };
    const out = await sh(box, [
      'head -1 /proc/self/uid_map | tr -s " "',
      `touch ${rw}/f && chown 42:4242 ${rw}/f && echo owned`,
      'mount -o remount,rw / 2>/dev/null || echo no-remount',
      `mknod ${rw}/disk b 7 0 2>/dev/null || echo no-mknod`,
      'grep -c : /proc/net/dev',
    ].join('; '));
    expect(out.split('\n')).toEqual([' 0 0 65536', 'owned', 'no-remount', 'no-mknod', '1']);
    expect(fs.statSync(path.join(rw, 'f'))).toMatchObject({ uid: 42, gid: 4242 });
    expect(fs.existsSync(path.join(rw, 'disk'))).toBe(false);
  });

  it('mounting in a user namespace entered after the binds: its own mounts, never over the locked binds', async () => {
    const rw = temp();
    const box: Sandbox = { root: 'host', dev: 'minimal', userns: 'identity-mounting', env: toolEnv(), mounts: [{ type: 'bind', source: rw, target: rw }] };
    const out = await sh(box, [
      'head -1 /proc/self/uid_map | tr -s " "',
      `mkdir ${rw}/m && mount -t tmpfs none ${rw}/m && echo mounted`,
      'mount -o remount,rw / 2>/dev/null || echo no-remount',
      'mount -o remount,rw /usr 2>/dev/null || echo no-remount-usr',
      `mknod ${rw}/disk b 7 0 2>/dev/null || echo no-mknod`,
      `touch ${rw}/m/x /etc/kiln-x 2>/dev/null || echo read-only`,
    ].join('; '));
    expect(out.split('\n')).toEqual([' 0 0 65536', 'mounted', 'no-remount', 'no-remount-usr', 'no-mknod', 'read-only']);
    // The tmpfs was the namespace's own.
    expect(fs.readdirSync(path.join(rw, 'm'))).toEqual([]);
    await expect(sh(box, 'exit 7')).rejects.toThrow(/exit code 7/);
  });

  it('fails with the step and the sandboxed program\'s exit code, not bwrap\'s name', async () => {
    await expect(sh({ root: 'host', env: toolEnv() }, 'echo why >&2; exit 3')).rejects.toThrow(/^test: test failed \(sh: exit code 3\)\n {2}why$/);
  });
});

describe('the host tools acting on an image from outside (hostTools)', () => {
  it('lets ldconfig -r and systemd-sysusers --root write the image, and nothing else of the host', async () => {
    const image = temp();
    // Outside /tmp, which the sandbox has a fresh one of.
    const elsewhere = fs.mkdtempSync('/var/tmp/kiln-sandbox-');
    temps.push(elsewhere);
    fs.mkdirSync(path.join(image, 'etc'), { recursive: true });
    fs.mkdirSync(path.join(image, 'usr/lib/sysusers.d'), { recursive: true });
    fs.writeFileSync(path.join(image, 'etc/ld.so.conf'), '/usr/lib\n');
    fs.writeFileSync(path.join(image, 'usr/lib/sysusers.d/kiln-test.conf'), 'u kilntest - "kiln test user"\n');
    const box = hostTools(toolEnv(), [image]);
    await runIn(ctx, box, ['ldconfig', '-X', '-r', image], { step: 'ldconfig' });
    await runIn(ctx, box, ['systemd-sysusers', `--root=${image}`], { step: 'sysusers' });
    expect(fs.existsSync(path.join(image, 'etc/ld.so.cache'))).toBe(true);
    expect(fs.readFileSync(path.join(image, 'etc/passwd'), 'utf8')).toMatch(/^kilntest:x:\d+:\d+:kiln test user:/m);
    await expect(sh(box, `touch ${elsewhere}/x`)).rejects.toThrow(/Read-only file system/);
    expect(fs.readdirSync(elsewhere)).toEqual([]);
  });
});
