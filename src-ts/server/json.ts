/**
 * JSON bodies whose integers JavaScript cannot hold: `JSON.parse` rounds an integer
 * literal beyond 2^53 − 1 to the nearest double without a word (a Python or Go client's
 * `12345678901234567891` arrives as `12345678901234567000`). The server refuses such
 * bodies with `INVALID_ARGUMENT` naming the literal and its offset, so no number is ever
 * stored other than as sent; ids and keys that large go as decimal strings.
 * @module
 */

/** 2^53 − 1 has 16 digits: shorter runs of digits can never be unsafe. */
const LONG_DIGITS = /[0-9]{16}/

/** The first integer literal (outside strings) beyond ±(2^53 − 1), or null. */
export function findUnsafeInteger(text: string): { literal: string; offset: number } | null {
  if (!LONG_DIGITS.test(text)) return null
  let i = 0
  const n = text.length
  while (i < n) {
    const c = text.charCodeAt(i)
    if (c === 0x22 /* " */) {
      // Skip the string, escapes included.
      i++
      while (i < n) {
        const d = text.charCodeAt(i)
        if (d === 0x5c /* \ */) i += 2
        else if (d === 0x22) break
        else i++
      }
      i++
      continue
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      const start = i
      i++
      while (i < n) {
        const d = text.charCodeAt(i)
        if ((d >= 0x30 && d <= 0x39) || d === 0x2e || d === 0x65 || d === 0x45 || d === 0x2b || d === 0x2d) i++
        else break
      }
      const literal = text.slice(start, i)
      if (/^-?[0-9]+$/.test(literal) && !Number.isSafeInteger(Number(literal))) return { literal, offset: start }
      continue
    }
    i++
  }
  return null
}
