/**
 * Shared inputs for the runtime-spec tests: the busybox fixture's user database (scripts/fixtures.mjs)
 * resolved by the identity core, and a SpecInputs builder with rootful defaults.
 */
import { resolveIdentity, userDbFromText } from '../../../src/identity/index.js';
import { isBerthError } from '../../../src/errors/index.js';
import type { IdMap } from '../../../src/idmap/index.js';
import type { RuntimeNamespace, SpecInputs } from '../../../src/runtime/spec/index.js';

export const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/bin/false
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
foo:x:10000:10000:Foo user:/home/foo:/bin/sh
nonroot:x:65532:65532:nonroot:/home/nonroot:/bin/sh
`;
export const GROUP = `root:x:0:
daemon:x:1:
wheel:x:10:root
nogroup:x:65534:
foo:x:10000:
bar:x:20000:foo
nonroot:x:65532:
`;

export const DB = userDbFromText({ passwd: PASSWD, group: GROUP });

/** The identity core's answer for `--user` (or the image User when user is undefined). */
export function identityFor(user: string | undefined, imageUser = '', groupAdd: string[] = []) {
  return resolveIdentity({ profile: 'berth', imageUser, ...(user !== undefined ? { user } : {}), groupAdd }, DB);
}

export const CONTAINER_ID = '0123456789abcdef'.repeat(4);

export const HOST_RLIMITS = { RLIMIT_NOFILE: { soft: 1024, hard: 524288 } } as const;

/** berth's rootless intermediate namespace for a user with uid 1001 and subordinate range 200000+65536. */
export const ROOTLESS_MAP: IdMap = [
  { container: 0, host: 1001, size: 1 },
  { container: 1, host: 200000, size: 65536 },
];
export const ROOTLESS: RuntimeNamespace = { uidMap: ROOTLESS_MAP, gidMap: ROOTLESS_MAP, rootless: true };

export function inputs(over: Partial<SpecInputs> = {}): SpecInputs {
  return {
    image: { config: { Cmd: ['sh'] } },
    identity: identityFor(undefined),
    containerId: CONTAINER_ID,
    hostRlimits: HOST_RLIMITS,
    ...over,
  };
}

/** The code of the BerthError `f` throws; undefined when it does not throw. */
export function codeOf(f: () => unknown): string | undefined {
  try {
    f();
  } catch (e) {
    return isBerthError(e) ? e.code : `non-BerthError: ${String(e)}`;
  }
  return undefined;
}

export function errorOf(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}
