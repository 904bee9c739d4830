/**
 * Running the field's tools (mmdebstrap, apt, tar, zstd, bwrap, scripts). Output goes to the
 * build log; a failure becomes a BuildError naming the step and the tail of its output. Every
 * child is tied to the build's AbortSignal, so an interrupted build stops its children.
 */
import { execa, ExecaError } from 'execa';
import treeKill from 'tree-kill';
import { BuildError } from './errors';

export interface RunContext {
  /** Where tool output goes (the terminal, or nothing in quiet mode). */
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Prefix of error messages: the preset being built. */
  label?: string;
}

export interface RunOptions {
  cwd?: string;
  env?: Record<string, string | undefined>;
  /** Replace the environment instead of extending kiln's (scripts get exactly mkosi's contract). */
  extendEnv?: boolean;
  input?: string;
  /** What the step is, for the error message ("installing packages"). */
  step: string;
}

export async function run(ctx: RunContext, file: string, args: string[], opts: RunOptions): Promise<string> {
  if (ctx.signal?.aborted) throw new BuildError(`${opts.step}: interrupted`, ctx.label);
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: opts.env,
    extendEnv: opts.extendEnv ?? true,
    input: opts.input,
    all: true,
    stripFinalNewline: true,
  });
  // On abort the whole process tree goes: a script's own children (a `sleep`, a compiler) would
  // otherwise keep running, and keep the output pipes open so that nothing could finish.
  const stop = () => {
    if (child.pid === undefined) return;
    treeKill(child.pid, 'SIGTERM');
    setTimeout(() => child.pid !== undefined && child.exitCode === null && treeKill(child.pid, 'SIGKILL'), 5000).unref();
  };
  ctx.signal?.addEventListener('abort', stop, { once: true });
  try {
    child.all?.on('data', (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) if (line) ctx.log(line);
    });
    const r = await child;
    return r.stdout as string;
  } catch (e) {
    if (e instanceof ExecaError) {
      if (ctx.signal?.aborted) throw new BuildError(`${opts.step}: interrupted`, ctx.label);
      const tail = String(e.all ?? '').trim().split('\n').slice(-8).join('\n  ');
      const why = e.exitCode !== undefined ? `exit code ${e.exitCode}` : e.shortMessage;
      throw new BuildError(`${opts.step} failed (${file}: ${why})${tail ? `\n  ${tail}` : ''}`, ctx.label);
    }
    throw e;
  } finally {
    ctx.signal?.removeEventListener('abort', stop);
  }
}
