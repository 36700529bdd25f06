import type { TagRange } from './types';

/**
 * The three group ranges of Table E.1-1 (action X), as Orthanc's generated files push them into
 * removedRanges_ for 2017c, 2021b and 2023b (the 2008 setup has none):
 *   DicomTagRange(0x5000, 0x50ff, 0x0000, 0xffff)  // Curve Data        (50xx,xxxx)
 *   DicomTagRange(0x6000, 0x60ff, 0x3000, 0x3000)  // Overlay Data      (60xx,3000)
 *   DicomTagRange(0x6000, 0x60ff, 0x4000, 0x4000)  // Overlay Comments  (60xx,4000)
 * Values are unsigned 32-bit, so compare against `(tag & mask) >>> 0`.
 */
export const BASIC_PROFILE_RANGES: readonly TagRange[] = [
  { description: 'Curve Data (50xx,xxxx)', mask: 0xff000000, value: 0x50000000, action: 'X' },
  { description: 'Overlay Data (60xx,3000)', mask: 0xff00ffff, value: 0x60003000, action: 'X' },
  { description: 'Overlay Comments (60xx,4000)', mask: 0xff00ffff, value: 0x60004000, action: 'X' },
];
