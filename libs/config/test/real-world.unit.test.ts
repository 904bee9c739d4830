/**
 * Real-world mkosi configurations, written the way mkosi's own repository writes them (fixtures in
 * fixtures/real-world/, verbatim from mkosi HEAD apart from the changes their header comments name):
 *
 *   mkosi-repo/  mkosi's repository root: mkosi.conf, mkosi.conf.d/{bootable,x86-64}.conf and the
 *                drop-in directory mkosi.conf.d/debian-kali-ubuntu/
 *   initrd/      mkosi/resources/mkosi-initrd/mkosi.conf (first 40 lines)
 *   trigger/     mkosi-tools' debian-kali-ubuntu/ drop-in directory with its [TriggerMatch] file
 *
 * Variants (another distribution, architecture or format) are copies of a fixture in a temp dir
 * with a section appended to their mkosi.conf, so the fixture files themselves stay verbatim.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigError, formatOrigin, loadProject, Project, summaryJson, summaryText } from '../src';

const FIXTURES = path.join(__dirname, 'fixtures', 'real-world');
const REPO = path.join(FIXTURES, 'mkosi-repo');
const INITRD = path.join(FIXTURES, 'initrd');
const TRIGGER = path.join(FIXTURES, 'trigger');

const temps: string[] = [];
afterAll(() => {
  for (const t of temps) fs.rmSync(t, { recursive: true, force: true });
});

const load = (dir: string): Project => loadProject(dir, { env: {} });

/** A copy of a fixture project (same directory name) in a temp dir, with `append` added to its mkosi.conf. */
function variant(fixture: string, append = ''): string {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kiln-real-world-'));
  temps.push(tmp);
  const root = path.join(tmp, path.basename(fixture));
  fs.cpSync(fixture, root, { recursive: true });
  if (append) fs.appendFileSync(path.join(root, 'mkosi.conf'), `\n${append}\n`);
  return root;
}

/** mkosi's repository root, with Distribution=/Architecture=/Format= overridden after its own. */
function repo(opts: { distribution?: string; architecture?: string; format?: string } = {}): Project {
  const lines: string[] = [];
  if (opts.distribution || opts.architecture) {
    lines.push('[Distribution]');
    if (opts.distribution) lines.push(`Distribution=${opts.distribution}`);
    if (opts.architecture) lines.push(`Architecture=${opts.architecture}`);
  }
  if (opts.format) lines.push('[Output]', `Format=${opts.format}`);
  return load(variant(REPO, lines.join('\n')));
}

/** The trigger project with its mkosi.conf rewritten to select a distribution and release. */
function trigger(distribution: string, release = ''): Project {
  const root = variant(TRIGGER);
  const conf = ['[Distribution]', `Distribution=${distribution}`, ...(release ? [`Release=${release}`] : [])];
  fs.writeFileSync(path.join(root, 'mkosi.conf'), conf.join('\n') + '\n');
  return load(root);
}

/** Warnings as `relative/file:line: message`, relative to the project root. */
function warnings(project: Project): string[] {
  return project.warnings.map((w) => `${formatOrigin({ ...w.origin, file: path.relative(project.root, w.origin.file) })}: ${w.message}`);
}

/** Which unknown setting each warning is about, as `relative/file:line Key`. */
function unknownSettings(project: Project): string[] {
  return project.warnings.map((w) => {
    const m = /^unknown setting (\w+)= is ignored/.exec(w.message);
    if (!m) throw new Error(`not an unknown-setting warning: ${w.message}`);
    return `${path.relative(project.root, w.origin.file)}:${w.origin.line} ${m[1]}`;
  });
}

const DEBIAN_PACKAGES = ['openssh-client', 'openssh-server', 'python3', 'systemd-userdbd'];

describe("mkosi's repository root (mkosi.conf, mkosi.conf.d/)", () => {
  const project = load(REPO);
  const config = project.main.config;

  it('reads the files in mkosi order: mkosi.conf, its Include= where it appears, then sorted drop-ins', () => {
    // Generated presets, built first: the tools tree (ToolsTree=yes) and the default initrd (Bootable=yes, no Initrds=).
    expect(project.presets.map((p) => p.name)).toEqual(['tools', 'default-initrd', 'mkosi-repo']);
    expect(project.main.files.map((f) => path.relative(REPO, f))).toEqual([
      'mkosi.conf',
      'mkosi.vm.conf',
      'mkosi.conf.d/bootable.conf',
      'mkosi.conf.d/debian-kali-ubuntu/mkosi.conf',
      'mkosi.conf.d/x86-64.conf',
    ]);
    expect(config.Include).toEqual([path.join(REPO, 'mkosi.vm.conf')]);
    // The included stand-in for mkosi-vm applies its settings.
    expect(config.Hostname).toBe('mkosi');
    expect(project.main.origins.Hostname).toEqual({ file: path.join(REPO, 'mkosi.vm.conf'), line: 6 });
  });

  it('takes Packages= from a multi-line value, the include and the matching drop-in directory, sorted', () => {
    expect(config.Packages).toEqual([
      'binutils',
      'gdb',
      'openssh-client',
      'openssh-server',
      'python3',
      'systemd',
      'systemd-userdbd',
      'udev',
      'wireless-regdb',
    ]);
    expect(project.main.origins.Packages).toEqual({ file: path.join(REPO, 'mkosi.conf.d/debian-kali-ubuntu/mkosi.conf'), line: 9 });
  });

  it('skips comment lines inside the multi-line RemoveFiles=', () => {
    expect(config.RemoveFiles).toEqual(['/usr/lib/kernel/install.d/20-grub.install', '/usr/lib/kernel/install.d/50-dracut.install']);
    expect(project.main.origins.RemoveFiles).toEqual({ file: path.join(REPO, 'mkosi.conf'), line: 38 });
  });

  it('keeps the five KernelCommandLine= items in order, after the comment above the key', () => {
    expect(config.KernelCommandLine).toEqual([
      'enforcing=0',
      'systemd.log_ratelimit_kmsg=0',
      'systemd.crash_shell',
      'printk.devkmsg=on',
      'systemd.early_core_pattern=/core',
    ]);
  });

  it('reads [Output] and both [Build] sections of one file, with paths absolute under the project', () => {
    expect(config.Format).toBe('directory');
    expect(config.CompressOutput).toBe('none');
    expect(config.OutputDirectory).toBe(path.join(REPO, 'mkosi.output'));
    expect(config.CacheDirectory).toBe(path.join(REPO, 'mkosi.cache'));
    expect(config.ToolsTree).toBe('yes');
    expect(config.Incremental).toBe('yes');
    // The first [Build] (line 11) and the second (line 21) both count.
    expect(project.main.origins.CacheDirectory).toEqual({ file: path.join(REPO, 'mkosi.conf'), line: 12 });
    expect(project.main.origins.Incremental).toEqual({ file: path.join(REPO, 'mkosi.conf'), line: 23 });
    expect(project.main.origins.ToolsTree).toEqual({ file: path.join(REPO, 'mkosi.conf'), line: 22 });
  });

  it('reads RAM=4G from [Runtime] as 4 GiB in bytes', () => {
    expect(config.RAM).toBe(4294967296);
    expect(project.main.origins.RAM).toEqual({ file: path.join(REPO, 'mkosi.conf'), line: 55 });
  });

  it('knows every setting it uses (mkosi 26 does): no unknown-setting warnings, and their values read as mkosi reads them', () => {
    expect(unknownSettings(project)).toEqual([]);
    expect(config).toMatchObject({
      History: true,
      BuildSources: [{ source: REPO, target: null }],
      Autologin: true,
      SELinuxRelabel: 'disabled',
      ShimBootloader: 'unsigned',
      InitrdProfiles: ['lvm'],
      KernelInitrdModules: ['default'],
    });
    expect(project.main.origins.History).toEqual({ file: path.join(REPO, 'mkosi.conf'), line: 13 });
  });

  it('enables Bootable= when both [Match] sections of bootable.conf hold (directory on x86-64)', () => {
    expect(config.Bootable).toBe('enabled');
    expect(project.main.origins.Bootable).toEqual({ file: path.join(REPO, 'mkosi.conf.d/bootable.conf'), line: 12 });
  });

  it.each([
    ['disk', 'arm64', 'enabled'],
    ['directory', 'arm64', 'enabled'],
    ['disk', 'x86-64', 'enabled'],
    ['tar', 'x86-64', 'auto'],
    ['cpio', 'arm64', 'auto'],
    ['directory', 'riscv64', 'auto'],
    ['disk', 'ppc64-le', 'auto'],
  ])('Format=%s Architecture=%s gives Bootable=%s (each [Match] needs one of its | triggers)', (format, architecture, bootable) => {
    const p = repo({ format, architecture });
    expect(p.main.config.Format).toBe(format);
    expect(p.main.config.Architecture).toBe(architecture);
    expect(p.main.config.Bootable).toBe(bootable);
  });

  it('applies x86-64.conf only on x86-64 and not on postmarketos (AND of conditions, with negation)', () => {
    const bios = (p: Project) => p.main.config.BiosBootloader;
    expect(bios(repo({ architecture: 'x86-64', distribution: 'fedora' }))).toBe('grub');
    expect(repo({ architecture: 'x86-64', distribution: 'fedora' }).main.origins.BiosBootloader).toMatchObject({ file: expect.stringMatching(/mkosi\.conf\.d\/x86-64\.conf$/), line: 8 });
    expect(bios(repo({ architecture: 'x86-64', distribution: 'postmarketos' }))).toBe('none');
    expect(bios(repo({ architecture: 'arm64', distribution: 'debian' }))).toBe('none');
    // The file is read (it is an input) even when its conditions fail.
    const arm = repo({ architecture: 'arm64' });
    expect(arm.main.files.some((f) => f.endsWith(path.join('mkosi.conf.d', 'x86-64.conf')))).toBe(true);
  });

  it.each(['debian', 'kali', 'ubuntu'])('adds the debian-kali-ubuntu/ packages for Distribution=%s', (distribution) => {
    const p = repo({ distribution });
    expect(p.main.config.Distribution).toBe(distribution);
    expect(p.main.config.Packages).toEqual(expect.arrayContaining(DEBIAN_PACKAGES));
    expect((p.main.config.Packages as string[]).length).toBe(9);
  });

  it('adds none of the debian-kali-ubuntu/ packages for Distribution=fedora', () => {
    const p = repo({ distribution: 'fedora' });
    expect(p.main.config.Packages).toEqual(['binutils', 'gdb', 'systemd', 'udev', 'wireless-regdb']);
    expect(p.main.origins.Packages).toEqual({ file: path.join(p.root, 'mkosi.conf'), line: 31 });
  });

  it('gives a summary JSON with paths relative to the project', () => {
    const json = JSON.parse(JSON.stringify(summaryJson(project)));
    expect(json.order).toEqual(['tools', 'default-initrd', 'mkosi-repo']);
    json.presets = json.presets.filter((p: { main: boolean }) => p.main);
    expect(json.presets[0].settings.Output).toMatchObject({ Format: 'directory', OutputDirectory: 'mkosi.output' });
    // ToolsTree=yes is a word, not a path: shown as written.
    expect(json.presets[0].settings.Build).toMatchObject({ CacheDirectory: 'mkosi.cache', Incremental: 'yes', ToolsTree: 'yes' });
    expect(summaryText(project)).toMatch(/ {26}ToolsTree: yes\n/);
    expect(json.presets[0].settings.Runtime.RAM).toBe(4294967296);
    expect(json.presets[0].settings.Include.Include).toEqual(['mkosi.vm.conf']);
    expect(json.presets[0].settings.Content.KernelCommandLine).toHaveLength(5);
  });

  it('reports a misspelled [Match] value of bootable.conf as a ConfigError at its file:line', () => {
    const root = variant(REPO);
    const file = path.join(root, 'mkosi.conf.d', 'bootable.conf');
    fs.writeFileSync(file, fs.readFileSync(file, 'utf8').replace('Format=|disk', 'Format=|dsik'));
    expect(() => load(root)).toThrow(ConfigError);
    expect(() => load(root)).toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:4: Format=: "dsik" is not a valid value`));
  });
});

describe("mkosi-initrd's mkosi.conf (inline comments, resets of unknown settings)", () => {
  const project = load(INITRD);
  const config = project.main.config;

  it('strips inline # comments after Packages= items and keeps them sorted', () => {
    expect(config.Packages).toEqual(['bash', 'gzip', 'less', 'systemd', 'udev']);
  });

  it('reads RemoveFiles= across blank and comment lines, globs untouched', () => {
    expect(config.RemoveFiles).toEqual([
      '/usr/lib/systemd/catalog',
      '/etc/udev/hwdb.d',
      '/usr/lib/udev/hwdb.d',
      '/etc/services',
      '/usr/lib/modules/*/vmlinuz*',
      '/usr/lib/modules/*/vmlinux*',
      '/usr/lib/modules/*/System.map',
      '/var/cache',
      '/var/log',
    ]);
  });

  it('reads the [Output] and [Content] values', () => {
    expect(project.main.name).toBe('initrd');
    expect(config).toMatchObject({
      Output: 'initrd',
      Format: 'cpio',
      CompressOutput: 'zstd',
      Bootable: 'disabled',
      CleanPackageMetadata: 'enabled',
      WithDocs: false,
      Locale: 'C.UTF-8',
    });
    // The Locale= after the RemoveFiles= block (and the comment before it) is a new assignment.
    expect(project.main.origins.Locale).toEqual({ file: path.join(INITRD, 'mkosi.conf'), line: 39 });
    expect(project.main.origins.WithDocs).toEqual({ file: path.join(INITRD, 'mkosi.conf'), line: 40 });
  });

  it('reads ManifestFormat= (an empty reset: no manifests), MakeInitrd=; SplitArtifacts= (known since issue 15) is reset to none', () => {
    expect(unknownSettings(project)).toEqual([]);
    expect(project.main.config.ManifestFormat).toEqual([]);
    expect(project.main.config.MakeInitrd).toBe(true);
    expect(project.main.config.SplitArtifacts).toEqual([]);
  });
});

describe("mkosi-tools' [TriggerMatch] (debian-kali-ubuntu/mkosi.conf.d/systemd-boot-tools.conf)", () => {
  it('applies in the fixture as written (debian trixie), including the drop-in directory of the drop-in directory', () => {
    const p = load(TRIGGER);
    expect(p.main.config.Packages).toEqual([...DEBIAN_PACKAGES, 'systemd-boot-tools'].sort());
    expect(p.main.origins.Packages).toEqual({
      file: path.join(TRIGGER, 'mkosi.conf.d/debian-kali-ubuntu/mkosi.conf.d/systemd-boot-tools.conf'),
      line: 17,
    });
    expect(p.warnings).toEqual([]);
  });

  it.each([
    ['debian', 'trixie', true],
    ['debian', 'testing', true],
    ['debian', 'bookworm', false],
    ['debian', 'bullseye', false],
    ['ubuntu', 'noble', false],
    ['ubuntu', 'jammy', false],
    ['ubuntu', 'plucky', true],
    ['kali', '', true], // Release= unset: kali-rolling
  ])('Distribution=%s Release=%s: systemd-boot-tools %s', (distribution, release, applies) => {
    const p = trigger(distribution, release);
    if (!release) expect(p.main.config.Release).toBe('kali-rolling');
    // The directory's own [Match] (debian|kali|ubuntu) holds in all of these cases.
    expect(p.main.config.Packages).toEqual(expect.arrayContaining(DEBIAN_PACKAGES));
    expect((p.main.config.Packages as string[]).includes('systemd-boot-tools')).toBe(applies);
  });

  it('reads nothing of the directory for Distribution=fedora (its [Match] gates the nested drop-ins too)', () => {
    const p = trigger('fedora', '42');
    expect(p.main.config.Packages).toEqual([]);
    expect(p.main.files.map((f) => path.relative(p.root, f))).toEqual(['mkosi.conf', 'mkosi.conf.d/debian-kali-ubuntu/mkosi.conf']);
  });
});
