/**
 * Gentoo dependency atoms and dependency strings (PMS "Dependencies"): what Packages= asks for
 * and what a binary package's RDEPEND/PDEPEND/IDEPEND say it needs. Parsing is strict because a
 * dependency misread silently (an ignored slot, a dropped USE requirement) installs a package
 * that does not work, with no error anywhere.
 */
import type { BinPackage } from './packages-index';
import { compareParsedGentooVersions as compareParsedVersions, parseGentooVersion as parseVersion, type GentooVersion as Version } from '@kiln/config';
import { CATEGORY_RE, isValidPackageName, splitCpv } from './cpv';

export type Operator = '' | '<' | '<=' | '=' | '~' | '>=' | '>';

/**
 * One USE dependency. `form` is how the flag is required: "" enabled, "-" disabled, "=" and "!="
 * same as / opposite to the depending package, "?" and "!?" enabled if / disabled unless the
 * depending package has it. `missing` is the (+)/(-) default for a package without the flag.
 */
export interface UseDep {
  flag: string;
  form: '' | '-' | '=' | '!=' | '?' | '!?';
  missing: '' | '+' | '-';
}

export interface Atom {
  /** The atom as written, for messages. */
  text: string;
  /** "!" (weak) or "!!" (strong) blocker, "" for a dependency. */
  blocker: '' | '!' | '!!';
  op: Operator;
  /** "=cat/pn-1.2*": the version is a prefix, matched on component boundaries. */
  wildcard: boolean;
  category: string;
  pn: string;
  /** "category/pn". */
  cp: string;
  /** The version with its revision as written, "" without an operator. */
  version: string;
  /** ":slot[/subslot]", "" when not restricted. */
  slot: string;
  subslot: string;
  /** The slot operator: ":=" (rebuild on change), ":*" (any), "" for none. */
  slotOp: '' | '=' | '*';
  /** "::repo", "" when not restricted. */
  repo: string;
  use: UseDep[];
}

const SLOT_NAME = '[A-Za-z0-9_][A-Za-z0-9+_.-]*';
const SLOT_RE = new RegExp(`^(?:(${SLOT_NAME})(?:/(${SLOT_NAME}))?)?([=*]?)$`);
const REPO_RE = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;
const USE_DEP_RE = /^(!?)(-?)([A-Za-z0-9][A-Za-z0-9+_@-]*)(?:\(([+-])\))?([=?]?)$/;

function parseUseDep(token: string, fail: (why: string) => never): UseDep {
  const m = USE_DEP_RE.exec(token);
  // "!" only goes with "=" or "?", "-" only alone: "!foo", "-foo=", "!-foo?" mean nothing.
  if (!m || (m[1] && !m[5]) || (m[2] && (m[1] || m[5]))) {
    fail(`USE dependency "${token}" is none of foo, -foo, foo=, !foo=, foo?, !foo?, each with an optional (+) or (-) default after the flag`);
  }
  return { flag: m[3], form: `${m[1] || m[2]}${m[5]}` as UseDep['form'], missing: (m[4] ?? '') as UseDep['missing'] };
}

/**
 * Parses `[!|!!][op]cat/pn[-ver[-rN]][*][:slot[/subslot][=|*]][::repo][use,deps]`; throws
 * `invalid atom "...": why` on anything else.
 */
export function parseAtom(s: string): Atom {
  const fail: (why: string) => never = (why) => {
    throw new Error(`invalid atom "${s}": ${why}`);
  };
  if (!s) fail('it is empty');
  let rest = s;
  const blocker = rest.startsWith('!!') ? '!!' : rest.startsWith('!') ? '!' : '';
  rest = rest.slice(blocker.length);
  const op = (/^(<=|>=|<|>|=|~)/.exec(rest)?.[1] ?? '') as Operator;
  rest = rest.slice(op.length);

  let use: UseDep[] = [];
  const bracket = rest.indexOf('[');
  if (bracket >= 0) {
    const body = rest.slice(bracket + 1, -1);
    if (!rest.endsWith(']') || /[[\]]/.test(body)) fail('USE dependencies are one "[...]" at the end');
    if (!body) fail('"[]" holds no USE dependency');
    use = body.split(',').map((t) => parseUseDep(t, fail));
    rest = rest.slice(0, bracket);
  }

  let repo = '';
  const colons = rest.indexOf('::');
  if (colons >= 0) {
    repo = rest.slice(colons + 2);
    if (!REPO_RE.test(repo)) fail(`"::${repo}" is no repository name`);
    rest = rest.slice(0, colons);
  }

  let slot = '';
  let subslot = '';
  let slotOp: Atom['slotOp'] = '';
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const m = SLOT_RE.exec(rest.slice(colon + 1));
    // ":*" stands alone: "any slot" contradicts a named slot.
    if (!m || (!m[1] && !m[3]) || (m[1] && m[3] === '*')) fail(`":${rest.slice(colon + 1)}" is none of :slot, :slot/subslot, :slot=, :slot/subslot=, := or :*`);
    [slot, subslot, slotOp] = [m[1] ?? '', m[2] ?? '', m[3] as Atom['slotOp']];
    rest = rest.slice(0, colon);
  }

  const wildcard = rest.endsWith('*');
  if (wildcard) {
    if (op !== '=') fail('a "*" version prefix only goes with "=", as in =cat/pn-1.2*');
    rest = rest.slice(0, -1);
  }

  let category: string;
  let pn: string;
  let version = '';
  if (op) {
    const cpv = splitCpv(rest);
    if (!cpv) fail(`"${rest}" is no category/name-version (operator "${op}" needs a version, e.g. ${op}app-misc/hello-2.12)`);
    ({ category, pn, version } = cpv);
  } else {
    const slash = rest.indexOf('/');
    if (slash < 0) fail('expected category/name, e.g. app-misc/hello');
    [category, pn] = [rest.slice(0, slash), rest.slice(slash + 1)];
    if (!CATEGORY_RE.test(category)) fail(`"${category}" is no category name`);
    if (splitCpv(rest)) fail(`"${rest}" has a version but no operator; write =${rest} for exactly that version`);
    if (!isValidPackageName(pn)) fail(`"${pn}" is no package name`);
  }
  return { text: s, blocker, op, wildcard, category, pn, cp: `${category}/${pn}`, version, slot, subslot, slotOp, repo, use };
}

/** What of a package an atom looks at. */
export type Matchable = Pick<BinPackage, 'category' | 'pn' | 'version' | 'slot' | 'subslot' | 'repo' | 'use' | 'iuse'>;

const withoutRevision = (v: Version): Version => ({ ...v, revision: '' });

/**
 * "=1.2*": the pattern is a prefix of the version that ends where a component ends, so it matches
 * 1.2, 1.2.3, 1.2b, 1.2_rc1 and 1.2-r1 but not 1.20 (PMS: only as many components as the pattern
 * has are compared; portage since bug 560466). The first component is an integer: =01* is =1*.
 */
function prefixMatches(pattern: string, version: string): boolean {
  const norm = (v: string) => v.replace(/^0+(?=\d)/, '');
  const p = norm(pattern);
  const v = norm(version);
  if (!v.startsWith(p)) return false;
  const next = v.charAt(p.length);
  const isDigit = (c: string) => c >= '0' && c <= '9';
  return next === '' || '._-'.includes(next) || isDigit(p.charAt(p.length - 1)) !== isDigit(next);
}

function versionMatches(atom: Atom, version: string): boolean {
  if (!atom.op) return true;
  if (atom.wildcard) return prefixMatches(atom.version, version);
  const want = parseVersion(atom.version) as Version;
  const have = parseVersion(version);
  if (!have) return false;
  if (atom.op === '~') return compareParsedVersions(withoutRevision(have), withoutRevision(want)) === 0;
  const c = compareParsedVersions(have, want);
  switch (atom.op) {
    case '<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>':
      return c > 0;
  }
}

/**
 * Whether a plain USE dependency (foo, -foo) holds for a package. A flag the package does not
 * know takes the dependency's (+)/(-) default, and without one it matches nothing (portage). A
 * flag counts as known when it is in IUSE or enabled: USE also lists implicit flags (arch,
 * elibc_*, kernel_*) that IUSE leaves out. The conditional forms (foo=, foo?...) depend on the
 * depending package's USE; binary packages store them evaluated, so they are not checked here.
 */
function useMatches(dep: UseDep, pkg: Matchable): boolean {
  if (dep.form !== '' && dep.form !== '-') return true;
  let enabled: boolean;
  if (pkg.use.has(dep.flag) || pkg.iuse.includes(dep.flag)) enabled = pkg.use.has(dep.flag);
  else if (dep.missing) enabled = dep.missing === '+';
  else return false;
  return enabled === (dep.form === '');
}

/** Whether `pkg` matches the atom's name, version, slot, repository and USE deps (not its blocker). */
export function atomMatches(atom: Atom, pkg: Matchable): boolean {
  if (atom.category !== pkg.category || atom.pn !== pkg.pn) return false;
  if (atom.slot && atom.slot !== pkg.slot) return false;
  if (atom.subslot && atom.subslot !== pkg.subslot) return false;
  if (atom.repo && atom.repo !== pkg.repo) return false;
  return versionMatches(atom, pkg.version) && atom.use.every((d) => useMatches(d, pkg));
}

export type DepNode =
  | { kind: 'atom'; atom: Atom }
  /** "|| ( a b )": any one of the children. */
  | { kind: 'any'; children: DepNode[] }
  /** "( a b )": all of the children. */
  | { kind: 'all'; children: DepNode[] }
  /** "flag? ( ... )" (or "!flag? ( ... )" with `negated`): the children when the flag is (not) set. */
  | { kind: 'use'; flag: string; negated: boolean; children: DepNode[] };

const CONDITIONAL_RE = /^(!?)([A-Za-z0-9][A-Za-z0-9+_@-]*)\?$/;

/** Parses a dependency string (RDEPEND and friends); throws on unbalanced groups and bad atoms. */
export function parseDeps(s: string): DepNode[] {
  const tokens = s.split(/\s+/).filter(Boolean);
  const fail: (why: string) => never = (why) => {
    throw new Error(`invalid dependency string "${s}": ${why}`);
  };
  let i = 0;
  // Parses tokens up to the ")" closing the group opened before `i` (or the end, at top level).
  const group = (open: string | null): DepNode[] => {
    const nodes: DepNode[] = [];
    for (;;) {
      if (i >= tokens.length) {
        if (open !== null) fail(`"${open}" has no closing ")"`);
        return nodes;
      }
      const t = tokens[i++];
      if (t === ')') {
        if (open === null) fail(`")" (word ${i}) closes no group`);
        return nodes;
      }
      const opener = (what: string) => {
        if (tokens[i] !== '(') fail(`"${what}" (word ${i}) must be followed by "("`);
        i++;
        return group(`${what} (`);
      };
      const cond = CONDITIONAL_RE.exec(t);
      if (t === '||') nodes.push({ kind: 'any', children: opener(t) });
      else if (t === '(') nodes.push({ kind: 'all', children: group('(') });
      else if (cond) nodes.push({ kind: 'use', flag: cond[2], negated: cond[1] === '!', children: opener(t) });
      else nodes.push({ kind: 'atom', atom: parseAtom(t) });
    }
  };
  return group(null);
}

/** Evaluates the USE conditionals against `use`: what remains has only atoms and groups. */
export function reduceDeps(nodes: DepNode[], use: ReadonlySet<string>): DepNode[] {
  const out: DepNode[] = [];
  for (const n of nodes) {
    if (n.kind === 'use') {
      if (use.has(n.flag) !== n.negated) out.push(...reduceDeps(n.children, use));
    } else if (n.kind === 'atom') {
      out.push(n);
    } else {
      out.push({ kind: n.kind, children: reduceDeps(n.children, use) });
    }
  }
  return out;
}

/** A dependency node written back as a dependency string, for messages. */
export function depToString(n: DepNode): string {
  const inner = (children: DepNode[]) => `( ${children.map(depToString).join(' ')} )`;
  switch (n.kind) {
    case 'atom':
      return n.atom.text;
    case 'any':
      return `|| ${inner(n.children)}`;
    case 'all':
      return inner(n.children);
    case 'use':
      return `${n.negated ? '!' : ''}${n.flag}? ${inner(n.children)}`;
  }
}
