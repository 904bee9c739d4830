/**
 * What kiln asks dnf that its command line does not print in a form to read: the exact packages
 * an install would add (for `kiln lock`), and the repositories' record of given packages (their
 * checksum, to check a lock against the mirror). dnf's Python API (dnf.Base, documented and stable
 * across dnf 4) runs the same solver and reads the same metadata cache as the `dnf install` that
 * follows; the request comes on stdin as JSON, the answer goes to stdout as JSON.
 */
export const DNF_QUERY = String.raw`
import json, sys
import dnf, dnf.conf, dnf.exceptions, hawkey

req = json.load(sys.stdin)
# The configuration first, then the Base on it: dnf.Base() alone reads the host's rpm database for
# a default releasever, which fails where there is none (dnf 4.2x, a trixie tools tree's).
c = dnf.conf.Conf()
c.read(req['conf'])
c.installroot = req['root']
c.reposdir = [req['reposdir']]
c.varsdir = [req['varsdir']]
c.cachedir = '/var/cache/dnf'
c.persistdir = req['root'] + '/var/lib/dnf'
c.logdir = req['logdir']
c.install_weak_deps = req['weak']
c.metadata_expire = -1
if req['forcearch']:
    c.arch = req['arch']
c.substitutions['releasever'] = req['releasever']
c.substitutions['basearch'] = req['arch']
c.substitutions['arch'] = req['arch']
c.substitutions.update_from_etc('/', varsdir=(req['varsdir'],))
if not req['check']:
    c.gpgcheck = False
    c.repo_gpgcheck = False
base = dnf.Base(c)
base.read_all_repos()
for r in req['enable']:
    for repo in base.repos.get_matching(r):
        repo.enable()
try:
    base.fill_sack(load_system_repo=False, load_available_repos=True)
except dnf.exceptions.RepoError as e:
    print(json.dumps({'error': str(e)}))
    sys.exit(0)

def evr(p):
    return ('%d:' % p.epoch if p.epoch else '') + p.version + '-' + p.release

def record(p):
    kind, digest = p.chksum
    return {'name': p.name, 'version': evr(p), 'architecture': p.arch, 'repository': p.reponame,
            'size': p.downloadsize, 'checksum': [hawkey.chksum_name(kind), digest.hex()], 'path': p.location}

if req['mode'] == 'resolve':
    missing = []
    pinned = set()
    for spec in req['installed']:
        try:
            base.install(spec)
            pinned.add(spec)
        except dnf.exceptions.MarkingError:
            missing.append(spec)
    for name in req['names']:
        try:
            base.install(name)
        except dnf.exceptions.MarkingError:
            missing.append(name)
    if missing:
        print(json.dumps({'missing': missing}))
        sys.exit(0)
    try:
        base.resolve()
    except dnf.exceptions.DepsolveError as e:
        print(json.dumps({'error': str(e)}))
        sys.exit(0)
    out = []
    for p in base.transaction.install_set:
        nevra = '%s-%s.%s' % (p.name, evr(p), p.arch)
        if nevra not in pinned:
            out.append(record(p))
    print(json.dumps({'packages': out}))
else:
    found = []
    for want in req['packages']:
        e, _, vr = want['version'].rpartition(':')
        v, _, r = vr.rpartition('-')
        q = base.sack.query().available().filter(name=want['name'], epoch=int(e or 0), version=v, release=r, arch=want['architecture'])
        found.append([record(p) for p in q])
    print(json.dumps({'found': found}))
`;
