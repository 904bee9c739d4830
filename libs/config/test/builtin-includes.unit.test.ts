/**
 * Include=mkosi-vm|mkosi-initrd|mkosi-tools|mkosi-addon|mkosi-obs read kiln's own built-in
 * configurations (src/builtin-configs.ts, resources/), compared with what mkosi 26 yields for the
 * same project (test/data/builtin-includes/*.json, recorded with mkosi 26's `summary --json`).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { BUILTIN_CONFIGS, RESOURCES_DIR } from '../src/builtin-configs';
import { summaryText } from '../src';
import { load } from './helpers';

const DATA = path.join(__dirname, 'data', 'builtin-includes');

/**
 * The package each of mkosi-initrd's regular expressions installs, by release (from Debian's
 * package lists): kiln's Packages= takes names, not expressions, so kiln's mkosi-initrd names them.
 */
const TPM_LIBRARIES: Record<string, string[]> = {
  bookworm: ['libtss2-esys-3.0.2-0', 'libtss2-mu0', 'libtss2-rc0', 'libtss2-tcti-device0'],
  trixie: ['libtss2-esys-3.0.2-0t64', 'libtss2-mu-4.0.1-0t64', 'libtss2-rc0t64', 'libtss2-tcti-device0t64'],
};

/** mkosi 26's value as kiln has it, where kiln deliberately differs (resources/README.md says why). */
const AS_KILN: Record<string, (field: string, value: unknown, release: string) => unknown> = {
  'mkosi-initrd': (field, value, release) => {
    if (field === 'ExtraTrees') return []; // mkosi-initrd's own mkosi.extra/ is not carried over
    // dpkg stays (kiln runs dpkg inside the image, where it cannot remove itself): resources/README.md.
    if (field === 'RemovePackages') return (value as string[]).filter((p) => p !== 'dpkg');
    if (field !== 'Packages') return value;
    const expressions = (value as string[]).filter((p) => p.startsWith('^'));
    // Each expression installs exactly one of the release's names.
    for (const e of expressions) expect(TPM_LIBRARIES[release].filter((n) => new RegExp(e).test(n))).toHaveLength(1);
    expect(expressions).toHaveLength(TPM_LIBRARIES[release].length);
    return [...(value as string[]).filter((p) => !p.startsWith('^')), ...TPM_LIBRARIES[release]].sort();
  },
};

function project(release: string, include: string) {
  return load({ 'mkosi.conf': `[Distribution]\nDistribution=debian\nRelease=${release}\nArchitecture=x86-64\n\n[Include]\nInclude=${include}\n` });
}

/** kiln's resolved value in the form mkosi's JSON summary writes it. */
function mkosiForm(field: string, value: unknown): unknown {
  if (field === 'ExtraTrees') return (value as { source: string; target: string | null }[]).map((t) => ({ Source: t.source, Target: t.target }));
  return value;
}

describe('built-in includes', () => {
  it('ships a directory for each of mkosi 26\'s built-in configurations', () => {
    for (const name of BUILTIN_CONFIGS) expect(fs.existsSync(path.join(RESOURCES_DIR, name, 'mkosi.conf'))).toBe(true);
  });

  const cases = fs.readdirSync(DATA).filter((f) => f.endsWith('.json')).sort();
  it.each(cases)('%s: the main image has the settings mkosi 26 gives it', (file) => {
    const recorded = JSON.parse(fs.readFileSync(path.join(DATA, file), 'utf8')) as Record<string, unknown>;
    const [, include, release] = /^(mkosi-[a-z]+)-([a-z]+)\.json$/.exec(file)!;
    const p = project(release, include);
    expect(p.warnings).toEqual([]);
    const fix = AS_KILN[include] ?? ((_f: string, v: unknown) => v);
    const fields = Object.keys(recorded).filter((k) => !k.startsWith('_') && k !== 'Images' && k !== 'Release');
    const kiln = Object.fromEntries(fields.map((f) => [f, mkosiForm(f, (p.main.config as Record<string, unknown>)[f])]));
    const mkosi = Object.fromEntries(fields.map((f) => [f, fix(f, recorded[f], release)]));
    // Lists compared as mkosi keeps them: Packages= sorted, RemoveFiles= in reading order (kiln's files list them in another order).
    for (const f of ['RemoveFiles', 'RemovePackages']) {
      (kiln[f] as string[]).sort();
      (mkosi[f] as string[]).sort();
    }
    expect(kiln).toEqual(mkosi);
    // mkosi adds the default initrd for the bootable mkosi-vm image, and so does kiln.
    expect(p.presets.map((x) => (x.main ? 'main' : x.name)).sort()).toEqual((recorded.Images as string[]).sort());
  });

  it('keeps the built-in name in Include=, as mkosi does, and reads the files from kiln\'s directory', () => {
    const p = project('bookworm', 'mkosi-vm');
    expect(p.main.config.Include).toEqual(['mkosi-vm']);
    expect(p.main.files).toContain(path.join(RESOURCES_DIR, 'mkosi-vm', 'mkosi.conf'));
  });

  it('reads a built-in configuration once per image, in the order Include= names it', () => {
    const p = load({
      'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Include]\nInclude=mkosi-vm,extra.conf\nInclude=mkosi-vm\n',
      'extra.conf': '[Content]\nBootable=no\n',
    });
    // extra.conf comes after mkosi-vm, so its Bootable=no wins; the second Include=mkosi-vm reads nothing again.
    expect(p.main.config.Bootable).toBe('disabled');
    expect(p.main.config.Include).toEqual(['mkosi-vm', path.join(p.root, 'extra.conf'), 'mkosi-vm']);
  });

  it('mkosi-obs reads (settings kiln has; mkosi 26 itself fails outside OBS, where /usr/src/packages/SOURCES is missing)', () => {
    const p = project('bookworm', 'mkosi-obs');
    expect(p.main.config).toMatchObject({ CompressOutput: 'zstd', Verity: 'defer', Incremental: 'no', ToolsTree: null, RepositoryKeyCheck: false });
  });

  it('an Include= of a path named like a built-in, but with a directory part, is a path', () => {
    const p = load({ 'mkosi.conf': '[Include]\nInclude=./mkosi-vm\n', 'mkosi-vm/mkosi.conf': '[Content]\nPackages=mine\n' });
    expect(p.main.config.Packages).toEqual(['mine']);
  });
});

describe('built-in includes in a kiln.toml project', () => {
  it('reads the built-in mkosi-syntax directory all the same', () => {
    const p = load({ 'kiln.toml': '[Distribution]\nDistribution = "debian"\nRelease = "bookworm"\nArchitecture = "x86-64"\n\n[Include]\nInclude = ["mkosi-vm"]\n' });
    const mkosi = JSON.parse(fs.readFileSync(path.join(DATA, 'mkosi-vm-bookworm.json'), 'utf8')) as { Packages: string[] };
    expect(p.main.config.Bootable).toBe('enabled');
    expect(p.main.config.Packages).toEqual(mkosi.Packages);
  });
});

describe('built-in includes in summaries', () => {
  it('show the name as written', () => {
    const p = load({ 'mkosi.conf': '[Distribution]\nDistribution=debian\nRelease=bookworm\n[Include]\nInclude=mkosi-vm\n' });
    expect(summaryText(p)).toMatch(/^ +Include: mkosi-vm$/m);
  });
});
