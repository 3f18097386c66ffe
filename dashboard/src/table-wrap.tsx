import type { ComponentChildren } from 'preact';

/**
 * A table that scrolls sideways on a narrow screen instead of widening the page; focusable, so
 * a keyboard can scroll it too.
 */
export function TableWrap({ children, label }: { children: ComponentChildren; label?: string }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: a scrollable region must be reachable by keyboard (WCAG 2.1.1)
    <section class="table-wrap" tabIndex={0} aria-label={label ?? 'table'}>
      {children}
    </section>
  );
}
