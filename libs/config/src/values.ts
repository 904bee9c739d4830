/**
 * Value kinds: how one setting's text is parsed, what the parsed value looks like (zod), how it is
 * written in kiln.toml (zod, for the JSON Schema), and how it is shown. The settings table picks a
 * kind per setting; every parser and schema in kiln is derived from these.
 */
import * as probe from './probe';
import * as os from 'node:os';
import * as path from 'node:path';
import { z } from 'zod';
import { ValueError, quote } from './errors';

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
  /**
   * Lists: adds `add` to `into` in place, what the reader does for each assignment, so that 80,000
   * `RemoveFiles=` lines cost linear time (merge copies; sorting on every line was quadratic).
   * `finish` then puts the whole list in its final form (sorted, without duplicates) once.
   */
  append?(into: T, add: T): void;
  finish?(v: T): T;
  /** Checks the resolved value, defaults included (which are not parsed); throws a ValueError. */
  validate?(v: T): void;
  /**
   * A value mkosi 26 reads (a plain string there) but kiln cannot build: why, or null. Reading
   * warns at the line that set it, and `kiln build` refuses the preset (unsupported.ts).
   */
  buildCheck?(v: T): string | null;
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
  /**
   * Lists: what separates the items of one assignment, as mkosi 26's parser of the setting
   * (config_make_list_parser's delimiter): "," for most lists (commas and newlines), " " for
   * command lines and the like (spaces and newlines); `quoted` lists honour shell quotes there.
   */
  readonly delimiter?: ',' | ' ';
  readonly quoted?: boolean;
  /**
   * Comma lists whose items cannot hold white space (a package name): whether an item does, so
   * the reader warns (mkosi 26 reads `Packages=vim less` as one item "vim less", and fails only
   * when it builds) and, with `refuse`, a build refuses the preset before doing anything.
   */
  readonly spaced?: { test(item: unknown): boolean; build: 'refuse' | 'allow'; words?: boolean };
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
  throw new ValueError(`${quote(raw)} is not a boolean (accepted: ${TRUE.join(' ')} / ${FALSE.join(' ')})`);
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 };

/** Sizes as mkosi reads them: K, M, G, T are 1024-based, fractions allowed, rounded up to 4096. */
export function parseSize(raw: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?\s*$/i.exec(raw);
  if (!m) throw new ValueError(`${quote(raw)} is not a size (accepted: a number with an optional K, M, G or T suffix, e.g. 512M or 1.5G)`);
  const bytes = Math.ceil((Number(m[1]) * SIZE_UNITS[m[2].toUpperCase()]) / 4096) * 4096;
  // Beyond 2^53 bytes (8 PiB) a number is no longer exact; no disk or cache is that large.
  if (!Number.isSafeInteger(bytes)) throw new ValueError(`${quote(raw)} is too large (accepted: a size up to 8P, e.g. 512M or 1.5G)`);
  return bytes;
}

function formatSize(n: number): string {
  for (const [u, f] of [['G', 1024 ** 3], ['M', 1024 ** 2], ['K', 1024]] as const) {
    if (n >= f && n % f === 0) return `${n / f}${u}`;
  }
  return String(n);
}

const showPlain = (v: unknown) => (v === null || v === undefined ? '(none)' : String(v));

/** A rule beyond a pattern: the reason a value is refused, or null when it is fine. */
export type Check = (v: string) => string | null;

/**
 * A string, checked against `pattern` when read; with `atBuild` (a setting mkosi 26 reads as any
 * string: Hostname=, Locale=, ...), checked when building instead, so that every configuration
 * mkosi reads can be read (summary, graph) and only a build of it is refused.
 */
export function text(opts: { pattern?: RegExp; hint?: string; check?: Check; atBuild?: boolean } = {}): Kind<string> {
  const invalid = (v: string) => (opts.pattern && !opts.pattern.test(v) ? `${quote(v)} is not valid (accepted: ${opts.hint})` : null);
  return {
    type: 'string',
    list: false,
    ...(opts.atBuild ? { buildCheck: invalid } : {}),
    parse(raw, ctx) {
      const v = ctx.expand(raw);
      const bad = opts.atBuild ? null : invalid(v);
      if (bad) throw new ValueError(bad);
      const why = opts.check?.(v);
      if (why) throw new ValueError(`${quote(v)} ${why}`);
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
      throw new ValueError(`${quote(v)} is not a valid value (accepted: ${accepted})`);
    },
    schema: z.enum(values as unknown as [V, ...V[]]),
    toml: z.enum([...values, ...Object.keys(aliases)] as [string, ...string[]]),
    show: showPlain,
    json: (v) => v,
    accepted,
  };
}

/**
 * systemd's tri-state feature as mkosi 26 reads it (parse_feature): its own words enabled,
 * disabled and auto, or any boolean word (yes -> enabled, no -> disabled). The value is stored
 * as mkosi names it: enabled, disabled or auto.
 */
export const FEATURE_VALUES = ['enabled', 'disabled', 'auto'] as const;
export function feature(): Kind<'enabled' | 'disabled' | 'auto'> {
  const accepted = 'enabled, disabled, auto, or a boolean (yes, no, ...)';
  return {
    type: 'feature',
    list: false,
    parse(raw, ctx) {
      const v = (ctx?.expand ? ctx.expand(raw) : raw).trim();
      // mkosi compares its own words exactly (ConfigFeature(value)), then tries a boolean.
      if ((FEATURE_VALUES as readonly string[]).includes(v)) return v as 'enabled' | 'disabled' | 'auto';
      try {
        return parseBoolean(v) ? 'enabled' : 'disabled';
      } catch {
        throw new ValueError(`${quote(raw)} is not valid (accepted: ${accepted})`);
      }
    },
    schema: z.enum(FEATURE_VALUES),
    toml: z.union([z.boolean(), z.enum([...FEATURE_VALUES, ...TRUE, ...FALSE])]),
    show: showPlain,
    json: (v) => v,
    accepted,
  };
}

/**
 * A UUID (Seed=, MachineId=), stored in its canonical lower-case dashed form, or the word
 * `random` where mkosi takes it (mkosi draws a new UUID for it on every run; kiln keeps the word,
 * so the summary and the cache key stay the same from one reading to the next).
 */
export function uuid(opts: { random?: boolean } = {}): Kind<string> {
  const accepted = `a UUID such as 8a1b2c3d-0000-4000-8000-123456789abc${opts.random ? ', or "random"' : ''}`;
  return {
    type: 'uuid',
    list: false,
    parse(raw, ctx) {
      const v = ctx.expand(raw).trim();
      if (opts.random && v === 'random') return v;
      // Python's uuid.UUID() accepts the 32 hex digits with or without dashes and braces, any case.
      const hex = v.replace(/^\{|\}$/g, '').replace(/^urn:uuid:/i, '').replace(/-/g, '');
      if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new ValueError(`${quote(v)} is not valid (accepted: ${accepted})`);
      const h = hex.toLowerCase();
      return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
    },
    schema: z.string(),
    toml: z.string(),
    show: showPlain,
    json: (v) => v,
    accepted,
  };
}

/**
 * Where a key comes from (SecureBootKeySource=, VerityKeySource=, ...): `file` (the key setting
 * is a path), `engine:NAME` (an OpenSSL engine) or `provider:NAME` (an OpenSSL provider); for a
 * certificate, `file` or `provider:NAME`. Stored as written (`engine:pkcs11`); empty resets to `file`.
 */
export function keySource(types: readonly string[] = ['file', 'engine', 'provider']): Kind<string> {
  const accepted = types.map((t) => (t === 'file' ? 'file' : `${t}:NAME`)).join(', ');
  return {
    type: 'key source',
    list: false,
    parse(raw, ctx) {
      const v = ctx.expand(raw).trim();
      const i = v.indexOf(':');
      const type = i < 0 ? v : v.slice(0, i);
      if (!types.includes(type)) throw new ValueError(`${quote(v)} is not a valid source (accepted: ${accepted})`);
      return v;
    },
    schema: z.string(),
    toml: z.string(),
    show: showPlain,
    json: (v) => v,
    accepted,
  };
}

/**
 * A key or certificate (SecureBootKey=, SignExpectedPcrCertificate=, ...) as mkosi's
 * config_parse_key reads it: a path when that file exists (made absolute, against the config
 * directory), otherwise the text as written: a PKCS#11 URI or a name an engine or provider
 * knows (with SecureBootKeySource=engine:pkcs11, ...), or a file that is not there yet.
 */
export function keyValue(): Kind<string> {
  return {
    type: 'key',
    list: false,
    parse(raw, ctx) {
      const v = ctx.expand(raw).trim();
      const p = resolvePath(v, { ...ctx, expand: (t) => t });
      return probe.exists(p) ? p : v;
    },
    schema: z.string(),
    toml: z.string(),
    show: (v, c) => (path.isAbsolute(v) ? relPath(v, c) : v),
    json: (v, c) => (path.isAbsolute(v) ? relPath(v, c) : v),
    accepted: 'a path, or a key name or URI (pkcs11:...) for an engine or provider',
  };
}

/** An access mode in octal (OutputMode=): 0 to 1777, as mkosi's config_parse_mode. */
export function mode(): Kind<number> {
  const accepted = 'an octal access mode from 0 to 1777, e.g. 0644';
  return {
    type: 'mode',
    list: false,
    parse(raw) {
      const v = raw.trim();
      if (!/^[0-7]+$/.test(v) || parseInt(v, 8) > 0o1777) throw new ValueError(`${quote(raw)} is not valid (accepted: ${accepted})`);
      return parseInt(v, 8);
    },
    schema: z.number().int().nonnegative(),
    toml: z.union([z.number().int().nonnegative(), z.string()]),
    show: (v) => `0${v.toString(8)}`,
    json: (v) => v,
    accepted,
  };
}

/** A sector size (SectorSize=): a power of two from 512 to 4096 bytes, as mkosi's config_parse_sector_size. */
export function sectorSize(): Kind<number> {
  const accepted = '512, 1024, 2048 or 4096';
  return {
    type: 'sector size',
    list: false,
    parse(raw) {
      const v = raw.trim();
      if (!/^\d+$/.test(v) || ![512, 1024, 2048, 4096].includes(Number(v))) throw new ValueError(`${quote(raw)} is not valid (accepted: ${accepted})`);
      return Number(v);
    },
    schema: z.number().int(),
    toml: z.union([z.number().int(), z.string()]),
    show: showPlain,
    json: (v) => v,
    accepted,
  };
}

/** A list of values of an enumeration (ManifestFormat=json,changelog; ToolsTreeProfiles=...). */
export function choiceList<const V extends string>(values: readonly V[], aliases: Record<string, V> = {}): Kind<V[]> {
  const accepted = values.join(', ');
  return listOf<V>(
    'list',
    (raw, ctx) => {
      const v = ctx.expand(raw).trim();
      if ((values as readonly string[]).includes(v)) return v as V;
      if (v in aliases) return aliases[v];
      throw new ValueError(`${quote(v)} is not a valid value (accepted: ${accepted})`);
    },
    z.enum(values as unknown as [V, ...V[]]),
    { accepted },
  );
}

/**
 * Kernel module and firmware filters (KernelModulesInclude=, FirmwareExclude=, ...): regular
 * expressions over module (or firmware file) paths, or mkosi's words `default` and `host`.
 */
export function moduleFilters(): Kind<string[]> {
  return stringList({
    words: 'refuse',
    check: (v) => {
      if (v === 'default' || v === 'host') return null;
      try {
        new RegExp(v);
        return null;
      } catch {
        return 'is not a valid regular expression (accepted: regular expressions over module paths, default or host)';
      }
    },
  });
}

/**
 * Drives= of `mkosi vm`: ID:SIZE[:DIRECTORY[:OPTIONS[:FILE_ID[:FLAGS]]]] words, split on spaces
 * and newlines as mkosi does; the ID is a file name, the SIZE a size.
 */
export function driveList(): Kind<string[]> {
  return listOf(
    'space-separated list',
    (raw, ctx) => {
      const v = ctx.expand(raw);
      const parts = v.split(':');
      if (parts.length < 2 || parts.length > 6) throw new ValueError(`${quote(v)} is not a drive (accepted: ID:SIZE[:DIRECTORY[:OPTIONS[:FILE_ID[:FLAGS]]]])`);
      if (!parts[0] || parts[0].includes('/') || parts[0] === '.' || parts[0] === '..') throw new ValueError(`${quote(v)}: drive ID ${quote(parts[0])} is not a file name`);
      parseSize(parts[1]);
      return v;
    },
    z.string(),
    { delimiter: ' ', accepted: 'ID:SIZE[:DIRECTORY[:OPTIONS[:FILE_ID[:FLAGS]]]]' },
  );
}

/** VSockCID=: auto, hash, or a connection ID from 3 to 0xFFFFFFFE (mkosi's config_parse_vsock_cid). */
export function vsockCid(): Kind<string> {
  const accepted = 'auto, hash, or a number from 3 to 4294967294';
  return {
    type: 'vsock cid',
    list: false,
    parse(raw) {
      const v = raw.trim();
      if (v === 'auto' || v === 'hash') return v;
      if (!/^\d+$/.test(v) || Number(v) < 3 || Number(v) >= 0xffffffff) throw new ValueError(`${quote(raw)} is not valid (accepted: ${accepted})`);
      return String(Number(v));
    },
    schema: z.string(),
    toml: z.union([z.string(), z.number().int()]),
    show: showPlain,
    json: (v) => v,
    accepted,
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
        throw new ValueError(`${quote(raw)} is not valid (accepted: ${hint})`);
      }
      // Beyond 2^53 a JavaScript number is no longer exact (9007199254740993 reads as ...992).
      if (!Number.isSafeInteger(Number(v))) throw new ValueError(`${quote(raw)} is too large (accepted: ${hint} up to ${Number.MAX_SAFE_INTEGER})`);
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
  /**
   * A directory kiln writes into (OutputDirectory=, the caches): when the path exists it must be
   * a directory, and it must not be the host's root, where `kiln clean` would remove entries of /.
   */
  directory?: boolean;
  /** A tree copied into the image (BaseTrees=, ExtraTrees=, ...): the host's root is refused. */
  tree?: boolean;
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
    // Defaults are never parsed: mkosi.output/ being a file is caught here.
    validate: opts.directory ? checkWritableDirectory : undefined,
    schema: z.string(),
    toml: z.string(),
    show: shown,
    json: shown,
  };
}

/** A directory kiln writes into and cleans: not the host's root, and a directory if it exists. */
function checkWritableDirectory(p: string): void {
  if (p === '/') throw new ValueError('"/" is the host\'s root directory, which kiln would write into and clean (name a directory of its own, e.g. mkosi.output)');
  if (probe.exists(p) && !probe.isDirectory(p)) throw new ValueError(`${p} exists and is not a directory (remove it, or name a directory)`);
}

/**
 * `$NAME` and `${NAME}` in a path, from the environment kiln runs in, as mkosi 26's parse_path
 * expands them (Python's os.path.expandvars: a variable that is not set stays as written; the
 * result is not expanded again). Each variable read is a probe: cached facts are read again when
 * it changes, and the path it gives is part of the resolved settings, so of the hash.
 */
export function expandVars(text: string, env: Record<string, string | undefined>): string {
  if (!text.includes('$')) return text;
  return text.replace(/\$(\w+|\{[^}]*\})/g, (written, name: string) => probe.envValue(env, name.startsWith('{') ? name.slice(1, -1) : name) ?? written);
}

export function resolvePath(raw: string, ctx: ParseContext): string {
  const v = expandVars(ctx.expand(raw.trim()), ctx.env);
  if (v.includes('\0')) throw new ValueError(`${quote(raw)} is not a valid path (it holds a NUL byte)`);
  if (v === '~' || v.startsWith('~/')) return path.join(os.homedir(), v.slice(1));
  return path.resolve(ctx.dir, v);
}

function pathItem(opts: PathOptions): (raw: string, ctx: ParseContext) => string {
  return (raw, ctx) => {
    if (opts.constants?.includes(raw.trim())) return raw.trim();
    const p = resolvePath(raw, ctx);
    if (opts.required && !probe.exists(p)) {
      const target = probe.danglingTarget(p);
      if (target !== null) {
        throw new ValueError(probe.isSymlinkLoop(p) ? `${p} is a symlink loop through ${quote(target)} (fix the link)` : `${p} is a symlink to ${quote(target)}, which does not exist (fix the link)`);
      }
      throw new ValueError(`${p} does not exist (create it, or fix the path: relative paths are relative to ${ctx.dir})`);
    }
    // mkosi would copy (and kiln hash) all of the host: never what was meant, and minutes long.
    if (opts.tree && p === '/') throw new ValueError('"/" is the host\'s root directory, which would be copied into the image whole (name the directory to copy)');
    if (opts.directory) checkWritableDirectory(p);
    return p;
  };
}

export function relPath(p: string, c: ShowContext): string {
  // A name rather than a path (Include=mkosi-vm, a built-in configuration) is shown as written.
  if (!path.isAbsolute(p)) return p;
  const r = path.relative(c.root, p);
  return r === '' ? '.' : r.split(path.sep).join('/');
}

// ---------------------------------------------------------------------------------------------
// Lists

/**
 * Splits one list assignment into its items as mkosi 26 does (config_make_list_parser): on the
 * delimiter and on newlines (an indented continuation line), never on other white space, so
 * `Packages=vim less` is one item "vim less" and `KernelCommandLine=a\tb` one item "a\tb".
 * A `quoted` list is split as shlex on the delimiter and newlines ('...', "...", backslashes).
 * Comma items lose the spaces around them (`Packages=vim, less`); mkosi keeps " less" with its
 * space, which no package name, path or module holds (kiln's one deliberate difference here).
 */
export function splitList(raw: string, delimiter: ',' | ' ' = ',', quoted = false): string[] {
  if (quoted) return splitQuoted(raw);
  if (delimiter === ' ') return raw.split(/[ \n]/).filter(Boolean);
  return raw
    .split(/[,\n]/)
    .map((x) => x.trim())
    .filter(Boolean);
}

/**
 * Why an item with spaces is suspect in a comma list, and the fix in the syntax it was written in
 * (for warnings and errors): `Packages=vim,less`, or in kiln.toml one string per item.
 */
export function commaHint(setting: string, item: string, toml: boolean): string {
  const words = item.trim().split(/\s+/);
  if (toml) return `in kiln.toml each item is a string of its own: write ${setting} = [${words.map((w) => JSON.stringify(w)).join(', ')}]`;
  return `mkosi 26 separates list items with commas or newlines, not spaces: write ${setting}=${words.join(',')}`;
}

function listOf<T>(
  type: string,
  item: (raw: string, ctx: ParseContext) => T,
  itemSchema: z.ZodType<T>,
  opts: {
    delimiter?: ',' | ' ';
    quoted?: boolean;
    spaced?: Kind<T[]>['spaced'];
    show?: (v: T, c: ShowContext) => string;
    json?: (v: T, c: ShowContext) => unknown;
    accepted?: string;
  } = {},
): Kind<T[]> {
  const delimiter = opts.delimiter ?? ',';
  const quoted = opts.quoted ?? false;
  const split = (raw: string) => splitList(raw, delimiter, quoted);
  const show = opts.show ?? ((v: T) => String(v));
  const json = opts.json ?? ((v: T) => v);
  return {
    type,
    list: true,
    parse: (raw, ctx) => split(raw).map((r) => item(r, ctx)),
    parseItem: (raw, ctx) => [item(raw, ctx)],
    empty: () => [],
    merge: (old, add) => [...old, ...add],
    append: (into, add) => {
      for (const x of add) into.push(x);
    },
    schema: z.array(itemSchema),
    toml: z.union([z.array(z.string()), z.string()]),
    show: (v, c) => (v.length ? v.map((x) => show(x, c)).join('\n') : '(none)'),
    json: (v, c) => v.map((x) => json(x, c)),
    accepted: opts.accepted,
    delimiter,
    quoted,
    spaced: opts.spaced,
  };
}

/** Any white space: an item holding it in a list of words was meant as several items. */
const hasSpace = (item: unknown) => typeof item === 'string' && /\s/.test(item);

/**
 * mkosi keeps Packages= sorted (package_sort_key): plain names, then paths to package files, then
 * "(conditional)" entries, each group alphabetically. Sorting also makes the order of drop-ins
 * irrelevant to the cache key.
 */
export function packageOrder(a: string, b: string): number {
  const group = (p: string) => (p.startsWith('(') ? 2 : p.startsWith('/') ? 1 : 0);
  return group(a) - group(b) || (a < b ? -1 : a > b ? 1 : 0);
}

/**
 * A comma list of strings. `words`: its items cannot hold white space (names, URLs, module
 * patterns); an item that does is read as mkosi reads it, one item, when each of its words is a
 * valid item: the reader warns, and a build refuses it (`refuse`) or goes on (`warn`:
 * RemoveFiles=, where a glob may match a file name with a space).
 */
export function stringList(opts: { pattern?: RegExp; hint?: string; check?: Check; sort?: (a: string, b: string) => number; words?: 'refuse' | 'warn'; spaced?: (v: string) => boolean } = {}): Kind<string[]> {
  const spacedTest = opts.spaced ?? hasSpace;
  const spaced = opts.words ? { test: (v: unknown) => typeof v === 'string' && spacedTest(v), build: opts.words === 'refuse' ? ('refuse' as const) : ('allow' as const), words: true } : undefined;
  const kind = listOf(
    'list',
    (raw, ctx) => {
      const v = ctx.expand(raw);
      // An item with spaces is kept whole, as mkosi keeps it, but each of its words must be a
      // valid item: `Packages=-oAPT::Get::Simulate=true hello` is refused as it always was.
      for (const w of spaced?.test(v) ? v.trim().split(/\s+/) : [v]) {
        if (opts.pattern && !opts.pattern.test(w)) throw new ValueError(`${quote(w)} is not valid (accepted: ${opts.hint})`);
        const why = opts.check?.(w);
        if (why) throw new ValueError(`${quote(w)} ${why}`);
      }
      return v;
    },
    z.string(),
    { accepted: opts.hint, spaced },
  );
  if (!opts.sort) return kind;
  const sort = opts.sort;
  const finish = (v: string[]) => [...new Set(v)].sort(sort);
  return { ...kind, merge: (old, add) => finish([...old, ...add]), finish };
}

/**
 * Package lists (Packages=, BuildPackages=, RemovePackages=). The names reach apt, dpkg and emerge
 * as arguments, so an entry starting with "-" would be read as an option
 * (`Packages=-oAPT::Get::Simulate=true` turns the install into a dry run). mkosi passes such
 * entries on; kiln refuses them, since no package name starts with "-".
 */
export function packageList(opts: { sort?: (a: string, b: string) => number } = {}): Kind<string[]> {
  return stringList({
    ...opts,
    // An rpm rich dependency "(foo if bar)" holds spaces on purpose; a package name never does.
    words: 'refuse',
    spaced: (v) => /\s/.test(v) && !/^\(.*\)$/.test(v.trim()),
    check: (v) =>
      v.startsWith('-')
        ? 'starts with "-" and would be read as an option, not a package (package names start with a letter or digit)'
        : /,/.test(v)
          ? 'contains a comma (give one package per item)'
          : /[;|&`'"\\]|\$[({A-Za-z_]/.test(v)
            ? 'contains a shell metacharacter (;|&`\'"\\, or $ before a name or bracket), which no package name, atom or apt regex holds'
            : null,
  });
}

/**
 * Names used as one file name component: ImageId=, ImageVersion= (they make the output name
 * ImageId_ImageVersion). mkosi checks only Output=, not the values its default is made from, so
 * `ImageVersion=1/../../..` would put the output outside the output directory; kiln refuses "/",
 * and "." and ".." on their own, as mkosi's is_valid_filename() does for Output=.
 */
export function fileName(what: string): Check {
  return (v) => (v.includes('/') ? `contains "/" (${what} is part of the output's file name)` : v === '.' || v === '..' ? `is not a file name (${what} is part of the output's file name)` : null);
}

/**
 * Paths inside the image (RemoveFiles= globs): relative to the image root whether written with a
 * leading "/" or not. mkosi globs them under the root with pathlib, where ".." climbs out of the
 * image onto the host (`RemoveFiles=../../../..`); kiln refuses any ".." component.
 */
export function imagePathList(): Kind<string[]> {
  return stringList({ words: 'warn', check: (v) => (v.split('/').includes('..') ? 'contains ".." (paths are inside the image; ".." would leave it)' : null) });
}

/**
 * A list whose items may contain commas, split on spaces and newlines only, with no quoting, as
 * mkosi 26 reads KernelCommandLine= and PassEnvironment= (`"a b"` is the two items `"a` and `b"`).
 */
export function spaceList(): Kind<string[]> {
  return listOf('space-separated list', (raw, ctx) => ctx.expand(raw), z.string(), { delimiter: ' ' });
}

/**
 * A space-separated list whose items may be quoted, as mkosi reads QemuArgs= and
 * UnitProperties= (shlex on spaces and newlines): `-device "a,b=x y"` is two items.
 */
export function quotedList(): Kind<string[]> {
  return listOf('space-separated list (quotes allowed)', (raw, ctx) => ctx.expand(raw), z.string(), { delimiter: ' ', quoted: true });
}

/**
 * Credentials= as mkosi reads it: NAME=VALUE words (quoted as Environment=), or, when the value
 * holds no "=", one path: a file (the credential named after it) or a directory (each file in
 * it), as mkosi.credentials/ is. Paths are resolved here, against the config directory, and must
 * exist; their contents are read (an executable run) only when `kiln vm` starts, as mkosi does,
 * since credentials are runtime settings and never inputs of a build.
 */
export function credentialList(): Kind<string[]> {
  const item = (raw: string, ctx: ParseContext): string[] => {
    const v = ctx.expand(raw.trim());
    if (!v.includes('=')) return [pathItem({ required: true })(v, ctx)];
    return splitQuoted(v);
  };
  const show = (v: string, c: ShowContext) => (v.includes('=') ? v : relPath(v, c));
  return {
    ...listOf('credentials', (raw) => raw, z.string(), { delimiter: ' ', quoted: true, show, json: show, accepted: 'NAME=VALUE words, or the path of a file or directory' }),
    parse: (raw, ctx) => item(raw, ctx),
    parseItem: (raw, ctx) => item(raw, ctx),
  };
}

/**
 * A comma list of paths. A path may hold spaces; one that does and is not there was likely meant
 * as several paths (`BaseTrees=a b`): mkosi reads it as one, and so does kiln, with a warning, and
 * a build refuses it while it is missing. A required path that is missing is an error anyway.
 */
export function pathList(opts: PathOptions = {}): Kind<string[]> {
  return listOf('list of paths', pathItem(opts), z.string(), { show: relPath, json: relPath, spaced: opts.required ? undefined : { test: (p) => hasSpace(p) && !probe.exists(p as string), build: 'refuse' } });
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
    const glob = expandVars(v, ctx.env);
    if (fg.isDynamicPattern(glob)) return probe.expandGlob(path.isAbsolute(glob) ? '/' : ctx.dir, glob);
    return [pathItem({ required: true })(v, ctx)];
  };
  return {
    ...pathList({ required: true }),
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
export function parseTree(raw: string, ctx: ParseContext, required = false, relativeTarget = false): Tree {
  const v = ctx.expand(raw.trim());
  const i = v.indexOf(':');
  // Split before $VAR expansion, as mkosi does: a variable holding ":" does not split the value.
  const [src, target] = i >= 0 ? [v.slice(0, i), expandVars(v.slice(i + 1), ctx.env)] : [v, null];
  if (!src) throw new ValueError(`${quote(raw)} has no source (accepted: SOURCE[:TARGET])`);
  // BuildSources= and RuntimeTrees= targets may be relative (to /work/src, to the VM's mount
  // point), as mkosi parses them with absolute=False.
  if (target !== null && !relativeTarget && !target.startsWith('/')) {
    throw new ValueError(`target ${quote(target)} in ${quote(raw)} must be an absolute path inside the image (accepted: SOURCE[:/TARGET])`);
  }
  if (target !== null && target.split('/').includes('..')) {
    throw new ValueError(`target ${quote(target)} in ${quote(raw)} must not contain ".." (it would escape the image)`);
  }
  const source = pathItem({ required, tree: true })(src, { ...ctx, expand: (t) => t });
  return { source, target: target === null ? null : normalTarget(target) };
}

/** A tree's target as mkosi's Path gives it: normalised, without a trailing "/" ("kernel/" is "kernel"). */
function normalTarget(target: string): string {
  const t = path.posix.normalize(target);
  return t.length > 1 ? t.replace(/\/+$/, '') : t;
}

const showTree = (t: Tree, c: ShowContext) => relPath(t.source, c) + (t.target ? `:${t.target}` : '');

export function treeList(opts: { required?: boolean; relativeTarget?: boolean } = {}): Kind<Tree[]> {
  return listOf('list of trees', (raw, ctx) => parseTree(raw, ctx, opts.required, opts.relativeTarget), z.object({ source: z.string(), target: z.string().nullable() }), {
    // As pathList: a missing source with a space in it was likely meant as several trees.
    spaced: opts.required ? undefined : { test: (t) => hasSpace((t as Tree).source) && !probe.exists((t as Tree).source), build: 'refuse' },
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
    if (!ENV_KEY.test(key)) throw new ValueError(`${quote(raw)} is not a variable assignment (accepted: KEY=VALUE, or KEY to pass it through)`);
    if (eq >= 0) return { [key]: ctx.expand(raw.slice(eq + 1)) };
    // A bare KEY passes the variable through from kiln's environment ("" when unset), as in mkosi.
    return { [key]: probe.envValue(ctx.env, key) ?? '' };
  };
  return {
    type: 'environment',
    list: true,
    parse: (raw, ctx) => Object.assign({}, ...splitList(raw, ' ', true).map((r) => item(r, ctx))),
    parseItem: item,
    empty: () => ({}),
    merge: (old, add) => ({ ...old, ...add }),
    append: (into, add) => void Object.assign(into, add),
    schema: z.record(z.string(), z.string()),
    toml: z.union([z.record(z.string(), z.string()), z.array(z.string())]),
    show: (v) => (Object.keys(v).length ? Object.entries(v).map(([k, x]) => `${k}=${x}`).join('\n') : '(none)'),
    json: (v) => v,
    accepted: 'KEY=VALUE',
    delimiter: ' ',
    quoted: true,
  };
}

/**
 * Splits Environment= the way mkosi's shlex (posix, whitespace_split, whitespace " \n") does: on spaces and newlines,
 * honouring '...' and "..." quotes and backslash escapes. Libraries such as shell-quote parse
 * shell operators (`;`, `|`, `>`) too, which would break values like A=x;y.
 */
export function splitQuoted(raw: string): string[] {
  const out: string[] = [];
  let cur = '';
  let inToken = false;
  let q: '"' | "'" | null = null;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i];
    if (q) {
      if (c === q) q = null;
      // As Python's shlex (posix): in "..." a backslash escapes only " and itself ("a\$b" keeps it).
      else if (c === '\\' && q === '"' && i + 1 < raw.length && '"\\'.includes(raw[i + 1])) cur += raw[++i];
      else cur += c;
    } else if (c === '"' || c === "'") {
      q = c;
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
  if (q) throw new ValueError(`unterminated ${q} quote in ${quote(raw)}`);
  if (inToken) out.push(cur);
  return out;
}

/** What a kind's TOML type accepts, in words, for type errors in kiln.toml ("a string or an array of strings"). */
export function describeToml(schema: z.ZodType): string {
  const def = (schema as unknown as { _zod: { def: { type: string; options?: z.ZodType[]; element?: z.ZodType; valueType?: z.ZodType; checks?: unknown[] } } })._zod.def;
  switch (def.type) {
    case 'union':
      return [...new Set(def.options!.map(describeToml))].join(' or ');
    case 'array':
      return `an array of ${describeToml(def.element!).replace(/^an? /, '')}s`;
    case 'record':
      return `a table of ${describeToml(def.valueType!).replace(/^an? /, '')}s`;
    case 'boolean':
      return 'a boolean';
    case 'number':
      return def.checks?.length ? 'an integer' : 'a number';
    default:
      return 'a string';
  }
}
