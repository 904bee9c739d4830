/**
 * Checks on an image's portage vdb (/var/db/pkg), shared by the native installer's and the real
 * portage suites: every CONTENTS line against the file it names, and the list of entries.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

export const md5 = (file: string) => createHash('md5').update(fs.readFileSync(file)).digest('hex');

/** cat/pf of every vdb entry, sorted. */
export function vdbEntries(image: string): string[] {
  const vdb = path.join(image, 'var/db/pkg');
  return fs.readdirSync(vdb).flatMap((c) => fs.readdirSync(path.join(vdb, c)).map((p) => `${c}/${p}`)).sort();
}

/**
 * Every CONTENTS line of every vdb entry, checked against the image; `changed` are files that
 * change after their merge, as they do on a Gentoo system.
 */
export function checkContents(image: string, changed = ['/etc/passwd', '/etc/group']): number {
  let lines = 0;
  const vdb = path.join(image, 'var/db/pkg');
  for (const cat of fs.readdirSync(vdb)) {
    for (const pf of fs.readdirSync(path.join(vdb, cat))) {
      for (const line of fs.readFileSync(path.join(vdb, cat, pf, 'CONTENTS'), 'utf8').split('\n').filter(Boolean)) {
        lines++;
        const obj = /^obj (\S+) ([0-9a-f]{32}) (\d+)$/.exec(line);
        const sym = /^sym (\S+) -> (\S+) (\d+)$/.exec(line);
        const dir = /^dir (\S+)$/.exec(line);
        const file = path.join(image, (obj ?? sym ?? dir)![1]);
        // systemd-sysusers adds to these after baselayout installed them, as an acct-* package's
        // pkg_postinst would: portage keeps such changed files on unmerge, as it should.
        if (obj && changed.includes(obj[1])) continue;
        if (obj) {
          expect([line, md5(file)]).toEqual([line, obj[2]]);
          expect([line, Math.floor(fs.statSync(file).mtimeMs / 1000)]).toEqual([line, Number(obj[3])]);
        } else if (sym) {
          expect([line, fs.readlinkSync(file)]).toEqual([line, sym[2]]);
          expect([line, Math.floor(fs.lstatSync(file).mtimeMs / 1000)]).toEqual([line, Number(sym[3])]);
        } else {
          expect([line, fs.statSync(file).isDirectory()]).toEqual([line, true]);
        }
      }
    }
  }
  return lines;
}

