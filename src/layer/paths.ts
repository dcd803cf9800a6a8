/**
 * Entry names of a layer, as pure data: normalisation (OCI image-spec layer.md; node-tar
 * CVE-2021-32804 and zip-slip show why every name must be treated as hostile) and whiteout
 * classification (layer.md "Whiteouts", "Opaque Whiteout").
 *
 * Names are byte strings compared byte-exactly: no Unicode or case folding (node-tar
 * CVE-2021-37712), and `\` or `C:` are ordinary bytes on Linux (CVE-2021-37701, CVE-2021-37713).
 */
import type { BytePath } from './tar/types.js';

export interface NormalisedPath {
  /** Components below the root; [] is the root itself. Never '', '.' or '..'. */
  components: BytePath[];
  /** True when a '..' tried to climb above the root and was dropped. */
  clamped: boolean;
}

/**
 * Splits a name on '/', drops '' and '.', and resolves '..' lexically, clamping at the root: `////etc/x`,
 * `/etc/x` and `./../../etc/x` all become [etc, x]. Symlinks are not looked at here; they are
 * resolved at syscall time inside the root.
 */
export function normaliseEntryPath(name: BytePath): NormalisedPath {
  const components: BytePath[] = [];
  let clamped = false;
  for (const c of name.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') {
      if (components.length === 0) clamped = true;
      else components.pop();
      continue;
    }
    components.push(c);
  }
  return { components, clamped };
}

/** The canonical key of a normalised path: components joined by '/', '' for the root. */
export function pathKey(components: readonly BytePath[]): BytePath {
  return components.join('/');
}

/** A byte-string path for messages: '/' + the name decoded as UTF-8 (invalid bytes become U+FFFD). */
export function displayEntryPath(components: readonly BytePath[] | BytePath): string {
  const key = typeof components === 'string' ? components : pathKey(components);
  return `/${Buffer.from(key, 'latin1').toString('utf8')}`;
}

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_WHITEOUT = '.wh..wh..opq';
/** AUFS metadata prefix (`.wh..wh.plnk`, `.wh..wh.aufs`, ...). */
export const AUFS_META_PREFIX = '.wh..wh.';

export type WhiteoutKind =
  | { kind: 'none' }
  /** `.wh.<target>`: delete `<target>` (from lower layers) in the same directory. */
  | { kind: 'whiteout'; target: BytePath }
  /** `.wh..wh..opq`: hide every lower-layer child of the directory. */
  | { kind: 'opaque' }
  /** Other `.wh..wh.*` names: AUFS bookkeeping, skipped. */
  | { kind: 'aufs' }
  /** `.wh.`, `.wh..` and `.wh...`: a whiteout of nothing, `.` or `..`; invalid (layer.md SHOULD error). */
  | { kind: 'invalid'; reason: string };

/** Classifies the last component of an entry name. */
export function classifyWhiteout(basename: BytePath): WhiteoutKind {
  if (!basename.startsWith(WHITEOUT_PREFIX)) return { kind: 'none' };
  if (basename === OPAQUE_WHITEOUT) return { kind: 'opaque' };
  if (basename.startsWith(AUFS_META_PREFIX)) return { kind: 'aufs' };
  const target = basename.slice(WHITEOUT_PREFIX.length);
  if (target === '') return { kind: 'invalid', reason: 'a whiteout must name what it deletes' };
  if (target === '.' || target === '..') return { kind: 'invalid', reason: `a whiteout cannot delete '${target}'` };
  return { kind: 'whiteout', target };
}
