/**
 * The one clock every process of a faults run stamps its history with:
 * CLOCK_MONOTONIC (`process.hrtime`), in milliseconds, the same for all
 * processes of the host and never stepped.
 *
 * Not `performance.timeOrigin + performance.now()`: each process fixes its
 * `timeOrigin` from the wall clock when it starts, so a wall-clock step or slew
 * between the starts of two node processes shifts one node's whole history
 * against the others', for every scenario of the run (the fleet starts once).
 * That is what a smoke run that failed every fleet scenario with reads "of
 * values no write had produced yet" (and lost writes around them) looks like to
 * the checker; whether it was the cause was not shown (five processes started
 * a second apart agreed within 0.02 ms here), but a history must not depend on it.
 */
export function hostNow(): number {
  return Number(process.hrtime.bigint()) / 1e6
}
