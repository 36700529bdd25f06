import { OrthancError, OrthancErrorCode } from '@deidflow/common';

/** Orthanc's JSON error object (OrthancFramework RestApiOutput / HttpServer): every error answer has it. */
export interface OrthancErrorBody {
  Details?: string;
  HttpError: string;
  HttpStatus: number;
  Message: string;
  Method: string;
  OrthancError: string;
  OrthancStatus: number;
  Uri: string;
}

const HTTP_REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  406: 'Not Acceptable',
  409: 'Conflict',
  413: 'Payload Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
  507: 'Insufficient Storage',
};

export function orthancErrorBody(error: OrthancError, method: string, uri: string): OrthancErrorBody {
  const status = error.httpStatus;
  return {
    ...(error.details ? { Details: error.details } : {}),
    HttpError: HTTP_REASON[status] ?? 'Error',
    HttpStatus: status,
    Message: error.orthancMessage,
    Method: method,
    OrthancError: error.orthancMessage,
    OrthancStatus: error.code === OrthancErrorCode.RequestEntityTooLarge ? OrthancErrorCode.BadRequest : error.code,
    Uri: uri,
  };
}
