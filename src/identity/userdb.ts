/**
 * identity/userdb: the container's /etc/passwd and /etc/group as moby/sys `user` reads them
 * (ParsePasswdFilter, ParseGroupFilter, parseLine), which is how Docker, podman, CRI-O and BuildKit
 * read them. The parsers take text the caller has already read (no I/O) and keep, for every
 * entry, its 1-based line number and text so that a resolution can say which line decided it.
 *
 * The format (man 5 passwd, man 5 group):
 *   name:password:UID:GID:GECOS:home:shell     root:x:0:0:root:/root:/bin/bash
 *   group_name:password:GID:user_list          adm:x:4:root,adm,daemon
 *
 * moby/sys is deliberately lenient (identity.md rules 14-19), and berth reproduces it exactly:
 * - lines are split like bufio.Scanner ScanLines (on `\n`, one trailing `\r` dropped), then
 *   bytes.TrimSpace'd; blank lines are skipped;
 * - passwd does NOT skip `#` lines (`#x:x:5:5::/c:` is a user named `#x`); group does;
 * - fields are split on every `:`; missing fields are "" or 0; extra fields are ignored;
 * - numbers go through strconv.Atoi with the error ignored: `abc` is 0 and an int64 overflow is
 *   the clamped extreme, silently;
 * - a line without `:` is an entry whose name is the whole line;
 * - member lists are split on `,` without trimming (" bob" is not "bob");
 * - NIS `+`/`-` lines are ordinary entries (`+::::::` is a user `+` with uid 0);
 * - a passwd line must fit bufio.Scanner's default 64 KiB buffer and a group line its 1 MiB
 *   buffer, or the whole file fails to parse ("bufio.Scanner: token too long");
 * - readers cap each file at MAX_USER_FILE_BYTES (moby/sys v0.4.1 openUserFile); that check is
 *   the caller's, with assertUserFileSize.
 */
import { BerthError } from '../errors/index.js';
import { goAtoi, goAtoiLenient, goAtoiLenientNumber, goTrimSpace } from './numeric.js';

/** moby/sys openUserFile and containerd/BuildKit cap a user database at 10 MiB. */
export const MAX_USER_FILE_BYTES = 10 * 1024 * 1024;

/**
 * bufio.Scanner's buffer size for passwd (the default MaxScanTokenSize) and for group
 * (`s.Buffer(nil, 1<<20)` since moby/sys v0.4.1). A line plus its newline must fit, so the longest
 * accepted line is one byte shorter.
 */
export const PASSWD_SCAN_BUFFER_BYTES = 64 * 1024;
export const GROUP_SCAN_BUFFER_BYTES = 1024 * 1024;

export interface PasswdEntry {
  name: string;
  password: string;
  /** Go int semantics: 0 when the field is not a number; may be outside 0..2147483647. */
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
  /** 1-based line number in the file. */
  line: number;
  /** The line as parsed (after TrimSpace). */
  text: string;
}

export interface GroupEntry {
  name: string;
  password: string;
  gid: number;
  /** Split on `,` without trimming; empty when the field is empty or missing. */
  members: string[];
  line: number;
  text: string;
}

/** One physical line of a user file, as bufio.Scanner ScanLines yields it. */
export interface ScannedLine {
  line: number;
  /** Without the `\n` and without one trailing `\r`. */
  text: string;
}

export type UserFileInput = string | Uint8Array;

function utf8Length(s: string): number {
  // Fast path: no line shorter than limit/3 UTF-16 units can exceed the limit in UTF-8.
  return Buffer.byteLength(s, 'utf8');
}

/**
 * Splits a user file the way bufio.Scanner with ScanLines does, enforcing its buffer limit: a line
 * whose bytes before `\n` (counting a `\r`) reach `bufferBytes` fails the whole scan. Bytes are
 * decoded as UTF-8 after the split, so the limit applies to the file's real bytes.
 */
export function scanLines(input: UserFileInput, bufferBytes: number, file: string): ScannedLine[] {
  const out: ScannedLine[] = [];
  const tooLong = (line: number, bytes: number): BerthError =>
    new BerthError('E_USER_FILE_LINE_TOO_LONG', `parse ${file}: line ${line} is ${bytes} bytes, more than the ${bufferBytes - 1} a line may have (bufio.Scanner: token too long)`, {
      hint: `shorten line ${line} of ${file}; engines that use moby/sys reject the whole file`,
      details: { file, line, bytes, limit: bufferBytes - 1 },
    });
  const push = (text: string): void => {
    out.push({ line: out.length + 1, text: text.endsWith('\r') ? text.slice(0, -1) : text });
  };
  if (typeof input === 'string') {
    const parts = input.split('\n');
    // ScanLines yields no empty final token after a trailing newline.
    if (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    const cheap = Math.floor((bufferBytes - 1) / 3);
    for (const p of parts) {
      if (p.length > cheap) {
        const bytes = utf8Length(p);
        if (bytes > bufferBytes - 1) throw tooLong(out.length + 1, bytes);
      }
      push(p);
    }
    return out;
  }
  const decoder = new TextDecoder('utf-8');
  let start = 0;
  while (start < input.length) {
    let nl = input.indexOf(0x0a, start);
    if (nl < 0) nl = input.length;
    const bytes = nl - start;
    if (bytes > bufferBytes - 1) throw tooLong(out.length + 1, bytes);
    push(decoder.decode(input.subarray(start, nl)));
    start = nl + 1;
  }
  return out;
}

/** Go strings.Split(s, sep) for a non-empty separator. */
function split(s: string, sep: string): string[] {
  return s.split(sep);
}

function parsePasswdLine(text: string, line: number): PasswdEntry {
  const f = split(text, ':');
  return {
    name: f[0] ?? '',
    password: f[1] ?? '',
    uid: goAtoiLenientNumber(f[2] ?? ''),
    gid: goAtoiLenientNumber(f[3] ?? ''),
    gecos: f[4] ?? '',
    home: f[5] ?? '',
    shell: f[6] ?? '',
    line,
    text,
  };
}

function parseGroupLine(text: string, line: number): GroupEntry {
  const f = split(text, ':');
  const list = f[3] ?? '';
  return {
    name: f[0] ?? '',
    password: f[1] ?? '',
    gid: goAtoiLenientNumber(f[2] ?? ''),
    members: list.length === 0 ? [] : split(list, ','),
    line,
    text,
  };
}

/** moby/sys ParsePasswd. Throws E_USER_FILE_LINE_TOO_LONG for a line over 64 KiB. */
export function parsePasswd(input: UserFileInput, file = '/etc/passwd'): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const l of scanLines(input, PASSWD_SCAN_BUFFER_BYTES, file)) {
    const text = goTrimSpace(l.text);
    // Blank lines are skipped; `#` lines are not (rule 15).
    if (text.length === 0) continue;
    out.push(parsePasswdLine(text, l.line));
  }
  return out;
}

/** moby/sys ParseGroup. Throws E_USER_FILE_LINE_TOO_LONG for a line over 1 MiB. */
export function parseGroup(input: UserFileInput, file = '/etc/group'): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const l of scanLines(input, GROUP_SCAN_BUFFER_BYTES, file)) {
    const text = goTrimSpace(l.text);
    if (text.length === 0 || text.startsWith('#')) continue;
    out.push(parseGroupLine(text, l.line));
  }
  return out;
}

/** Prints an entry as a passwd line; parsePasswd gives it back for fields without `:` or newlines. */
export function formatPasswdEntry(e: Pick<PasswdEntry, 'name' | 'password' | 'uid' | 'gid' | 'gecos' | 'home' | 'shell'>): string {
  return `${e.name}:${e.password}:${e.uid}:${e.gid}:${e.gecos}:${e.home}:${e.shell}`;
}

/** Prints an entry as a group line. */
export function formatGroupEntry(e: Pick<GroupEntry, 'name' | 'password' | 'gid' | 'members'>): string {
  return `${e.name}:${e.password}:${e.gid}:${e.members.join(',')}`;
}

/**
 * The exact Go int value of a numeric field of an entry, re-read from its text. `uid`/`gid` are
 * JavaScript numbers, exact only up to 2^53; engines that convert out-of-range values (Docker's
 * uint32(uid)) need the exact value.
 */
export function exactField(entry: { text: string }, index: number): bigint {
  return goAtoiLenient(split(entry.text, ':')[index] ?? '');
}

/** True when the numeric field at `index` is a well-formed Go int (not a silent 0 or clamp). */
export function fieldIsNumber(entry: { text: string }, index: number): boolean {
  return goAtoi(split(entry.text, ':')[index] ?? '').kind === 'ok';
}

/**
 * The user database of one container image, as the resolvers read it.
 * - `null` for a file means missing, or not a regular file (moby/sys v0.4.1 opens neither).
 * - `passwdError`/`groupError`: the file exists but could not be parsed; like moby/sys, the
 *   failure surfaces only when a resolution reads that file.
 * - `text`: the original texts, for engines that parse with their own rules (buildah, kaniko).
 * - `paths`: where the files came from, for provenance (podman and CRI-O honour bind mounts).
 */
export interface UserDb {
  passwd: PasswdEntry[] | null;
  group: GroupEntry[] | null;
  passwdError?: BerthError;
  groupError?: BerthError;
  text?: { passwd: string | null; group: string | null };
  paths?: { passwd: string; group: string };
}

/** Throws the error moby/sys openUserFile gives for a user file over MAX_USER_FILE_BYTES. */
export function assertUserFileSize(path: string, size: number): void {
  if (size > MAX_USER_FILE_BYTES) {
    throw new BerthError('E_USER_FILE_TOO_LARGE', `read ${path}: file exceeds ${MAX_USER_FILE_BYTES} bytes`, {
      hint: `a user database larger than 10 MiB is refused by moby/sys, containerd and BuildKit; shrink ${path}`,
      details: { path, size, limit: MAX_USER_FILE_BYTES },
    });
  }
}

function decode(input: UserFileInput): string {
  return typeof input === 'string' ? input : new TextDecoder('utf-8').decode(input);
}

/**
 * Builds a UserDb from file contents (null = missing). Parse failures are kept on the db, not
 * thrown, because an engine only fails when it reads that file.
 */
export function userDbFromText(
  files: { passwd?: UserFileInput | null; group?: UserFileInput | null },
  opts: { paths?: { passwd: string; group: string } } = {},
): UserDb {
  const paths = opts.paths ?? { passwd: '/etc/passwd', group: '/etc/group' };
  const db: UserDb = {
    passwd: null,
    group: null,
    text: {
      passwd: files.passwd == null ? null : decode(files.passwd),
      group: files.group == null ? null : decode(files.group),
    },
    paths,
  };
  if (files.passwd != null) {
    try {
      db.passwd = parsePasswd(files.passwd, paths.passwd);
    } catch (e) {
      if (!(e instanceof BerthError)) throw e;
      db.passwdError = e;
    }
  }
  if (files.group != null) {
    try {
      db.group = parseGroup(files.group, paths.group);
    } catch (e) {
      if (!(e instanceof BerthError)) throw e;
      db.groupError = e;
    }
  }
  return db;
}

/** `/etc/passwd:12 foo:x:10000:10000::/home/foo:/bin/sh` */
export function passwdRef(db: UserDb, e: { line: number; text: string }): string {
  return `${db.paths?.passwd ?? '/etc/passwd'}:${e.line} ${e.text}`;
}

/** `/etc/group:40 bar:x:20000:foo` */
export function groupRef(db: UserDb, e: { line: number; text: string }): string {
  return `${db.paths?.group ?? '/etc/group'}:${e.line} ${e.text}`;
}

/** The raw text of a file, or a reconstruction from its entries when the db was built from entries. */
export function fileText(db: UserDb, which: 'passwd' | 'group'): string | null {
  const t = db.text?.[which];
  if (t !== undefined) return t;
  const entries = db[which];
  return entries === null ? null : entries.map((e) => e.text).join('\n');
}
