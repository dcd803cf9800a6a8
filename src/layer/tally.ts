/**
 * layer/tally: counts one class of metadata loss or filtering while a layer is packed or applied,
 * so that each class is reported once, with a count and a first example, instead of once per file.
 */
export class Tally {
  count = 0;
  example: string | undefined;
  readonly names = new Map<string, number>();

  add(path: string, name?: string): void {
    this.count++;
    this.example ??= path;
    if (name !== undefined) this.names.set(name, (this.names.get(name) ?? 0) + 1);
  }

  /** "N files, e.g. /usr/bin/ping" */
  summary(noun: string, plural = `${noun}s`): string {
    return `${this.count} ${this.count === 1 ? noun : plural}, e.g. ${this.example}`;
  }

  /** "security.selinux (3), trusted.x (1)", sorted by name. */
  nameList(): string {
    return [...this.names.entries()]
      .sort((a, b) => (a[0] < b[0] ? -1 : 1))
      .map(([n, c]) => `${n} (${c})`)
      .join(', ');
  }
}
