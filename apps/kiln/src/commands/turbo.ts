import * as fs from 'node:fs';
import * as path from 'node:path';
import { fingerprint, FingerprintError, isFactsError, projectFacts, type ProjectFacts } from '@kiln/config';
import { writeFileAtomic } from '@kiln/engine/dist/fsutil';
import { runScript } from '../config-scripts';
import { DIGEST_FILE, planTurbo, presetFiles, readKilnField, TURBO_DIR, TurboError, type KilnPackageField, type WorkspaceView } from '../turbo';
import { buildIdentity } from '../version';

/**
 * `kiln turbo`: Turborepo support (see ../turbo.ts for why it is made this way).
 *   kiln turbo -C DIR     writes the preset packages of DIR and merges turbo.json, package.json
 *   kiln turbo digests    writes every package's kiln.digest (before `turbo run image`)
 *   kiln turbo check      in a package: fails unless its kiln.digest is the fingerprint now
 * Each fails with a one-line message (exit 1) and writes nothing then.
 */

function fail(message: string): void {
  process.stderr.write(`kiln: ${message}\n`);
  process.exitCode = 1;
}

function facts(dir: string): ProjectFacts {
  const f = projectFacts(dir, { runScript });
  if (isFactsError(f)) throw new TurboError(f.error.message);
  return f;
}

function fsView(root: string): WorkspaceView {
  return {
    read: (rel) => {
      try {
        return fs.readFileSync(path.join(root, rel), 'utf8');
      } catch {
        return undefined;
      }
    },
    list: (rel) => {
      try {
        return fs.readdirSync(path.join(root, rel), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
      } catch {
        return [];
      }
    },
  };
}

function guard(run: () => void): void {
  try {
    run();
  } catch (e) {
    if (e instanceof TurboError || e instanceof FingerprintError) fail(e.message);
    else throw e;
  }
}

/** `kiln turbo -C DIR`, from the workspace root. Everything is computed before anything is written. */
export function turboCommand(opts: { directory: string }): void {
  guard(() => {
    const root = process.cwd();
    const plan = planTurbo(facts(path.resolve(root, opts.directory)), root, fsView(root));
    for (const [rel, text] of plan.write) {
      const file = path.join(root, rel);
      if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === text) continue;
      writeFileAtomic(file, text);
      process.stdout.write(`wrote ${rel}\n`);
    }
    for (const rel of plan.remove) {
      fs.rmSync(path.join(root, rel), { recursive: true, force: true });
      process.stdout.write(`removed ${rel}\n`);
    }
  });
}

interface Package {
  dir: string;
  field: KilnPackageField;
}

function packages(root: string): Package[] {
  const view = fsView(root);
  return view
    .list(TURBO_DIR)
    .sort()
    .flatMap((name) => {
      const field = readKilnField(view.read(`${TURBO_DIR}/${name}/package.json`));
      return field ? [{ dir: `${TURBO_DIR}/${name}`, field }] : [];
    });
}

/**
 * The fingerprint of a package's preset, after checking that its files are still what
 * `kiln turbo` writes for the configuration now: a changed Format=, Dependencies= or preset list
 * (a gitignored mkosi.local.conf included) changes the outputs or order turbo must know of.
 */
function currentDigest(root: string, pkg: Package, cache: Map<string, ProjectFacts>): string {
  const dir = path.resolve(root, pkg.field.directory);
  if (!cache.has(dir)) cache.set(dir, facts(dir));
  const f = cache.get(dir)!;
  const preset = f.presets.find((p) => p.name === pkg.field.preset);
  const regenerate = `run \`kiln turbo -C ${pkg.field.directory}\` and commit what it writes`;
  if (!preset) throw new TurboError(`${pkg.dir}/package.json:1: preset ${pkg.field.preset} is no longer in ${pkg.field.directory}; ${regenerate}`);
  for (const [file, text] of Object.entries(presetFiles(f, preset, pkg.field.directory, root))) {
    const now = fsView(root).read(`${pkg.dir}/${file}`);
    if (now !== text) throw new TurboError(`${pkg.dir}/${file}:1: out of date with the configuration of ${pkg.field.directory}; ${regenerate}`);
  }
  return fingerprint(dir, pkg.field.preset, { identity: buildIdentity(), runScript });
}

/** `kiln turbo digests`, from the workspace root: every kiln.digest, all computed before any is written. */
export function digestsCommand(): void {
  guard(() => {
    const root = process.cwd();
    const cache = new Map<string, ProjectFacts>();
    const all = packages(root);
    if (!all.length) throw new TurboError(`no ${TURBO_DIR}/*/package.json here: run kiln turbo digests from the workspace root, after kiln turbo -C DIR`);
    const digests = all.map((pkg) => [pkg, currentDigest(root, pkg, cache)] as const);
    for (const [pkg, digest] of digests) {
      const file = path.join(root, pkg.dir, DIGEST_FILE);
      if (fsView(root).read(`${pkg.dir}/${DIGEST_FILE}`) !== `${digest}\n`) writeFileAtomic(file, `${digest}\n`);
    }
  });
}

/** `kiln turbo check`, in a package's directory (its build script runs it before building). */
export function checkCommand(): void {
  guard(() => {
    const here = process.cwd();
    const field = readKilnField(fsView(here).read('package.json'));
    if (!field) throw new TurboError(`${path.join(here, 'package.json')}: not a package written by kiln turbo`);
    const root = path.resolve(here, '..', '..');
    const pkg = { dir: path.relative(root, here), field };
    const written = fsView(here).read(DIGEST_FILE)?.trim();
    const now = currentDigest(root, pkg, new Map());
    if (written !== now) {
      throw new TurboError(
        `${pkg.dir}/${DIGEST_FILE}: ${written ? 'not the fingerprint of the inputs now' : 'missing'}: turbo hashed a stale fingerprint; run \`kiln turbo digests\` before \`turbo run\` (the root script \`npm run image\` does)`,
      );
    }
  });
}
