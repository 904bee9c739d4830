/**
 * Running the field's tools (mmdebstrap, apt, tar, zstd, bwrap, scripts). Output goes to the
 * build log; a failure becomes a BuildError naming the step and the tail of its output. Every
 * child is tied to the build's AbortSignal, so an interrupted build stops its children.
 *
 * Tools never see kiln's own environment: they get toolEnv(), so nothing of the builder's
 * environment reaches an image except what the configuration passes on. Long steps report how
 * far they are through reportProgress(), at a fixed interval.
 */
import type { Duplex } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { toolPath } from '@kiln/config';
import { execa, ExecaError } from 'execa';
import treeKill from 'tree-kill';
import { BuildError } from './errors';

export interface RunContext {
  /** Where tool output goes (the terminal, or nothing in quiet mode). */
  log: (line: string) => void;
  signal?: AbortSignal;
  /** Prefix of error messages: the preset being built. */
  label?: string;
  /** A line the user should see even without tool output: where progress lines go. */
  note?: (what: string) => void;
}

export interface RunOptions {
  cwd?: string;
  /** Laid over toolEnv(); an undefined value removes a variable. */
  env?: Record<string, string | undefined>;
  /** false: `env` is the whole environment, not laid over toolEnv() (scripts get exactly mkosi's contract). */
  extendEnv?: boolean;
  input?: string;
  /** What the step is, for the error message ("installing packages"). */
  step: string;
  /** Called with every line of the tool's output (stdout and stderr), whether or not the log shows it. */
  onLine?: (line: string) => void;
  /** How far the tool is, asked at the progress interval while it runs; a changed answer is shown as a note. */
  progress?: () => string | undefined;
  /** The program an error message names (default `file`): the tool a sandbox runs, not bwrap. */
  program?: string;
  /**
   * Extra pipes the child gets as descriptors 3, 4, ... and what kiln does with their ends once
   * it runs (sandbox.ts: bwrap waits on one for its user namespace's id map, which kiln writes).
   * A rejection stops the child and fails the step with its message.
   */
  pipes?: { count: number; spawned: (ends: Duplex[], pid: number) => Promise<void> };
}

/**
 * How kiln starts bash: never reading the user's (or root's) start-up files, whatever the stdin.
 * `run(ctx, 'bash', [...BASH, '-c', script, ...])`.
 */
export const BASH = ['--noprofile', '--norc'] as const;

/** Proxies are how this machine reaches the mirror; they change no byte of what is fetched (apt checks signatures). */
const PROXIES = ['http_proxy', 'https_proxy', 'ftp_proxy', 'no_proxy', 'all_proxy'].flatMap((v) => [v, v.toUpperCase()]);

/**
 * The environment every tool starts from. PATH is the fixed tools' PATH (toolPath: the system
 * directories, after KILN_TOOLS_PATH when set), never the builder's: a tool is found where the
 * fingerprint looked for it, and what it runs in turn (mmdebstrap's `#!/usr/bin/env python3`
 * filters) does not go through a version manager's shims. Kept from the host: the proxy
 * variables. Fixed: the C.UTF-8 locale (untranslated, stable output that kiln parses, byte-wise
 * sorting), TZ=UTC, and HOME=/root: kiln builds as root, /root is root's home on the host and in
 * the image (maintainer scripts chrooted into the image see the image's own), and it is what
 * mkosi gives scripts. Everything else is dropped, so that TAR_OPTIONS, ZSTD_CLEVEL, XZ_OPT,
 * GZIP, DPKG_*, APT_CONFIG, LANG, SOURCE_DATE_EPOCH and whatever a tool reads next year cannot
 * change an image; callers pass what a tool needs (run's `env`).
 * TMPDIR is dropped too: no tool here writes large temporary files (downloads go to the package
 * cache, images to the work directory), and a host path in it is meaningless to dpkg and to
 * maintainer scripts chrooted into the image (mmdebstrap unsets it for the same reason).
 */
export function toolEnv(host: Record<string, string | undefined> = process.env): Record<string, string> {
  const kept = Object.fromEntries(PROXIES.filter((v) => host[v]).map((v) => [v, host[v] as string]));
  return { ...kept, PATH: toolPath(host), LC_ALL: 'C.UTF-8', TZ: 'UTC', HOME: '/root' };
}

function childEnv(opts: RunOptions): Record<string, string> {
  const env = opts.extendEnv === false ? (opts.env ?? {}) : { ...toolEnv(), ...opts.env };
  return Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
}

/** Calls `each` with every complete line of a stream of chunks: a line split across chunks comes whole. */
function lineSplitter(each: (line: string) => void) {
  const decoder = new StringDecoder('utf8');
  let rest = '';
  const emit = (line: string) => {
    const l = line.replace(/\r$/, '');
    if (l) each(l);
  };
  return {
    write(chunk: Buffer | string) {
      const lines = (rest + (typeof chunk === 'string' ? chunk : decoder.write(chunk))).split('\n');
      rest = lines.pop() ?? '';
      lines.forEach(emit);
    },
    end() {
      emit(rest + decoder.end());
      rest = '';
    },
  };
}

export async function run(ctx: RunContext, file: string, args: string[], opts: RunOptions): Promise<string> {
  if (ctx.signal?.aborted) throw new BuildError(`${opts.step}: interrupted`, ctx.label);
  const child = execa(file, args, {
    cwd: opts.cwd,
    env: childEnv(opts),
    extendEnv: false,
    // stdin is /dev/null unless input is passed: a pipe from node is a socket, and bash run with
    // a socket as stdin assumes rshd started it and sources ~/.bashrc (even with -c).
    // Extra pipes need the whole stdio array, where stdin is given the same way.
    ...(opts.pipes
      ? { stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe', ...Array<'pipe'>(opts.pipes.count).fill('pipe')] }
      : opts.input === undefined
        ? { stdin: 'ignore' as const }
        : {}),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
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
  const lines = lineSplitter((line) => {
    ctx.log(line);
    opts.onLine?.(line);
  });
  const stopProgress = opts.progress && ctx.note ? reportProgress(opts.progress, ctx.note) : undefined;
  let setup: Error | undefined;
  if (opts.pipes && child.pid !== undefined) {
    const ends = child.stdio.slice(3) as Duplex[];
    opts.pipes.spawned(ends, child.pid).catch((e: Error) => {
      setup = e;
      stop();
    }).finally(() => ends.forEach((s) => s.destroy()));
  }
  try {
    child.all?.on('data', (chunk: Buffer) => lines.write(chunk));
    const r = await child;
    return r.stdout as string;
  } catch (e) {
    if (setup) throw new BuildError(`${opts.step} failed (${opts.program ?? file}: ${setup.message})`, ctx.label);
    if (e instanceof ExecaError) {
      if (ctx.signal?.aborted) throw new BuildError(`${opts.step}: interrupted`, ctx.label);
      const tail = String(e.all ?? '').trim().split('\n').slice(-8).join('\n  ');
      const why = e.exitCode !== undefined ? `exit code ${e.exitCode}` : e.shortMessage;
      throw new BuildError(`${opts.step} failed (${opts.program ?? file}: ${why})${tail ? `\n  ${tail}` : ''}`, ctx.label);
    }
    throw e;
  } finally {
    lines.end();
    stopProgress?.();
    ctx.signal?.removeEventListener('abort', stop);
  }
}

/** Calls `tick` every `ms` milliseconds until the returned function is called. */
export type Ticker = (ms: number, tick: () => void) => () => void;

/** Real timers, unref()ed: a progress report never keeps the process alive. */
export const timerTicker: Ticker = (ms, tick) => {
  const timer = setInterval(tick, ms);
  timer.unref();
  return () => clearInterval(timer);
};

/**
 * Milliseconds between progress lines: 10 s, so that Nx's static output (which shows nothing
 * else of a running task) moves at least that often without flooding a log. KILN_PROGRESS_INTERVAL
 * (seconds) changes it: builds too short for 10 s can then show their progress (tests do).
 */
export function progressInterval(env: Record<string, string | undefined> = process.env): number {
  const seconds = Number(env.KILN_PROGRESS_INTERVAL);
  return seconds > 0 ? seconds * 1000 : 10_000;
}

export interface ProgressOptions {
  intervalMs?: number;
  ticker?: Ticker;
}

/**
 * A throttled progress line for a long step: at each interval, `status` says how far the step is,
 * and `emit` gets it when it changed since the last line. So a step that moves shows a line every
 * interval, one that does not (or is shorter than the interval) shows none, and lines never come
 * more often. Returns the function that stops it, which the step calls when it ends.
 */
export function reportProgress(status: () => string | undefined, emit: (line: string) => void, opts: ProgressOptions = {}): () => void {
  let last: string | undefined;
  return (opts.ticker ?? timerTicker)(opts.intervalMs ?? progressInterval(), () => {
    let now: string | undefined;
    try {
      now = status();
    } catch {
      return; // a progress line is never worth failing a build (a file not written yet, say)
    }
    if (now && now !== last) emit((last = now));
  });
}
