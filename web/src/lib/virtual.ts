/**
 * Windowing for the timeline: items of measured (or estimated) heights, of which only those
 * near the viewport are rendered. Pure functions over a height list, so they are unit-tested
 * at 10,000 items.
 */

/** Offsets[i] is the top of item i; offsets[n] the total height. */
export function offsetsOf(heights: number[]): number[] {
  const out = new Array<number>(heights.length + 1);
  out[0] = 0;
  for (let i = 0; i < heights.length; i += 1) out[i + 1] = out[i]! + heights[i]!;
  return out;
}

/** The index of the item at `y` (the last whose top is <= y), clamped to the list. */
export function indexAt(offsets: number[], y: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  if (hi < 0) return 0;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (offsets[mid]! <= y) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The items to render for a viewport [top, top + height), with `overscan` pixels either side:
 * `start` inclusive, `end` exclusive. */
export function visibleRange(offsets: number[], top: number, height: number, overscan: number): { start: number; end: number } {
  const count = offsets.length - 1;
  if (count <= 0) return { start: 0, end: 0 };
  const start = indexAt(offsets, Math.max(0, top - overscan));
  const end = Math.min(count, indexAt(offsets, top + height + overscan) + 1);
  return { start, end };
}

/**
 * Where to scroll so that the item `anchorKey` stays where it was on screen after items were
 * added above it (paging back) or re-measured: its new top minus its old distance from the top.
 */
export function anchoredScrollTop(keys: string[], offsets: number[], anchorKey: string, anchorDelta: number): number | undefined {
  const i = keys.indexOf(anchorKey);
  return i < 0 ? undefined : offsets[i]! + anchorDelta;
}
