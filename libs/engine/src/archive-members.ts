/**
 * The rules an archive from outside must follow before anything of it is unpacked (trees.ts).
 *
 * tar and cpio write each member where its name leads on the file system as it is when they reach
 * it, including through symlinks the same archive made a moment before: a `l -> /etc` member then
 * `l/passwd` writes the host's /etc/passwd (GNU tar's delayed links cover only link targets that
 * are absolute or hold `..`: `l -> var/run` with the image's `var/run -> /run` still leads out).
 * A hard link to `l/passwd` links the host's file into the image, where a maintainer script may
 * append to it. So the whole member list is read first (tar -tv, cpio -tv) and the archive is
 * refused, naming the member, when a member:
 *  - is absolute or has a `..` component;
 *  - lies below a symlink member of the same archive (it would be written through the link);
 *  - is a hard link to a member not seen earlier in the archive (tar links to whatever has that
 *    name on the file system, which may be a host file reached through a link);
 *  - is a device node, in a tree of the user's project (ExtraTrees=, SkeletonTrees=,
 *    SandboxTrees=); base trees are images and keep theirs;
 *  - is of a type kiln does not unpack (volume labels, multi-volume continuations, sockets).
 * Links in the image itself (left by packages, base trees or earlier trees) are handled by
 * trees.ts, which resolves them inside the image.
 */

export interface Member {
  /** tar's/ls's type letter: '-' file, 'd' directory, 'l' symlink, 'h' hard link, 'c'/'b' devices, 'p' FIFO. */
  type: string;
  name: string;
  /** A symlink's target, or the member a hard link links to. */
  link?: string;
}

/** Reads a C-quoted string ("a\"b\n\303\251") starting at text[at] (the quote); returns it and where it ends. */
function cString(text: string, at: number): { value: string; end: number } {
  const bytes: number[] = [];
  let i = at + 1;
  const simple: Record<string, number> = { n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, '\\': 92, '"': 34, '?': 63, "'": 39 };
  while (i < text.length && text[i] !== '"') {
    if (text[i] === '\\') {
      const oct = text.slice(i + 1, i + 4).match(/^[0-7]{1,3}/);
      if (oct) {
        bytes.push(parseInt(oct[0], 8));
        i += 1 + oct[0].length;
      } else {
        bytes.push(simple[text[i + 1]] ?? text.charCodeAt(i + 1));
        i += 2;
      }
      continue;
    }
    bytes.push(...Buffer.from(text[i], 'utf8'));
    i++;
  }
  if (i >= text.length) throw new Error(`unterminated name in the listing: ${text}`);
  return { value: Buffer.from(bytes).toString('utf8'), end: i + 1 };
}

/**
 * `tar -tv --quoting-style=c --numeric-owner` output. Every name is quoted, so names with spaces,
 * quotes, ` -> ` or newlines are read exactly: nothing before the name holds a quote.
 */
export function parseTarListing(text: string): Member[] {
  const out: Member[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const q = line.indexOf('"');
    if (q < 0) throw new Error(`unexpected line in tar's listing: ${line}`);
    const { value: name, end } = cString(line, q);
    const rest = line.slice(end);
    const link = rest.match(/^ (?:->|link to) "/);
    out.push({ type: line[0], name, link: link ? cString(rest, link[0].length - 1).value : undefined });
  }
  return out;
}

/**
 * `cpio -tvn` output ("lrwxrwxrwx   1 0  0   4 Dec  1 21:36 l -> /etc"). cpio does not quote
 * names: a symlink line with two ` -> ` cannot be split for sure, and is refused as such (the
 * name `?` makes checkMembers say so). A newline in a name splits it into lines that are each
 * checked, which refuses more, never less.
 */
export function parseCpioListing(text: string): Member[] {
  const out: Member[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const m = line.match(/^(\S)\S*\s+\d+\s+\d+\s+\d+\s+(?:\d+|\d+,\s*\d+)\s+\w+\s+\d+\s+\S+ (.*)$/);
    if (!m) {
      out.push({ type: '?', name: line });
      continue;
    }
    const [, type, rest] = m;
    if (type !== 'l') out.push({ type, name: rest });
    else {
      const parts = rest.split(' -> ');
      out.push(parts.length === 2 ? { type, name: parts[0], link: parts[1] } : { type: '?', name: rest });
    }
  }
  return out;
}

/** A member name as a path below the archive's top: "./a//b/" -> "a/b" ('' for the top). */
function normal(name: string): string {
  return name.split('/').filter((c) => c && c !== '.').join('/');
}

export interface MemberRules {
  /** Device nodes may be unpacked (base trees, which are images). */
  devices: boolean;
}

/** Why the archive must not be unpacked (naming the member), or null when it follows the rules. */
export function refusal(members: Member[], rules: MemberRules): string | null {
  const symlinks = new Set<string>();
  const seen = new Set<string>();
  for (const m of members) {
    const quoted = JSON.stringify(m.name);
    if (m.name.startsWith('/') || m.name.split('/').includes('..')) return `member ${quoted} escapes the image (an absolute name or "..")`;
    const name = normal(m.name);
    const parts = name.split('/');
    // A directory member over an earlier symlink is written through it too (tar keeps directory links).
    for (let i = 1; i < parts.length + (m.type === 'd' ? 1 : 0); i++) {
      const dir = parts.slice(0, i).join('/');
      if (symlinks.has(dir)) return `member ${quoted} lies below the archive's own symlink "${dir}" (it would be written through the link)`;
    }
    switch (m.type) {
      case '-':
      case 'd':
      case 'p':
        break;
      case 'l':
        symlinks.add(name);
        break;
      case 'h': {
        const target = normal(m.link ?? '');
        if ((m.link ?? '').startsWith('/') || (m.link ?? '').split('/').includes('..') || !seen.has(target) || target === '') {
          return `member ${quoted} is a hard link to "${m.link}", which is not a member before it`;
        }
        break;
      }
      case 'c':
      case 'b':
        if (!rules.devices) return `member ${quoted} is a device node, which a tree of the project may not carry (put device nodes in the image with a script, or use BaseTrees=)`;
        break;
      case '?':
        return `member ${quoted} cannot be checked (a name with " -> " in a cpio archive)`;
      default:
        return `member ${quoted} is of a type kiln does not unpack ("${m.type}")`;
    }
    seen.add(name);
  }
  return null;
}
