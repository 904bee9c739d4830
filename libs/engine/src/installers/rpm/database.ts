/**
 * rpm's side of the RPM family's installers (dnf, zypper): where the image's database lives, the
 * macros that put it there, reading it, and settling it so that the same packages give the same
 * bytes.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { BuildContext } from '../../context';
import { ensureDir } from '../../fsutil';
import * as img from '../../image-fs';
import { runIn, type Sandbox } from '../../sandbox';

/** The RPM database's place in the image. */
export const RPM_DBPATH = '/usr/lib/sysimage/rpm';

/**
 * A $HOME for the package manager and rpm whose .rpmmacros (read last) sets the database path:
 * Debian's rpm puts its database in ~/.rpmdb otherwise, so it would land in the image's /root; the
 * RPM family keeps it in /usr/lib/sysimage/rpm, as mkosi's setup_rpm() says. `macros` are added.
 */
export function rpmHome(dir: string, macros: string[] = []): string {
  const home = ensureDir(path.join(dir, 'home'));
  // rpm 4.19+ (a trixie tools tree's) runs scriptlets through its unshare plugin, which takes
  // them off the network and gives them a private /tmp with mount and network namespaces of
  // their own: kiln's sandbox already does both and does not grant the CAP_SYS_ADMIN those need
  // ("unshare with flags x40000000 failed"), so the plugin is off.
  fs.writeFileSync(path.join(home, '.rpmmacros'), [`%_dbpath ${RPM_DBPATH}`, '%__transaction_unshare %{nil}', ...macros, ''].join('\n'));
  return home;
}

/**
 * After each transaction: the SQLite databases rpm and dnf leave in the image are made the same
 * bytes for the same packages. rpm (4.18+) already takes its install times from SOURCE_DATE_EPOCH;
 * dnf's history records the wall clock and its own command line (with the build's paths), so
 * those are set to the epoch and a fixed line; the write-ahead logs are folded into the databases
 * and removed, so that no -wal or -shm file (whose bytes are not reproducible) stays; VACUUM
 * leaves no freed page holding what was deleted.
 */
export const SETTLE_DATABASES = String.raw`
import os, sqlite3, sys
root, epoch = sys.argv[1], int(sys.argv[2])
for rel in ('usr/lib/sysimage/rpm/rpmdb.sqlite', 'var/lib/dnf/history.sqlite'):
    db = os.path.join(root, rel)
    if not os.path.exists(db):
        continue
    con = sqlite3.connect(db)
    if rel.startswith('var/lib/dnf'):
        con.execute('UPDATE trans SET dt_begin = ?, dt_end = ?, cmdline = ?', (epoch, epoch, 'kiln'))
        con.commit()
    con.execute('VACUUM')
    con.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    con.close()
    for suffix in ('-wal', '-shm'):
        if os.path.exists(db + suffix):
            os.remove(db + suffix)
`;

/** Settles the databases of `root` (SETTLE_DATABASES), in `box` (a sandbox with python3 and the root writable). */
export async function settleDatabases(ctx: BuildContext, box: Sandbox, root: string): Promise<void> {
  await runIn({ ...ctx, log: () => undefined }, box, ['python3', '-c', SETTLE_DATABASES, root, String(ctx.sourceDateEpoch)], {
    step: 'settling the package databases',
  });
}

export type RpmInstalled = Map<string, { version: string; architecture: string }>;

/** The packages installed in `root`, by name (rpm's database; gpg-pubkey entries are keys, not packages); the databases settled after. */
export async function rpmInstalled(ctx: BuildContext, box: Sandbox, root: string): Promise<RpmInstalled> {
  const out: RpmInstalled = new Map();
  if (!img.exists(root, `${RPM_DBPATH.slice(1)}/rpmdb.sqlite`)) return out;
  const text = await runIn({ ...ctx, log: () => undefined }, box, ['rpm', `--root=${root}`, '-qa', '--qf', '%{NAME}\\t%{EPOCHNUM}\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\n'], {
    step: 'reading the RPM database',
  });
  for (const l of text.split('\n').filter(Boolean)) {
    const [name, epoch, version, release, arch] = l.split('\t');
    if (name === 'gpg-pubkey') continue;
    out.set(name, { version: `${epoch !== '0' ? `${epoch}:` : ''}${version}-${release}`, architecture: arch });
  }
  await settleDatabases(ctx, box, root);
  return out;
}
