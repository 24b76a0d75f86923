/** Slot numbers written compactly for checkpoints and messages: "0-5460,5470". */
export function toRanges(slots: Iterable<number>): string {
  const sorted = [...new Set(slots)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && sorted[j + 1] === sorted[j]! + 1) j++;
    out.push(i === j ? `${sorted[i]}` : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out.join(",");
}

/** The inverse of toRanges ("" is no slot). */
export function fromRanges(text: string): number[] {
  const out: number[] = [];
  for (const part of text.split(",")) {
    if (part === "") continue;
    const [from, to] = part.split("-").map(Number) as [number, number | undefined];
    for (let s = from; s <= (to ?? from); s++) out.push(s);
  }
  return out;
}

/** "3 slots (1-2,9)", shortened past a few ranges for a log line. */
export function describeSlots(slots: Iterable<number>): string {
  const list = [...new Set(slots)];
  const ranges = toRanges(list).split(",");
  const shown = ranges.length > 6 ? `${ranges.slice(0, 6).join(",")},…` : ranges.join(",");
  return `${list.length} slot${list.length === 1 ? "" : "s"} (${shown})`;
}
