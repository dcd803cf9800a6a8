/**
 * identity/: who a container process is. Pure (no I/O): it takes the image's /etc/passwd and
 * /etc/group as text and answers, per engine profile, the uid, gid, supplementary groups and HOME
 * the process gets, with the file lines and engine rules behind each answer.
 *
 * - userdb: moby/sys-exact passwd/group parsers (line numbers kept for provenance), UserDb;
 * - execuser: moby/sys GetExecUser and GetAdditionalGroups (HEAD semantics);
 * - buildah, kaniko, containerd: the engines that read the files with their own rules;
 * - resolve: resolveIdentity(input, db) for the profiles berth, docker, podman, podman-rootless,
 *   kubernetes, openshift and kaniko;
 * - workdir: workdirCreationOwner, who owns a working directory an engine creates;
 * - kubernetes: parsePodSpec (a Pod or workload manifest). It imports the YAML parser, so it is
 *   NOT re-exported here: import it from 'identity/kubernetes.js' when a manifest is given.
 *
 * The rules, rule numbers and sources are in the shared semantics document identity.md.
 */
export {
  MAX_USER_FILE_BYTES,
  PASSWD_SCAN_BUFFER_BYTES,
  GROUP_SCAN_BUFFER_BYTES,
  parsePasswd,
  parseGroup,
  formatPasswdEntry,
  formatGroupEntry,
  assertUserFileSize,
  userDbFromText,
  passwdRef,
  groupRef,
} from './userdb.js';
export type { PasswdEntry, GroupEntry, UserDb, UserFileInput } from './userdb.js';
export { getExecUser, getAdditionalGroups, RANGE_MESSAGE } from './execuser.js';
export type { ExecUser, ExecUserDefaults, AdditionalGroup, IdArg } from './execuser.js';
export { parsePasswdBuildah, parseGroupBuildah } from './buildah.js';
export type { BuildahPasswdEntry, BuildahGroupEntry, BuildahParse, BuildahStop } from './buildah.js';
export { kanikoLocalGroups } from './kaniko.js';
export type { KanikoGroupRow } from './kaniko.js';
export { resolveIdentity, normalizeIdentityInput } from './resolve.js';
export { workdirCreationOwner } from './workdir.js';
export { MAX_ID } from './numeric.js';
export { PROFILE_NAMES, DEFAULT_OPENSHIFT_UID_RANGE } from './types.js';
export type {
  ProfileName,
  IdentityContext,
  CriRuntimeName,
  IdentityInput,
  KubernetesIdentityInput,
  OpenShiftIdentityInput,
  PasswdFileMeta,
  IdentityNote,
  ResolvedIdentity,
  WorkdirOwner,
} from './types.js';
export type { PodContainerInput } from './kubernetes.js';
