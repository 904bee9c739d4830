/**
 * The RPM family's repositories as mkosi 26 lays them out (mkosi/distribution/{fedora,centos,alma,rocky}.py):
 * with Mirror=, without it (metalinks and mirror lists), LocalMirror=, and the keys' names.
 */
import { rpmLayout } from '../src/distributions/rpm-repositories';

const layout = (distribution: string, release: string, mirror: string | null = null, localMirror: string | null = null) =>
  rpmLayout({ distribution, release, mirror, localMirror })!;
const enabled = (l: ReturnType<typeof layout>) => l.repositories.filter((r) => r.enabled).map((r) => `${r.id} ${r.url}`);

describe('rpmLayout', () => {
  it('Fedora with Mirror=: releases and updates enabled, testing, debug and source there but disabled', () => {
    const l = layout('fedora', '42', 'http://m.example/pub/fedora/');
    expect(enabled(l)).toEqual([
      'fedora baseurl=http://m.example/pub/fedora/linux/releases/$releasever/Everything/$basearch/os',
      'updates baseurl=http://m.example/pub/fedora/linux/updates/$releasever/Everything/$basearch',
    ]);
    expect(l.repositories.map((r) => r.id)).toEqual(expect.arrayContaining(['fedora-debuginfo', 'fedora-source', 'updates-testing', 'updates-testing-source']));
    expect(l.keys).toEqual([{ names: ['RPM-GPG-KEY-fedora-42-primary'], url: expect.stringMatching(/\/keys\/fedora\/RPM-GPG-KEY-fedora-42-primary$/) }]);
  });

  it('Fedora rawhide: the development tree, no updates; eln uses the rawhide key', () => {
    expect(enabled(layout('fedora', 'rawhide', 'http://m'))).toEqual(['fedora baseurl=http://m/linux/development/$releasever/Everything/$basearch/os']);
    expect(layout('fedora', 'eln').keys[0].names).toEqual(['RPM-GPG-KEY-fedora-rawhide-primary']);
  });

  it('Fedora without Mirror=: the metalink', () => {
    expect(enabled(layout('fedora', '42'))).toEqual([
      'fedora metalink=https://mirrors.fedoraproject.org/metalink?arch=$basearch&repo=fedora-$releasever',
      'updates metalink=https://mirrors.fedoraproject.org/metalink?arch=$basearch&repo=updates-released-f$releasever',
    ]);
  });

  it('CentOS Stream: BaseOS, AppStream, CRB and extras under $stream, its keys by both names', () => {
    const l = layout('centos', '10', 'https://c.example/');
    expect(enabled(l)).toEqual([
      'baseos baseurl=https://c.example/$stream/BaseOS/$basearch/os',
      'appstream baseurl=https://c.example/$stream/AppStream/$basearch/os',
      'crb baseurl=https://c.example/$stream/CRB/$basearch/os',
      'extras baseurl=https://c.example/SIGs/$stream/extras/$basearch/extras-common',
    ]);
    expect(l.vars).toEqual({ stream: '10-stream' });
    expect(l.keys[0].names).toEqual(['RPM-GPG-KEY-centosofficial-SHA256', 'RPM-GPG-KEY-CentOS-Official-SHA256']);
    expect(layout('centos', '9').keys[0].names).toEqual(['RPM-GPG-KEY-centosofficial', 'RPM-GPG-KEY-CentOS-Official']);
  });

  it('Alma and Rocky: $releasever/REPO/$basearch/os, or their mirror lists', () => {
    expect(enabled(layout('alma', '10', 'http://a'))[0]).toBe('BaseOS baseurl=http://a/$releasever/BaseOS/$basearch/os');
    expect(enabled(layout('rocky', '9'))[0]).toBe('BaseOS mirrorlist=https://mirrors.rockylinux.org/mirrorlist?arch=$basearch&repo=BaseOS-$releasever');
    expect(layout('alma', '10.1').keys[0].names).toEqual(['RPM-GPG-KEY-AlmaLinux-10']);
  });

  it('LocalMirror= is one repository with everything; other distributions have no layout here', () => {
    expect(layout('fedora', '42', 'http://m', 'http://local/repo').repositories).toEqual([{ id: 'fedora', url: 'baseurl=http://local/repo', enabled: true }]);
    expect(rpmLayout({ distribution: 'debian', release: 'trixie', mirror: null, localMirror: null })).toBeNull();
  });
});
