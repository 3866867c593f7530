import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { maskAccountId, maskEmail } from "../src/auth/mask.ts";

describe("maskAccountId", () => {
  it("keeps the first and last 4 characters of a long id", () => {
    assert.equal(
      maskAccountId("6f1c2a9e-0000-4d5e-9a3b-1234abcd5678"),
      "6f1c…5678",
    );
  });

  it("keeps only 2 characters of a short id", () => {
    assert.equal(maskAccountId("acct_test"), "ac…");
  });
});

describe("maskEmail", () => {
  it("keeps the first character and the domain", () => {
    assert.equal(maskEmail("seller@example.com"), "s…@example.com");
  });

  it("masks a value without a domain", () => {
    assert.equal(maskEmail("seller"), "s…");
  });
});
