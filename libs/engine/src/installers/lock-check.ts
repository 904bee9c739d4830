/**
 * After an install from a lock, every installer asks the same of its package database: were
 * exactly the locked versions added (on top of what was there before)? The answer is the list of
 * differences, each a line for the error that stops the build.
 */
import type { LockedPackage } from '@kiln/config';

/** The differences between what was installed (`after`, beside `before`) and the lock; empty when they agree. */
export function lockDifferences(locked: LockedPackage[], before: Map<string, { version: string }>, after: Map<string, { version: string }>): string[] {
  const want = new Map(locked.map((p) => [p.name, p]));
  const problems: string[] = [];
  for (const [name, p] of after) {
    if (before.get(name)?.version === p.version) continue;
    const l = want.get(name);
    if (!l) problems.push(`${name} ${p.version} was installed but is not in the lock`);
    else if (l.version !== p.version) problems.push(`${name} ${p.version} was installed, the lock says ${l.version}`);
  }
  for (const l of locked) if (!after.has(l.name)) problems.push(`${l.name} ${l.version} is locked but was not installed`);
  return problems;
}
