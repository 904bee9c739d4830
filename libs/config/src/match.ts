/**
 * [Match], [TriggerMatch], [Assert] and [TriggerAssert], as mkosi evaluates them (mkosi(1),
 * "Conditions"). All of a file's conditions are evaluated before any of its settings, against
 * the values configured so far (or the defaults):
 *  - in one section every plain condition must hold; conditions written `Key=|value` are
 *    triggers, of which at least one must hold; `!` negates (`|!value` for both);
 *  - every [Match] section must hold, and at least one [TriggerMatch] section when there are any;
 *  - [Assert] sections work the same, but failing one is an error instead of skipping the file.
 * Values are globs (fnmatch); enumerations are also understood in their other spellings.
 */
import * as probe from './probe';
import * as path from 'node:path';
import picomatch from 'picomatch';
import { ConfigError, Origin, ValueError } from './errors';
import { hostArchitecture } from './distributions';
import { findSetting, MATCH_KEYS } from './settings';
import { SourceFile, SourceSection } from './source';

export const CONDITION_SECTIONS = ['Match', 'TriggerMatch', 'Assert', 'TriggerAssert'] as const;

export interface MatchContext {
  /** The preset's name (`main` for the main image): what Image= tests. */
  image: string;
  /** The config directory being read: PathExists= is relative to it. */
  dir: string;
  /** The value of a setting as configured so far, or its default. */
  get(name: string): unknown;
  /** Expands %-specifiers in a condition's value. */
  expand(text: string): string;
}

/** Architectures with a UEFI name: what Architecture=uefi matches. */
const UEFI = ['x86', 'x86-64', 'arm', 'arm64', 'riscv32', 'riscv64', 'loongarch64'];

/** Condition keys that are not settings. */
const EXTRA_KEYS = ['Image', 'PathExists', 'HostArchitecture'];

export function matchKeys(): string[] {
  return [...MATCH_KEYS.keys(), ...EXTRA_KEYS].sort();
}

/** True when the file's conditions hold; throws when an [Assert] fails. */
export function conditionsHold(source: SourceFile, ctx: MatchContext): boolean {
  const of = (name: string) => source.sections.filter((s) => s.name === name);
  const holds = (s: SourceSection) => sectionHolds(s, source.path, ctx);

  const triggers = of('TriggerMatch');
  if (!of('Match').every(holds) || (triggers.length > 0 && !triggers.some(holds))) return false;

  const failed = of('Assert').find((s) => !holds(s));
  if (failed) {
    throw new ConfigError('this [Assert] section is not satisfied, so the configuration refuses to build (see its conditions)', { file: source.path, line: failed.line });
  }
  const triggerAsserts = of('TriggerAssert');
  if (triggerAsserts.length > 0 && !triggerAsserts.some(holds)) {
    throw new ConfigError('no [TriggerAssert] section is satisfied, so the configuration refuses to build', { file: source.path, line: triggerAsserts[0].line });
  }
  return true;
}

function sectionHolds(section: SourceSection, file: string, ctx: MatchContext): boolean {
  let triggers = 0;
  let triggered = false;
  for (const a of section.assignments) {
    const origin: Origin = { file, line: a.line };
    let pattern = a.value.trim();
    const trigger = pattern.startsWith('|');
    if (trigger) pattern = pattern.slice(1);
    const negate = pattern.startsWith('!');
    if (negate) pattern = pattern.slice(1);
    try {
      pattern = ctx.expand(pattern);
    } catch (e) {
      if (e instanceof ValueError) throw new ConfigError(`${a.key}=: ${e.message}`, origin);
      throw e;
    }
    const holds = testCondition(a.key, pattern, ctx, origin) !== negate;
    if (trigger) {
      triggers++;
      triggered ||= holds;
    } else if (!holds) {
      return false;
    }
  }
  return triggers === 0 || triggered;
}

function testCondition(key: string, pattern: string, ctx: MatchContext, origin: Origin): boolean {
  switch (key) {
    case 'Image':
      return glob(ctx.image, pattern);
    case 'PathExists':
      return pattern !== '' && probe.exists(path.resolve(ctx.dir, pattern));
    case 'HostArchitecture':
      return canonical('Architecture', pattern, origin) === hostArchitecture();
  }
  const def = MATCH_KEYS.get(key);
  if (!def) {
    throw new ConfigError(`${key}= cannot be used in a condition section (accepted: ${matchKeys().join(', ')})`, origin);
  }
  const value = ctx.get(def.name);
  if (def.cache === 'environment') {
    // KEY matches when the variable is set, KEY=VALUE when it has that value.
    const env = (value ?? {}) as Record<string, string>;
    const eq = pattern.indexOf('=');
    return eq < 0 ? pattern in env : env[pattern.slice(0, eq)] === pattern.slice(eq + 1);
  }
  // Profiles= and Repositories=: the name is one of the list's; an empty value matches an empty list.
  if (Array.isArray(value)) return pattern === '' ? value.length === 0 : value.some((v) => glob(String(v), pattern));
  if (value === null || value === undefined) return false;
  if (def.name === 'Architecture' && pattern === 'uefi') return UEFI.includes(String(value));
  if (def.name === 'Bootable') return String(value) === canonical('Bootable', pattern, origin);
  if (def.kind.type === 'choice' && !picomatch.scan(pattern).isGlob) return String(value) === canonical(def.name, pattern, origin);
  return glob(String(value), pattern);
}

/** Parses a condition's value through the setting, so spelling mistakes are errors, not silent misses. */
function canonical(name: string, value: string, origin: Origin): string {
  try {
    return String(findSetting(name)!.kind.parse(value, { dir: '/', env: {}, expand: (t) => t }));
  } catch (e) {
    if (e instanceof ValueError) throw new ConfigError(`${name}=: ${e.message}`, origin);
    throw e;
  }
}

function glob(value: string, pattern: string): boolean {
  // A pattern whose specifiers expanded to nothing (`Image=%z`) matches only an empty value.
  if (pattern === '') return value === '';
  return picomatch.isMatch(value, pattern, { dot: true, nobrace: true, noextglob: true });
}

