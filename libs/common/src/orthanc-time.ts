/** Orthanc's ISO-like timestamps: `YYYYMMDDTHHMMSS` and, for jobs, with microseconds (UTC). */
export function orthancTimestamp(date: Date, withFraction = false): string {
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  const base =
    `${date.getUTCFullYear()}${p(date.getUTCMonth() + 1)}${p(date.getUTCDate())}` +
    `T${p(date.getUTCHours())}${p(date.getUTCMinutes())}${p(date.getUTCSeconds())}`;
  return withFraction ? `${base}.${p(date.getUTCMilliseconds(), 3)}000` : base;
}
