import { OrthancError, OrthancErrorCode } from './orthanc-error';

/** Orthanc's rule for a label (ServerToolbox::CheckValidLabel): 1-64 characters of A-Z, a-z, 0-9, `_` and `-`. */
const LABEL = /^[A-Za-z0-9_-]{1,64}$/;

export function isValidLabel(label: string): boolean {
  return LABEL.test(label);
}

/** Throws Orthanc's 400 for a label that breaks the rule. */
export function assertValidLabel(label: string): void {
  if (!isValidLabel(label)) {
    throw new OrthancError(
      OrthancErrorCode.ParameterOutOfRange,
      `A label must be a non-empty, alphanumeric string, possibly with '_' or '-' characters, with maximum 64 characters, but got: ${label}`,
    );
  }
}
