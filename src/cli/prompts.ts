import nodePlop from 'node-plop';
import type { Question } from './io.js';

/** Asks the questions with node-plop (inquirer). Returns undefined when the user presses Ctrl-C. */
export async function promptWithPlop(questions: Question[]): Promise<Record<string, string> | undefined> {
  const plop = await nodePlop(undefined, { force: false, destBasePath: undefined });
  const generator = plop.setGenerator('create-zero-trust-app', {
    description: 'Create a zero-trust repository',
    prompts: questions.map((question) => ({
      type: question.choices ? 'list' : 'input',
      name: question.name,
      message: question.message,
      default: question.default,
      ...(question.choices && { choices: question.choices }),
      ...(question.validate && { validate: question.validate }),
    })),
    actions: [],
  });
  // inquirer 9 (under node-plop 0.32) answers Ctrl-C by closing the prompt and sending SIGINT to this process,
  // without settling the promise. The timer keeps the event loop alive until the SIGINT handler exits with 130.
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    return (await generator.runPrompts()) as Record<string, string>;
  } catch (error) {
    // Newer inquirer versions reject with ExitPromptError when the user presses Ctrl-C.
    if ((error as Error).name === 'ExitPromptError') return undefined;
    throw error;
  } finally {
    clearInterval(keepAlive);
  }
}
