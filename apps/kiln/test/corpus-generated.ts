/**
 * Corpus cases git cannot hold: FIFOs, huge files, hundreds of files. Each is made at test time
 * in an empty project directory by `make(dir)`; the fields are those of a case.json (see
 * corpus/README.md), `{dir}` in `expect` standing for the project's absolute directory.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface GeneratedCase {
  category: string;
  name: string;
  command?: string[];
  expect: string;
  why: string;
  make(dir: string): void | Promise<void>;
}

const MIN = '[Distribution]\nDistribution=debian\nRelease=bookworm\n';
/** For `kiln build` cases: the package cache, which a build creates before it reads kiln.lock, stays in the output directory. */
const BUILD_MIN = `${MIN}[Build]\nPackageCacheDirectory=mkosi.output/packages\n`;

function write(dir: string, files: Record<string, string>): void {
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
}

/** A named pipe at dir/name: reading it would block until someone writes. */
function fifo(dir: string, name: string): void {
  fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
  execFileSync('mkfifo', [path.join(dir, name)]);
}

/** `count` lines of `line`, written in blocks so that tens of MB do not sit in one string twice. */
function repeatLines(file: string, head: string, line: string, count: number, tail: string): void {
  const fd = fs.openSync(file, 'w');
  try {
    fs.writeSync(fd, head);
    const block = line.repeat(Math.min(count, 10_000));
    for (let n = 0; n < count; n += 10_000) fs.writeSync(fd, n + 10_000 <= count ? block : line.repeat(count - n));
    fs.writeSync(fd, tail);
  } finally {
    fs.closeSync(fd);
  }
}

const MiB = 1024 * 1024;

export const GENERATED: GeneratedCase[] = [
  // structure: special files as config files (refused without opening them for reading)
  {
    category: 'structure', name: 'fifo-mkosi-conf', why: 'mkosi.conf is a FIFO (reading it would hang)',
    expect: '{dir}/mkosi.conf: is a FIFO, not a regular file (a config file must be a regular file)',
    make: (dir) => fifo(dir, 'mkosi.conf'),
  },
  {
    category: 'structure', name: 'fifo-dropin', why: 'a drop-in in mkosi.conf.d/ is a FIFO',
    expect: '{dir}/mkosi.conf.d/10-pipe.conf: is a FIFO, not a regular file (a config file must be a regular file)',
    make: (dir) => {
      write(dir, { 'mkosi.conf': MIN });
      fifo(dir, 'mkosi.conf.d/10-pipe.conf');
    },
  },
  {
    category: 'structure', name: 'fifo-include', why: 'Include= of a FIFO (must not hang)',
    expect: '{dir}/mkosi.conf:2: Include=: {dir}/pipe.conf is a FIFO, not a regular file (a config file must be a regular file)',
    make: (dir) => {
      write(dir, { 'mkosi.conf': '[Include]\nInclude=pipe.conf\n' });
      fifo(dir, 'pipe.conf');
    },
  },
  {
    category: 'structure', name: 'fifo-version', why: 'mkosi.version is a FIFO',
    expect: '{dir}/mkosi.version: is a FIFO, not a regular file (a config file must be a regular file)',
    make: (dir) => {
      write(dir, { 'mkosi.conf': MIN });
      fifo(dir, 'mkosi.version');
    },
  },
  {
    category: 'structure', name: 'fifo-local-conf', why: 'mkosi.local.conf is a FIFO',
    expect: '{dir}/mkosi.local.conf: is a FIFO, not a regular file (a config file must be a regular file)',
    make: (dir) => {
      write(dir, { 'mkosi.conf': MIN });
      fifo(dir, 'mkosi.local.conf');
    },
  },
  {
    category: 'structure', name: 'fifo-preset', why: 'a preset file in mkosi.images/ is a FIFO',
    expect: '{dir}/mkosi.images/app.conf: is a FIFO, not a regular file (a config file must be a regular file)',
    make: (dir) => {
      write(dir, { 'mkosi.conf': MIN });
      fifo(dir, 'mkosi.images/app.conf');
    },
  },
  {
    category: 'structure', name: 'fifo-kiln-toml', why: 'kiln.toml is a FIFO',
    expect: '{dir}/kiln.toml: is a FIFO, not a regular file (a config file must be a regular file)',
    make: (dir) => fifo(dir, 'kiln.toml'),
  },
  {
    category: 'lockfile', name: 'fifo-lock', why: 'kiln.lock is a FIFO (kiln build, which refuses it before any network access)', command: ['build'],
    expect: 'kiln: project: {dir}/kiln.lock: is a FIFO, not a regular file (a config file must be a regular file); regenerate it with kiln lock',
    make: (dir) => {
      write(dir, { 'mkosi.conf': BUILD_MIN });
      fifo(dir, 'kiln.lock');
    },
  },
  {
    category: 'structure', name: 'presets-500-one-bad', why: '500 presets, one with a bad value: the error names that file',
    expect: '{dir}/mkosi.images/p317.conf:2: Format=: "cdrom" is not a valid value (accepted: directory, tar, cpio, disk, uki, esp, oci, sysext, confext, portable, addon, none)',
    make: (dir) => {
      write(dir, { 'mkosi.conf': MIN });
      for (let i = 0; i < 500; i++) {
        write(dir, { [`mkosi.images/p${String(i).padStart(3, '0')}.conf`]: `[Output]\nFormat=${i === 317 ? 'cdrom' : 'tar'}\n` });
      }
    },
  },
  {
    category: 'structure', name: 'include-chain-200', why: 'a chain of 200 included files, the last with a bad value',
    expect: '{dir}/inc/199.conf:2: WithDocs=: "sometimes" is not a boolean (accepted: 1 true yes y t on always / 0 false no n f off never)',
    make: (dir) => {
      write(dir, { 'mkosi.conf': '[Include]\nInclude=inc/0.conf\n' });
      for (let i = 0; i < 199; i++) write(dir, { [`inc/${i}.conf`]: `[Include]\nInclude=%C/${i + 1}.conf\n` });
      write(dir, { 'inc/199.conf': '[Content]\nWithDocs=sometimes\n' });
    },
  },

  // huge inputs: bounded reads and linear parsing
  {
    category: 'huge', name: 'config-50mb', why: 'a 50 MB mkosi.conf',
    expect: '{dir}/mkosi.conf: is larger than 16 MiB, too large for a config file (is it the right file?)',
    make: (dir) => repeatLines(path.join(dir, 'mkosi.conf'), '[Content]\n', 'Packages=hello\n', Math.ceil((50 * MiB) / 15), ''),
  },
  {
    category: 'huge', name: 'line-20mb', why: 'one 20 MB line',
    expect: '{dir}/mkosi.conf: is larger than 16 MiB, too large for a config file (is it the right file?)',
    make: (dir) => repeatLines(path.join(dir, 'mkosi.conf'), '[Content]\nHostname=', 'a', 20 * MiB, '\n'),
  },
  {
    category: 'huge', name: 'dropin-20mb', why: 'a 20 MB drop-in',
    expect: '{dir}/mkosi.conf.d/big.conf: is larger than 16 MiB, too large for a config file (is it the right file?)',
    make: (dir) => {
      write(dir, { 'mkosi.conf': MIN });
      fs.mkdirSync(path.join(dir, 'mkosi.conf.d'));
      repeatLines(path.join(dir, 'mkosi.conf.d/big.conf'), '# big\n', '#'.repeat(1023) + '\n', 20 * 1024, '');
    },
  },
  {
    category: 'huge', name: 'line-10mb-value', why: 'a 10 MB value (under the size limit): the message quotes only its start',
    expect: `{dir}/mkosi.conf:2: Seed=: "${'a'.repeat(120)}..." is not valid (accepted: a UUID or "random")`,
    make: (dir) => repeatLines(path.join(dir, 'mkosi.conf'), '[Output]\nSeed=', 'a', 10 * MiB, '\n'),
  },
  {
    category: 'huge', name: 'key-1mb', why: 'a 1 MB line without "="',
    expect: `{dir}/mkosi.conf:2: "${'k'.repeat(120)}..." is not a setting (expected KEY=VALUE)`,
    make: (dir) => repeatLines(path.join(dir, 'mkosi.conf'), '[Content]\n', 'k', MiB, '\n'),
  },
  {
    category: 'huge', name: 'remove-files-80k-lines', why: '80,000 RemoveFiles= lines then a bad one (was quadratic: 148 s)',
    expect: '{dir}/mkosi.conf:80002: RemoveFiles=: "/../etc" contains ".." (paths are inside the image; ".." would leave it)',
    make: (dir) => repeatLines(path.join(dir, 'mkosi.conf'), '[Content]\n', 'RemoveFiles=/usr/share/doc/*\n', 80_000, 'RemoveFiles=/../etc\n'),
  },
  {
    category: 'huge', name: 'packages-80k-lines', why: '80,000 Packages= lines then an option (was quadratic: sorted on every line)',
    expect: '{dir}/mkosi.conf:80002: Packages=: "-oAPT::Get::Simulate=true" starts with "-" and would be read as an option, not a package (package names start with a letter or digit)',
    make: (dir) => repeatLines(path.join(dir, 'mkosi.conf'), '[Content]\n', 'Packages=hello\n', 80_000, 'Packages=-oAPT::Get::Simulate=true\n'),
  },
  {
    category: 'huge', name: 'remove-files-80k-continuation', why: 'one RemoveFiles= continued over 80,000 lines, the last bad',
    expect: '{dir}/mkosi.conf:2: RemoveFiles=: "../../../.." contains ".." (paths are inside the image; ".." would leave it)',
    make: (dir) => repeatLines(path.join(dir, 'mkosi.conf'), '[Content]\nRemoveFiles=/a\n', '  /usr/share/doc/*\n', 80_000, '  ../../../..\n'),
  },
  {
    category: 'huge', name: 'sections-100k', why: '100,000 section headers then a bad value',
    expect: '{dir}/mkosi.conf:100001: Format=: "zip" is not a valid value (accepted: directory, tar, cpio, disk, uki, esp, oci, sysext, confext, portable, addon, none)',
    make: (dir) => repeatLines(path.join(dir, 'mkosi.conf'), '', '[Output]\n', 100_000, 'Format=zip\n'),
  },
  {
    category: 'huge', name: 'kiln-toml-20mb', why: 'a 20 MB kiln.toml',
    expect: '{dir}/kiln.toml: is larger than 16 MiB, too large for a config file (is it the right file?)',
    make: (dir) => repeatLines(path.join(dir, 'kiln.toml'), '[Content]\nPackages = [\n', '"hello",\n', (20 * MiB) / 9, ']\n'),
  },
  {
    category: 'huge', name: 'kiln-toml-80k-packages', why: 'a kiln.toml array of 80,000 packages, the last an option',
    expect: '{dir}/kiln.toml:2: Packages=: "--simulate" starts with "-" and would be read as an option, not a package (package names start with a letter or digit)',
    make: (dir) => repeatLines(path.join(dir, 'kiln.toml'), '[Content]\nPackages = [\n', '"hello",\n', 80_000, '"--simulate"]\n'),
  },
  {
    category: 'huge', name: 'lock-20mb', why: 'a 20 MB kiln.lock (kiln build, which refuses it before any network access)', command: ['build'],
    expect: 'kiln: project: {dir}/kiln.lock: is larger than 16 MiB, too large for a config file (is it the right file?); regenerate it with kiln lock',
    make: (dir) => {
      write(dir, { 'mkosi.conf': BUILD_MIN });
      repeatLines(path.join(dir, 'kiln.lock'), '', '#'.repeat(1023) + '\n', 20 * 1024, '');
    },
  },
  {
    category: 'huge', name: 'version-20mb', why: 'a 20 MB mkosi.version',
    expect: '{dir}/mkosi.version: is larger than 16 MiB, too large for a config file (is it the right file?)',
    make: (dir) => {
      write(dir, { 'mkosi.conf': MIN });
      repeatLines(path.join(dir, 'mkosi.version'), '', '1', 20 * MiB, '\n');
    },
  },
];
