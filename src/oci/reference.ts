/**
 * Image references `[registry[:port]/]path[:tag][@digest]`: the grammar of distribution/reference
 * (regexp.go) and Docker's normalisation of familiar names (normalize.go), so that berth accepts
 * and rejects exactly the names `docker` does and stores them in the same canonical form:
 *
 *   alpine                 -> docker.io/library/alpine:latest
 *   user/app:1             -> docker.io/user/app:1
 *   localhost:5000/x       -> localhost:5000/x:latest
 *   x@sha256:<hex>         -> docker.io/library/x@sha256:<hex>   (no default tag with a digest)
 *
 * Errors are E_REF_INVALID and name the part that is wrong (name, tag, digest, domain).
 */
import { BerthError } from '../errors/index.js';
import { parseDigest } from './digest.js';

const DEFAULT_DOMAIN = 'docker.io';
/** The Docker Index's historical name; canonicalised to docker.io (normalize.go legacyDefaultDomain). */
const LEGACY_DEFAULT_DOMAIN = 'index.docker.io';
const OFFICIAL_PREFIX = 'library/';
const DEFAULT_TAG = 'latest';
/** distribution/reference RepositoryNameTotalLengthMax, applied to the path. */
const MAX_PATH_LENGTH = 255;

// regexp.go: domainNameComponent, ipv6address, optionalPort.
const DOMAIN_COMPONENT = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const DOMAIN_RE = new RegExp(`^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[a-fA-F0-9:]+\\])(?::[0-9]+)?$`);
// regexp.go: pathComponent = alphanumeric (separator alphanumeric)*, separator = [._] | __ | -+
const PATH_COMPONENT_RE = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
// regexp.go: tag = [\w][\w.-]{0,127}
const TAG_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
// regexp.go: digestPat (general shape; the algorithm is checked by parseDigest).
const DIGEST_SHAPE_RE = /^[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}$/;
const IDENTIFIER_RE = /^[a-f0-9]{64}$/;

/** A parsed, normalised image reference. Immutable. */
export class Reference {
  /** Registry host with optional port, e.g. `docker.io`, `localhost:5000`, `[::1]:5000`. */
  readonly domain: string;
  /** Repository path inside the registry, e.g. `library/alpine`. */
  readonly path: string;
  readonly tag?: string;
  readonly digest?: string;

  constructor(parts: { domain: string; path: string; tag?: string; digest?: string }) {
    this.domain = parts.domain;
    this.path = parts.path;
    if (parts.tag !== undefined) this.tag = parts.tag;
    if (parts.digest !== undefined) this.digest = parts.digest;
    Object.freeze(this);
  }

  /** The repository: `domain/path`. */
  get name(): string {
    return `${this.domain}/${this.path}`;
  }

  /** The canonical string `domain/path[:tag][@digest]`. */
  toString(): string {
    return `${this.name}${this.tag !== undefined ? `:${this.tag}` : ''}${this.digest !== undefined ? `@${this.digest}` : ''}`;
  }

  toJSON(): string {
    return this.toString();
  }

  withTag(tag: string): Reference {
    checkTag(this.toString(), tag);
    return new Reference({ domain: this.domain, path: this.path, tag, digest: this.digest });
  }

  withDigest(digest: string | undefined): Reference {
    return new Reference({ domain: this.domain, path: this.path, tag: this.tag, digest });
  }

  withoutTag(): Reference {
    return new Reference({ domain: this.domain, path: this.path, digest: this.digest });
  }
}

export interface ParseReferenceOptions {
  /** Add `:latest` when the reference has neither tag nor digest (Docker's TagNameOnly). Default true. */
  defaultTag?: boolean;
}

function refError(input: string, part: 'name' | 'domain' | 'tag' | 'digest', reason: string): BerthError {
  const hints: Record<typeof part, string> = {
    name: 'a name is lowercase path components separated by "/", e.g. alpine, library/alpine or ghcr.io/owner/app',
    domain: 'a registry is a host name or [IPv6] address with an optional :port, e.g. localhost:5000',
    tag: 'a tag is up to 128 letters, digits, "_", "." and "-", not starting with "." or "-"',
    digest: 'a digest is sha256: followed by 64 lowercase hex digits',
  };
  return new BerthError('E_REF_INVALID', `parse reference "${input}": ${reason}`, {
    hint: hints[part],
    details: { reference: input, part },
  });
}

function checkTag(input: string, tag: string): void {
  if (tag === '') throw refError(input, 'tag', 'empty tag after ":"');
  if (!TAG_RE.test(tag)) {
    const why = tag.length > 128 ? 'is longer than 128 characters' : /^[.-]/.test(tag) ? 'must not start with "." or "-"' : 'contains a character other than letters, digits, "_", "." and "-"';
    throw refError(input, 'tag', `tag "${tag}" ${why}`);
  }
}

/**
 * Parses and normalises a reference the way `docker` does (distribution/reference
 * ParseNormalizedNamed, then TagNameOnly unless `defaultTag: false`).
 */
export function parseReference(input: string, options: ParseReferenceOptions = {}): Reference {
  if (typeof input !== 'string' || input === '') throw refError(String(input ?? ''), 'name', 'empty reference');
  if (IDENTIFIER_RE.test(input)) {
    throw refError(input, 'name', 'a 64-character hexadecimal string is an image ID, not a repository name');
  }
  if (/\s/.test(input)) throw refError(input, 'name', 'contains white space');

  // name[:tag]@digest: a name and a tag never contain "@".
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (digest === '') throw refError(input, 'digest', 'empty digest after "@"');
    if (!DIGEST_SHAPE_RE.test(digest)) {
      throw refError(input, 'digest', `digest "${digest}" is not of the form <algorithm>:<hex>, with at least 32 hex digits`);
    }
    try {
      parseDigest(digest);
    } catch (e) {
      throw refError(input, 'digest', `digest "${digest}" is invalid: ${(e as BerthError).message.replace(/^parse digest "[^"]*": /, '')}`);
    }
  }

  // A ":" after the last "/" starts the tag; one before it belongs to a registry port.
  let tag: string | undefined;
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    checkTag(input, tag);
  }
  if (rest === '') throw refError(input, 'name', 'empty repository name');

  // Domain split (normalize.go splitDockerDomain): the first component is a registry when it is
  // "localhost", contains "." or ":", or has uppercase letters (uppercase namespaces are invalid).
  let domain: string;
  let path: string;
  const slash = rest.indexOf('/');
  const first = slash < 0 ? '' : rest.slice(0, slash);
  if (slash < 0) {
    domain = DEFAULT_DOMAIN;
    path = rest;
  } else if (first === 'localhost' || /[.:]/.test(first) || first.toLowerCase() !== first) {
    domain = first === LEGACY_DEFAULT_DOMAIN ? DEFAULT_DOMAIN : first;
    path = rest.slice(slash + 1);
  } else {
    domain = DEFAULT_DOMAIN;
    path = rest;
  }
  if (!DOMAIN_RE.test(domain)) throw refError(input, 'domain', `registry "${domain}" is not a valid host[:port]`);
  if (domain === DEFAULT_DOMAIN && !path.includes('/')) path = OFFICIAL_PREFIX + path;

  if (path.toLowerCase() !== path) throw refError(input, 'name', `repository name "${path}" must be lowercase`);
  for (const component of path.split('/')) {
    if (component === '') throw refError(input, 'name', `repository name "${path}" has an empty path component`);
    if (!PATH_COMPONENT_RE.test(component)) {
      throw refError(input, 'name', `path component "${component}" must be lowercase letters and digits separated by ".", "_", "__" or "-"`);
    }
  }
  if (path.length > MAX_PATH_LENGTH) throw refError(input, 'name', `repository name must not be more than ${MAX_PATH_LENGTH} characters`);

  if (tag === undefined && digest === undefined && options.defaultTag !== false) tag = DEFAULT_TAG;
  return new Reference({ domain, path, tag, digest });
}

/** True when `s` is already a canonical reference (parsing it gives back the same string). */
export function isNormalizedReference(s: string): boolean {
  try {
    return parseReference(s, { defaultTag: false }).toString() === s;
  } catch {
    return false;
  }
}

/**
 * The short form Docker shows (normalize.go familiarizeName): docker.io and, for official images
 * with a single path component, library/ are dropped. Tag and digest are kept.
 *   docker.io/library/alpine:latest -> alpine:latest
 *   docker.io/user/app:1            -> user/app:1
 *   localhost:5000/x:latest         -> localhost:5000/x:latest
 */
export function familiarName(ref: Reference | string): string {
  const r = typeof ref === 'string' ? parseReference(ref, { defaultTag: false }) : ref;
  return `${familiarRepository(r)}${r.tag !== undefined ? `:${r.tag}` : ''}${r.digest !== undefined ? `@${r.digest}` : ''}`;
}

/** The familiar repository name without tag or digest (`alpine`, `user/app`, `localhost:5000/x`). */
export function familiarRepository(ref: Reference | string): string {
  const r = typeof ref === 'string' ? parseReference(ref, { defaultTag: false }) : ref;
  if (r.domain !== DEFAULT_DOMAIN) return r.name;
  if (r.path.startsWith(OFFICIAL_PREFIX)) {
    const rest = r.path.slice(OFFICIAL_PREFIX.length);
    if (!rest.includes('/')) return rest;
  }
  // Unlike Docker's FamiliarString, keep docker.io when the short form would read back as another
  // registry (docker.io/0.a/b -> "0.a/b" would name the registry "0.a").
  const first = r.path.slice(0, r.path.indexOf('/'));
  if (first.includes('.') || first === 'localhost') return r.name;
  return r.path;
}
