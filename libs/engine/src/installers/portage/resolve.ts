/**
 * Chooses the binary packages that installing some atoms into an image takes: the requested
 * packages and, transitively, what they need at run time (RDEPEND, and PDEPEND, which may come
 * after). Binary packages have their USE fixed, so unlike emerge nothing is configured here: it is
 * picking among the builds the binhosts have, one package per slot, the newest that fits.
 *
 * Deliberately simpler than portage's depgraph: an `|| ( )` group backtracks over its own
 * alternatives only, and a slot that two atoms want different builds of is solved by starting
 * over with that slot's atoms known up front (enough for "a build with USE=foo" cases). Packages
 * already installed are never replaced: they were installed by a base tree, which owns them.
 */
import { atomMatches, depToString, parseAtom, parseDeps, reduceDeps, type Atom, type DepNode } from './atom';
import type { BinPackage } from './packages-index';
import { compareGentooVersions as compareVersions } from '@kiln/config';
import { describeMasked, type MaskReason } from './masks';

export interface ResolveRequest {
  /** What the user asked for (Packages=): "app-misc/hello", ">=sys-libs/fakelibc-2". */
  atoms: string[];
  /** The packages of all binhosts, in binhost priority order. */
  available: BinPackage[];
  /** What the image already has (a base tree): satisfies dependencies without reinstalling. */
  installed?: BinPackage[];
  /** Why a package may not be installed (masks.ts); masked packages are never chosen. */
  masked?: (p: BinPackage) => MaskReason[];
}

export interface Resolution {
  /** The packages to install, each after what it RDEPENDs on (cycles broken deterministically), PDEPENDs after. */
  install: BinPackage[];
  /** The cat/pn of the requested atoms, sorted, for the world file. */
  world: string[];
}

export class ResolveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ResolveError';
  }
}

/**
 * Two atoms want different builds for one slot, and some build satisfies them all: start over
 * with that known, so the first atom already picks it.
 */
class Retry extends Error {
  constructor(
    readonly slot: string,
    readonly atoms: Atom[],
  ) {
    super(`retry ${slot}`);
  }
}

/** An atom to satisfy, and the packages and || groups from the request down to it. */
interface Need {
  atom: Atom;
  chain: string[];
}

interface Blocker {
  owner: BinPackage;
  atom: Atom;
}

/** A resolution in progress; copied before trying an || alternative, to go back to. */
interface State {
  /** The chosen packages, in the order they were chosen. */
  chosen: BinPackage[];
  /** The chosen package of each cat/pn:slot, and the atoms it satisfies. */
  slots: Map<string, { pkg: BinPackage; wanted: Need[] }>;
  blockers: Blocker[];
  /** Which chosen packages each chosen package RDEPENDs and PDEPENDs on, for the install order. */
  rdeps: Map<BinPackage, BinPackage[]>;
  pdeps: Map<BinPackage, BinPackage[]>;
}

const copy = (s: State): State => ({
  chosen: [...s.chosen],
  slots: new Map([...s.slots].map(([k, v]) => [k, { pkg: v.pkg, wanted: [...v.wanted] }])),
  blockers: [...s.blockers],
  rdeps: new Map([...s.rdeps].map(([k, v]) => [k, [...v]])),
  pdeps: new Map([...s.pdeps].map(([k, v]) => [k, [...v]])),
});

const slotKey = (p: BinPackage) => `${p.category}/${p.pn}:${p.slot}`;
const label = (p: BinPackage) => (p.buildId === null ? p.cpv : `${p.cpv} (build ${p.buildId})`);
const path = (n: Need) => (n.chain.length ? [...n.chain, n.atom.text].join(' -> ') : `"${n.atom.text}" (requested)`);

function byCp(pkgs: BinPackage[]): Map<string, BinPackage[]> {
  const out = new Map<string, BinPackage[]>();
  for (const p of pkgs) {
    const cp = `${p.category}/${p.pn}`;
    out.set(cp, [...(out.get(cp) ?? []), p]);
  }
  return out;
}

/** A package's dependency string, parsed and with its USE conditionals evaluated. */
function depsOf(p: BinPackage, key: 'RDEPEND' | 'PDEPEND' | 'IDEPEND'): DepNode[] {
  const field = { RDEPEND: p.rdepend, PDEPEND: p.pdepend, IDEPEND: p.idepend }[key];
  try {
    return reduceDeps(parseDeps(field), p.use);
  } catch (e) {
    throw new ResolveError(`${label(p)}${p.binhost ? ` from ${p.binhost}` : ''}: ${key}: ${(e as Error).message}`);
  }
}

/** The blockers outside || groups. */
function blockersIn(nodes: DepNode[]): Atom[] {
  return nodes.flatMap((n) => (n.kind === 'atom' ? (n.atom.blocker ? [n.atom] : []) : n.kind === 'any' ? [] : blockersIn(n.children)));
}

class Resolver {
  private state: State = { chosen: [], slots: new Map(), blockers: [], rdeps: new Map(), pdeps: new Map() };
  private readonly installedBySlot: Map<string, BinPackage>;

  constructor(
    private readonly available: Map<string, BinPackage[]>,
    private readonly installed: Map<string, BinPackage[]>,
    /** Per slot, the atoms an earlier attempt found its package must satisfy. */
    private readonly learned: Map<string, Atom[]>,
    /** The masked builds by cat/pn, with why: named when only they would do. */
    private readonly masked: Map<string, { p: BinPackage; reasons: MaskReason[] }[]> = new Map(),
  ) {
    this.installedBySlot = new Map([...installed.values()].flat().map((p) => [slotKey(p), p]));
    // What is installed may block what gets chosen (not each other: that is the base tree's business).
    for (const p of [...installed.values()].flat()) for (const atom of blockersIn(depsOf(p, 'RDEPEND'))) this.state.blockers.push({ owner: p, atom });
  }

  run(atoms: Atom[]): State {
    this.nodes(
      atoms.map((atom): DepNode => ({ kind: 'atom', atom })),
      [],
      null,
      'r',
    );
    return this.state;
  }

  private isInstalled(p: BinPackage): boolean {
    return (this.installed.get(`${p.category}/${p.pn}`) ?? []).includes(p);
  }

  /**
   * Satisfies a list of dependencies: the plain atoms first, so that the || groups beside them
   * prefer what those chose, then the groups, then what the atoms chose needs in turn.
   */
  private nodes(list: DepNode[], chain: string[], parent: BinPackage | null, edge: 'r' | 'p'): void {
    const fresh: BinPackage[] = [];
    for (const n of list) {
      if (n.kind !== 'atom') continue;
      const p = this.need({ atom: n.atom, chain }, parent, edge);
      if (p) fresh.push(p);
    }
    for (const n of list) if (n.kind !== 'atom') this.node(n, chain, parent, edge);
    for (const p of fresh) this.expand(p, chain);
  }

  private node(n: DepNode, chain: string[], parent: BinPackage | null, edge: 'r' | 'p'): void {
    if (n.kind === 'any') this.anyOf(n.children, [...chain, depToString(n)], parent, edge);
    else this.nodes(n.kind === 'atom' ? [n] : n.children, chain, parent, edge);
  }

  private expand(p: BinPackage, chain: string[]): void {
    const at = [...chain, label(p)];
    this.nodes(depsOf(p, 'RDEPEND'), at, p, 'r');
    this.nodes(depsOf(p, 'PDEPEND'), at, p, 'p');
  }

  /**
   * `|| ( ... )`: an alternative that already holds, else the first one that can be installed
   * with everything it needs; a failed attempt leaves no trace.
   */
  private anyOf(alternatives: DepNode[], chain: string[], parent: BinPackage | null, edge: 'r' | 'p'): void {
    // "|| ( )" left empty by its USE conditionals is satisfied (PMS).
    if (!alternatives.length) return;
    const held = alternatives.find((a) => this.holds(a));
    if (held) return this.node(held, chain, parent, edge);
    const failures: string[] = [];
    for (const alt of alternatives) {
      const saved = copy(this.state);
      try {
        return this.node(alt, chain, parent, edge);
      } catch (e) {
        if (!(e instanceof ResolveError)) throw e;
        this.state = saved;
        failures.push(e.message);
      }
    }
    throw new ResolveError(`cannot satisfy ${chain.join(' -> ')}: no alternative can be installed:\n${failures.map((f) => `  - ${f.replace(/\n/g, '\n    ')}`).join('\n')}`);
  }

  /** Whether a dependency holds with what is chosen and installed, adding nothing. */
  private holds(n: DepNode): boolean {
    if (n.kind === 'atom') return n.atom.blocker ? !this.present(n.atom).length : this.present(n.atom).length > 0;
    if (n.kind === 'any') return !n.children.length || n.children.some((c) => this.holds(c));
    return n.children.every((c) => this.holds(c));
  }

  /** The chosen and installed packages an atom matches. */
  private present(atom: Atom): BinPackage[] {
    return [...this.state.chosen, ...(this.installed.get(atom.cp) ?? [])].filter((p) => atomMatches(atom, p));
  }

  /** Satisfies one atom; returns the package it newly chose (its dependencies still to do). */
  private need(n: Need, parent: BinPackage | null, edge: 'r' | 'p'): BinPackage | null {
    const { atom } = n;
    if (atom.blocker) {
      this.block({ owner: parent as BinPackage, atom });
      return null;
    }
    const chosen = this.state.chosen.filter((p) => atomMatches(atom, p));
    if (chosen.length) {
      const p = chosen.reduce((a, b) => (compareVersions(b.version, a.version) > 0 ? b : a));
      this.state.slots.get(slotKey(p))?.wanted.push(n);
      this.link(parent, p, edge);
      return null;
    }
    if ((this.installed.get(atom.cp) ?? []).some((p) => atomMatches(atom, p))) return null;

    const candidates = this.candidates(atom);
    if (!candidates.length) throw this.unsatisfiable(n);
    for (const c of candidates) {
      const key = slotKey(c);
      if (this.installedBySlot.has(key) || this.state.slots.has(key)) continue;
      this.state.chosen.push(c);
      this.state.slots.set(key, { pkg: c, wanted: [n] });
      this.link(parent, c, edge);
      for (const b of this.state.blockers) if (this.blocks(b, c)) throw this.blocked(b, c);
      return c;
    }
    // Every build that fits is in a slot something else holds.
    const c = candidates[0];
    const key = slotKey(c);
    const base = this.installedBySlot.get(key);
    if (base) {
      throw new ResolveError(`cannot satisfy ${path(n)}: ${label(base)} is installed in slot ${key} and does not match; the binhosts have ${label(c)}, but installed packages are not replaced: add it to the base tree's packages`);
    }
    const held = this.state.slots.get(key) as { pkg: BinPackage; wanted: Need[] };
    const known = this.learned.get(key) ?? [];
    const atoms = [...known, ...[...held.wanted.map((w) => w.atom), atom].filter((a) => !known.some((k) => k.text === a.text))];
    if (atoms.length > known.length && (this.available.get(atom.cp) ?? []).some((p) => slotKey(p) === key && atoms.every((a) => atomMatches(a, p)))) {
      throw new Retry(key, atoms);
    }
    throw new ResolveError(
      `cannot satisfy ${path(n)}: slot ${key} already has ${label(held.pkg)}, chosen for ${path(held.wanted[0])}, and no build in the binhosts satisfies both (one package per slot)`,
    );
  }

  /**
   * The builds an atom could take, best first: the highest version, then the highest BUILD_ID,
   * then binhost priority; builds that satisfy what an earlier attempt learned about their slot
   * before those that do not.
   */
  private candidates(atom: Atom): BinPackage[] {
    const list = (this.available.get(atom.cp) ?? []).filter((p) => atomMatches(atom, p));
    list.sort((a, b) => compareVersions(b.version, a.version) || (b.buildId ?? -1) - (a.buildId ?? -1));
    const fits = (p: BinPackage) => (this.learned.get(slotKey(p)) ?? []).every((a) => atomMatches(a, p));
    return [...list.filter(fits), ...list.filter((p) => !fits(p))];
  }

  private link(parent: BinPackage | null, p: BinPackage, edge: 'r' | 'p'): void {
    if (!parent || parent === p) return;
    const edges = edge === 'r' ? this.state.rdeps : this.state.pdeps;
    edges.set(parent, [...(edges.get(parent) ?? []), p]);
  }

  /** A package never blocks itself (PMS), nor another build of itself. */
  private blocks(b: Blocker, p: BinPackage): boolean {
    return p.cpv !== b.owner.cpv && atomMatches(b.atom, p);
  }

  private block(b: Blocker): void {
    this.state.blockers.push(b);
    for (const p of this.present(b.atom)) if (this.blocks(b, p)) throw this.blocked(b, p);
  }

  private blocked(b: Blocker, victim: BinPackage): ResolveError {
    const why = (p: BinPackage) => {
      if (this.isInstalled(p)) return `${label(p)} is installed`;
      const wanted = this.state.slots.get(slotKey(p))?.wanted[0];
      return `${label(p)} is needed for ${wanted ? path(wanted) : 'the request'}`;
    };
    return new ResolveError(`${label(b.owner)} blocks ${label(victim)} ("${b.atom.text}" in its dependencies), they cannot both be installed: ${why(b.owner)}; ${why(victim)}`);
  }

  private unsatisfiable(n: Need): ResolveError {
    const { atom } = n;
    const known = [...(this.available.get(atom.cp) ?? []), ...(this.installed.get(atom.cp) ?? [])];
    // As emerge: "All ebuilds that could satisfy ... have been masked", each with its reasons.
    const masked = (this.masked.get(atom.cp) ?? []).filter((m) => atomMatches(atom, m.p));
    if (masked.length && !known.some((p) => atomMatches(atom, p))) {
      masked.sort((a, b) => compareVersions(b.p.version, a.p.version));
      return new ResolveError(`cannot satisfy ${path(n)}: every build that could is masked: ${masked.map((m) => describeMasked(m.p, m.reasons)).join('; ')}`);
    }
    if (!known.length) return new ResolveError(`cannot satisfy ${path(n)}: the binhosts have no ${atom.cp}`);
    // Name the builds that only the USE dependencies rule out, with their USE.
    const plain = { ...atom, use: [] };
    const otherUse = atom.use.length ? known.filter((p) => atomMatches(plain, p)) : [];
    if (otherUse.length) {
      const builds = otherUse.map((p) => `${label(p)}${this.isInstalled(p) ? ' (installed)' : ''} with USE="${[...p.use].sort().join(' ')}"`);
      return new ResolveError(`cannot satisfy ${path(n)}: ${atom.cp} exists only with other USE flags: ${builds.join(', ')}`);
    }
    const versions = [...known]
      .sort((a, b) => compareVersions(a.version, b.version))
      .map((p) => `${p.cpv}:${p.slot}${p.subslot !== p.slot ? `/${p.subslot}` : ''}${atom.repo ? `::${p.repo || '?'}` : ''}${this.isInstalled(p) ? ' (installed)' : ''}`);
    return new ResolveError(`cannot satisfy ${path(n)}: there are only ${[...new Set(versions)].join(', ')}`);
  }
}

/** Dependencies first; a dependency cycle is broken where the walk meets it again; PDEPENDs after. */
function installOrder(state: State): BinPackage[] {
  const out: BinPackage[] = [];
  const done = new Set<BinPackage>();
  const walking = new Set<BinPackage>();
  const visit = (p: BinPackage) => {
    if (done.has(p) || walking.has(p)) return;
    walking.add(p);
    for (const q of state.rdeps.get(p) ?? []) visit(q);
    walking.delete(p);
    done.add(p);
    out.push(p);
    for (const q of state.pdeps.get(p) ?? []) visit(q);
  };
  for (const p of state.chosen) visit(p);
  return out;
}

export function resolve(req: ResolveRequest): Resolution {
  const atoms = req.atoms.map((s) => {
    try {
      return parseAtom(s.trim());
    } catch (e) {
      throw new ResolveError((e as Error).message);
    }
  });
  const blocker = atoms.find((a) => a.blocker);
  if (blocker) throw new ResolveError(`"${blocker.text}" is a blocker: ask for packages to install, blockers only make sense in dependencies`);
  const masks = req.available.map((p) => ({ p, reasons: req.masked?.(p) ?? [] }));
  const available = byCp(masks.filter((m) => !m.reasons.length).map((m) => m.p));
  const masked = new Map<string, { p: BinPackage; reasons: MaskReason[] }[]>();
  for (const m of masks) if (m.reasons.length) masked.set(`${m.p.category}/${m.p.pn}`, [...(masked.get(`${m.p.category}/${m.p.pn}`) ?? []), m]);
  const installed = byCp(req.installed ?? []);
  const learned = new Map<string, Atom[]>();
  // Ends: every retry learns an atom more for a slot, and there are finitely many.
  for (;;) {
    try {
      const state = new Resolver(available, installed, learned, masked).run(atoms);
      return { install: installOrder(state), world: [...new Set(atoms.map((a) => a.cp))].sort() };
    } catch (e) {
      if (!(e instanceof Retry)) throw e;
      learned.set(e.slot, e.atoms);
    }
  }
}

/**
 * The IDEPEND entries of packages (with their USE evaluated): what their install-time phases need
 * in the building root. The image does not get them; the caller reports them.
 */
export function idependsOf(pkgs: BinPackage[]): string[] {
  return [...new Set(pkgs.flatMap((p) => depsOf(p, 'IDEPEND').map(depToString)))];
}
