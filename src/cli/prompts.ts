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
  try {
    return (await generator.runPrompts()) as Record<string, string>;
  } catch (error) {
    // Inquirer rejects with ExitPromptError when the user presses Ctrl-C.
    if ((error as Error).name === 'ExitPromptError') return undefined;
    throw error;
  }
}
