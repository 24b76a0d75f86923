import { UNMIGRATABLE_CODES } from "./keySchema.js";

/**
 * The one-letter result codes of the batch scripts, each table declared once here, with
 * the same letters and meanings as the "Output" part of its script's header in
 * src/redis/lua (test/unit/scriptCodes.test.ts checks that every code a header lists is
 * decoded, and nothing else). A letter means different things in different scripts ("X"
 * is "outside the prefix" to copyIfAbsent, "differs" to compareAndDelete): decode a
 * script's codes with its own table only. A meaning is the counter it is counted under.
 */
export const SCRIPT_CODES = {
  copyIfAbsent: {
    C: "copied",
    P: "alreadyPresent",
    V: "vanished",
    X: "outsidePrefix",
    ...UNMIGRATABLE_CODES,
  },
  verifyPairs: {
    "=": "equal",
    D: "divergent",
    S: "skipped",
    V: "vanished",
    O: "oversized",
    ...UNMIGRATABLE_CODES,
  },
  compareAndDelete: {
    D: "deleted",
    K: "keptMovedAsideExists",
    N: "newMissing",
    Y: "newWrongType",
    X: "differs",
    P: "recreatedPartial",
    V: "vanished",
    O: "oversized",
    ...UNMIGRATABLE_CODES,
  },
  deleteIfUnchanged: { D: "deleted", C: "changedSinceCompared" },
  reverseCopy: {
    R: "rebuilt",
    P: "repairedPartial",
    "=": "alreadyPresent",
    X: "conflict",
    H: "neverHadOld",
    F: "newForeign",
    T: "notAHash",
  },
} as const;

export type ScriptWithCodes = keyof typeof SCRIPT_CODES;
export type MeaningOf<S extends ScriptWithCodes> =
  (typeof SCRIPT_CODES)[S][keyof (typeof SCRIPT_CODES)[S]];

/** One meaning per character of `codes`; an unknown code is a bug, said loudly. */
export function decodeCodes<S extends ScriptWithCodes>(script: S, codes: string): MeaningOf<S>[] {
  const table: Readonly<Record<string, string>> = SCRIPT_CODES[script];
  return [...codes].map((c) => {
    const meaning = table[c];
    if (meaning === undefined) throw new Error(`${script} returned an unknown code "${c}"`);
    return meaning as MeaningOf<S>;
  });
}
