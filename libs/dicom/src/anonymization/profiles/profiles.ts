import { PROFILE_2008 } from './2008';
import { PROFILE_2017C } from './2017c';
import { PROFILE_2021B } from './2021b';
import { PROFILE_2023B } from './2023b';
import type {
  AnonymizationProfile,
  CompiledProfile,
  DicomVersion,
  ProfileAction,
  TagRange,
} from './types';

const PROFILES: Readonly<Record<DicomVersion, AnonymizationProfile>> = {
  '2008': PROFILE_2008,
  '2017c': PROFILE_2017C,
  '2021b': PROFILE_2021B,
  '2023b': PROFILE_2023B,
};

/**
 * Maps a Table E.1-1 action code the way GenerateAnonymizationProfile.py does. X/Z/U* is tested
 * before the X/ prefix, as in the generator.
 */
export function actionOf(code: string): ProfileAction {
  if (code === 'X/Z/U*') return 'relationship';
  if (code === 'X' || code.startsWith('X/')) return 'remove';
  if (code === 'Z' || code === 'D' || code.startsWith('Z/')) return 'clear';
  if (code === 'U') return 'remapUid';
  return 'keep';
}

export function getProfile(version: DicomVersion): AnonymizationProfile {
  return PROFILES[version];
}

const compiledCache = new Map<DicomVersion, CompiledProfile>();

export function compileProfile(version: DicomVersion): CompiledProfile {
  let compiled = compiledCache.get(version);
  if (!compiled) {
    const profile = getProfile(version);
    compiled = {
      version,
      actions: new Map(profile.entries.map((entry) => [entry.tag, actionOf(entry.action)])),
      ranges: profile.ranges,
      deidentificationMethod: profile.deidentificationMethod,
    };
    compiledCache.set(version, compiled);
  }
  return compiled;
}

/** True when the tag, as the number 0xGGGGEEEE, falls in the range. */
export function isInTagRange(range: TagRange, tag: number): boolean {
  return (tag & range.mask) >>> 0 === range.value;
}

/**
 * The profile's action for a tag given as 8 uppercase hex digits: its own row first, then the
 * group ranges (removed). Undefined when the profile says nothing about the tag.
 */
export function actionForTag(profile: CompiledProfile, tag: string): ProfileAction | undefined {
  const action = profile.actions.get(tag);
  if (action !== undefined || profile.ranges.length === 0) return action;
  const numeric = Number.parseInt(tag, 16);
  return profile.ranges.some((range) => isInTagRange(range, numeric)) ? 'remove' : undefined;
}
