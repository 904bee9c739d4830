#!/usr/bin/env node
/**
 * The kiln command line. Each command is a small module; this file wires them to commander and
 * turns configuration errors into `file:line: message` on stderr with exit code 1 (never a stack).
 */
import { Command, Option } from 'commander';
import { ConfigError, loadProject, type Override } from '@kiln/config';
import { BuildError, clean } from '@kiln/engine';
import { buildCommand } from './commands/build';
import { digestCommand } from './commands/digest';
import { explainCommand } from './commands/explain';
import { lockCommand } from './commands/lock';
import { OverrideError, OVERRIDES_HELP, takeOverrides } from './overrides';
import { reportError } from './report';
import { attachToParent, needsNamespace, RootlessError, runInNamespace } from './rootless';
import { schemaCommand } from './commands/schema';
import { summaryCommand } from './commands/summary';
import { verifyCommand } from './commands/verify';
import { vmCommand } from './commands/vm';
import { checkCommand, digestsCommand, turboCommand } from './commands/turbo';
import { version } from './version';
import { runScript } from './config-scripts';

/** Every command reads a project: -C DIR, as in mkosi. */
const DIRECTORY = ['-C, --directory <dir>', 'project directory (holding mkosi.conf or kiln.toml)', '.'] as const;

/**
 * The commands; `overrides` are the settings given on the command line (overrides.ts), which every
 * command that reads the project applies.
 */
export function program(overrides: readonly Override[] = []): Command {
  const cli = new Command('kiln')
    .description('Build bespoke OS images from mkosi projects and kiln.toml presets, as cacheable Nx targets')
    .version(version)
    .showHelpAfterError()
    .configureOutput({ outputError: (str, write) => write(str) });

  cli
    .command('summary')
    .description('show every preset in build order with its resolved settings and dependencies')
    .option(...DIRECTORY)
    .addOption(new Option('--json [form]', "print JSON instead of text: kiln's own form, or --json=mkosi for mkosi 26's `--json summary` shape").choices(['mkosi']))
    .addHelpText('after', OVERRIDES_HELP)
    .action((opts) => summaryCommand({ ...opts, overrides }));

  cli
    .command('build')
    .description('build a preset (default: the main image) after the presets it depends on')
    .option(...DIRECTORY)
    .option('-p, --preset <name>', 'the preset to build (default: the main image)')
    .option('-f, --force', 'rebuild the preset even when its outputs exist')
    .option('--no-deps', 'build only this preset, not the presets it depends on (Nx orders them itself)')
    .option('--relock', "resolve and rewrite each built preset's kiln.lock first, instead of refusing a stale one")
    .option('-v, --verbose', "show the tools' output")
    .addHelpText('after', OVERRIDES_HELP)
    .action((opts) => buildCommand({ ...opts, overrides }));

  cli
    .command('lock')
    .description("resolve each preset's packages (exact versions and checksums) into its kiln.lock")
    .option(...DIRECTORY)
    .option('-p, --preset <name>', 'only this preset (and the presets it is built on that have no lock)')
    .option('-v, --verbose', "show the tools' output")
    .addHelpText('after', OVERRIDES_HELP)
    .action((opts) => lockCommand({ ...opts, overrides }));

  cli
    .command('clean')
    .description("remove a preset's outputs (default: every preset's)")
    .option(...DIRECTORY)
    .option('-p, --preset <name>', 'only this preset')
    .option('--all', 'also remove its incremental layers and its package cache (downloaded packages)')
    .addHelpText('after', OVERRIDES_HELP)
    .action(async (opts) => {
      // A build of the preset (or using the package cache, with --all) is waited for: its locks.
      const removed = await clean(loadProject(opts.directory, { runScript, overrides }), opts.preset, { all: opts.all, note: (line) => process.stderr.write(`${line}\n`) });
      for (const r of removed) process.stdout.write(`removed ${r}\n`);
    });

  cli
    .command('digest')
    .description("fingerprint of a preset's input trees and settings (what its Nx target hashes)")
    .option(...DIRECTORY)
    .option('-p, --preset <name>', 'the preset (default: the main image)')
    .option('--list', 'list what goes into the fingerprint')
    .option('--json', 'the preset\'s inputs as JSON')
    .addHelpText('after', OVERRIDES_HELP)
    .action((opts) => digestCommand({ ...opts, overrides }));

  cli
    .command('explain')
    .description("what changed in a preset's inputs since its last build (why it rebuilds), from the build's manifest")
    .option(...DIRECTORY)
    .option('-p, --preset <name>', 'the preset (default: the main image)')
    .option('--json', 'print JSON instead of text')
    .option('--against <manifest>', 'compare with this manifest (from a remote cache or CI) instead of the last build here')
    .addHelpText('after', OVERRIDES_HELP)
    .action((opts) => explainCommand({ ...opts, overrides }));

  cli
    .command('verify')
    .description("check each preset's outputs (e.g. restored from a cache) against its build manifest, and its signature with KILN_ALLOWED_SIGNERS")
    .option(...DIRECTORY)
    .option('-p, --preset <name>', 'only this preset')
    .addHelpText('after', OVERRIDES_HELP)
    .action((opts) => verifyCommand({ ...opts, overrides }));

  cli
    .command('vm')
    .description('boot a built preset in qemu (OVMF, or direct kernel boot) with its serial console on the terminal; arguments after -- go to qemu')
    .option(...DIRECTORY)
    .option('-p, --preset <name>', 'the preset to boot (default: the main image)')
    .argument('[qemu-args...]', 'extra qemu arguments (after --)')
    .addHelpText('after', OVERRIDES_HELP)
    .action((qemuArgs: string[], opts) => vmCommand({ ...opts, overrides }, qemuArgs));

  // Turborepo has no plugin API: kiln writes a package per preset (turbo.ts says why and how).
  const turbo = cli
    .command('turbo')
    .description('write a Turborepo package per preset of DIR (and merge turbo.json, package.json); run from the workspace root')
    .option(...DIRECTORY)
    .action((opts) => turboCommand(opts));
  turbo
    .command('digests')
    .description("write every kiln.turbo package's kiln.digest (the fingerprint turbo hashes): run before `turbo run image`")
    .action(() => digestsCommand());
  turbo
    .command('check')
    .description("in a kiln.turbo package: fail unless its kiln.digest is the preset's fingerprint now (its build script runs it)")
    .action(() => checkCommand());

  cli
    .command('schema')
    .description('print the JSON Schema of kiln.toml (generated from the settings table)')
    .action(() => schemaCommand());

  return cli;
}

export async function main(argv: string[]): Promise<number> {
  // An ordinary user's build, lock and clean run as root in a user namespace (rootless.ts).
  if (needsNamespace(argv)) {
    try {
      return await runInNamespace(argv);
    } catch (e) {
      if (!(e instanceof RootlessError)) throw e;
      process.stderr.write(`kiln: ${e.message}\n`);
      return 1;
    }
  }
  attachToParent();
  try {
    // The settings are taken out first (after the command name: `kiln --help` stays commander's).
    const { rest, overrides } = takeOverrides(argv.slice(3));
    await program(overrides)
      .exitOverride()
      .parseAsync([...argv.slice(0, 3), ...rest]);
    // A command may have set its own exit code (kiln digest --preset with an unknown name).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof OverrideError) {
      process.stderr.write(`kiln: ${e.message}\n`);
      return 1;
    }
    if (e instanceof ConfigError) {
      reportError(e);
      return 1;
    }
    if (e instanceof BuildError) {
      process.stderr.write(`kiln: ${e.message}\n`);
      return process.exitCode === 130 ? 130 : 1;
    }
    const code = (e as { code?: string; exitCode?: number }).code;
    if (typeof code === 'string' && code.startsWith('commander.')) {
      return code === 'commander.helpDisplayed' || code === 'commander.version' ? 0 : (e as { exitCode: number }).exitCode;
    }
    throw e;
  }
}

if (require.main === module) {
  main(process.argv).then((code) => {
    process.exitCode = code;
  });
}
