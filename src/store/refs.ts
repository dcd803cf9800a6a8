/**
 * Image names in index.json: how an entry's name is read and written. Pure.
 *
 * berth writes each name as its own entry of the top-level index, with the full normalised
 * reference (`docker.io/library/alpine:latest`) in `org.opencontainers.image.ref.name`, and the same
 * value in `io.containerd.image.name`. The full name is needed because one store holds many
 * repositories: a bare tag (`latest`), which is what umoci and Docker 25's `docker save` put in
 * ref.name, would collide across repositories. The value is valid under the annotation grammar of
 * image-spec annotations.md (`:`, `@`, `/`, `.` and `-` are allowed separators), so:
 *   - skopeo: `skopeo copy oci:/var/lib/berth:docker.io/library/alpine:latest ...` works both ways
 *     (containers/image splits `oci:` at the first colon after the path, then validates the rest
 *     against that grammar: oci/internal/oci_util.go);
 *   - umoci: `umoci unpack --image /var/lib/berth:docker.io/library/alpine:latest` works (it cuts at
 *     the first colon too and checks the same grammar: oci/casext/refname.go).
 * Entries written by those tools with a bare tag are still listed and resolvable by that exact
 * string; entries with a full name in `io.containerd.image.name` (containerd, Docker 25+) are read
 * as that name.
 *
 * A name with both tag and digest is stored as `name@digest` (Docker's ParseDockerRef drops the tag).
 * An entry without any name keeps an unnamed image (for example a loaded archive without tags).
 */
import { ANNOTATIONS, isNormalizedReference, parseReference, type Descriptor, type ImageIndex, MEDIA_TYPES, Reference } from '../oci/index.js';

/** The raw ref.name annotation, if any. */
export function refNameOf(d: Descriptor): string | undefined {
  return d.annotations?.[ANNOTATIONS.refName];
}

/** The entry's name as a canonical reference, when it has one berth can read. */
export function entryReference(d: Descriptor): Reference | undefined {
  const refName = refNameOf(d);
  if (refName !== undefined && isNormalizedReference(refName)) return parseReference(refName, { defaultTag: false });
  const full = d.annotations?.[ANNOTATIONS.containerdImageName];
  if (full !== undefined && isNormalizedReference(full)) {
    const r = parseReference(full, { defaultTag: false });
    // containerd and Docker 25+ put the bare tag in ref.name beside the full name; anything else
    // means another tool renamed the entry, and the full name is stale.
    if (refName === undefined || refName === r.tag) return r;
  }
  return undefined;
}

/** True when the entry carries no name at all. */
export function isUnnamed(d: Descriptor): boolean {
  return refNameOf(d) === undefined && d.annotations?.[ANNOTATIONS.containerdImageName] === undefined;
}

/** The form a reference is stored in: `name:tag` or `name@digest` (never both). */
export function storedReference(ref: Reference): Reference {
  return ref.digest !== undefined && ref.tag !== undefined ? ref.withoutTag() : ref;
}

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
}

/** The index.json entry for `desc` named `ref` (or unnamed). Other annotations of `desc` are kept. */
export function indexEntry(desc: Descriptor, ref: Reference | undefined): Descriptor {
  const annotations: Record<string, string> = { ...(desc.annotations ?? {}) };
  delete annotations[ANNOTATIONS.refName];
  delete annotations[ANNOTATIONS.containerdImageName];
  if (ref) {
    annotations[ANNOTATIONS.refName] = ref.toString();
    annotations[ANNOTATIONS.containerdImageName] = ref.toString();
  }
  const out: Descriptor = { mediaType: desc.mediaType, digest: desc.digest, size: desc.size };
  if (desc.platform) out.platform = desc.platform;
  if (desc.artifactType) out.artifactType = desc.artifactType;
  if (Object.keys(annotations).length > 0) out.annotations = Object.fromEntries(Object.entries(annotations).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
  return out;
}

/**
 * Points `ref` at `desc`: any entry with that name is replaced; an unnamed entry for the same
 * content becomes redundant and is dropped. With `ref` undefined, an unnamed entry is added unless
 * some entry already keeps `desc` alive.
 */
export function withRef(index: ImageIndex, ref: Reference | undefined, desc: Descriptor): ImageIndex {
  const name = ref?.toString();
  if (name === undefined) {
    if (index.manifests.some((m) => m.digest === desc.digest)) return index;
    return { ...index, manifests: [...index.manifests, indexEntry(desc, undefined)] };
  }
  const kept = index.manifests.filter((m) => {
    if (entryReference(m)?.toString() === name || refNameOf(m) === name) return false;
    return !(isUnnamed(m) && m.digest === desc.digest);
  });
  return { ...index, manifests: [...kept, indexEntry(desc, ref)] };
}

/** Deterministic bytes for index.json. */
export function serializeIndex(index: ImageIndex): Buffer {
  return Buffer.from(`${JSON.stringify(index)}\n`);
}
