// The per-view error boundary: a view that throws is replaced by a message, not the page.
import { Component, type ComponentChildren } from 'preact';

/**
 * One view's error boundary: a value the view cannot show (a render that throws) replaces that
 * view with a message, never the whole page; keyed by the route, so moving on starts afresh.
 */
export class ViewBoundary extends Component<
  { view: string; children: ComponentChildren },
  { message: string | null }
> {
  override state = { message: null as string | null };

  static override getDerivedStateFromError(error: unknown) {
    return { message: error instanceof Error ? error.message : String(error) };
  }

  override componentDidCatch(error: unknown) {
    console.error(`dashboard view "${this.props.view || 'overview'}" failed`, error);
  }

  override render() {
    if (this.state.message === null) return this.props.children;
    return (
      <div class="error" role="alert" data-testid="view-error">
        <p>This view could not be shown: {this.state.message}</p>
        <button type="button" onClick={() => this.setState({ message: null })}>
          Try again
        </button>
      </div>
    );
  }
}
