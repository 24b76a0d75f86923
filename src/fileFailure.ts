/**
 * Why a local file operation failed, in words an operator acts on (the disk is full, the
 * directory is missing), for the one-line errors of exit status 6 (LocalFailureError).
 */

/** Error codes of the file system, as Node reports them for fs calls. */
const FILE_SYSTEM_CODES = new Set([
  "ENOENT",
  "ENOTDIR",
  "EACCES",
  "EPERM",
  "EROFS",
  "EISDIR",
  "ENOSPC",
  "EDQUOT",
  "EFBIG",
  "EIO",
  "ENAMETOOLONG",
  "ELOOP",
  "EMFILE",
  "ENFILE",
  "EEXIST",
  "EXDEV",
  "EBUSY",
  "ETXTBSY",
]);

/**
 * A failed fs call: a file-system code and the path it was about. Network errors
 * (ECONNRESET …) and a closed stdout (EPIPE) are not: they carry no path.
 */
export function isFileSystemError(err: unknown): err is NodeJS.ErrnoException & { path: string } {
  const e = err as NodeJS.ErrnoException | null | undefined;
  return (
    e instanceof Error &&
    typeof e.path === "string" &&
    typeof e.code === "string" &&
    FILE_SYSTEM_CODES.has(e.code)
  );
}

/** The cause of a failed file operation, in a few words (no path: the caller names it). */
export function fileFailureReason(err: unknown): string {
  switch ((err as NodeJS.ErrnoException | undefined)?.code) {
    case "ENOENT":
      return "its directory does not exist";
    case "ENOTDIR":
      return "a parent of it is not a directory";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "EROFS":
      return "read-only file system";
    case "EISDIR":
      return "it is a directory";
    case "ENOSPC":
      return "no space left on the device";
    case "EDQUOT":
      return "disk quota exceeded";
    case "EFBIG":
      return "file too large (a file size limit was reached)";
    case "EIO":
      return "I/O error";
    default:
      return err instanceof Error ? err.message.split("\n")[0]! : String(err);
  }
}
