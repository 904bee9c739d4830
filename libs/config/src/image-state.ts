/**
 * The settings of one image (the main image or a preset) while its files are being read, in two
 * layers as mkosi 26 keeps them (ParseContext's `cli` and `config` namespaces):
 *
 *  values     what the config files assigned, in reading order;
 *  overrides  what wins over the config files: the command line's settings (the main image), the
 *             project's mkosi.local.conf and mkosi.local/ (read first, then moved here, so that
 *             [Match] sections and profiles see them and mkosi.conf cannot undo them), and the
 *             main image's universal values forced on presets.
 *
 * get() merges them as mkosi's finalize_value: an override of a single value wins; a list is the
 * config files' items then the override's; a dictionary (Environment=) is merged, the override
 * winning per key; an override that resets (`--Packages=` on the command line) drops the config
 * files' value and the default.
 */
import * as path from 'node:path';
import { ConfigError, Origin, quote, ValueError, type Warning } from './errors';
import { Config, ConfigSchema, DefaultContext, findSetting, inheritedByPresets, mainOnly, Scope, SETTINGS, SettingDef } from './settings';
import { Assignment } from './source';
import { expandSpecifiers } from './specifiers';
import { spaceHint, spacedItemKey, spacedItemMessage } from './list-items';
import { describeToml, ParseContext, splitList } from './values';
import { tomlTypeName } from './toml';

/**
 * Which image this is, for where a setting may be set (mkosi's setting_prohibited): the main image
 * takes every setting; the generated tools tree also takes universal ones (mkosi.tools.conf);
 * presets and the default initrd take no setting only the main image may set.
 */
export type ImageRole = 'main' | 'preset' | 'tools' | 'initrd';

const prohibited = (role: ImageRole, scope: Scope): boolean => role !== 'main' && mainOnly(scope) && !(role === 'tools' && scope === 'universal');

export class ImageState {
  readonly values = new Map<string, unknown>();
  /** The layer that wins over `values` (see the module comment). */
  readonly overrides = new Map<string, unknown>();
  /** Overrides that reset the setting: no config file value, no default. */
  readonly resets = new Set<string>();
  /** Defaults handed down by another image (mkosi's `defaults` namespace): the tools tree's X= from ToolsTreeX='s default. */
  readonly defaults = new Map<string, unknown>();
  readonly origins = new Map<string, Origin>();
  /** Where each list item holding a space was written (spacedItemKey): a build's refusal names that line. */
  readonly itemOrigins = new Map<string, Origin>();
  /** Config files read for this image, in order (the Nx inputs of its target). */
  readonly files: string[] = [];
  /**
   * Of those, the ones mkosi's summary does not list as config files: configs whose [Match]
   * conditions failed (nothing of them applied), default files read as a value (mkosi.version).
   */
  readonly unlisted = new Set<string>();
  /** Files already pulled in with Include=: each is read once. */
  readonly included = new Set<string>();
  /** Variables Environment= passed through from kiln's environment (inputs of the build). */
  readonly passedEnvironment = new Set<string>();

  constructor(
    readonly image: string,
    readonly root: string,
    readonly env: Record<string, string | undefined>,
    /** Universal settings, resolved in the main image: overrides of a preset (or the default initrd). */
    forced?: ReadonlyMap<string, unknown>,
    /** Where reading this image's values warns (the reader's list): a specifier expanding to nothing. */
    readonly warnings: Warning[] = [],
    readonly role: ImageRole = forced === undefined ? 'main' : 'preset',
  ) {
    for (const [name, v] of forced ?? []) this.overrides.set(name, structuredClone(v));
  }

  get isMain(): boolean {
    return this.role === 'main';
  }

  /** Whether this image may not set `def` (mkosi: "Setting X cannot be configured in Y image"). */
  prohibits(def: SettingDef): boolean {
    return prohibited(this.role, def.scope);
  }

  /** Whether the setting was set at all, in a config file or as an override. */
  isSet(name: string): boolean {
    return this.values.has(name) || this.overrides.has(name);
  }

  /** The value configured so far (overrides merged over the config files' value), or the default. */
  get(name: string): unknown {
    if (this.overrides.has(name)) {
      const over = this.overrides.get(name);
      const def = findSetting(name);
      if (this.resets.has(name) || !this.values.has(name) || !def?.kind.list) return over;
      return def.kind.merge!(this.values.get(name), over);
    }
    if (this.values.has(name)) return this.values.get(name);
    return this.defaultOf(name);
  }

  private defaultOf(name: string): unknown {
    if (this.defaults.has(name)) return this.defaults.get(name);
    const def = (SETTINGS as readonly SettingDef[]).find((d) => d.name === name);
    if (!def) return undefined;
    if (typeof def.default !== 'function') return def.default;
    const ctx: DefaultContext = { image: this.image, root: this.root, get: (n) => this.get(n) };
    return (def.default as (c: DefaultContext) => unknown)(ctx);
  }

  /**
   * Moves every value the config files set so far into the override layer, merged with what is
   * there: what mkosi does after reading mkosi.local.conf or mkosi.local/ (first in their
   * directory), so that their values win over the files read after them.
   */
  promoteToOverrides(): void {
    for (const name of [...this.values.keys()]) {
      const v = this.get(name);
      this.values.delete(name);
      this.overrides.set(name, structuredClone(v ?? null));
    }
  }

  /**
   * Applies one override (a command-line setting): parsed like a config file's assignment; a list
   * adds to earlier overrides of it; an empty value resets the setting.
   */
  override(def: SettingDef, a: Assignment, file: string, dir: string): void {
    const kind = def.kind;
    const origin = { file, line: a.line };
    checkCharacters(def, a, origin);
    if (a.value.trim() === '' && !a.items?.length) {
      this.resets.add(def.name);
      if (kind.list) this.overrides.set(def.name, kind.empty!());
      else this.overrides.set(def.name, this.defaultOf(def.name));
      this.origins.set(def.name, origin);
      return;
    }
    // As mkosi, no specifiers on the command line: the value is taken as typed.
    const parsed = this.parse(def, a, { ...this.parseContext(file, dir), expand: (text) => text }, origin);
    if (kind.list && this.overrides.has(def.name)) this.overrides.set(def.name, kind.merge!(this.overrides.get(def.name), parsed));
    else this.overrides.set(def.name, parsed);
    this.origins.set(def.name, origin);
  }

  /** Starts a preset from the main image's inherited settings, as mkosi passes them down. */
  inherit(from: ImageState, inherits: (scope: Scope) => boolean = inheritedByPresets): void {
    for (const def of SETTINGS as readonly SettingDef[]) {
      if (inherits(def.scope) && from.isSet(def.name)) {
        this.values.set(def.name, structuredClone(from.get(def.name)));
        this.origins.set(def.name, from.origins.get(def.name) as Origin);
      }
    }
    for (const [k, o] of from.itemOrigins) if (!this.itemOrigins.has(k)) this.itemOrigins.set(k, o);
    // Environment= is the main image's own; presets get only the keys PassEnvironment= names.
    const env = from.get('Environment') as Record<string, string>;
    const passed = Object.fromEntries((from.get('PassEnvironment') as string[]).filter((k) => k in env).map((k) => [k, env[k]]));
    if (Object.keys(passed).length) {
      this.values.set('Environment', passed);
      this.origins.set('Environment', from.origins.get('Environment') as Origin);
      for (const k of Object.keys(passed)) if (from.passedEnvironment.has(k)) this.passedEnvironment.add(k);
    }
  }

  /** How values in `file` (at `line`) are read: relative paths against `dir`, the config directory being read. */
  parseContext(file: string, dir: string, line = 0): ParseContext {
    const configFileDir = path.dirname(file);
    const warn = (message: string) => this.warnings.push({ origin: { file, line }, message });
    return {
      dir,
      env: this.env,
      expand: (text) => expandSpecifiers(text, { get: (n) => this.get(n), image: this.image, configFileDir, configDir: dir, root: this.root, warn }),
    };
  }

  /** Applies one `Key=value`: single values replace, lists append, an empty value resets. */
  assign(def: SettingDef, a: Assignment, file: string, dir: string): void {
    const origin = { file, line: a.line };
    if (this.prohibits(def)) {
      const where = this.role === 'tools' ? 'the tools tree (mkosi.tools.conf)' : `preset ${quote(this.image)}`;
      const why = def.section === 'Runtime' || def.scope === 'main' ? 'says how the main image runs or is its own' : def.scope === 'tools' || def.scope === 'initrd' ? 'is a setting of the main image for a generated image' : 'applies to every image';
      throw new ConfigError(`${def.name}= cannot be set in ${where}: it ${why} (move it to the project's mkosi.conf or kiln.toml)`, origin);
    }
    const kind = def.kind;
    if (a.toml !== undefined && !kind.toml.safeParse(a.toml).success) {
      // A value of an accepted type but a wrong value ("maybe" for a boolean) gets the parser's
      // message below, which lists the accepted values; a wrong type is said here.
      const accepted = describeToml(kind.toml);
      const got = tomlTypeName(a.toml);
      if (!accepted.split(' or ').includes(got)) throw new ConfigError(`${def.name}= takes ${accepted}, not ${got}`, origin);
    }
    checkCharacters(def, a, origin);
    // As mkosi: the whole value is expanded first, then parsed, so a value whose specifiers expand
    // to nothing (`ImageId=%v` before ImageVersion=, an unknown `%q`) is an empty value: a reset.
    const expanding = this.parseContext(file, dir, a.line);
    if (a.items) a = { ...a, items: a.items.map((i) => expanding.expand(i)).filter((i) => i.trim() !== '') };
    else a = { ...a, value: expanding.expand(a.value) };
    const ctx: ParseContext = { ...expanding, expand: (text) => text };
    if (a.items ? a.items.length === 0 : a.value.trim() === '') {
      if (kind.list) this.values.set(def.name, kind.empty!());
      else this.values.delete(def.name);
      this.origins.set(def.name, origin);
      return;
    }
    const parsed = this.parse(def, a, ctx, origin);
    const unbuildable = kind.buildCheck?.(parsed);
    if (unbuildable) this.warnings.push({ origin, message: `${def.name}=: ${unbuildable}; mkosi reads it, but kiln refuses to build it` });
    if (kind.list) {
      // In place: the value is this image's own (inherit() clones), and copying the list on every
      // assignment made 80,000 one-line assignments quadratic.
      if (!this.values.has(def.name)) this.values.set(def.name, kind.empty!());
      if (kind.append) kind.append(this.values.get(def.name), parsed);
      else this.values.set(def.name, kind.merge!(this.values.get(def.name), parsed));
    } else {
      this.values.set(def.name, parsed);
    }
    // A setting an override holds is said where the override set it (its items come last).
    if (!this.overrides.has(def.name)) this.origins.set(def.name, origin);
  }

  /** One assignment's value (already expanded), parsed (the type and character checks are the caller's). */
  private parse(def: SettingDef, a: Assignment, ctx: ParseContext, origin: Origin): unknown {
    const kind = def.kind;
    let parsed: unknown;
    try {
      if (a.items) {
        if (kind.list) parsed = a.items.map((i) => kind.parseItem!(i, ctx)).reduce((acc, x) => kind.merge!(acc, x), kind.empty!());
        else if (a.items.length === 1) parsed = kind.parse(a.items[0], ctx);
        else throw new ValueError(`takes one value, not a list (accepted: ${kind.accepted ?? kind.type})`);
      } else {
        parsed = kind.parse(a.value, ctx);
      }
    } catch (e) {
      if (e instanceof ValueError) throw new ConfigError(`${def.name}=: ${e.message}${spaceHint(def, a)}`, origin);
      throw e;
    }
    // mkosi 26 reads `Packages=vim less` as one item and fails only when it builds: kiln reads it
    // too (a summary shows it) and says at once which line to fix; a build refuses it (list-items.ts).
    if (kind.spaced) {
      (parsed as unknown[]).forEach((item, i) => {
        if (!kind.spaced!.test(item)) return;
        // A kiln.toml array says where each item ends: a name with a space there is wrong, and a
        // path with one (RemoveFiles = ["/a b"]) is meant.
        if (a.items && kind.spaced!.words && kind.spaced!.build === 'refuse') throw new ConfigError(spacedItemMessage(def, a, i), origin);
        if (a.items) return;
        this.warnings.push({ origin, message: spacedItemMessage(def, a, i) });
        const key = spacedItemKey(def.name, item);
        if (!this.itemOrigins.has(key)) this.itemOrigins.set(key, origin);
      });
    }
    // A bare KEY passes a variable through from kiln's environment: an input of the build.
    if (def.cache === 'environment') {
      for (const item of a.items ?? splitList(a.value, ' ', true)) if (item && !item.includes('=')) this.passedEnvironment.add(item);
    }
    return parsed;
  }

  /** Every setting with its final value, checked against the zod model. */
  resolve(): Config {
    const out: Record<string, unknown> = {};
    for (const def of SETTINGS as readonly SettingDef[]) {
      const v = this.get(def.name) ?? null;
      out[def.name] = v !== null && def.kind.finish ? def.kind.finish(v) : v;
      if (v !== null && def.kind.validate) {
        try {
          def.kind.validate(v);
        } catch (e) {
          if (e instanceof ValueError) throw new ConfigError(`${def.name}=: ${e.message}`, this.origins.get(def.name) ?? { file: this.root, line: 0 });
          throw e;
        }
      }
    }
    const checked = ConfigSchema.safeParse(out);
    if (!checked.success) {
      // The parsers produce valid values; this guards the table against a wrong default.
      throw new Error(`kiln bug: resolved settings of ${this.image} do not fit the model: ${checked.error.message}`);
    }
    return out as Config;
  }
}

/**
 * Characters no setting takes, checked before any parser sees the value: control characters
 * (a NUL byte in a package name, an escape sequence), and, in a single-line setting, a newline.
 * A newline reaches a single value through an indented continuation line (or a TOML "\n") and
 * would add a line to the file the value is written to (Locale= to /etc/locale.conf), or an
 * argument to a command line: mkosi accepts it; kiln refuses it.
 */
function checkCharacters(def: SettingDef, a: Assignment, origin: Origin): void {
  for (const v of a.items ?? [a.value]) {
    const bad = /[\u0000-\u0008\u000b-\u001f\u007f]/.exec(v);
    if (bad) {
      const code = `U+${bad[0].charCodeAt(0).toString(16).toUpperCase().padStart(4, '0')}`;
      throw new ConfigError(`${def.name}=: ${quote(v)} contains the control character ${code} (remove it)`, origin);
    }
    if (!def.kind.list && v.trim().includes('\n')) {
      throw new ConfigError(
        a.toml !== undefined || a.line === 0
          ? `${def.name}=: ${quote(v.trim())} spans several lines (${def.name}= takes a single line)`
          : `${def.name}=: ${quote(v.trim())} spans several lines: an indented line continues the value, and ${def.name}= takes a single line (un-indent the next line or remove it)`,
        origin,
      );
    }
  }
}
