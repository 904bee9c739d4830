/**
 * Value kinds: how one setting's text is parsed, what the parsed value looks like (zod), how it is
 * written in kiln.toml (zod, for the JSON Schema), and how it is shown. The settings table picks a
 * kind per setting; every parser and schema in kiln is derived from these.
 */
import * as probe from './probe';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { ValueError } from './errors';

export interface ParseContext {
  /** Directory of the file being read: relative paths are relative to it, as in mkosi. */
  dir: string;
  /** Expands `%x` specifiers with the values known at this point of the reading. */
  expand(text: string): string;
  /** The environment Environment= pass-through reads (process.env unless a test gives another). */
  env: Record<string, string | undefined>;
}

export interface ShowContext {
  /** Paths are shown relative to the project root so the summary is the same on every machine. */
  root: string;
}

export interface Kind<T> {
  /** Short type name for docs and the summary's --help. */
  readonly type: string;
  /** Lists append on every assignment; `Key=` empties them. Single values: last one wins. */
  readonly list: boolean;
  /** Parses one assignment's text (already stripped). Lists return the items to append. */
  parse(raw: string, ctx: ParseContext): T;
  /** Parses one TOML array element (lists) or a whole TOML scalar: no splitting on whitespace. */
  parseItem?(raw: string, ctx: ParseContext): T;
  /** Lists: the value before any assignment, and how a later assignment adds to an earlier one. */
  empty?(): T;
  merge?(old: T, add: T): T;
  /** The parsed value's schema (the zod model). */
  readonly schema: z.ZodType<T>;
  /** What kiln.toml accepts for this setting (drives the generated JSON Schema). */
  readonly toml: z.ZodType;
  /** Human text for `kiln summary`. */
  show(v: T, ctx: ShowContext): string;
  /** JSON for `kiln summary --json` (paths relative to the root). */
  json(v: T, ctx: ShowContext): unknown;
  /** Says what is accepted, for error messages. */
  readonly accepted?: string;
}

// ---------------------------------------------------------------------------------------------
// Scalars

const TRUE = ['1', 'true', 'yes', 'y', 't', 'on', 'always'];
const FALSE = ['0', 'false', 'no', 'n', 'f', 'off', 'never'];

/** mkosi's (and systemd's) boolean words; case-insensitive. */
export function parseBoolean(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (TRUE.includes(v)) return true;
  if (FALSE.includes(v)) return false;
  throw new ValueError(`"${raw}" is not a boolean (accepted: ${TRUE.join(' ')} / ${FALSE.join(' ')})`);
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Sizes as mkosi reads them: K, M, G, T are 1024-based, fractions allowed, rounded up to 4096. */
export function parseSize(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(raw);
  if (!m) throw new ValueError(`"${raw}" is not a size (accepted: a number with an optional K, M, G or T suffix, e.g. 512M or 1.5G)`);
  const bytes = Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()];
  return Math.ceil(bytes / 4096) * 4096;
}

function formatSize(n: number): string {
  for (const [u, f] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  }
  return String(n);
}

const showPlain = (v: unknown) => (v === null || v === undefined ? '(none)' : String(v));

export function text(opts: { pattern?: RegExp; hint?: string } = {}): Kind<string> {
  return {
    type: 'string',
    list: false,
    parse(raw, ctx) {
      const v = ctx.expand(raw);
      if (opts.pattern && !opts.pattern.test(v)) throw new ValueError(`"${v}" is not valid (accepted: ${opts.hint})`);
      return v;
    },
    schema: z.string(),
    toml: z.string(),
    show: showPlain,
    json: (v) => v,
    accepted: opts.hint,
  };
}

export function boolean(): Kind<boolean> {
  return {
    type: 'boolean',
    list: false,
    parse: (raw) => parseBoolean(raw),
    schema: z.boolean(),
    toml: z.union([z.boolean(), z.enum([...TRUE, ...FALSE])]),
    show: (v) => (v ? 'yes' : 'no'),
    json: (v) => v,
    accepted: 'yes/no',
  };
}

/** An enumeration. `aliases` maps extra spellings (mkosi's older names) onto canonical values. */
export function choice<const V extends string>(values: readonly V[], aliases: Record<string, V> = {}): Kind<V> {
  const accepted = values.join(', ');
  return {
    type: 'choice',
    list: false,
    parse(raw, ctx) {
      const v = ctx.expand(raw).trim();
      if ((values as readonly string[]).includes(v)) return v as V;
      if (v in aliases) return aliases[v];
      throw new ValueError(`"${v}" is not a valid value (accepted: ${accepted})`);
    },
    schema: z.enum(values as unknown as [V, ...V[]]),
    toml: z.enum([...values, ...Object.keys(aliases)] as [string, ...string[]]),
    show: showPlain,
    json: (v) => v,
    accepted,
  };
}

/** systemd's tri-state feature: yes/no/auto. */
export function feature(): Kind<'enabled' | 'disabled' | 'auto'> {
  return {
    type: 'feature',
    list: false,
    parse(raw) {
      if (raw.trim().toLowerCase() === 'auto') return 'auto';
      try {
        return parseBoolean(raw) ? 'enabled' : 'disabled';
      } catch {
        throw new ValueError(`"${raw}" is not valid (accepted: yes, no, auto)`);
      }
    },
    schema: z.enum(['enabled', 'disabled', 'auto']),
    toml: z.union([z.boolean(), z.enum(['auto', ...TRUE, ...FALSE])]),
    show: showPlain,
    json: (v) => v,
    accepted: 'yes, no, auto',
  };
}

export function integer(opts: { min?: number; max?: number } = {}): Kind<number> {
  const { min = -Infinity, max = Infinity } = opts;
  const hint = `an integer${min > -Infinity ? ` from ${min}` : ''}${max < Infinity ? ` to ${max}` : ''}`;
  return {
    type: 'integer',
    list: false,
    parse(raw) {
      const v = raw.trim();
      if (!/^-?\d+$/.test(v) || Number(v) < min || Number(v) > max) {
        throw new ValueError(`"${raw}" is not valid (accepted: ${hint})`);
      }
      return Number(v);
    },
    schema: z.number().int(),
    toml: z.union([z.number().int(), z.string()]),
    show: showPlain,
    json: (v) => v,
    accepted: hint,
  };
}

export function size(): Kind<number> {
  return {
    type: 'size',
    list: false,
    parse: (raw) => parseSize(raw),
    schema: z.number().int().nonnegative(),
    toml: z.union([z.number().int().nonnegative(), z.string()]),
    show: (v) => formatSize(v),
    json: (v) => v,
    accepted: 'a size such as 512M or 1.5G',
  };
}

export interface PathOptions {
  /** The path must exist when the config is read (mkosi's required=True). */
  required?: boolean;
  /** Words taken literally instead of as paths (ToolsTree=default). */
  constants?: readonly string[];
}

/**
 * A path. Relative ones are relative to the config directory being read (the directory holding
 * mkosi.conf, also for its mkosi.conf.d/ drop-ins; %C gives the file's own directory). Stored absolute.
 */
export function pathValue(opts: PathOptions = {}): Kind<string> {
  const item = pathItem(opts);
  // Constants (ToolsTree=default) are words, not paths: shown as written.
  const shown = (v: string, c: ShowContext) => (opts.constants?.includes(v) ? v : relPath(v, c));
  return {
    type: 'path',
    list: false,
    parse: item,
    schema: z.string(),
    toml: z.string(),
    show: shown,
    json: shown,
  };
}

export function resolvePath(raw: string, ctx: ParseContext): string {
  const v = ctx.expand(raw.trim());
  if (v.includes('\0')) throw new ValueError(`"${raw}" is not a valid path`);
  if (v === '~' || v.startsWith('~/')) return path.join(os.homedir(), v.slice(1));
  return path.resolve(ctx.dir, v);
}

function pathItem(opts: PathOptions): (raw: string, ctx: ParseContext) => string {
  return (raw, ctx) => {
    if (opts.constants?.includes(raw.trim())) return raw.trim();
    const p = resolvePath(raw, ctx);
    if (opts.required && !probe.exists(p)) {
      throw new ValueError(`${p} does not exist (create it, or fix the path: relative paths are relative to ${ctx.dir})`);
    }
    return p;
  };
}

export function relPath(p: string, c: ShowContext): string {
  const r = path.relative(c.root, p);
  return r === '' ? '.' : r.split(path.sep).join('/');
}

// ---------------------------------------------------------------------------------------------
// Lists

/** Splits a list assignment on whitespace and commas, as mkosi does for most list settings. */
export function splitList(raw: string): string[] {
  return raw.split(/[\s,]+/).filter(Boolean);
}

function listOf<T>(
  type: string,
  item: (raw: string, ctx: ParseContext) => T,
  itemSchema: z.ZodType<T>,
  opts: { split?: (raw: string) => string[]; show?: (v: T, c: ShowContext) => string; json?: (v: T, c: ShowContext) => unknown; accepted?: string } = {},
): Kind<T[]> {
  const split = opts.split ?? splitList;
  const show = opts.show ?? ((v: T) => String(v));
  const json = opts.json ?? ((v: T) => v);
  return {
    type,
    list: true,
    parse: (raw, ctx) => split(raw).map((r) => item(r, ctx)),
    parseItem: (raw, ctx) => [item(raw, ctx)],
    empty: () => [],
    merge: (old, add) => [...old, ...add],
    schema: z.array(itemSchema),
    toml: z.union([z.array(z.string()), z.string()]),
    show: (v, c) => (v.length ? v.map((x) => show(x, c)).join('\n') : '(none)'),
    json: (v, c) => v.map((x) => json(x, c)),
    accepted: opts.accepted,
  };
}

/**
 * mkosi keeps Packages= sorted (package_sort_key): plain names, then paths to package files, then
 * "(conditional)" entries, each group alphabetically. Sorting also makes the order of drop-ins
 * irrelevant to the cache key.
 */
export function packageOrder(a: string, b: string): number {
  const group = (p: string) => (p.startsWith('(') ? 2 : p.startsWith('/') ? 1 : 0);
  return group(a) - group(b) || (a < b ? -1 : a > b ? 1 : 0);
}

export function stringList(opts: { pattern?: RegExp; hint?: string; sort?: (a: string, b: string) => number } = {}): Kind<string[]> {
  const kind = listOf(
    'list',
    (raw, ctx) => {
      const v = ctx.expand(raw);
      if (opts.pattern && !opts.pattern.test(v)) throw new ValueError(`"${v}" is not valid (accepted: ${opts.hint})`);
      return v;
    },
    z.string(),
    { accepted: opts.hint },
  );
  if (!opts.sort) return kind;
  const sort = opts.sort;
  return { ...kind, merge: (old, add) => [...new Set([...old, ...add])].sort(sort) };
}

/** A list whose items may contain commas: split on whitespace only (KernelCommandLine=). */
export function spaceList(): Kind<string[]> {
  return listOf('space-separated list', (raw, ctx) => ctx.expand(raw), z.string(), { split: (r) => r.split(/\s+/).filter(Boolean) });
}

export function pathList(opts: PathOptions = {}): Kind<string[]> {
  return listOf('list of paths', pathItem(opts), z.string(), { show: relPath, json: relPath });
}

/**
 * Scripts: each item is a path or a glob, relative to the config directory; globs expand sorted.
 * mkosi silently drops a literal path that does not exist; kiln refuses it, since a typo there
 * would quietly build an image without the script.
 */
export function scriptList(): Kind<string[]> {
  const item = (raw: string, ctx: ParseContext): string[] => {
    const v = ctx.expand(raw.trim());
    // fast-glob is loaded only here: reading a config must stay quick (the Nx graph reads many).
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const fg = require('fast-glob') as typeof import('fast-glob');
    if (fg.isDynamicPattern(v)) return probe.expandGlob(path.isAbsolute(v) ? '/' : ctx.dir, v);
    return [pathItem({ required: true })(v, ctx)];
  };
  return {
    ...pathList(),
    type: 'list of scripts',
    parse: (raw, ctx) => splitList(raw).flatMap((r) => item(r, ctx)),
    parseItem: item,
  };
}

/** `SOURCE[:TARGET]`: a directory or archive to copy into the image, at TARGET (absolute). */
export interface Tree {
  source: string;
  target: string | null;
}

/** SOURCE[:TARGET], split at the first colon as mkosi does; TARGET must be absolute. */
export function parseTree(raw: string, ctx: ParseContext, required = false): Tree {
  const v = ctx.expand(raw.trim());
  const i = v.indexOf(':');
  const [src, target] = i > 0 ? [v.slice(0, i), v.slice(i + 1)] : [v, null];
  if (!src) throw new ValueError(`"${raw}" has no source (accepted: SOURCE[:TARGET])`);
  if (target !== null && !target.startsWith('/')) {
    throw new ValueError(`target "${target}" in "${raw}" must be an absolute path inside the image (accepted: SOURCE[:/TARGET])`);
  }
  if (target !== null && target.split('/').includes('..')) {
    throw new ValueError(`target "${target}" in "${raw}" must not contain ".." (it would escape the image)`);
  }
  const source = pathItem({ required })(src, { ...ctx, expand: (t) => t });
  return { source, target: target === null ? null : path.posix.normalize(target) };
}

const showTree = (t: Tree, c: ShowContext) => relPath(t.source, c) + (t.target ? `:${t.target}` : '');

export function treeList(opts: { required?: boolean } = {}): Kind<Tree[]> {
  return listOf('list of trees', (raw, ctx) => parseTree(raw, ctx, opts.required), z.object({ source: z.string(), target: z.string().nullable() }), {
    show: showTree,
    json: (t, c) => ({ source: relPath(t.source, c), target: t.target }),
    accepted: 'SOURCE[:TARGET]',
  });
}

// ---------------------------------------------------------------------------------------------
// Environment=: KEY=VALUE pairs; a bare KEY passes the variable through from kiln's environment.

export type EnvMap = Record<string, string>;

const ENV_KEY = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function environment(): Kind<EnvMap> {
  const item = (raw: string, ctx: ParseContext): EnvMap => {
    const eq = raw.indexOf('=');
    const key = eq < 0 ? raw : raw.slice(0, eq);
    if (!ENV_KEY.test(key)) throw new ValueError(`"${raw}" is not a variable assignment (accepted: KEY=VALUE, or KEY to pass it through)`);
    if (eq >= 0) return { [key]: ctx.expand(raw.slice(eq + 1)) };
    // A bare KEY passes the variable through from kiln's environment ("" when unset), as in mkosi.
    return { [key]: ctx.env[key] ?? '' };
  };
  return {
    type: 'environment',
    list: true,
    parse: (raw, ctx) => Object.assign({}, ...splitQuoted(raw).map((r) => item(r, ctx))),
    parseItem: item,
    empty: () => ({}),
    merge: (old, add) => ({ ...old, ...add }),
    schema: z.record(z.string(), z.string()),
    toml: z.union([z.record(z.string(), z.string()), z.array(z.string())]),
    show: (v) => (Object.keys(v).length ? Object.entries(v).map(([k, x]) => `${k}=${x}`).join('\n') : '(none)'),
    json: (v) => v,
    accepted: 'KEY=VALUE',
  };
}

/**
 * Splits Environment= the way mkosi's shlex (posix, whitespace only) does: on spaces and newlines,
 * honouring '...' and "..." quotes and backslash escapes. Libraries such as shell-quote parse
 * shell operators (`;`, `|`, `>`) too, which would break values like A=x;y.
 */
export function splitQuoted(raw: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let quote: '"' | "'" | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (quote) {
      if (c === quote) quote = null;
      else if (c === '\\' && quote === '"' && i + 1 < raw.length && '"\\$`'.includes(raw[i + 1])) cur += raw[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      inToken = true;
    } else if (c === '\\' && i + 1 < raw.length) {
      cur += raw[++i];
      inToken = true;
    } else if (c === ' ' || c === '\n') {
      if (inToken) out.push(cur);
      cur = '';
      inToken = false;
    } else {
      cur += c;
      inToken = true;
    }
  }
  if (quote) throw new ValueError(`unterminated ${quote} quote in "${raw}"`);
  if (inToken) out.push(cur);
  return out;
}
