/**
 * Parsing of untrusted image documents (manifests, indexes, configs, the oci-layout header).
 *
 * Each parser checks the fields berth relies on and their types, and returns the document with
 * every other field kept as is (so re-serialising loses nothing). Unknown media types in
 * descriptors are accepted (image-layout.md: an unknown mediaType "MUST NOT generate an error").
 */
import { BerthError } from '../errors/index.js';
import { parseDigest } from './digest.js';
import { MEDIA_TYPES, isIndexMediaType, isManifestMediaType } from './media-types.js';
import type { Descriptor, ImageConfig, ImageIndex, ImageLayoutHeader, Manifest } from './types.js';

type Kind = 'manifest' | 'index' | 'config' | 'layout';

const CODES: Record<Kind, string> = {
  manifest: 'E_MANIFEST_INVALID',
  index: 'E_INDEX_INVALID',
  config: 'E_CONFIG_INVALID',
  layout: 'E_LAYOUT_INVALID',
};

class Checker {
  constructor(
    readonly kind: Kind,
    readonly subject: string,
  ) {}

  fail(where: string, reason: string): never {
    throw new BerthError(CODES[this.kind], `parse ${this.kind} ${this.subject}: ${where ? `${where}: ` : ''}${reason}`, {
      hint: this.kind === 'layout' ? 'the directory is not an OCI image layout berth can use' : 'the image is malformed; fetch or build it again',
      details: { subject: this.subject, field: where },
    });
  }

  object(v: unknown, where: string): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(where, `expected an object, got ${describe(v)}`);
    return v as Record<string, unknown>;
  }

  string(v: unknown, where: string): string {
    if (typeof v !== 'string') this.fail(where, `expected a string, got ${describe(v)}`);
    return v;
  }

  optString(o: Record<string, unknown>, key: string, where: string): void {
    if (o[key] !== undefined) this.string(o[key], join(where, key));
  }

  stringArray(v: unknown, where: string): string[] {
    if (!Array.isArray(v)) this.fail(where, `expected an array of strings, got ${describe(v)}`);
    v.forEach((s, i) => this.string(s, `${where}[${i}]`));
    return v as string[];
  }

  optStringArray(o: Record<string, unknown>, key: string, where: string, nullable = false): void {
    const v = o[key];
    if (v === undefined || (nullable && v === null)) return;
    this.stringArray(v, join(where, key));
  }

  stringMap(o: Record<string, unknown>, key: string, where: string): void {
    const v = o[key];
    if (v === undefined || v === null) return;
    const m = this.object(v, join(where, key));
    for (const [k, val] of Object.entries(m)) this.string(val, join(join(where, key), k));
  }

  objectMap(o: Record<string, unknown>, key: string, where: string): void {
    const v = o[key];
    if (v === undefined || v === null) return;
    const m = this.object(v, join(where, key));
    for (const [k, val] of Object.entries(m)) this.object(val, join(join(where, key), k));
  }

  size(v: unknown, where: string): number {
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) this.fail(where, `expected a non-negative integer, got ${describe(v)}`);
    return v;
  }

  digest(v: unknown, where: string): string {
    const s = this.string(v, where);
    try {
      parseDigest(s);
    } catch (e) {
      this.fail(where, (e as BerthError).message.replace(/^parse /, ''));
    }
    return s;
  }

  descriptor(v: unknown, where: string): Descriptor {
    const o = this.object(v, where);
    const mt = this.string(o.mediaType, join(where, 'mediaType'));
    if (mt === '') this.fail(join(where, 'mediaType'), 'empty media type');
    this.digest(o.digest, join(where, 'digest'));
    this.size(o.size, join(where, 'size'));
    this.optStringArray(o, 'urls', where);
    this.stringMap(o, 'annotations', where);
    this.optString(o, 'data', where);
    this.optString(o, 'artifactType', where);
    if (o.platform !== undefined) {
      const p = this.object(o.platform, join(where, 'platform'));
      this.string(p.architecture, join(where, 'platform.architecture'));
      this.string(p.os, join(where, 'platform.os'));
      this.optString(p, 'variant', join(where, 'platform'));
      this.optString(p, 'os.version', join(where, 'platform'));
      this.optStringArray(p, 'os.features', join(where, 'platform'));
      this.optStringArray(p, 'features', join(where, 'platform'));
    }
    return o as unknown as Descriptor;
  }

  schemaVersion(o: Record<string, unknown>): void {
    if (o.schemaVersion === 1) {
      throw new BerthError('E_MANIFEST_UNSUPPORTED', `parse ${this.kind} ${this.subject}: Docker image manifest schema 1 is not supported`, {
        hint: 'schema 1 was deprecated in 2017; push the image again with a current client to get a schema 2 or OCI manifest',
        details: { subject: this.subject },
      });
    }
    if (o.schemaVersion !== 2) this.fail('schemaVersion', `expected 2, got ${describe(o.schemaVersion)}`);
  }
}

function join(where: string, key: string): string {
  return where === '' ? key : `${where}.${key}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `"${v.length > 40 ? `${v.slice(0, 40)}...` : v}"`;
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

function parseJson(c: Checker, data: Buffer | string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (e) {
    c.fail('', `not valid JSON (${(e as Error).message})`);
  }
  return c.object(v, '');
}

/** Parses an OCI image manifest or a Docker schema2 manifest. `subject` names it in errors. */
export function parseManifest(data: Buffer | string, subject = ''): Manifest {
  const c: Checker = new Checker('manifest', subject);
  const o = parseJson(c, data);
  c.schemaVersion(o);
  if (o.mediaType !== undefined) {
    const mt = c.string(o.mediaType, 'mediaType');
    if (isIndexMediaType(mt)) c.fail('mediaType', `${mt} is an image index, not a manifest`);
    if (mt === MEDIA_TYPES.dockerManifestV1 || mt === MEDIA_TYPES.dockerManifestV1Signed) c.schemaVersion({ schemaVersion: 1 });
  }
  if (o.manifests !== undefined && o.config === undefined) c.fail('', 'this is an image index, not a manifest');
  c.descriptor(o.config, 'config');
  if (!Array.isArray(o.layers)) c.fail('layers', `expected an array, got ${describe(o.layers)}`);
  o.layers.forEach((l: unknown, i: number) => c.descriptor(l, `layers[${i}]`));
  if (o.subject !== undefined) c.descriptor(o.subject, 'subject');
  c.optString(o, 'artifactType', '');
  c.stringMap(o, 'annotations', '');
  return o as unknown as Manifest;
}

/** Parses an OCI image index or a Docker manifest list. */
export function parseImageIndex(data: Buffer | string, subject = ''): ImageIndex {
  const c: Checker = new Checker('index', subject);
  const o = parseJson(c, data);
  c.schemaVersion(o);
  if (o.mediaType !== undefined) {
    const mt = c.string(o.mediaType, 'mediaType');
    if (isManifestMediaType(mt)) c.fail('mediaType', `${mt} is an image manifest, not an index`);
  }
  if (!Array.isArray(o.manifests)) c.fail('manifests', `expected an array, got ${describe(o.manifests)}`);
  o.manifests.forEach((m: unknown, i: number) => c.descriptor(m, `manifests[${i}]`));
  if (o.subject !== undefined) c.descriptor(o.subject, 'subject');
  c.stringMap(o, 'annotations', '');
  return o as unknown as ImageIndex;
}

/** Parses an image configuration (OCI or Docker). */
export function parseImageConfig(data: Buffer | string, subject = ''): ImageConfig {
  const c: Checker = new Checker('config', subject);
  const o = parseJson(c, data);
  c.string(o.architecture, 'architecture');
  c.string(o.os, 'os');
  c.optString(o, 'created', '');
  c.optString(o, 'author', '');
  c.optString(o, 'variant', '');
  const rootfs = c.object(o.rootfs, 'rootfs');
  if (rootfs.type !== 'layers') c.fail('rootfs.type', `expected "layers", got ${describe(rootfs.type)}`);
  if (!Array.isArray(rootfs.diff_ids)) c.fail('rootfs.diff_ids', `expected an array, got ${describe(rootfs.diff_ids)}`);
  rootfs.diff_ids.forEach((d: unknown, i: number) => c.digest(d, `rootfs.diff_ids[${i}]`));
  if (o.config !== undefined && o.config !== null) {
    const cfg = c.object(o.config, 'config');
    c.optString(cfg, 'User', 'config');
    c.optString(cfg, 'WorkingDir', 'config');
    c.optString(cfg, 'StopSignal', 'config');
    c.optStringArray(cfg, 'Env', 'config', true);
    c.optStringArray(cfg, 'Entrypoint', 'config', true);
    c.optStringArray(cfg, 'Cmd', 'config', true);
    c.optStringArray(cfg, 'Shell', 'config', true);
    c.optStringArray(cfg, 'OnBuild', 'config', true);
    c.stringMap(cfg, 'Labels', 'config');
    c.objectMap(cfg, 'ExposedPorts', 'config');
    c.objectMap(cfg, 'Volumes', 'config');
    if (cfg.ArgsEscaped !== undefined && typeof cfg.ArgsEscaped !== 'boolean') c.fail('config.ArgsEscaped', `expected a boolean, got ${describe(cfg.ArgsEscaped)}`);
    if (cfg.Healthcheck !== undefined && cfg.Healthcheck !== null) {
      const h = c.object(cfg.Healthcheck, 'config.Healthcheck');
      c.optStringArray(h, 'Test', 'config.Healthcheck', true);
      for (const k of ['Interval', 'Timeout', 'StartPeriod', 'StartInterval', 'Retries']) {
        if (h[k] !== undefined) c.size(h[k], `config.Healthcheck.${k}`);
      }
    }
  }
  if (o.history !== undefined && o.history !== null) {
    if (!Array.isArray(o.history)) c.fail('history', `expected an array, got ${describe(o.history)}`);
    o.history.forEach((h: unknown, i: number) => {
      const e = c.object(h, `history[${i}]`);
      for (const k of ['created', 'created_by', 'author', 'comment']) c.optString(e, k, `history[${i}]`);
      if (e.empty_layer !== undefined && typeof e.empty_layer !== 'boolean') c.fail(`history[${i}].empty_layer`, `expected a boolean, got ${describe(e.empty_layer)}`);
    });
  }
  return o as unknown as ImageConfig;
}

/** Parses the `oci-layout` file; only layout version 1.x is understood. */
export function parseImageLayoutHeader(data: Buffer | string, subject = 'oci-layout'): ImageLayoutHeader {
  const c: Checker = new Checker('layout', subject);
  const o = parseJson(c, data);
  const v = c.string(o.imageLayoutVersion, 'imageLayoutVersion');
  if (!/^1\.\d+\.\d+$/.test(v)) c.fail('imageLayoutVersion', `unsupported version "${v}" (1.x.y is supported)`);
  return o as unknown as ImageLayoutHeader;
}
