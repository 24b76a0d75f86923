import { sleep } from "./time.js";

/**
 * Keys-per-second limit shared by every node's loop. Each `take(n)` books the next
 * n/rate seconds of the budget and waits until its slot starts, so the long-run rate
 * never exceeds the limit however batches are sized. A rate of 0 means unlimited.
 */
export class RateLimiter {
  private next = 0;

  constructor(private rate: number) {}

  setRate(rate: number): void {
    this.rate = rate;
  }

  get limit(): number {
    return this.rate;
  }

  async take(n: number, signal?: AbortSignal): Promise<boolean> {
    if (this.rate <= 0 || n <= 0) return false;
    const now = Date.now();
    const start = Math.max(now, this.next);
    this.next = start + (n * 1000) / this.rate;
    await sleep(start - now, signal);
    return start > now;
  }
}
