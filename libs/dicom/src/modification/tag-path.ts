import { OrthancError, OrthancErrorCode } from '@deidflow/common';
import { parseTag } from '../dictionary/dictionary';
import { Tag, tagFromKey, tagKey } from '../dictionary/tag';
import type { TagPath } from './request-types';

/** A TagPath with numeric tags, for the hot path. */
export interface CompiledPath {
  readonly steps: readonly { readonly sequence: Tag; readonly index: number | '*' }[];
  readonly tag: Tag;
}

function outOfRange(details: string): OrthancError {
  return new OrthancError(OrthancErrorCode.ParameterOutOfRange, details);
}

/**
 * Orthanc's DicomPath syntax (dcmodify's): `Tag`, or `Seq[i].Tag`, `Seq[*].Tag`, nested at will
 * (`(5200,9230)[*].2005,140f[*].(0008,0023)`); each tag in any syntax `parseTag` accepts.
 */
export function parseTagPath(text: string): TagPath {
  const tokens = text.split('.');
  if (text.trim() === '') throw outOfRange('Empty path to DICOM tags');
  const steps = tokens.slice(0, -1).map((token) => {
    const open = token.indexOf('[');
    if (open < 0) throw outOfRange(`Parent path doesn't contain an index: ${JSON.stringify(text)}`);
    const left = token.slice(0, open).trim();
    const right = token.slice(open + 1).trim();
    if (left === '') throw outOfRange(`Parent path doesn't contain a tag: ${JSON.stringify(text)}`);
    if (!right.endsWith(']')) throw outOfRange(`Parent path doesn't contain the end of the index: ${JSON.stringify(text)}`);
    const indexText = right.slice(0, -1).trim();
    if (indexText !== '*' && !/^\d{1,9}$/.test(indexText)) {
      throw outOfRange(`Not a valid index in parent path: [${right} in ${JSON.stringify(text)}`);
    }
    return { sequence: tagKey(parseTag(left)), index: indexText === '*' ? ('*' as const) : Number(indexText) };
  });
  return { steps, tag: tagKey(parseTag(tokens[tokens.length - 1])) };
}

export function compilePath(path: TagPath): CompiledPath {
  return {
    steps: path.steps.map((step) => ({ sequence: tagFromKey(step.sequence), index: step.index })),
    tag: tagFromKey(path.tag),
  };
}

/** One enclosing item of a nested element: the sequence tag and the item index. */
export interface ParentItem {
  readonly sequence: Tag;
  readonly index: number;
}

/**
 * DicomPath::IsMatch(pattern, parents + tag): the element is the one the pattern names, or lies
 * inside it (the pattern names one of its enclosing sequences). This is how Keep protects a sequence.
 */
export function pathCovers(pattern: CompiledPath, parents: readonly ParentItem[], tag: Tag): boolean {
  const prefixLength = pattern.steps.length;
  if (parents.length < prefixLength) return false;
  for (let i = 0; i < prefixLength; i++) {
    const step = pattern.steps[i];
    if (parents[i].sequence !== step.sequence || (step.index !== '*' && parents[i].index !== step.index)) return false;
  }
  return parents.length === prefixLength ? tag === pattern.tag : parents[prefixLength].sequence === pattern.tag;
}
