/**
 * Orthanc's error vocabulary (OrthancFramework/Resources/CodeGeneration/ErrorCodes.json): every
 * failure that reaches a client is one of these, rendered by the API in Orthanc's JSON error shape.
 * Pure: libs/dicom throws these too, so the API never sees an untyped error from the engine.
 */
export enum OrthancErrorCode {
  InternalError = -1,
  NotImplemented = 2,
  ParameterOutOfRange = 3,
  BadParameterType = 5,
  BadSequenceOfCalls = 6,
  InexistentItem = 7,
  BadRequest = 8,
  NetworkProtocol = 9,
  UriSyntax = 12,
  InexistentFile = 13,
  BadFileFormat = 15,
  Timeout = 16,
  UnknownResource = 17,
  FullStorage = 19,
  CorruptedFile = 20,
  InexistentTag = 21,
  UnknownDicomTag = 27,
  BadJson = 28,
  Unauthorized = 29,
  NotAcceptable = 34,
  DatabaseUnavailable = 36,
  CanceledJob = 37,
  NoPresentationContext = 2015,
  // Not an Orthanc code: request bodies over the configured limit (HTTP 413).
  RequestEntityTooLarge = 1000,
}

interface ErrorInfo {
  message: string;
  httpStatus: number;
}

const INFO: Record<OrthancErrorCode, ErrorInfo> = {
  [OrthancErrorCode.InternalError]: { message: 'Internal error', httpStatus: 500 },
  [OrthancErrorCode.NotImplemented]: { message: 'Not implemented yet', httpStatus: 501 },
  [OrthancErrorCode.ParameterOutOfRange]: { message: 'Parameter out of range', httpStatus: 400 },
  [OrthancErrorCode.BadParameterType]: { message: 'Bad type for a parameter', httpStatus: 400 },
  [OrthancErrorCode.BadSequenceOfCalls]: { message: 'Bad sequence of calls', httpStatus: 400 },
  [OrthancErrorCode.InexistentItem]: { message: 'Accessing an inexistent item', httpStatus: 404 },
  [OrthancErrorCode.BadRequest]: { message: 'Bad request', httpStatus: 400 },
  // Orthanc sends 500: the failure is the remote DICOM node's (unreachable, refusing), so 502.
  [OrthancErrorCode.NetworkProtocol]: { message: 'Error in the network protocol', httpStatus: 502 },
  [OrthancErrorCode.UriSyntax]: { message: 'Badly formatted URI', httpStatus: 400 },
  [OrthancErrorCode.InexistentFile]: { message: 'Inexistent file', httpStatus: 404 },
  [OrthancErrorCode.BadFileFormat]: { message: 'Bad file format', httpStatus: 400 },
  [OrthancErrorCode.Timeout]: { message: 'Timeout', httpStatus: 504 },
  [OrthancErrorCode.UnknownResource]: { message: 'Unknown resource', httpStatus: 404 },
  [OrthancErrorCode.FullStorage]: { message: 'The file storage is full', httpStatus: 507 },
  [OrthancErrorCode.CorruptedFile]: { message: 'Corrupted file (e.g. inconsistent MD5 hash)', httpStatus: 500 },
  [OrthancErrorCode.InexistentTag]: { message: 'Inexistent tag', httpStatus: 404 },
  // Orthanc sends 500 here (no HTTP mapping); an unknown tag name is the client's mistake: 400.
  [OrthancErrorCode.UnknownDicomTag]: { message: 'Unknown DICOM tag', httpStatus: 400 },
  [OrthancErrorCode.BadJson]: { message: 'Cannot parse a JSON document', httpStatus: 400 },
  [OrthancErrorCode.Unauthorized]: { message: 'Bad credentials were provided to an HTTP request', httpStatus: 401 },
  [OrthancErrorCode.NotAcceptable]: { message: 'Unsupported media type', httpStatus: 406 },
  [OrthancErrorCode.DatabaseUnavailable]: { message: 'The database is currently not available (probably a transient situation)', httpStatus: 503 },
  [OrthancErrorCode.CanceledJob]: { message: 'Job has been canceled', httpStatus: 500 },
  // Orthanc sends 500: the remote accepts none of the syntaxes proposed, so 502.
  [OrthancErrorCode.NoPresentationContext]: { message: 'Unable to negotiate a presentation context with the modality', httpStatus: 502 },
  [OrthancErrorCode.RequestEntityTooLarge]: { message: 'Request entity too large', httpStatus: 413 },
};

export class OrthancError extends Error {
  constructor(
    readonly code: OrthancErrorCode,
    /** Human-readable explanation for the client (Orthanc's `Details`). Never patient data. */
    readonly details?: string,
    /** Overrides the HTTP status of the code (Orthanc does this for a few routes). */
    readonly httpStatusOverride?: number,
  ) {
    super(details ? `${INFO[code].message}: ${details}` : INFO[code].message);
    this.name = 'OrthancError';
  }

  get httpStatus(): number {
    return this.httpStatusOverride ?? INFO[this.code].httpStatus;
  }

  get orthancMessage(): string {
    return INFO[this.code].message;
  }

  /** True when the same input will fail the same way again (no point retrying). */
  get isPermanent(): boolean {
    return this.httpStatus >= 400 && this.httpStatus < 500;
  }

  static badRequest(details: string): OrthancError {
    return new OrthancError(OrthancErrorCode.BadRequest, details);
  }

  static badFileFormat(details: string): OrthancError {
    return new OrthancError(OrthancErrorCode.BadFileFormat, details);
  }

  static unknownResource(details?: string): OrthancError {
    return new OrthancError(OrthancErrorCode.UnknownResource, details);
  }
}

export function orthancErrorMessage(code: OrthancErrorCode): string {
  return INFO[code]?.message ?? 'Internal error';
}

/** A code DeidFlow knows (a job's ErrorCode read back from the database is a plain number). */
export function isOrthancErrorCode(code: number): code is OrthancErrorCode {
  return Object.prototype.hasOwnProperty.call(INFO, code);
}
