import assert from "node:assert/strict";
import { generateTotpSecret, totpCode, validateTotp } from "../../dev/auth_emulator/_totp.ts";

// RFC 6238 Appendix B, SHA-1: the seed "12345678901234567890" in base32; the last 6 of its 8 digits.
const RFC_SECRET = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

Deno.test("totpCode() matches RFC 6238's SHA-1 test vectors", () => {
  const vectors: Array<[number, string]> = [
    [59, "287082"],
    [1111111109, "081804"],
    [1111111111, "050471"],
    [1234567890, "005924"],
    [2000000000, "279037"],
  ];
  for (const [seconds, code] of vectors) assert.equal(totpCode(RFC_SECRET, new Date(seconds * 1000)), code);
});

Deno.test("validateTotp() accepts one period of skew either way, as GoTrue does, and nothing else", () => {
  const at = new Date(1111111111_000);
  for (const shift of [-30, 0, 30]) {
    assert.equal(
      validateTotp(RFC_SECRET, totpCode(RFC_SECRET, new Date(at.getTime() + shift * 1000)), at),
      true,
    );
  }
  for (const shift of [-60, 60]) {
    assert.equal(
      validateTotp(RFC_SECRET, totpCode(RFC_SECRET, new Date(at.getTime() + shift * 1000)), at),
      false,
    );
  }
  assert.equal(validateTotp(RFC_SECRET, "12345", at), false);
  assert.match(generateTotpSecret(), /^[A-Z2-7]{32}$/);
});
