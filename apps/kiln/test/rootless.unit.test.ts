/**
 * Rootless mode's plan (rootless.ts): which subordinate ids it maps, and the error, naming the fix,
 * for each thing that stops an ordinary user's build before it starts. The real namespace, builds
 * and users are in rootless.test.ts.
 */
import { findSubRange, freeRange, rootlessPlan, type Host } from '../src/rootless';

function host(files: Record<string, string>, programs = ['unshare', 'newuidmap', 'newgidmap']): Host {
  return {
    uid: 1001,
    user: 'ann',
    read: (f) => files[f],
    which: (p) => (programs.includes(p) ? `/usr/bin/${p}` : undefined),
  };
}

const RANGES = { '/etc/subuid': 'bob:100000:65536\nann:165536:65536\n', '/etc/subgid': '1001:300000:70000\n' };

describe('rootlessPlan', () => {
  it('maps root to the user and 1..65535 to the first ids of its ranges (by name or by uid)', () => {
    const plan = rootlessPlan(host(RANGES), 'build', ['node', 'main.js', 'build']);
    expect(plan).toEqual({
      ok: true,
      pathDirs: ['/usr/bin'],
      command: ['/usr/bin/unshare', '--user', '--map-user=0', '--map-group=0', '--map-users=165536,1,65535', '--map-groups=300000,1,65535', '--', 'node', 'main.js', 'build'],
    });
  });

  it('refuses a user without a range and suggests a free one after every existing range', () => {
    const plan = rootlessPlan(host({ '/etc/subuid': 'bob:100000:65536\n', '/etc/subgid': 'bob:100000:65536\ncid:200000:65536\n' }), 'build', []);
    expect(plan).toEqual({
      ok: false,
      message:
        "rootless build: ann (uid 1001) is not root, so kiln runs as root in a user namespace over 65536 subordinate ids (the owners of the image's files: root, _apt, messagebus...), but /etc/subuid has no range of subordinate user ids for ann: give ann one as root (usermod --add-subuids 265536-331071 --add-subgids 265536-331071 ann), or run kiln as root",
    });
  });

  it('refuses a range too small for the ids an image uses, and a missing /etc/subgid entry', () => {
    const small = rootlessPlan(host({ ...RANGES, '/etc/subuid': 'ann:100000:1000\n' }), 'lock', []);
    expect(!small.ok && small.message).toContain('but the range of ann in /etc/subuid has 1000 ids, fewer than 65536: give ann one as root (usermod --add-subuids 370000-435535');
    const noGid = rootlessPlan(host({ '/etc/subuid': RANGES['/etc/subuid'] }), 'build', []);
    expect(!noGid.ok && noGid.message).toContain('but /etc/subgid has no range of subordinate group ids for ann: give ann one as root (usermod --add-subuids 231072-');
  });

  it('names uidmap when newuidmap or newgidmap is missing', () => {
    const plan = rootlessPlan(host(RANGES, ['unshare', 'newgidmap']), 'clean', []);
    expect(!plan.ok && plan.message).toMatch(/^rootless clean: ann \(uid 1001\) is not root, .* but newuidmap, which map a user's subordinate ids into a namespace, is not installed: install Debian's uidmap package as root \(apt-get install uidmap\), or run kiln as root$/);
  });

  it('names the sysctl when user namespaces are disabled', () => {
    const off = (file: string) => rootlessPlan(host({ ...RANGES, [file]: '0\n' }), 'build', []);
    expect(!off('/proc/sys/user/max_user_namespaces').ok && (off('/proc/sys/user/max_user_namespaces') as { message: string }).message).toContain('user namespaces are disabled (/proc/sys/user/max_user_namespaces is 0): enable them as root (sysctl -w user.max_user_namespaces=15000)');
    expect((off('/proc/sys/kernel/unprivileged_userns_clone') as { message: string }).message).toContain('sysctl -w kernel.unprivileged_userns_clone=1');
    const apparmor = rootlessPlan(host({ ...RANGES, '/proc/sys/kernel/apparmor_restrict_unprivileged_userns': '1\n' }), 'build', []);
    expect(!apparmor.ok && apparmor.message).toContain('sysctl -w kernel.apparmor_restrict_unprivileged_userns=0');
  });
});

describe('subordinate id files', () => {
  it('take the first range of the user large enough, by name or uid, and skip malformed lines', () => {
    expect(findSubRange('ann:1:10\nbad line\nann:x:y\n1001:500000:65536\nann:600000:65536\n', 'ann', 1001)).toEqual({ range: { start: 500000, count: 65536 } });
    expect(findSubRange('ann:1:10\n', 'ann', 1001)).toEqual({ small: { start: 1, count: 10 } });
    expect(findSubRange('', undefined, 1001)).toEqual({});
  });

  it('suggest a range after every existing one, never below 100000', () => {
    expect(freeRange([''])).toEqual({ start: 100000, count: 65536 });
    expect(freeRange(['a:100000:65536\n', 'b:500000:10\n'])).toEqual({ start: 500010, count: 65536 });
  });
});
