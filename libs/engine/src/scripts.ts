/**
 * PrepareScripts, BuildScripts, PostInstallationScripts and FinalizeScripts with mkosi's contract:
 * scripts run with $BUILDROOT, $SRCDIR, $DESTDIR (build scripts), $OUTPUTDIR, $ARCHITECTURE,
 * $DISTRIBUTION, $RELEASE, $PROFILES, $IMAGE_ID, $IMAGE_VERSION, $SOURCE_DATE_EPOCH and
 * Environment=. A script named *.chroot runs inside the image (bubblewrap, with the image as /,
 * the sources at /work/src, $DESTDIR at /work/dest and $OUTPUTDIR at /work/out: sandbox.ts);
 * any other script runs on the build machine with $BUILDROOT pointing at the image.
 * A chroot script cannot write the host: it runs in a user namespace of its own, without the
 * host's network unless it is a prepare script or WithNetwork= is set (sandbox.ts).
 */
import * as path from 'node:path';
import { SYSTEM_PATH } from '@kiln/config';
import { BuildError } from './errors';
import { cfg, type BuildContext } from './context';
import { run } from './exec';
import { ROOT_IN_IMAGE, runIn, type Sandbox } from './sandbox';

export type ScriptKind = 'prepare' | 'build' | 'postinst' | 'finalize';

export interface ScriptDirs {
  /** Where build scripts install their results; copied into the image afterwards. */
  destdir?: string;
  outputdir: string;
}

/** The environment a script of `kind` runs with (mkosi's script contract). */
export function contract(ctx: BuildContext, kind: ScriptKind, chroot: boolean, dirs: ScriptDirs): Record<string, string> {
  const c = ctx.preset.config;
  const inside = (host: string, where: string) => (chroot ? where : host);
  const env: Record<string, string> = {
    PATH: SYSTEM_PATH,
    HOME: '/root',
    LC_ALL: 'C.UTF-8',
    ...(cfg(ctx, 'Environment') ?? {}),
    ARCHITECTURE: String(c.Architecture),
    DISTRIBUTION: String(c.Distribution),
    RELEASE: String(c.Release),
    PROFILES: (c.Profiles as string[]).join(' '),
    IMAGE_ID: String(c.ImageId ?? ''),
    IMAGE_VERSION: String(c.ImageVersion ?? ''),
    SOURCE_DATE_EPOCH: String(ctx.sourceDateEpoch),
    BUILDROOT: inside(ctx.root, '/'),
    SRCDIR: inside(ctx.project.root, '/work/src'),
    OUTPUTDIR: inside(dirs.outputdir, '/work/out'),
    CHROOT_SCRIPT: chroot ? '1' : '',
    SCRIPT: '',
  };
  if (kind === 'build' && dirs.destdir) env.DESTDIR = inside(dirs.destdir, '/work/dest');
  // As mkosi: prepare and build scripts are told whether the build has the network (WithNetwork=),
  // whether to run tests (WithTests=) and to install documentation (WithDocs=).
  if (kind === 'prepare' || kind === 'build') {
    env.WITH_NETWORK = cfg(ctx, 'WithNetwork') ? '1' : '0';
    env.WITH_DOCS = cfg(ctx, 'WithDocs') ? '1' : '0';
    env.WITH_TESTS = cfg(ctx, 'WithTests') ? '1' : '0';
  }
  return env;
}

export async function runScripts(ctx: BuildContext, kind: ScriptKind, scripts: string[], dirs: ScriptDirs, root = ctx.root): Promise<void> {
  for (const script of scripts) {
    const name = path.relative(ctx.project.root, script) || path.basename(script);
    const chroot = script.endsWith('.chroot');
    const env = contract({ ...ctx, root }, kind, chroot, dirs);
    ctx.log(`running ${kind} script ${name}${chroot ? ' (in the image)' : ''}`);
    try {
      if (!chroot) {
        env.SCRIPT = script;
        await run(ctx, script, [], { cwd: ctx.project.root, env, extendEnv: false, step: `${kind} script ${name}` });
        continue;
      }
      const target = `/work/${path.basename(script)}`;
      env.SCRIPT = target;
      // The image as /, as root over it only: a user namespace of its own (sandbox.ts), ROOT_IN_IMAGE
      // (no mounting, no device nodes), the host's network only for prepare scripts and when
      // WithNetwork= asks for it (mkosi's rule).
      const box: Sandbox = {
        root,
        dev: 'minimal',
        env,
        cwd: '/work/src',
        caps: ROOT_IN_IMAGE,
        userns: 'identity',
        net: kind === 'prepare' || cfg(ctx, 'WithNetwork'),
        mounts: [
          { type: 'ro-bind', source: '/etc/resolv.conf', target: '/run/kiln-resolv.conf', optional: true },
          { type: 'ro-bind', source: ctx.project.root, target: '/work/src' },
          { type: 'bind', source: dirs.outputdir, target: '/work/out' },
          ...(kind === 'build' && dirs.destdir ? [{ type: 'bind' as const, source: dirs.destdir, target: '/work/dest' }] : []),
          { type: 'ro-bind', source: script, target },
        ],
      };
      await runIn(ctx, box, [target], { step: `${kind} script ${name}` });
    } catch (e) {
      if (e instanceof BuildError) throw e;
      throw new BuildError(`${kind} script ${name} could not run: ${(e as Error).message}`, ctx.preset.name);
    }
  }
}
