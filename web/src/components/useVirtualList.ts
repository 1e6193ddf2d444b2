/**
 * A virtualised list in a scrolling element: rows are measured as they render (ResizeObserver),
 * unmeasured rows count as an estimate, and only rows near the viewport are in the DOM. Keeps
 * the view pinned to the bottom while the person is there, and otherwise keeps the first visible
 * row in place when rows are added above (paging back) or re-measured.
 */

import { type RefObject, useCallback, useEffect, useLayoutEffect, useMemo, useRef, useState } from "react";
import { anchoredScrollTop, indexAt, offsetsOf, visibleRange } from "../lib/virtual";

const ESTIMATE = 72;
const OVERSCAN = 800;
const BOTTOM_SLACK = 200;

export interface VirtualList {
  start: number;
  end: number;
  /** Heights of the spacers above and below the rendered rows. */
  before: number;
  after: number;
  /** Give each rendered row's element to this (by key) so it is measured. */
  measure: (key: string) => (el: HTMLElement | null) => (() => void) | undefined;
  onScroll: () => void;
}

export function useVirtualList(scroller: RefObject<HTMLDivElement | null>, list: RefObject<HTMLElement | null>, keys: string[]): VirtualList {
  const heights = useRef(new Map<string, number>());
  const [measured, setMeasured] = useState(0);
  const [view, setView] = useState({ top: 0, height: 800 });
  const atBottom = useRef(true);
  const frame = useRef(0);

  const offsets = useMemo(() => offsetsOf(keys.map((k) => heights.current.get(k) ?? ESTIMATE)), [keys, measured]);
  const { start, end } = visibleRange(offsets, view.top, view.height, OVERSCAN);

  const readView = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    const listTop = list.current?.offsetTop ?? 0;
    atBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < BOTTOM_SLACK;
    const top = el.scrollTop - listTop;
    setView((v) => (v.top === top && v.height === el.clientHeight ? v : { top, height: el.clientHeight }));
  }, [scroller, list]);

  const observer = useMemo(
    () =>
      typeof ResizeObserver === "undefined"
        ? undefined
        : new ResizeObserver((entries, self) => {
            let changed = false;
            for (const entry of entries) {
              // A row leaving the page reports a size of 0 once: that is not its height.
              if (!entry.target.isConnected) {
                self.unobserve(entry.target);
                continue;
              }
              const key = (entry.target as HTMLElement).dataset.key;
              const h = (entry.target as HTMLElement).offsetHeight;
              if (key && Math.abs((heights.current.get(key) ?? -1) - h) > 0.5) {
                heights.current.set(key, h);
                changed = true;
              }
            }
            if (changed && !frame.current) {
              frame.current = requestAnimationFrame(() => {
                frame.current = 0;
                setMeasured((m) => m + 1);
              });
            }
          }),
    [],
  );
  useEffect(() => () => observer?.disconnect(), [observer]);

  // The first visible row and its distance from the viewport's top, as of the last layout or
  // scroll: after rows change above it, it is put back where it was. `scrollTop` tells whether
  // the person scrolled since (a scroll event may still be on its way when React renders).
  const held = useRef<{ key: string; delta: number; scrollTop: number } | undefined>(undefined);
  const hold = useCallback(() => {
    const el = scroller.current;
    if (!el) return;
    const top = el.scrollTop - (list.current?.offsetTop ?? 0);
    const i = indexAt(offsets, Math.max(0, top));
    const key = keys[i];
    held.current = key === undefined ? undefined : { key, delta: top - offsets[i]!, scrollTop: el.scrollTop };
  }, [scroller, list, keys, offsets]);

  useLayoutEffect(() => {
    const el = scroller.current;
    if (!el) return;
    const last = held.current;
    if (last && Math.abs(el.scrollTop - last.scrollTop) > 1) {
      // The person scrolled and the event has not arrived yet: where they went wins.
    } else if (atBottom.current) {
      el.scrollTop = el.scrollHeight;
    } else if (last) {
      const target = anchoredScrollTop(keys, offsets, last.key, last.delta);
      const listTop = list.current?.offsetTop ?? 0;
      if (target !== undefined && Math.abs(el.scrollTop - (target + listTop)) > 1) el.scrollTop = target + listTop;
    }
    hold();
    readView();
  }, [keys, offsets, scroller, list, readView, hold]);

  const onScroll = useCallback(() => {
    hold();
    readView();
  }, [hold, readView]);

  const measure = useCallback(
    (key: string) => (el: HTMLElement | null) => {
      if (!el) return undefined;
      el.dataset.key = key;
      if (el.offsetHeight > 0) heights.current.set(key, el.offsetHeight);
      observer?.observe(el);
      return () => observer?.unobserve(el);
    },
    [observer],
  );

  return { start, end, before: offsets[start] ?? 0, after: (offsets[keys.length] ?? 0) - (offsets[end] ?? 0), measure, onScroll };
}
