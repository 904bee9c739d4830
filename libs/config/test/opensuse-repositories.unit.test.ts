/** openSUSE's repositories, keys and essential set as mkosi 26 lays them out (mkosi/distribution/opensuse.py). */
import { opensuseEssential, rpmLayout } from '../src';

const layout = (release: string, arch = 'x86_64', mirror: string | null = null, localMirror: string | null = null) =>
  rpmLayout({ distribution: 'opensuse', release, mirror, localMirror, arch })!;
const enabled = (l: ReturnType<typeof layout>) => l.repositories.filter((r) => r.enabled).map((r) => `${r.id} ${r.url}`);

describe('openSUSE repositories', () => {
  it('Tumbleweed: oss and its update repository enabled, non-oss, debug and source disabled; ports/ for other architectures', () => {
    const l = layout('tumbleweed');
    expect(enabled(l)).toEqual(['oss baseurl=https://download.opensuse.org/tumbleweed/repo/oss', 'oss-update baseurl=https://download.opensuse.org/update/tumbleweed']);
    expect(l.repositories.map((r) => r.id)).toEqual(['oss', 'oss-debug', 'oss-source', 'non-oss', 'non-oss-source', 'oss-update', 'non-oss-update']);
    expect(l.keys.map((k) => [k.names[0], !!k.optional])).toEqual([['RPM-GPG-KEY-openSUSE-Tumbleweed', false], ['RPM-GPG-KEY-openSUSE', true]]);
    expect(enabled(layout('tumbleweed', 'aarch64', 'http://m/'))[0]).toBe('oss baseurl=http://m/ports/aarch64/tumbleweed/repo/oss');
  });

  it('Leap: distribution/leap/<release>/repo, updates in update/leap/<release> before 16 and in the distribution tree from 16', () => {
    expect(enabled(layout('15.6'))).toEqual([
      'oss baseurl=https://download.opensuse.org/distribution/leap/15.6/repo/oss',
      'oss-update baseurl=https://download.opensuse.org/update/leap/15.6/oss',
    ]);
    expect(enabled(layout('16.0'))[1]).toBe('oss-update baseurl=https://download.opensuse.org/distribution/leap/16.0/repo/oss');
    expect(enabled(layout('current'))[0]).toBe('oss baseurl=https://download.opensuse.org/distribution/openSUSE-current/repo/oss');
    expect(layout('15.6').keys.map((k) => k.names[0])).toEqual(['RPM-GPG-KEY-openSUSE']);
  });

  it('LocalMirror= is the one repository', () => {
    expect(enabled(layout('tumbleweed', 'x86_64', null, 'http://local/repo'))).toEqual(['opensuse baseurl=http://local/repo']);
  });

  it('the essential set: filesystem and the release package, unless Packages= names a *-release', () => {
    expect(opensuseEssential('tumbleweed', [])).toEqual(['filesystem', 'openSUSE-release']);
    expect(opensuseEssential('15.6', ['vim'])).toEqual(['filesystem', 'openSUSE-release']);
    expect(opensuseEssential('16.0', [])).toEqual(['filesystem', 'Leap-release']);
    expect(opensuseEssential('tumbleweed', ['MicroOS-release'])).toEqual(['filesystem']);
  });
});
