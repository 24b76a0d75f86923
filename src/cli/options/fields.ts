/**
 * The field types every subcommand's option schema is built from, and the one way raw
 * commander options become typed ones: a zod schema per subcommand, the first problem a
 * UsageError (one line, exit 2), before anything touches Redis or a file.
 */
import { z } from "zod";
import { UsageError } from "../../errors.js";
import { parseDuration } from "../duration.js";

/** A whole number in [min, max], written in plain digits. */
export const int = (name: string, min: number, max: number) =>
  z.string().transform((s, ctx) => {
    const n = Number(s);
    if (!/^\d+$/.test(s) || !Number.isSafeInteger(n) || n < min || n > max) {
      ctx.addIssue({
        code: "custom",
        message: `${name} must be an integer from ${min} to ${max} (got "${s}")`,
      });
      return z.NEVER;
    }
    return n;
  });

export const optionalInt = (name: string, min: number, max: number) =>
  int(name, min, max).optional();

/** "30m", "24h", "2d" → milliseconds. */
export const duration = (name: string) =>
  z.string().transform((s, ctx) => {
    try {
      return parseDuration(name, s);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });

/** A key prefix: not empty, no whitespace. */
export const prefix = (name: string) =>
  z
    .string()
    .min(1, `${name} must not be empty`)
    .refine((s) => !/[\s]/.test(s), `${name} must not contain spaces`);

/**
 * A yes/no option: a plain flag, or a value from the environment ("false" means false:
 * commander turns a flag with an env variable on whenever the variable exists).
 */
export const yesNo = (name: string) =>
  z
    .union([z.boolean(), z.string()])
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || typeof v === "boolean") return v === true;
      if (/^(1|true|yes|on)$/i.test(v)) return true;
      if (/^(0|false|no|off|)$/i.test(v)) return false;
      ctx.addIssue({ code: "custom", message: `${name} must be yes or no (got "${v}")` });
      return z.NEVER;
    });

/** A boolean switch without a value (commander gives true or leaves it out). */
export const on = () =>
  z
    .boolean()
    .optional()
    .transform((v) => v === true);

/** A text option that, when given, must say something (trimmed). */
export const text = () =>
  z
    .string()
    .optional()
    .transform((s) => (s === undefined || s.trim() === "" ? undefined : s.trim()));

/** Validate raw commander options with a schema; the first problem becomes a UsageError. */
export function parseOptions<S extends z.ZodType>(schema: S, raw: unknown): z.infer<S> {
  const r = schema.safeParse(raw);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new UsageError(issue?.message ?? "invalid options");
}
