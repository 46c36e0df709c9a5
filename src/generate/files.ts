/** One file of a generated repository. */
export interface FileEntry {
  content: string;
  /** Scripts are written with mode 0755, everything else with 0644. */
  executable: boolean;
}

/** A generated repository in memory: paths relative to its root, with `/` separators, in sorted order. */
export type FileTree = Map<string, FileEntry>;

/** Returns a tree with its paths sorted, so that listings and writes happen in a stable order. */
export function sortTree(files: FileTree): FileTree {
  return new Map([...files].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
