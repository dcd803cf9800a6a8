/**
 * Loads koffi, the FFI library every binding in sys/ goes through, in the cheapest way that is
 * still koffi's own.
 *
 * koffi's entry point finds its native module by reading the ELF header of the node binary to tell
 * glibc from musl, then probing several directories; that costs about 20 ms of every berth start,
 * more than the rest of loading a command. koffi ships each platform's native module in a package
 * of its own (`@koromix/koffi-<platform>-<arch>/<platform>_<arch>/koffi.node`, the glibc build;
 * musl builds live in `musl_<arch>`), so berth requires that file directly when its version is the
 * version of the koffi package installed. Anything else (another layout, a musl system where the
 * glibc module does not load, a version mismatch) falls back to koffi's entry point.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type * as KoffiModule from 'koffi';

export type Koffi = typeof KoffiModule;

function versionOf(packageJson: string): string | undefined {
  try {
    const v = (JSON.parse(readFileSync(packageJson, 'utf8')) as { version?: unknown }).version;
    return typeof v === 'string' ? v : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The directories node_modules lookup would visit from this file: checking them with stat is much
 * cheaper than Node's resolver (package exports, realpath), which this runs on every start.
 */
function findUp(from: string, rel: string): string | undefined {
  for (let dir = from; ; ) {
    const candidate = join(dir, 'node_modules', rel);
    if (existsSync(join(candidate, 'package.json'))) return candidate;
    const up = dirname(dir);
    if (up === dir) return undefined;
    dir = up;
  }
}

function loadKoffi(): Koffi {
  const require = createRequire(import.meta.url);
  try {
    const here = dirname(fileURLToPath(import.meta.url));
    const koffiDir = findUp(here, 'koffi');
    if (koffiDir === undefined) throw new Error('koffi not found');
    const wanted = versionOf(join(koffiDir, 'package.json'));
    const nativePackage = `@koromix/koffi-${process.platform}-${process.arch}`;
    const nativeDir = findUp(koffiDir, nativePackage) ?? findUp(here, nativePackage);
    if (nativeDir === undefined) throw new Error('koffi native package not found');
    if (wanted !== undefined && versionOf(join(nativeDir, 'package.json')) === wanted) {
      const native = require(join(nativeDir, `${process.platform}_${process.arch}`, 'koffi.node')) as Koffi & { version?: string };
      if (native.version === wanted) return native;
    }
  } catch {
    // Not the layout above, or not loadable here: koffi's entry point knows every other case.
  }
  return require('koffi') as Koffi;
}

export const koffi: Koffi = loadKoffi();
