import type { KeySchema } from "../shared/keySchema.js";
import type { Tombstones } from "../shared/tombstones.js";

/** What one cleanup run does, for the batch code of either topology. */
export interface CleanupSettings {
  schema: KeySchema;
  /** Which key of a proven-equal pair to delete: "old" (cleanup), "new" (abort). */
  side: "old" | "new";
  execute: boolean;
  /**
   * Called with a batch's hashes (archive lines, see toArchiveLine) before they are
   * deleted (the --archive file); resolves once they are written (handed to the OS: they
   * survive the tool being killed).
   */
  archive?: ((lines: string[]) => Promise<void>) | undefined;
  /** Where deleted old keys are recorded for a rollback. */
  tombstones: Tombstones;
  /** Single instance with an archive: where a proven key waits for its record (+ its name). */
  asidePrefix: string;
  /** How many keys are aside and not yet deleted (see compareAndDelete-n.lua). */
  asideCount: string;
}
