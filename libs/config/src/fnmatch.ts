/**
 * Shell-style globs as Python's fnmatch.fnmatchcase reads them, the one glob mkosi's conditions
 * use (`[Match] ImageId=`): `*` any run of characters (`/` included), `?` one character, `[abc]`,
 * `[a-z]` a set, `[!abc]` its complement. There are no escapes (`[*]` is a literal `*`), no
 * braces, no `**`, and a `[` without its `]` is a literal `[`. Case-sensitive. picomatch, kiln's
 * path glob, differs in each of these (`\` escapes, `!` negates the pattern, `*` stops at `/`).
 */

/** Whether `name` matches the glob `pattern`, as Python's fnmatch.fnmatchcase. */
export function fnmatchcase(name: string, pattern: string): boolean {
  return toRegExp(pattern).test(name);
}

const cache = new Map<string, RegExp>();

function toRegExp(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    re = new RegExp(`^${translate(pattern)}$`, 'su');
    cache.set(pattern, re);
  }
  return re;
}

/** One code point as a regular expression atom matching exactly it. */
const literal = (c: string) => `\\u{${c.codePointAt(0)!.toString(16)}}`;

function translate(pattern: string): string {
  const p = [...pattern]; // code points, as Python indexes a str
  let out = '';
  let i = 0;
  while (i < p.length) {
    const c = p[i++];
    if (c === '*') {
      while (p[i] === '*') i++;
      out += '.*';
    } else if (c === '?') {
      out += '.';
    } else if (c === '[') {
      // The set ends at the first `]` that is not its first member (after an optional `!`).
      let j = i;
      if (p[j] === '!') j++;
      if (p[j] === ']') j++;
      while (j < p.length && p[j] !== ']') j++;
      if (j >= p.length) {
        out += literal('[');
        continue;
      }
      out += set(p.slice(i, j));
      i = j + 1;
    } else {
      out += literal(c);
    }
  }
  return out;
}

/** A `[...]` set's members (without the brackets) as a regular expression atom. */
function set(members: string[]): string {
  const negate = members[0] === '!';
  const m = negate ? members.slice(1) : members;
  const parts: string[] = [];
  for (let k = 0; k < m.length; ) {
    // `a-z` is a range when a character follows the `-` inside the set; a leading or trailing
    // `-` is itself. A reversed range (`z-a`) matches nothing, as in Python.
    if (m[k + 1] === '-' && k + 2 < m.length) {
      const [lo, hi] = [m[k], m[k + 2]];
      if (lo.codePointAt(0)! <= hi.codePointAt(0)!) parts.push(`${literal(lo)}-${literal(hi)}`);
      k += 3;
    } else {
      parts.push(literal(m[k]));
      k += 1;
    }
  }
  if (parts.length === 0) return negate ? '.' : '(?!)';
  return `[${negate ? '^' : ''}${parts.join('')}]`;
}
