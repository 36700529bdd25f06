import { OrthancError } from '@deidflow/common';

/** The OrthancError that `action` throws; any other outcome (no error, another error) fails the test. */
export function orthancErrorOf(action: () => unknown): OrthancError {
  try {
    action();
  } catch (error) {
    if (error instanceof OrthancError) return error;
    throw error;
  }
  throw new Error('expected an OrthancError');
}
