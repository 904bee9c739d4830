/**
 * Progress of long steps: the throttled reporter (with a fake ticker: no test waits on a clock),
 * apt's and dpkg's output read into "n of m" lines, the size of an archive being written, and
 * run() handing every output line to its caller whole.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { aptProgress, aptSize } from '../src/installers/apt/debian';
import { progressInterval, reportProgress, run, type Ticker } from '../src/exec';
import { archiveProgress } from '../src/outputs/tar';
import { removeTempDirs, tempDir } from './kiln';

afterAll(removeTempDirs);

/** A ticker the test advances by hand; it records the interval asked for and whether it was stopped. */
function fakeTicker() {
  const state = { ms: 0, tick: () => undefined as void, stopped: false };
  const ticker: Ticker = (ms, tick) => {
    Object.assign(state, { ms, tick });
    return () => (state.stopped = true);
  };
  return { ticker, state };
}

describe('reportProgress', () => {
  it('emits the status at each tick when it changed, and nothing when it did not or there is none yet', () => {
    const { ticker, state } = fakeTicker();
    const lines: string[] = [];
    let status: string | undefined;
    const stop = reportProgress(() => status, (l) => lines.push(l), { intervalMs: 10_000, ticker });
    expect(state.ms).toBe(10_000);
    state.tick();
    expect(lines).toEqual([]);
    status = '1 of 3';
    status = '2 of 3';
    state.tick();
    state.tick();
    status = '3 of 3';
    state.tick();
    expect(lines).toEqual(['2 of 3', '3 of 3']);
    stop();
    expect(state.stopped).toBe(true);
  });

  it('survives a status that throws (a file not written yet)', () => {
    const { ticker, state } = fakeTicker();
    const lines: string[] = [];
    let fail = true;
    reportProgress(() => {
      if (fail) throw new Error('ENOENT');
      return 'fine';
    }, (l) => lines.push(l), { ticker });
    state.tick();
    fail = false;
    state.tick();
    expect(lines).toEqual(['fine']);
  });

  it('ticks every 10 s unless KILN_PROGRESS_INTERVAL (seconds) says otherwise', () => {
    expect(progressInterval({})).toBe(10_000);
    expect(progressInterval({ KILN_PROGRESS_INTERVAL: '0.5' })).toBe(500);
    expect(progressInterval({ KILN_PROGRESS_INTERVAL: 'soon' })).toBe(10_000);
    const { ticker, state } = fakeTicker();
    reportProgress(() => undefined, () => undefined, { ticker });
    expect(state.ms).toBe(progressInterval());
  });

  it('uses unref()ed real timers by default, so a report never holds the process open', () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const stop = reportProgress(() => undefined, () => undefined, { intervalMs: 60_000 });
    // An unref()ed timer is not an active resource.
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
    stop();
  });
});

/** Real `mmdebstrap --verbose` output (bookworm, essential set then Packages=hello,less), shortened. */
const MMDEBSTRAP = `I: running apt-get update...
Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]
Get:2 http://deb.debian.org/debian bookworm/main amd64 Packages [8790 kB]
Fetched 8941 kB in 1s (12.4 MB/s)
I: downloading packages with apt...
The following NEW packages will be installed:
  base-files base-passwd bash bsdutils coreutils dash debconf debianutils
0 upgraded, 4 newly installed, 0 to remove and 0 not upgraded.
Need to get 2966 kB of archives.
After this operation, 139 MB of additional disk space will be used.
Get:1 http://deb.debian.org/debian bookworm/main amd64 gcc-12-base amd64 12.2.0-14+deb12u1 [37.6 kB]
Get:2 http://deb.debian.org/debian bookworm/main amd64 libc6 amd64 2.36-9+deb12u14 [2759 kB]
I: installing essential packages...
/usr/bin/dpkg --status-fd 8 --no-triggers --unpack --auto-deconfigure /tmp/root/var/cache/apt/archives/gcc-12-base_12.2.0-14+deb12u1_amd64.deb
Selecting previously unselected package gcc-12-base:amd64.
(Reading database ... 0 files and directories currently installed.)
Preparing to unpack .../gcc-12-base_12.2.0-14+deb12u1_amd64.deb ...
Unpacking gcc-12-base:amd64 (12.2.0-14+deb12u1) ...
Unpacking libc6:amd64 (2.36-9+deb12u14) ...
Unpacking libgcc-s1:amd64 (12.2.0-14+deb12u1) ...
Setting up gcc-12-base:amd64 (12.2.0-14+deb12u1) ...
I: installing remaining packages inside the chroot...
0 upgraded, 2 newly installed, 0 to remove and 0 not upgraded.
Need to get 185 kB of archives.
Get:1 http://deb.debian.org/debian bookworm/main amd64 less amd64 590-2.1~deb12u2 [132 kB]`.split('\n');

describe('aptProgress', () => {
  const after = (lines: string[]) => {
    const p = aptProgress();
    lines.forEach(p.onLine);
    return p.progress();
  };
  const upTo = (text: string) => MMDEBSTRAP.slice(0, MMDEBSTRAP.findIndex((l) => l.startsWith(text)) + 1);

  it('reads apt\'s sizes in decimal units', () => {
    expect([aptSize('2759 kB'), aptSize('29.7 MB'), aptSize('0 B'), aptSize('1.2 GB'), aptSize('many')]).toEqual([2_759_000, 29_700_000, 0, 1_200_000_000, NaN]);
  });

  it('says nothing for apt-get update\'s index downloads', () => {
    expect(after(upTo('Fetched'))).toBeUndefined();
  });

  it('counts the .debs downloaded of the packages of the run, and their bytes', () => {
    expect(after(upTo('Get:2 http://deb.debian.org/debian bookworm/main amd64 libc6'))).toBe('packages: 2 of 4 downloaded (2.8 of 3.0 MB)');
  });

  it('counts dpkg\'s unpacked and set-up packages', () => {
    expect(after(upTo('Setting up gcc-12-base'))).toBe('packages: 3 of 4 unpacked, 1 set up');
  });

  it('starts a new count at the next run\'s summary (mmdebstrap installs Packages= after the essential set)', () => {
    expect(after(MMDEBSTRAP)).toBe('packages: 1 of 2 downloaded (0.1 of 0.2 MB)');
  });

  it('says when the package cache has the rest', () => {
    expect(after(['0 upgraded, 3 newly installed, 0 to remove and 0 not upgraded.', 'Need to get 132 kB/29.7 MB of archives.', 'Get:1 http://deb.debian.org/debian bookworm/main amd64 less amd64 590-2.1~deb12u2 [132 kB]'])).toBe(
      'packages: 1 downloaded (0.1 of 0.1 MB), the rest from the package cache',
    );
  });

  it('reads apt 3\'s summary too, with upgrades and downgrades counted', () => {
    const lines = ['Summary:', '  Upgrading: 2, Installing: 5, Downgrading: 1, Removing: 0, Not Upgrading: 7', '  Download size: 1500 kB / 3000 kB', 'Get:1 http://deb.debian.org/debian trixie/main amd64 hello amd64 2.10-5 [1500 kB]'];
    expect(after(lines)).toBe('packages: 1 downloaded (1.5 of 1.5 MB), the rest from the package cache');
    expect(after([...lines, 'Unpacking hello (2.10-5) over (2.10-3) ...'])).toBe('packages: 1 of 8 unpacked, 0 set up');
  });
});

describe('archiveProgress', () => {
  it('says how much of the archive is written, once there is some', () => {
    const file = path.join(tempDir('kiln-progress-'), 'base.tar.zst');
    const status = archiveProgress(file);
    expect(status()).toBeUndefined();
    fs.writeFileSync(file, Buffer.alloc(2_500_000));
    expect(status()).toBe('writing base.tar.zst: 2.5 MB so far');
  });
});

describe('run: output lines', () => {
  it('gives the caller every line whole, even split across writes, and the last one without a newline', async () => {
    const lines: string[] = [];
    const logged: string[] = [];
    const script = 'printf "Get:1 par"; sleep 0.2; printf "tial [1 kB]\\r\\n\\nUnpacking x ...\\nlast"';
    await run({ log: (l) => logged.push(l) }, 'sh', ['-c', script], { step: 'test', onLine: (l) => lines.push(l) });
    expect(lines).toEqual(['Get:1 partial [1 kB]', 'Unpacking x ...', 'last']);
    expect(logged).toEqual(lines);
  });
});
