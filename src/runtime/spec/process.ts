/**
 * The process's command line and working directory from the image config and the flags, with
 * Docker's rules (moby `daemon/create.go` merge + mergeAndVerifyConfig, `daemon/container.go`
 * working-directory checks).
 */
import { posix } from 'node:path';
import { BerthError } from '../../errors/index.js';
import type { ContainerConfig } from '../../oci/index.js';

export interface ArgsFlags {
  /**
   * `--entrypoint`. Docker's CLI passes the flag as ONE word (`--entrypoint "a b"` runs a file named
   * "a b"); a library caller may pass several. '' (or []) resets the image's Entrypoint.
   */
  entrypoint?: string | readonly string[];
  /** The command words after IMAGE. */
  cmd?: readonly string[];
}

export interface ResolvedArgs {
  args: string[];
  /** The rules applied, in order, naming the inputs. */
  because: string[];
}

const show = (words: readonly string[]): string => JSON.stringify(words);

/**
 * Docker's rules:
 * 1. `--entrypoint X` replaces the image Entrypoint, and the image Cmd is then dropped: only the
 *    command words given after IMAGE follow it (merge takes the image Cmd only when no entrypoint
 *    was given).
 * 2. Without `--entrypoint`: the image Entrypoint stays; command words replace the image Cmd, else
 *    the image Cmd is used.
 * 3. `--entrypoint ''` resets the Entrypoint ([""] becomes nil) and, by rule 1, also drops the
 *    image Cmd.
 * 4. Args = Entrypoint ++ Cmd; empty -> "no command specified".
 */
export function resolveArgs(config: ContainerConfig | undefined, flags: ArgsFlags = {}): ResolvedArgs {
  const because: string[] = [];
  const imageEntrypoint = config?.Entrypoint ?? [];
  const imageCmd = config?.Cmd ?? [];
  const userCmd = [...(flags.cmd ?? [])];
  let entrypoint: string[];
  let cmd: string[];
  if (flags.entrypoint !== undefined) {
    const ep = typeof flags.entrypoint === 'string' ? [flags.entrypoint] : [...flags.entrypoint];
    const reset = ep.length === 0 || (ep.length === 1 && ep[0] === '');
    entrypoint = reset ? [] : ep;
    cmd = userCmd;
    because.push(
      reset
        ? `--entrypoint '' resets the image Entrypoint${imageEntrypoint.length > 0 ? ` ${show(imageEntrypoint)}` : ''}`
        : `--entrypoint ${show(ep)} replaces the image Entrypoint${imageEntrypoint.length > 0 ? ` ${show(imageEntrypoint)}` : ''}`,
    );
    if (userCmd.length > 0) because.push(`command ${show(userCmd)} from the command line`);
    else if (imageCmd.length > 0) because.push(`the image Cmd ${show(imageCmd)} is dropped because --entrypoint was given (Docker)`);
  } else {
    entrypoint = [...imageEntrypoint];
    if (entrypoint.length > 0) because.push(`Entrypoint ${show(entrypoint)} from the image config`);
    if (userCmd.length > 0) {
      cmd = userCmd;
      because.push(
        `command ${show(userCmd)} from the command line${imageCmd.length > 0 ? ` replaces the image Cmd ${show(imageCmd)}` : ''}`,
      );
    } else {
      cmd = [...imageCmd];
      if (cmd.length > 0) because.push(`Cmd ${show(cmd)} from the image config`);
    }
  }
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    throw new BerthError('E_SPEC_NO_COMMAND', 'resolve command: no command specified', {
      hint: 'the image has no Entrypoint or Cmd: give a command after the image name, or --entrypoint',
      details: { imageEntrypoint, imageCmd },
    });
  }
  return { args, because };
}

export interface ResolvedCwd {
  cwd: string;
  because: string;
}

function checkAbsolute(dir: string, what: string): string {
  if (!dir.startsWith('/')) {
    // Docker's wording (daemon/container.go verifyContainerSettings).
    throw new BerthError('E_SPEC_WORKDIR', `resolve working directory ${what}: the working directory '${dir}' is invalid, it needs to be an absolute path`, {
      hint: what === '-w' ? 'pass an absolute path to -w/--workdir, e.g. -w /app' : 'rebuild the image with an absolute WORKDIR, or pass -w',
      details: { workdir: dir },
    });
  }
  // Docker cleans it (filepath.Clean) before use.
  return posix.normalize(dir).replace(/(.)\/+$/, '$1');
}

/** `-w` if given, else the image WorkingDir, else `/`. Either must be absolute; the result is cleaned. */
export function resolveCwd(config: ContainerConfig | undefined, workdir?: string): ResolvedCwd {
  if (workdir !== undefined && workdir !== '') {
    return { cwd: checkAbsolute(workdir, '-w'), because: `-w ${workdir}` };
  }
  const image = config?.WorkingDir ?? '';
  if (image !== '') return { cwd: checkAbsolute(image, 'WorkingDir'), because: `image config WorkingDir ${image}` };
  return { cwd: '/', because: 'default / (the image sets no WorkingDir)' };
}
