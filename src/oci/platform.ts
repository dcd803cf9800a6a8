/**
 * oci/platform: platform names in OCI terms. OCI (like Go) names architectures by GOARCH, Node by
 * process.arch; this is the one translation. Pure: the caller passes process.arch.
 */
import type { Platform } from './types.js';

const GOARCH: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
};

/** The OCI platform of a Linux machine whose Node reports `nodeArch` (process.arch). */
export function linuxPlatform(nodeArch: string): Pick<Platform, 'os' | 'architecture'> {
  return { os: 'linux', architecture: GOARCH[nodeArch] ?? nodeArch };
}
