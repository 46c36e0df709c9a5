import type { ModuleImporter } from '../plugin/load.js';
import type { FileSystem } from '../write/fs.js';

/** Everything the CLI touches outside itself, injected so tests run it in memory. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  cwd: string;
  env: Record<string, string | undefined>;
  /** True when both standard input and output are terminals, so prompts may be shown. */
  interactive: boolean;
  fs: FileSystem;
  /** Asks the questions; defaults to node-plop's prompts. Returns undefined when the user cancels. */
  prompt?: (questions: Question[]) => Promise<Record<string, string> | undefined>;
  /** Receives the staging folder while a write is in progress, so a signal handler can remove it. */
  onStaging?: (path: string | undefined) => void;
  /** Imports a third-party plugin's module by URL; `import()` when not given (src/plugin/load.ts). */
  importModule?: ModuleImporter;
  /** Receives true while generated files are being moved into an existing folder, so a signal handler can wait for the moves. */
  onCommit?: (committing: boolean) => void;
}

/** A question for the interactive prompts: free text or a choice from a list. */
export interface Question {
  name: string;
  message: string;
  default?: string;
  choices?: { name: string; value: string }[];
  validate?: (value: string) => true | string;
}
