/**
 * An error in what the user gave: a flag, a topology file or a target folder.
 * The CLI prints its message on one line and exits with code 2.
 */
export class InputError extends Error {
  override name = 'InputError';
}

/** A failure that is not the user's input, such as a failed write; the CLI exits with code 1. */
export class GenerationError extends Error {
  override name = 'GenerationError';
}
