/**
 * [Match], [TriggerMatch], [Assert] and [TriggerAssert], as mkosi 26 evaluates them
 * (mkosi/config.py match_config; mkosi(1), "[Match] Section"). A file's conditions are evaluated
 * before any of its settings, against the values configured so far (or the defaults), section by
 * section in file order:
 *  - `Key=value` must hold; `Key=|value` is a trigger, and of a section's triggers at least one
 *    must hold; `!` negates (`|!value` for both). Specifiers in the value are expanded first;
 *  - a failing [Match] section skips the file at once (later sections are not looked at);
 *  - a [TriggerMatch] section holds when its plain conditions and one of its triggers (if any)
 *    hold; a plain condition that fails ends the section there. With [TriggerMatch] sections,
 *    at least one must hold;
 *  - [Assert] and [TriggerAssert] work the same, once the file matched, but failing is an error.
 * A condition is an error only when it is reached (an unknown key after a failing [Match]
 * condition is never seen), as in mkosi.
 *
 * How each key compares is the RULES table below. A condition on a setting whose value is unset
 * (ImageId=, ImageVersion=) does not hold, and its negation does.
 */
import * as path from 'node:path';
import { ConfigError, Origin, quote, ValueError } from './errors';
import { hostArchitecture } from './distributions';
import { fnmatchcase } from './fnmatch';
import * as probe from './probe';
import { findSetting, SettingDef } from './settings';
import { SourceFile, SourceSection } from './source';
import { systemdVersion } from './systemd-version';
import { parseBoolean, ParseContext, Tree } from './values';
import { versionSatisfies } from './version-compare';

export const CONDITION_SECTIONS = ['Match', 'TriggerMatch', 'Assert', 'TriggerAssert'] as const;

export interface MatchContext {
  /** The preset's name (`main` for the main image): what Image= tests. */
  image: string;
  /** The config directory being read: PathExists= is relative to it. */
  dir: string;
  /** The project's config directory: SystemdVersion= finds the tools tree's lock there. */
  root: string;
  /** The value of a setting as configured so far, or its default. */
  get(name: string): unknown;
  /** Expands %-specifiers in a condition's value. */
  expand(text: string): string;
  /** Reports a finding that does not stop the read (a deprecated key). */
  warn(origin: Origin, message: string): void;
}

/** How one key compares a condition's value (expanded, without `|` and `!`). */
interface Rule {
  /** The setting whose value it tests; absent for keys that test something else. */
  setting?: string;
  /** mkosi's comparison, in a few words (for the module's readers and the table test). */
  compares: string;
  /** Whether `value` holds for the setting's value `subject` (never null: unset does not hold). */
  test(value: string, subject: unknown, c: RuleContext): boolean;
}

interface RuleContext extends MatchContext {
  /** Where the condition is written. */
  origin: Origin;
  /** The condition's value parsed as one value of setting `name`, so that spellings and aliases count. */
  parse(name: string, value: string): unknown;
}

/** Architectures with a UEFI name: what Architecture=uefi matches. */
const UEFI = ['x86', 'x86-64', 'arm', 'arm64', 'riscv32', 'riscv64', 'loongarch64'];

/** The value, parsed as its setting parses it, equals the setting's. */
const enumeration = (setting: string): Rule => ({ setting, compares: 'the value, in any spelling the setting accepts', test: (v, s, c) => c.parse(setting, v) === s });
/** The same string: no glob (mkosi 26 compares Release= exactly; `Release=tri*` is not trixie). */
const exact = (setting: string): Rule => ({ setting, compares: 'the same string, no glob', test: (v, s) => v === s });
/** One of the list's entries; an empty value matches an empty list. */
const member = (setting: string, parse: boolean): Rule => ({
  setting,
  compares: 'one entry of the list; empty: the list is empty',
  test: (v, s, c) => (v === '' ? (s as unknown[]).length === 0 : (s as unknown[]).includes(parse ? c.parse(setting, v) : v)),
});

/** The condition keys mkosi 26 accepts, each with its comparison (mkosi's config_match_* and match_*). */
export const RULES: Readonly<Record<string, Rule>> = {
  Profiles: member('Profiles', true),
  Distribution: enumeration('Distribution'),
  Release: exact('Release'),
  Architecture: {
    setting: 'Architecture',
    compares: 'the architecture in any spelling, or uefi: any architecture with UEFI',
    test: (v, s, c) => (v === 'uefi' ? UEFI.includes(String(s)) : c.parse('Architecture', v) === s),
  },
  Repositories: member('Repositories', false),
  Format: enumeration('Format'),
  ImageId: { setting: 'ImageId', compares: 'a glob (fnmatch: * ? [...])', test: (v, s) => fnmatchcase(String(s), v) },
  ImageVersion: { setting: 'ImageVersion', compares: 'a version comparison: [==|!=|<|<=|>|>=]VERSION', test: (v, s) => versionSatisfies(String(s), v) },
  Bootable: { setting: 'Bootable', compares: 'the feature value: enabled, disabled, auto or a boolean', test: (v, s) => feature(v) === s },
  ToolsTreeDistribution: enumeration('ToolsTreeDistribution'),
  ToolsTreeRelease: exact('ToolsTreeRelease'),
  BuildSources: {
    setting: 'BuildSources',
    compares: 'the target of one of the build sources (a leading / of the value is ignored)',
    // As mkosi: the value without its leading "/" against each target as written, so a target
    // written absolute (src:/kernel) matches no value (mkosi 26 does the same).
    test: (v, s) => (s as Tree[]).some((t) => t.target !== null && purePath(t.target) === purePath(v.replace(/^\/+/, ''))),
  },
  Environment: {
    setting: 'Environment',
    compares: 'KEY: the variable is set; KEY=VALUE: it has that value',
    test: (v, s) => {
      const env = s as Record<string, string>;
      const eq = v.indexOf('=');
      if (eq < 0) return Object.hasOwn(env, v);
      const key = v.slice(0, eq);
      return Object.hasOwn(env, key) && env[key] === v.slice(eq + 1);
    },
  },
  PathExists: { compares: 'the path exists, relative to the config directory; empty: never', test: (v, _, c) => v !== '' && probe.exists(path.resolve(c.dir, v)) },
  SystemdVersion: {
    compares: "a version comparison with the systemd of the build's tools (systemd-version.ts); empty: never",
    test: (v, _, c) => {
      if (v === '') return false;
      const systemd = systemdVersion(toolsTreeOf(c), c.root);
      if (systemd.warning) c.warn(c.origin, systemd.warning);
      return versionSatisfies(systemd.version, v);
    },
  },
  HostArchitecture: { compares: "the build machine's architecture, in any spelling", test: (v, _, c) => c.parse('Architecture', v) === hostArchitecture() },
  Image: { compares: 'the preset name (main for the main image), exactly', test: (v, _, c) => v === c.image },
};

/** The keys a condition section accepts (deprecated names aside). */
export function matchKeys(): string[] {
  return Object.keys(RULES).sort();
}

/** True when the file's conditions hold; throws when an [Assert] or [TriggerAssert] fails. */
export function conditionsHold(source: SourceFile, ctx: MatchContext): boolean {
  if (!evaluate(source, ctx, false)) return false;
  evaluate(source, ctx, true);
  return true;
}

/** mkosi's match_config: the [Match]/[TriggerMatch] or the [Assert]/[TriggerAssert] sections, in file order. */
function evaluate(source: SourceFile, ctx: MatchContext, asserts: boolean): boolean {
  const [plainName, triggerName] = asserts ? ['Assert', 'TriggerAssert'] : ['Match', 'TriggerMatch'];
  // null: no trigger section; else whether one of them held so far.
  let triggerSections: boolean | null = null;
  let firstTriggerSection: SourceSection | undefined;
  for (const section of source.sections) {
    if (section.name !== plainName && section.name !== triggerName) continue;
    const isTrigger = section.name === triggerName;
    // null: no | condition seen; false: none held, or (in a trigger section) a plain one failed.
    let triggered: boolean | null = null;
    walk: for (const a of section.assignments) {
      for (const raw of a.items ?? [a.value]) {
        const origin: Origin = { file: source.path, line: a.line };
        const { holds, trigger } = condition(a.key, raw.trim(), section.name, ctx, origin);
        if (trigger) {
          triggered = (triggered ?? false) || holds;
        } else if (!holds) {
          if (isTrigger) {
            triggered = false;
            break walk;
          }
          if (asserts) throw new ConfigError(`${a.key}=${quote(raw.trim()).slice(1, -1)} in [Assert] is not satisfied${actual(a.key, ctx)}, so this configuration refuses to build`, origin);
          return false;
        }
      }
    }
    if (triggered === false && !isTrigger) {
      if (asserts) throw new ConfigError('none of the | conditions of this [Assert] section is satisfied, so this configuration refuses to build', { file: source.path, line: section.line });
      return false;
    }
    if (isTrigger) {
      firstTriggerSection ??= section;
      triggerSections = (triggerSections ?? false) || triggered !== false;
    }
  }
  if (triggerSections === false && asserts) {
    throw new ConfigError('none of the [TriggerAssert] sections is satisfied, so this configuration refuses to build', { file: source.path, line: firstTriggerSection!.line });
  }
  return triggerSections !== false;
}

/** One `Key=[|][!]value`: whether it holds, and whether it is a trigger. */
function condition(key: string, raw: string, section: string, ctx: MatchContext, origin: Origin): { holds: boolean; trigger: boolean } {
  let value = raw;
  const trigger = value.startsWith('|');
  if (trigger) value = value.slice(1);
  const negate = value.startsWith('!');
  if (negate) value = value.slice(1);

  const fail = (e: unknown): never => {
    if (e instanceof ValueError) throw new ConfigError(`${key}=: ${e.message}`, origin);
    throw e;
  };
  try {
    value = ctx.expand(value);
  } catch (e) {
    fail(e);
  }

  const rule = ruleOf(key, section, ctx, origin);
  let holds = false;
  try {
    const subject = rule.setting ? ctx.get(rule.setting) : undefined;
    // A setting not configured and without a default holds for nothing (mkosi: None never matches).
    if (!rule.setting || (subject !== null && subject !== undefined)) holds = rule.test(value, subject, { ...ctx, origin, parse: parser(ctx) });
  } catch (e) {
    fail(e);
  }
  return { holds: holds !== negate, trigger };
}

/** The rule of a condition key; deprecated names warn, a key no rule has is an error naming the accepted ones. */
function ruleOf(key: string, section: string, ctx: MatchContext, origin: Origin): Rule {
  let rule = RULES[key];
  let def = rule?.setting ? findSetting(rule.setting) : undefined;
  if (!rule) {
    // An older name of a setting that has a rule (Profile= for Profiles=).
    const old = findSetting(key);
    const canonical = old && old.name !== key ? Object.keys(RULES).find((k) => RULES[k].setting === old.name) : undefined;
    if (!canonical) {
      throw new ConfigError(`${key}= cannot be used in [${section}] (accepted: ${matchKeys().join(', ')})`, origin);
    }
    ctx.warn(origin, `${key}= is deprecated, use ${canonical}=`);
    rule = RULES[canonical];
    def = old;
  }
  // mkosi refuses a condition on a main-image-only setting in any other image.
  if (def && !matchableIn(def, ctx.image)) {
    throw new ConfigError(`${key}= cannot be matched on outside of the main image (${def.name}= is the main image's own)`, origin);
  }
  return rule;
}

/** Whether a condition on `def` may be evaluated in `image`: mkosi's scope check (no mkosi 26 match key has scope main). */
export function matchableIn(def: Pick<SettingDef, 'scope'>, image: string): boolean {
  return def.scope !== 'main' || image === 'main';
}

/** Parses a condition's value as one value of a setting, so that a misspelt value is an error, not a silent miss. */
function parser(ctx: MatchContext): (name: string, value: string) => unknown {
  const pc: ParseContext = { dir: ctx.dir, env: {}, expand: (t) => t };
  return (name, value) => {
    const def = findSetting(name);
    if (!def) throw new Error(`kiln bug: condition rule names the unknown setting ${name}`);
    if (def.kind.list) return (def.kind.parseItem!(value, pc) as unknown[])[0];
    return def.kind.parse(value, pc);
  };
}

/** mkosi's parse_feature: enabled, disabled or auto, or a boolean. */
function feature(v: string): string {
  if (v === 'enabled' || v === 'disabled' || v === 'auto') return v;
  return parseBoolean(v) ? 'enabled' : 'disabled';
}

/** ToolsTree= so far, as SystemdVersion= needs it. */
function toolsTreeOf(ctx: MatchContext): string | null {
  return (ctx.get('ToolsTree') as string | null | undefined) ?? null;
}

/** A path as Python's PurePosixPath prints it: no empty or "." components, no trailing "/". */
function purePath(p: string): string {
  const lead = /^\/\/(?!\/)/.test(p) ? '//' : p.startsWith('/') ? '/' : '';
  return lead + p.split('/').filter((x) => x && x !== '.').join('/') || '.';
}

/** ", where Key= is VALUE" for an [Assert] message, when the key tests a scalar setting. */
function actual(key: string, ctx: MatchContext): string {
  const name = RULES[key]?.setting ?? findSetting(key)?.name;
  if (!name) return '';
  const v = ctx.get(name);
  if (v === null || v === undefined) return ` (${name}= is not set)`;
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? ` (${name}= is ${quote(String(v))})` : '';
}
