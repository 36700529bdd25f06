// dcmjs ships no type declarations (and there is no @types package): the parts DeidFlow uses.
declare module 'dcmjs' {
  interface DicomDictLike {
    meta: Record<string, any>;
    dict: Record<string, any>;
    write(options?: Record<string, unknown>): ArrayBuffer;
  }
  export const data: {
    DicomMessage: {
      readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDictLike;
    };
    DicomDict: new (meta: Record<string, any>) => DicomDictLike;
    DicomMetaDictionary: {
      dictionary: Record<string, { tag: string; vr: string; vm: string; name: string; version?: string }>;
      nameMap: Record<string, { tag: string; vr: string; vm: string; name: string; version?: string }>;
      punctuateTag(rawTag: string): string;
      unpunctuateTag(tag: string): string;
      naturalizeDataset(dataset: Record<string, any>): Record<string, any>;
      denaturalizeDataset(dataset: Record<string, any>): Record<string, any>;
      uid(): string;
    };
    ReadBufferStream: any;
    WriteBufferStream: any;
    ValueRepresentation: any;
    Tag: any;
    [key: string]: any;
  };
  export const log: { setLevel(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'): void };
  const dcmjs: { data: typeof data; log: typeof log; [key: string]: any };
  export default dcmjs;
}
